// MaxPooling2D with window = stride, "valid" (floor), Keras semantics: 2x2 in the CNN branch,
// 1x2 (time kept, frequency halved) before the BiLSTM.
//
//   x (N, H, W, C) -> y (N, floor(H / ph), floor(W / pw), C)
//
// No parameters, so no store in the signatures. CPU (maxpool.cpp): kernels/pool.h functors;
// forward keeps the argmax of every window for backward (ties: the first in row-major window
// order). CUDA (maxpool.cu): cuDNN pooling (CUDNN_POOLING_MAX_DETERMINISTIC) on NHWC tensors,
// whose backward finds the maxima again from x and y.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/context.h"
#include "engine/tensor.h"
#include "kernels/pool.h"
#include "layers/layer.h"

namespace gn {

struct MaxPool2D {
  std::string name;  // "cnn.pool1"
  int pool_h = 2, pool_w = 2;

  MaxPool2D() = default;
  MaxPool2D(std::string name, int pool_h, int pool_w);

  Shape output_shape(const Shape& in) const;  // throws naming the layer (rank, size < window)
  PoolGeom geometry(const Shape& in) const;

  void forward(Context& ctx, Tensor& y, const Tensor& x);
  // dx (N, H, W, C) from dy; x and y are forward's input and output. CPU: uses the argmax kept
  // by the LAST forward, so a graph needs one MaxPool2D per place it pools and wants gradients
  // through (a stale argmax is detected: it must point at y's values in x).
  void backward(Context& ctx, Tensor& dx, const Tensor& dy, const Tensor& x, const Tensor& y);

  std::vector<std::int32_t> argmax;  // CPU: per output element, from the last forward
  Shape argmax_shape;                // the input shape argmax belongs to
};

#if GENRENET_WITH_CUDA
namespace cuda {
void maxpool_forward(const MaxPool2D& layer, Context& ctx, Tensor& y, const Tensor& x);
void maxpool_backward(const MaxPool2D& layer, Context& ctx, Tensor& dx, const Tensor& dy, const Tensor& x,
                      const Tensor& y);
}  // namespace cuda
#endif

}  // namespace gn
