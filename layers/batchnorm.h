// BatchNormalization over the last (channel) axis, Keras semantics (axis=-1, center, scale).
//
//   x (..., C) -> y (..., C); statistics over all other axes (M = numel / C values per channel)
//   params  <name>.gamma (C), <name>.beta (C)
//   buffers <name>.moving_mean (C), <name>.moving_var (C)    (not trained; checkpointed)
//
// Train: y = gamma * (x - mean) / sqrt(var + eps) + beta with the batch mean and the BIASED
//   batch variance (divide by M), then moving -= (moving - batch) * (1 - momentum).
//   Which variance Keras records in moving_var depends on its code path (checked against
//   tf_keras 2.21, the same logic as Keras 2.4): a 4-D input takes the fused kernel, which
//   records the UNBIASED variance (M / (M - 1), Bessel); other ranks take the non-fused path,
//   which records the biased one. This layer does the same: unbiased for rank 4, biased else.
// Infer: the same affine map with moving_mean / moving_var.
// Defaults momentum 0.99, eps 1e-3 (Keras).
//
// CPU (batchnorm.cpp): kernels/batchnorm.h functors. CUDA (batchnorm.cu): cuDNN
// CUDNN_BATCHNORM_SPATIAL on the NHWC tensor. cuDNN's running variance is the unbiased one
// and its update is running = (1 - f) running + f batch: the layer asks cuDNN for the batch
// statistics alone (f = 1 into a scratch pair) and applies fn::BnMovingUpdate itself, so both
// devices run one update formula (Keras's) with one variance convention.
#pragma once

#include <string>
#include <vector>

#include "engine/context.h"
#include "engine/params.h"
#include "engine/tensor.h"
#include "layers/layer.h"
#include "layers/scratch.h"

namespace gn {

struct BatchNorm {
  std::string name;  // "cnn.bn1"
  int channels = 1;
  float momentum = 0.99f;
  float epsilon = 1e-3f;

  BatchNorm() = default;
  BatchNorm(std::string name, int channels, float momentum = 0.99f, float epsilon = 1e-3f);

  void declare(ParameterStore& store) const;
  Shape output_shape(const Shape& in) const;  // == in; throws naming the layer if C differs

  // Train also updates the moving statistics in the store's buffers.
  void forward(Context& ctx, ParameterStore& store, Tensor& y, const Tensor& x, Mode mode);
  // After a Train forward on this x: overwrites <name>.gamma / .beta gradients and, when dx
  // is not null, writes dx (same shape as x).
  void backward(Context& ctx, ParameterStore& store, Tensor* dx, const Tensor& dy, const Tensor& x);

  // The last Train forward's batch statistics (C): mean and 1 / sqrt(var + eps).
  Tensor saved_mean, saved_invstd;
  Tensor scratch_var, scratch_mean, dx_scratch;
  bool have_batch_stats = false;
  std::vector<double> partial;  // CPU: per-block partial sums

  // (M, C): rows per channel for an input shape.
  std::int64_t rows(const Shape& in) const;
  // Keras's variance factor for the moving average (M/(M-1) for rank 4, else 1).
  static float moving_var_factor(const Shape& in, std::int64_t rows);
};

#if GENRENET_WITH_CUDA
namespace cuda {
void batchnorm_forward(BatchNorm& layer, Context& ctx, ParameterStore& store, Tensor& y, const Tensor& x, Mode mode);
void batchnorm_backward(BatchNorm& layer, Context& ctx, ParameterStore& store, Tensor* dx, const Tensor& dy,
                        const Tensor& x);
}  // namespace cuda
#endif

}  // namespace gn
