// Dropout, CPU reference (and the dispatch shared by forward and backward).
#include "layers/dropout.h"

#include <utility>

#include "engine/error.h"
#include "engine/ops.h"
#include "kernels/dropout.h"
#include "kernels/launch_cpu.h"

namespace gn {

Dropout::Dropout(std::string name_, float rate_, std::uint32_t stream_)
    : name(std::move(name_)), rate(rate_), stream(stream_) {}

namespace {
// out = mask(rng) * in * scale in Train mode with rate > 0, else a copy.
void apply(const Dropout& layer, Context& ctx, Tensor& out, const Tensor& in, Mode mode, RandomStep rng,
           const char* what) {
  GN_REQUIRE(layer.rate >= 0.0f && layer.rate < 1.0f, layer.name, ": rate ", layer.rate, " is not in [0, 1)");
  check_shape(layer.name, what, out.shape(), in.shape());
  ops::check_same(layer.name.c_str(), ctx, out, in);
  if (mode == Mode::Infer || layer.rate == 0.0f) {
    if (out.data() != in.data()) ops::scale(ctx, out, in, 1.0f);  // a copy on ctx's stream (x * 1 is exact)
    return;
  }
#if GENRENET_WITH_CUDA
  if (ctx.is_cuda()) return cuda::dropout_apply(layer, ctx, out, in, rng);
#endif
  // One Philox block per four elements (the same mask as fn::DropoutApply, see kernels/dropout.h).
  const fn::DropoutApply f{out.data(), in.data(), layer.rate, 1.0f / (1.0f - layer.rate), rng.seed, rng.step,
                           layer.stream};
  cpu::for_each((out.numel() + 3) / 4, fn::DropoutApplyBlocks{f, out.numel()});
}
}  // namespace

void Dropout::forward(Context& ctx, Tensor& y, const Tensor& x, Mode mode, RandomStep rng) {
  apply(*this, ctx, y, x, mode, rng, "output");
}

void Dropout::backward(Context& ctx, Tensor& dx, const Tensor& dy, Mode mode, RandomStep rng) {
  apply(*this, ctx, dx, dy, mode, rng, "input gradient");
}

}  // namespace gn
