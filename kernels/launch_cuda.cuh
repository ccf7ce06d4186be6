// The CUDA launchers: the twins of kernels/launch_cpu.h. Include only from .cu files.
#pragma once

#include <cuda_runtime.h>

#include "engine/cuda_check.h"
#include "kernels/common.h"

namespace gn::cuda {

template <class F>
__global__ void for_each_kernel(index_t n, F f) {
  for (index_t i = blockIdx.x * static_cast<index_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<index_t>(blockDim.x) * gridDim.x)
    f(i);
}

inline int grid_for(index_t n, int block) {
  const index_t blocks = (n + block - 1) / block;
  return static_cast<int>(blocks < 4096 ? (blocks > 0 ? blocks : 1) : 4096);
}

// f(i) for every i in [0, n), grid-stride, on `stream`.
template <class F>
void for_each(cudaStream_t stream, index_t n, F f) {
  if (n <= 0) return;
  constexpr int kBlock = 256;
  for_each_kernel<<<grid_for(n, kBlock), kBlock, 0, stream>>>(n, f);
  GN_CHECK_CUDA(cudaGetLastError());
}

// Stage 1: each block sums a grid-stride slice in double and writes one partial.
template <class F>
__global__ void reduce_sum_kernel(index_t n, F f, double* partial) {
  __shared__ double shared[256];
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

// Stage 2: one block adds the partials in a fixed order (deterministic, no atomics).
__global__ void sum_partials_kernel(int count, const double* partial, double* out);

// sum over i of f(i) into *out_device (a device double); stays on the device, no host sync.
// `scratch` must hold at least kReduceBlocks doubles.
constexpr int kReduceBlocks = 256;
template <class F>
void reduce_sum(cudaStream_t stream, index_t n, F f, double* scratch, double* out_device) {
  const int blocks = n > 0 ? grid_for(n, 256) < kReduceBlocks ? grid_for(n, 256) : kReduceBlocks : 1;
  reduce_sum_kernel<<<blocks, 256, 0, stream>>>(n, f, scratch);
  GN_CHECK_CUDA(cudaGetLastError());
  sum_partials_kernel<<<1, 256, 0, stream>>>(blocks, scratch, out_device);
  GN_CHECK_CUDA(cudaGetLastError());
}

}  // namespace gn::cuda
