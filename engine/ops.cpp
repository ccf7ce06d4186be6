#include "engine/ops.h"

#include "engine/error.h"
#include "kernels/elementwise.h"
#include "kernels/launch_cpu.h"

namespace gn::ops {

void check_same(const char* op, Context& ctx, const Tensor& a, const Tensor& b) {
  GN_REQUIRE(a.device() == ctx.device() && b.device() == ctx.device(), op, ": tensors on ",
             a.device().str(), " and ", b.device().str(), " with a ", ctx.device().str(), " context");
  GN_REQUIRE(a.numel() == b.numel(), op, ": shapes ", a.shape().str(), " and ", b.shape().str(),
             " differ in size");
}

// Runs the CUDA twin when the context is CUDA, else the CPU launcher with `functor`.
#if GENRENET_WITH_CUDA
#define GN_DISPATCH(cuda_call, cpu_body) \
  if (ctx.is_cuda()) return cuda::cuda_call; \
  cpu_body
#else
#define GN_DISPATCH(cuda_call, cpu_body) cpu_body
#endif

void fill(Context& ctx, Tensor& y, float value) {
  check_same("fill", ctx, y, y);
  GN_DISPATCH(fill(ctx, y, value), cpu::for_each(y.numel(), fn::Fill{y.data(), value});)
}

void copy(Context& ctx, Tensor& y, const Tensor& x) {
  check_same("copy", ctx, y, x);
  GN_DISPATCH(copy(ctx, y, x), cpu::for_each(y.numel(), fn::Copy{y.data(), x.data()});)
}

void scale(Context& ctx, Tensor& y, const Tensor& x, float alpha) {
  check_same("scale", ctx, y, x);
  GN_DISPATCH(scale(ctx, y, x, alpha), cpu::for_each(y.numel(), fn::Scale{y.data(), x.data(), alpha});)
}

void axpby(Context& ctx, Tensor& y, const Tensor& x, float alpha, float beta) {
  check_same("axpby", ctx, y, x);
  GN_DISPATCH(axpby(ctx, y, x, alpha, beta),
              cpu::for_each(y.numel(), fn::Axpby{y.data(), x.data(), alpha, beta});)
}

void add(Context& ctx, Tensor& out, const Tensor& a, const Tensor& b) {
  check_same("add", ctx, out, a);
  check_same("add", ctx, out, b);
  GN_DISPATCH(add(ctx, out, a, b), cpu::for_each(out.numel(), fn::Add{out.data(), a.data(), b.data()});)
}

void relu(Context& ctx, Tensor& y, const Tensor& x) {
  check_same("relu", ctx, y, x);
  GN_DISPATCH(relu(ctx, y, x), cpu::for_each(y.numel(), fn::Relu{y.data(), x.data()});)
}

void uniform(Context& ctx, Tensor& y, float lo, float hi, std::uint64_t seed, std::uint64_t step,
             std::uint32_t stream) {
  check_same("uniform", ctx, y, y);
  GN_DISPATCH(uniform(ctx, y, lo, hi, seed, step, stream),
              cpu::for_each(y.numel(), fn::Uniform{y.data(), lo, hi, seed, step, stream});)
}

double sum(Context& ctx, const Tensor& x) {
  check_same("sum", ctx, x, x);
  GN_DISPATCH(sum(ctx, x), return cpu::reduce_sum(x.numel(), fn::SumOf{x.data()});)
}

double sum_of_squares(Context& ctx, const Tensor& x) {
  check_same("sum_of_squares", ctx, x, x);
  GN_DISPATCH(sum_of_squares(ctx, x), return cpu::reduce_sum(x.numel(), fn::SumOfSquares{x.data()});)
}

std::int64_t count_non_finite(Context& ctx, const Tensor& x) {
  check_same("count_non_finite", ctx, x, x);
  GN_DISPATCH(count_non_finite(ctx, x),
              return static_cast<std::int64_t>(cpu::reduce_sum(x.numel(), fn::CountNonFinite{x.data()}));)
}

}  // namespace gn::ops
