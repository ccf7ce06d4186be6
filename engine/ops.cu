// CUDA twins of engine/ops.cpp: the same functors, the grid-stride launcher.
#include "engine/cuda_context.h"
#include "engine/launch_cuda.cuh"
#include "engine/ops.h"
#include "kernels/elementwise.h"

namespace gn::cuda {

void fill(Context& ctx, Tensor& y, float value) {
  gn::cuda::for_each(stream_of(ctx), y.numel(), fn::Fill{y.data(), value});
}
void copy(Context& ctx, Tensor& y, const Tensor& x) {
  gn::cuda::for_each(stream_of(ctx), y.numel(), fn::Copy{y.data(), x.data()});
}
void scale(Context& ctx, Tensor& y, const Tensor& x, float alpha) {
  gn::cuda::for_each(stream_of(ctx), y.numel(), fn::Scale{y.data(), x.data(), alpha});
}
void axpby(Context& ctx, Tensor& y, const Tensor& x, float alpha, float beta) {
  gn::cuda::for_each(stream_of(ctx), y.numel(), fn::Axpby{y.data(), x.data(), alpha, beta});
}
void add(Context& ctx, Tensor& out, const Tensor& a, const Tensor& b) {
  gn::cuda::for_each(stream_of(ctx), out.numel(), fn::Add{out.data(), a.data(), b.data()});
}
void relu(Context& ctx, Tensor& y, const Tensor& x) {
  gn::cuda::for_each(stream_of(ctx), y.numel(), fn::Relu{y.data(), x.data()});
}
void uniform(Context& ctx, Tensor& y, float lo, float hi, std::uint64_t seed, std::uint64_t step,
             std::uint32_t stream) {
  gn::cuda::for_each(stream_of(ctx), y.numel(), fn::Uniform{y.data(), lo, hi, seed, step, stream});
}
double sum(Context& ctx, const Tensor& x) { return gn::cuda::reduce_to_host(ctx, x.numel(), fn::SumOf{x.data()}); }
double sum_of_squares(Context& ctx, const Tensor& x) {
  return gn::cuda::reduce_to_host(ctx, x.numel(), fn::SumOfSquares{x.data()});
}
std::int64_t count_non_finite(Context& ctx, const Tensor& x) {
  return static_cast<std::int64_t>(gn::cuda::reduce_to_host(ctx, x.numel(), fn::CountNonFinite{x.data()}));
}
}  // namespace gn::cuda
