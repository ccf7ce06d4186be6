// Conv2D with Keras semantics: cross-correlation, any kernel and stride, TF "same" padding
// (total = max((out - 1) * stride + k - in, 0); top/left = total / 2, the odd extra pixel at
// the bottom/right) or "valid" (no padding, floor), bias, optional fused ReLU
// (Conv2D(..., activation="relu")).
//
//   x (N, H, W, Cin) -> y (N, OH, OW, Cout)
//   params  <name>.kernel (KH, KW, Cin, Cout)  HWIO, exactly Keras's layout
//           <name>.bias   (Cout)
//
// CPU (conv2d.cpp): im2col of the whole batch into one (N*OH*OW, KH*KW*Cin) matrix and one
// cblas_sgemm against the kernel viewed as (KH*KW*Cin, Cout); OpenBLAS threads the GEMM and
// OpenMP threads im2col / col2im (never both at once, so they do not oversubscribe).
// CUDA (conv2d.cu): cuDNN forward / backward-data / backward-filter on NHWC tensors, FP32
// without TF32 (CUDNN_FMA_MATH), deterministic algorithms chosen once per shape and cached.
// cuDNN pads symmetrically, so an asymmetric "same" pads the input explicitly into a scratch
// copy and convolves that with zero padding (backward-data then crops its gradient).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/context.h"
#include "engine/params.h"
#include "engine/tensor.h"
#include "kernels/conv.h"
#include "layers/layer.h"
#include "layers/scratch.h"

namespace gn {

enum class Padding { Same, Valid };

// Output size and padding along one axis; throws naming `layer` when "valid" does not fit.
struct Pad1D {
  std::int64_t out = 0;
  int before = 0, after = 0;
};
Pad1D conv_padding(const std::string& layer, std::int64_t in, int kernel, int stride, Padding padding);

struct Conv2DCuda;  // cuDNN descriptors and cached algorithms (conv2d.cu)

struct Conv2D {
  std::string name;  // "cnn.conv1"
  int in_channels = 1;
  int filters = 1;
  int kernel_h = 1, kernel_w = 1;
  int stride_h = 1, stride_w = 1;
  Padding padding = Padding::Same;
  bool relu = false;

  Conv2D() = default;
  // Square kernel and stride, the common case.
  Conv2D(std::string name, int in_channels, int filters, int kernel, int stride,
         Padding padding = Padding::Same, bool relu = false);

  // Registers <name>.kernel (KH, KW, Cin, Cout) and <name>.bias (Cout).
  void declare(ParameterStore& store) const;
  // (N, H, W, Cin) -> (N, OH, OW, Cout); throws naming the layer for a wrong rank / channels.
  Shape output_shape(const Shape& in) const;
  ConvGeom geometry(const Shape& in) const;

  // y (N, OH, OW, Cout) = act(conv(x (N, H, W, Cin), kernel) + bias).
  void forward(Context& ctx, ParameterStore& store, Tensor& y, const Tensor& x);
  // Overwrites <name>.kernel / .bias gradients and, when dx is not null, dx (N, H, W, Cin).
  // y is forward's output (needed for the fused ReLU's gradient; unused without ReLU).
  void backward(Context& ctx, ParameterStore& store, Tensor* dx, const Tensor& dy, const Tensor& x,
                const Tensor& y);

  // Scratch kept between calls (grown, never shrunk).
  Tensor col_buf, dcol_buf, dpre_buf;
  std::vector<double> partial;  // CPU: blocked partial sums of the bias gradient
  std::shared_ptr<Conv2DCuda> cuda_state;

 private:
  void check_io(const Tensor& x, const Tensor* y, const char* what_y) const;
};

#if GENRENET_WITH_CUDA
namespace cuda {
void conv2d_forward(Conv2D& layer, Context& ctx, ParameterStore& store, Tensor& y, const Tensor& x);
void conv2d_backward(Conv2D& layer, Context& ctx, ParameterStore& store, Tensor* dx, const Tensor& dy,
                     const Tensor& x, const Tensor& y);
}  // namespace cuda
#endif

}  // namespace gn
