// BatchNorm, CPU reference: the functors of kernels/batchnorm.h.
#include "layers/batchnorm.h"

#include <utility>
#include <vector>

#include "engine/error.h"
#include "engine/ops.h"
#include "kernels/batchnorm.h"
#include "kernels/bias.h"
#include "kernels/launch_cpu.h"
#include "layers/channel_sums.h"

namespace gn {


BatchNorm::BatchNorm(std::string name_, int channels_, float momentum_, float epsilon_)
    : name(std::move(name_)), channels(channels_), momentum(momentum_), epsilon(epsilon_) {}

void BatchNorm::declare(ParameterStore& store) const {
  GN_REQUIRE(channels >= 1, name, ": channels ", channels, " must be at least 1");
  GN_REQUIRE(momentum >= 0.0f && momentum <= 1.0f, name, ": momentum ", momentum, " is not in [0, 1]");
  GN_REQUIRE(epsilon > 0.0f, name, ": epsilon ", epsilon, " must be positive");
  store.declare(name + ".gamma", Shape{channels});
  store.declare(name + ".beta", Shape{channels});
  store.declare(name + ".moving_mean", Shape{channels}, ParameterStore::Kind::Buffer);
  store.declare(name + ".moving_var", Shape{channels}, ParameterStore::Kind::Buffer);
}

Shape BatchNorm::output_shape(const Shape& in) const {
  GN_REQUIRE(in.rank() >= 2, name, ": input has shape ", in.str(), ", expected rank 2 to 4 with ",
             channels, " channels last");
  std::vector<std::int64_t> want = in.dims();
  want.back() = channels;
  check_shape(name, "input", in, Shape(want));
  return in;
}

std::int64_t BatchNorm::rows(const Shape& in) const { return in.numel() / channels; }

float BatchNorm::moving_var_factor(const Shape& in, std::int64_t rows) {
  return in.rank() == 4 ? static_cast<float>(static_cast<double>(rows) / static_cast<double>(rows - 1)) : 1.0f;
}

void BatchNorm::forward(Context& ctx, ParameterStore& store, Tensor& y, const Tensor& x, Mode mode) {
  output_shape(x.shape());
  check_shape(name, "output", y.shape(), x.shape());
  ops::check_same(name.c_str(), ctx, y, x);
  const std::int64_t m = rows(x.shape());
  GN_REQUIRE(mode == Mode::Infer || m >= 2, name, ": training needs at least 2 values per channel, input ",
             x.shape().str(), " has ", m);
#if GENRENET_WITH_CUDA
  if (ctx.is_cuda()) return cuda::batchnorm_forward(*this, ctx, store, y, x, mode);
#endif
  const Tensor gamma = store.param(name + ".gamma"), beta = store.param(name + ".beta");
  Tensor mm = store.buffer(name + ".moving_mean"), mv = store.buffer(name + ".moving_var");
  Tensor mean = scratch_view(saved_mean, Shape{channels}, ctx.device());
  Tensor invstd = scratch_view(saved_invstd, Shape{channels}, ctx.device());
  if (mode == Mode::Train) {
    Tensor var = scratch_view(scratch_var, Shape{channels}, ctx.device());
    // Two passes (mean, then centred squares): no cancellation for data far from zero.
    std::vector<double> sums(static_cast<std::size_t>(channels));
    cpu::channel_sums<1>(m, channels, fn::RowSum{x.data(), channels}, partial, sums.data());
    for (int c = 0; c < channels; ++c) mean.data()[c] = static_cast<float>(sums[c] / static_cast<double>(m));
    cpu::channel_sums<1>(m, channels, fn::BnRowCentredSquares{x.data(), mean.data(), channels}, partial, sums.data());
    for (int c = 0; c < channels; ++c) var.data()[c] = static_cast<float>(sums[c] / static_cast<double>(m));
    cpu::for_each(channels, fn::BnInvStd{invstd.data(), var.data(), epsilon});
    cpu::for_each(channels, fn::BnMovingUpdate{mm.data(), mv.data(), mean.data(), var.data(), momentum,
                                               moving_var_factor(x.shape(), m)});
    have_batch_stats = true;
    cpu::for_each(x.numel(), fn::BnApply{y.data(), x.data(), mean.data(), invstd.data(), gamma.data(),
                                         beta.data(), channels});
  } else {
    // Inference uses the moving statistics (kept out of saved_*: a later backward must not
    // mistake them for batch statistics).
    Tensor inv = scratch_view(scratch_var, Shape{channels}, ctx.device());
    cpu::for_each(channels, fn::BnInvStd{inv.data(), mv.data(), epsilon});
    cpu::for_each(x.numel(), fn::BnApply{y.data(), x.data(), mm.data(), inv.data(), gamma.data(),
                                         beta.data(), channels});
  }
}

void BatchNorm::backward(Context& ctx, ParameterStore& store, Tensor* dx, const Tensor& dy, const Tensor& x) {
  output_shape(x.shape());
  check_shape(name, "output gradient", dy.shape(), x.shape());
  if (dx) check_shape(name, "input gradient", dx->shape(), x.shape());
  if (dx) ops::check_same(name.c_str(), ctx, *dx, x);
  GN_REQUIRE(have_batch_stats, name, ": backward needs a training-mode forward first");
  ops::check_same(name.c_str(), ctx, dy, x);
#if GENRENET_WITH_CUDA
  if (ctx.is_cuda()) return cuda::batchnorm_backward(*this, ctx, store, dx, dy, x);
#endif
  const std::int64_t m = rows(x.shape());
  const Tensor gamma = store.param(name + ".gamma");
  Tensor dgamma = store.grad(name + ".gamma"), dbeta = store.grad(name + ".beta");
  const Tensor mean = saved_mean.view(0, Shape{channels}), invstd = saved_invstd.view(0, Shape{channels});
  std::vector<double> sums(static_cast<std::size_t>(2 * channels));
  cpu::channel_sums<2>(m, channels, fn::BnRowGradSums{dy.data(), x.data(), mean.data(), invstd.data(), channels}, partial,
                  sums.data());
  for (int c = 0; c < channels; ++c) {
    dbeta.data()[c] = static_cast<float>(sums[c]);
    dgamma.data()[c] = static_cast<float>(sums[channels + c]);
  }
  if (dx)
    cpu::for_each(x.numel(), fn::BnInputGrad{dx->data(), dy.data(), x.data(), mean.data(), invstd.data(),
                                             gamma.data(), dgamma.data(), dbeta.data(), m, channels});
}

}  // namespace gn
