#include "train/adam.h"

#include <cmath>

#include "engine/error.h"
#include "engine/ops.h"
#include "kernels/adam.h"
#include "kernels/launch_cpu.h"

namespace gn {
namespace {
void check_options(const AdamOptions& o) {
  GN_REQUIRE(std::isfinite(o.lr) && o.lr > 0.0f, "Adam: learning rate must be positive, got ", o.lr);
  GN_REQUIRE(o.beta1 >= 0.0f && o.beta1 < 1.0f, "Adam: beta1 must be in [0, 1), got ", o.beta1);
  GN_REQUIRE(o.beta2 >= 0.0f && o.beta2 < 1.0f, "Adam: beta2 must be in [0, 1), got ", o.beta2);
  GN_REQUIRE(std::isfinite(o.epsilon) && o.epsilon > 0.0f, "Adam: epsilon must be positive, got ",
             o.epsilon);
}
}  // namespace

Adam::Adam(const Tensor& params, AdamOptions options) : options_(options) {
  check_options(options_);
  GN_REQUIRE(params.defined() && params.numel() > 0, "Adam: no parameters to optimise");
  m_ = Tensor::zeros(Shape{params.numel()}, params.device());
  v_ = Tensor::zeros(Shape{params.numel()}, params.device());
}

void Adam::set_lr(float lr) {
  AdamOptions o = options_;
  o.lr = lr;
  check_options(o);
  options_ = o;
}

float Adam::next_lr_t() const {
  // In double, then rounded once: TF computes b^t with a float pow, which can differ from this
  // by an ulp of lr_t; the golden test's tolerance covers it (tests/test_adam.cpp).
  const double t = static_cast<double>(t_ + 1);
  const double b1t = std::pow(static_cast<double>(options_.beta1), t);
  const double b2t = std::pow(static_cast<double>(options_.beta2), t);
  return static_cast<float>(options_.lr * std::sqrt(1.0 - b2t) / (1.0 - b1t));
}

void Adam::step(Context& ctx, Tensor& params, const Tensor& grads) {
  ops::check_same("Adam::step", ctx, params, grads);
  ops::check_same("Adam::step", ctx, params, m_);
  const float lr_t = next_lr_t();
  const float omb1 = 1.0f - options_.beta1, omb2 = 1.0f - options_.beta2;
  ++t_;
#if GENRENET_WITH_CUDA
  if (ctx.is_cuda()) {
    cuda::adam_update(ctx, params, m_, v_, grads, lr_t, omb1, omb2, options_.epsilon);
    return;
  }
#endif
  cpu::for_each(params.numel(), fn::AdamUpdate{params.data(), m_.data(), v_.data(), grads.data(), lr_t,
                                               omb1, omb2, options_.epsilon});
}

void Adam::restore(const Tensor& m, const Tensor& v, std::int64_t t) {
  GN_REQUIRE(m.numel() == m_.numel() && v.numel() == v_.numel(), "Adam: optimiser state has ",
             m.numel(), " / ", v.numel(), " moments but the model has ", m_.numel(), " parameters");
  GN_REQUIRE(t >= 0, "Adam: negative step count ", t, " in the optimiser state");
  m_.copy_from(m);
  v_.copy_from(v);
  t_ = t;
}

void Adam::to(Device device) {
  if (m_.device() == device) return;
  m_ = m_.to(device);
  v_ = v_.to(device);
}

}  // namespace gn
