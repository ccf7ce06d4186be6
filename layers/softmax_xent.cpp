// Softmax / softmax + cross-entropy, CPU reference: one row per loop iteration.
#include "layers/softmax_xent.h"

#include "engine/error.h"
#include "engine/ops.h"
#include "kernels/launch_cpu.h"
#include "kernels/softmax.h"

namespace gn {

#if GENRENET_WITH_CUDA
namespace cuda {
void softmax(Context& ctx, Tensor& probs, const Tensor& logits);
double softmax_cross_entropy(Context& ctx, Tensor& probs, Tensor& dlogits, const Tensor& logits,
                             const Tensor& onehot);
}  // namespace cuda
#endif

namespace {
void check_logits(const char* op, Context& ctx, const Tensor& logits) {
  GN_REQUIRE(logits.rank() == 2 && logits.dim(0) >= 1 && logits.dim(1) >= 1, op, ": logits have shape ",
             logits.shape().str(), ", expected (N, C) with N, C >= 1");
  ops::check_same(op, ctx, logits, logits);
}
}  // namespace

void softmax(Context& ctx, Tensor& probs, const Tensor& logits) {
  check_logits("softmax", ctx, logits);
  check_shape("softmax", "probs", probs.shape(), logits.shape());
  ops::check_same("softmax", ctx, probs, logits);
#if GENRENET_WITH_CUDA
  if (ctx.is_cuda()) return cuda::softmax(ctx, probs, logits);
#endif
  cpu::for_each(logits.dim(0), fn::SoftmaxRow{probs.data(), logits.data(), logits.dim(1)});
}

double softmax_cross_entropy(Context& ctx, Tensor& probs, Tensor& dlogits, const Tensor& logits,
                             const Tensor& onehot) {
  const char* op = "softmax_cross_entropy";
  check_logits(op, ctx, logits);
  check_shape(op, "labels", onehot.shape(), logits.shape());
  check_shape(op, "probs", probs.shape(), logits.shape());
  check_shape(op, "dlogits", dlogits.shape(), logits.shape());
  ops::check_same(op, ctx, probs, logits);
  ops::check_same(op, ctx, dlogits, onehot);
#if GENRENET_WITH_CUDA
  if (ctx.is_cuda()) return cuda::softmax_cross_entropy(ctx, probs, dlogits, logits, onehot);
#endif
  const index_t n = logits.dim(0);
  const double total = cpu::reduce_sum(
      n, fn::SoftmaxXentRow{probs.data(), dlogits.data(), logits.data(), onehot.data(), logits.dim(1),
                            1.0f / static_cast<float>(n)});
  return total / static_cast<double>(n);
}

}  // namespace gn
