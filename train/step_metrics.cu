// CUDA twin of train/step_metrics.cpp: the ArgmaxHit functor through the device reduction.
#include "engine/cuda_context.h"
#include "kernels/launch_cuda.cuh"
#include "kernels/step_metrics.h"
#include "train/step_metrics.h"

namespace gn::cuda_impl {

std::int64_t count_correct(Context& ctx, const Tensor& probs, const Tensor& onehot) {
  double* scratch = static_cast<double*>(ctx.workspace((gn::cuda::kReduceBlocks + 1) * sizeof(double)));
  const int classes = static_cast<int>(probs.dim(1));
  gn::cuda::reduce_sum(stream_of(ctx), probs.dim(0), fn::ArgmaxHit{probs.data(), onehot.data(), classes},
                       scratch, scratch + gn::cuda::kReduceBlocks);
  double result = 0.0;
  GN_CHECK_CUDA(cudaMemcpyAsync(&result, scratch + gn::cuda::kReduceBlocks, sizeof(double),
                                cudaMemcpyDeviceToHost, stream_of(ctx)));
  GN_CHECK_CUDA(cudaStreamSynchronize(stream_of(ctx)));
  return static_cast<std::int64_t>(result);
}

}  // namespace gn::cuda_impl
