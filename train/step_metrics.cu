// CUDA twin of train/step_metrics.cpp: the ArgmaxHit functor through the device reduction.
#include "engine/cuda_context.h"
#include "engine/launch_cuda.cuh"
#include "kernels/step_metrics.h"
#include "train/step_metrics.h"

namespace gn::cuda {

std::int64_t count_correct(Context& ctx, const Tensor& probs, const Tensor& onehot) {
  const int classes = static_cast<int>(probs.dim(1));
  const double hits = gn::cuda::reduce_to_host(ctx, probs.dim(0), fn::ArgmaxHit{probs.data(), onehot.data(), classes});
  return static_cast<std::int64_t>(hits);
}

}  // namespace gn::cuda
