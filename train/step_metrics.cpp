#include "train/step_metrics.h"

#include "engine/ops.h"
#include "kernels/launch_cpu.h"
#include "kernels/step_metrics.h"

namespace gn {

std::int64_t count_correct(Context& ctx, const Tensor& probs, const Tensor& onehot) {
  ops::check_same("count_correct", ctx, probs, onehot);
  check_shape("count_correct", "probs", probs.shape(), onehot.shape());
#if GENRENET_WITH_CUDA
  if (ctx.is_cuda()) return cuda::count_correct(ctx, probs, onehot);
#endif
  const int classes = static_cast<int>(probs.dim(1));
  return static_cast<std::int64_t>(
      cpu::reduce_sum(probs.dim(0), fn::ArgmaxHit{probs.data(), onehot.data(), classes}));
}

}  // namespace gn
