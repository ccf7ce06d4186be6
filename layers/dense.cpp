// Dense, CPU reference: one cblas_sgemm per product.
#include "layers/dense.h"

#include <cblas.h>

#include <utility>

#include "engine/error.h"
#include "engine/ops.h"
#include "kernels/bias.h"
#include "kernels/launch_cpu.h"

namespace gn {

Dense::Dense(std::string name_, int in_, int out_) : name(std::move(name_)), in_features(in_), out_features(out_) {}

void Dense::declare(ParameterStore& store) const {
  GN_REQUIRE(in_features >= 1 && out_features >= 1, name, ": features ", in_features, " -> ", out_features,
             " must be at least 1");
  store.declare(name + ".kernel", Shape{in_features, out_features});
  store.declare(name + ".bias", Shape{out_features});
}

Shape Dense::output_shape(const Shape& in) const {
  GN_REQUIRE(in.rank() == 2, name, ": input has shape ", in.str(), ", expected (N, ", in_features, ")");
  check_shape(name, "input", in, Shape{in[0], in_features});
  return Shape{in[0], out_features};
}

void Dense::forward(Context& ctx, ParameterStore& store, Tensor& y, const Tensor& x) {
  check_shape(name, "output", y.shape(), output_shape(x.shape()));
  ops::check_same(name.c_str(), ctx, x, x);
  ops::check_same(name.c_str(), ctx, y, y);
#if GENRENET_WITH_CUDA
  if (ctx.is_cuda()) return cuda::dense_forward(*this, ctx, store, y, x);
#endif
  const Tensor w = store.param(name + ".kernel"), b = store.param(name + ".bias");
  const int n = static_cast<int>(x.dim(0));
  // y (N, Out) = x (N, In) . W (In, Out)
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, out_features, in_features, 1.0f, x.data(),
              in_features, w.data(), out_features, 0.0f, y.data(), out_features);
  cpu::for_each(y.numel(), fn::AddBiasAct{y.data(), y.data(), b.data(), out_features, false});
}

void Dense::backward(Context& ctx, ParameterStore& store, Tensor* dx, const Tensor& dy, const Tensor& x) {
  check_shape(name, "output gradient", dy.shape(), output_shape(x.shape()));
  if (dx) check_shape(name, "input gradient", dx->shape(), x.shape());
  if (dx) ops::check_same(name.c_str(), ctx, *dx, x);
  ops::check_same(name.c_str(), ctx, x, x);
  ops::check_same(name.c_str(), ctx, dy, dy);
#if GENRENET_WITH_CUDA
  if (ctx.is_cuda()) return cuda::dense_backward(*this, ctx, store, dx, dy, x);
#endif
  const Tensor w = store.param(name + ".kernel");
  Tensor dw = store.grad(name + ".kernel"), db = store.grad(name + ".bias");
  const int n = static_cast<int>(x.dim(0));
  // dW (In, Out) = x^T (In, N) . dy (N, Out)
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, in_features, out_features, n, 1.0f, x.data(), in_features,
              dy.data(), out_features, 0.0f, dw.data(), out_features);
  cpu::for_each(out_features, fn::ColumnSum{db.data(), dy.data(), n, out_features});
  // dx (N, In) = dy (N, Out) . W^T (Out, In)
  if (dx)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, in_features, out_features, 1.0f, dy.data(),
                out_features, w.data(), out_features, 0.0f, dx->data(), in_features);
}

}  // namespace gn
