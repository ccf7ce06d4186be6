// The checked CUDA launchers (the twins of kernels/launch_cpu.h): they run the device code of
// kernels/launch_cuda.cuh on a stream and turn a failed launch into gn::Error. Include only
// from .cu files.
#pragma once

#include <algorithm>

#include "engine/cuda_context.h"
#include "kernels/launch_cuda.cuh"

namespace gn::cuda {

// f(i) for every i in [0, n), grid-stride, on `stream`.
template <class F>
void for_each(cudaStream_t stream, index_t n, F f) {
  if (n <= 0) return;
  constexpr int kBlock = 256;
  for_each_kernel<<<grid_for(n, kBlock), kBlock, 0, stream>>>(n, f);
  GN_CHECK_CUDA(cudaGetLastError());
}

// sum over i of f(i) into *out_device (a device double); stays on the device, no host sync.
// `scratch` must hold at least kReduceBlocks doubles.
template <class F>
void reduce_sum(cudaStream_t stream, index_t n, F f, double* scratch, double* out_device) {
  const int blocks = n > 0 ? std::min(grid_for(n, kReduceThreads), kReduceBlocks) : 1;
  reduce_sum_kernel<<<blocks, kReduceThreads, 0, stream>>>(n, f, scratch);
  GN_CHECK_CUDA(cudaGetLastError());
  sum_partials_kernel<double><<<1, 1, 0, stream>>>(blocks, scratch, out_device);
  GN_CHECK_CUDA(cudaGetLastError());
}

// sum over i of f(i), brought to the host (synchronises the stream). `scratch` must hold
// kReduceBlocks + 1 device doubles.
template <class F>
double reduce_to_host(cudaStream_t stream, index_t n, F f, double* scratch) {
  reduce_sum(stream, n, f, scratch, scratch + kReduceBlocks);
  double result = 0.0;
  GN_CHECK_CUDA(cudaMemcpyAsync(&result, scratch + kReduceBlocks, sizeof(double), cudaMemcpyDeviceToHost, stream));
  GN_CHECK_CUDA(cudaStreamSynchronize(stream));
  return result;
}

// The same with the scratch taken from ctx's workspace (which must hold nothing else live).
template <class F>
double reduce_to_host(Context& ctx, index_t n, F f) {
  double* scratch = static_cast<double*>(ctx.workspace((kReduceBlocks + 1) * sizeof(double)));
  return reduce_to_host(stream_of(ctx), n, f, scratch);
}

}  // namespace gn::cuda
