// The device side of the CUDA launchers: the grid-stride kernel that runs a functor and the
// two-stage deterministic reduction. Pure device code (no error handling, no engine types);
// the checked host launchers are engine/launch_cuda.cuh, the CPU twins kernels/launch_cpu.h.
// Include only from .cu files.
#pragma once

#include <cuda_runtime.h>

#include "kernels/common.h"

namespace gn::cuda {

template <class F>
__global__ void for_each_kernel(index_t n, F f) {
  for (index_t i = blockIdx.x * static_cast<index_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<index_t>(blockDim.x) * gridDim.x)
    f(i);
}

// Blocks for a grid-stride launch over n elements: enough to cover n, at most 4096.
inline int grid_for(index_t n, int block) {
  const index_t blocks = (n + block - 1) / block;
  return static_cast<int>(blocks < 4096 ? (blocks > 0 ? blocks : 1) : 4096);
}

// The reduction's block size and its largest number of partials.
constexpr int kReduceThreads = 256;
constexpr int kReduceBlocks = 256;

// Stage 1: each block sums a grid-stride slice in double and writes one partial.
template <class F>
__global__ void reduce_sum_kernel(index_t n, F f, double* partial) {
  __shared__ double shared[kReduceThreads];
  double s = 0.0;
  for (index_t i = blockIdx.x * static_cast<index_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<index_t>(blockDim.x) * gridDim.x)
    s += static_cast<double>(f(i));
  shared[threadIdx.x] = s;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride >>= 1) {
    if (threadIdx.x < stride) shared[threadIdx.x] += shared[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) partial[blockIdx.x] = shared[0];
}

// Stage 2: one thread adds the partials in a fixed order (deterministic, no atomics).
template <class T>
__global__ void sum_partials_kernel(int count, const T* partial, T* out) {
  if (threadIdx.x == 0 && blockIdx.x == 0) {
    T s = T(0);
    for (int i = 0; i < count; ++i) s += partial[i];
    *out = s;
  }
}

}  // namespace gn::cuda
