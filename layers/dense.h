// Dense (fully connected), Keras semantics: y = x W + b.
//
//   x (N, In) -> y (N, Out)
//   params  <name>.kernel (In, Out)  exactly Keras's layout
//           <name>.bias   (Out)
//
// CPU (dense.cpp): cblas_sgemm. CUDA (dense.cu): cuBLAS, row-major through the column-major
// identity (A B)^T = B^T A^T: a row-major (r, c) matrix is a column-major (c, r) one, so
// y^T = W^T x^T is one column-major sgemm on the same memory, no transposes copied.
// The bias add and its gradient (a column sum) are kernels/bias.h functors on both devices.
#pragma once

#include <string>

#include "engine/context.h"
#include "engine/params.h"
#include "engine/tensor.h"
#include "layers/layer.h"

namespace gn {

struct Dense {
  std::string name;  // "head.dense"
  int in_features = 1;
  int out_features = 1;

  Dense() = default;
  Dense(std::string name, int in_features, int out_features);

  void declare(ParameterStore& store) const;
  Shape output_shape(const Shape& in) const;  // (N, In) -> (N, Out); throws naming the layer

  void forward(Context& ctx, ParameterStore& store, Tensor& y, const Tensor& x);
  // Overwrites <name>.kernel / .bias gradients and, when dx is not null, dx (N, In).
  void backward(Context& ctx, ParameterStore& store, Tensor* dx, const Tensor& dy, const Tensor& x);
};

#if GENRENET_WITH_CUDA
namespace cuda {
void dense_forward(const Dense& layer, Context& ctx, ParameterStore& store, Tensor& y, const Tensor& x);
void dense_backward(const Dense& layer, Context& ctx, ParameterStore& store, Tensor* dx, const Tensor& dy,
                    const Tensor& x);
}  // namespace cuda
#endif

}  // namespace gn
