// CUDA twins of engine/ops.cpp: the same functors, the grid-stride launcher.
#include "engine/cuda_context.h"
#include "engine/ops.h"
#include "kernels/elementwise.h"
#include "kernels/launch_cuda.cuh"

namespace gn::cuda {
__global__ void sum_partials_kernel(int count, const double* partial, double* out) {
  if (threadIdx.x == 0 && blockIdx.x == 0) {
    double s = 0.0;
    for (int i = 0; i < count; ++i) s += partial[i];
    *out = s;
  }
}
}  // namespace gn::cuda

namespace gn::ops::cuda_impl {
namespace {
template <class F>
double reduce_to_host(Context& ctx, index_t n, F f) {
  double* scratch = static_cast<double*>(ctx.workspace((gn::cuda::kReduceBlocks + 1) * sizeof(double)));
  gn::cuda::reduce_sum(stream_of(ctx), n, f, scratch, scratch + gn::cuda::kReduceBlocks);
  double result = 0.0;
  GN_CHECK_CUDA(cudaMemcpyAsync(&result, scratch + gn::cuda::kReduceBlocks, sizeof(double),
                                cudaMemcpyDeviceToHost, stream_of(ctx)));
  GN_CHECK_CUDA(cudaStreamSynchronize(stream_of(ctx)));
  return result;
}
}  // namespace

void fill(Context& ctx, Tensor& y, float value) {
  gn::cuda::for_each(stream_of(ctx), y.numel(), fn::Fill{y.data(), value});
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
void relu_backward(Context& ctx, Tensor& dx, const Tensor& dy, const Tensor& y) {
  gn::cuda::for_each(stream_of(ctx), dx.numel(), fn::ReluBackward{dx.data(), dy.data(), y.data()});
}
void uniform(Context& ctx, Tensor& y, float lo, float hi, std::uint64_t seed, std::uint64_t step,
             std::uint32_t stream) {
  gn::cuda::for_each(stream_of(ctx), y.numel(), fn::Uniform{y.data(), lo, hi, seed, step, stream});
}
double sum(Context& ctx, const Tensor& x) { return reduce_to_host(ctx, x.numel(), fn::SumOf{x.data()}); }
double sum_of_squares(Context& ctx, const Tensor& x) {
  return reduce_to_host(ctx, x.numel(), fn::SumOfSquares{x.data()});
}
std::int64_t count_non_finite(Context& ctx, const Tensor& x) {
  return static_cast<std::int64_t>(reduce_to_host(ctx, x.numel(), fn::CountNonFinite{x.data()}));
}
}  // namespace gn::ops::cuda_impl
