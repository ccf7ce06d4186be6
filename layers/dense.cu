// Dense, CUDA twin: cuBLAS sgemm on row-major data viewed as column-major (see dense.h).
// cuBLAS's default math mode is strict FP32 (no TF32) unless asked otherwise.
#include "engine/cuda_context.h"
#include "engine/launch_cuda.cuh"
#include "kernels/bias.h"
#include "layers/dense.h"

namespace gn::cuda {

void dense_forward(const Dense& layer, Context& ctx, ParameterStore& store, Tensor& y, const Tensor& x) {
  const Tensor w = store.param(layer.name + ".kernel"), b = store.param(layer.name + ".bias");
  const int n = static_cast<int>(x.dim(0)), in = layer.in_features, out = layer.out_features;
  const float one = 1.0f, zero = 0.0f;
  // column-major: y^T (Out, N) = W^T (Out, In) . x^T (In, N); W^T is W's memory with ld Out.
  GN_CHECK_CUBLAS(cublasSgemm(cublas_of(ctx), CUBLAS_OP_N, CUBLAS_OP_N, out, n, in, &one, w.data(), out, x.data(),
                              in, &zero, y.data(), out));
  gn::cuda::for_each(stream_of(ctx), y.numel(), fn::AddBiasAct{y.data(), y.data(), b.data(), out, false});
}

void dense_backward(const Dense& layer, Context& ctx, ParameterStore& store, Tensor* dx, const Tensor& dy,
                    const Tensor& x) {
  const Tensor w = store.param(layer.name + ".kernel");
  Tensor dw = store.grad(layer.name + ".kernel"), db = store.grad(layer.name + ".bias");
  const int n = static_cast<int>(x.dim(0)), in = layer.in_features, out = layer.out_features;
  const float one = 1.0f, zero = 0.0f;
  // column-major: dW^T (Out, In) = dy^T (Out, N) . x (N, In), x being x^T's transpose.
  GN_CHECK_CUBLAS(cublasSgemm(cublas_of(ctx), CUBLAS_OP_N, CUBLAS_OP_T, out, in, n, &one, dy.data(), out, x.data(),
                              in, &zero, dw.data(), out));
  gn::cuda::for_each(stream_of(ctx), out, fn::ColumnSum{db.data(), dy.data(), n, out});
  // column-major: dx^T (In, N) = W (In, Out) . dy^T (Out, N), W being W^T's transpose.
  if (dx)
    GN_CHECK_CUBLAS(cublasSgemm(cublas_of(ctx), CUBLAS_OP_T, CUBLAS_OP_N, in, n, out, &one, w.data(), out,
                                dy.data(), out, &zero, dx->data(), in));
}

}  // namespace gn::cuda
