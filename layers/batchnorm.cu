// BatchNorm, CUDA twin: cuDNN CUDNN_BATCHNORM_SPATIAL (per-channel statistics over N, H, W) on
// the NHWC tensor; inputs of rank 2 or 3 are described as (M, 1, 1, C), the same memory.
// The moving averages are updated by fn::BnMovingUpdate (see batchnorm.h for why).
#include "engine/cuda_context.h"
#include "engine/launch_cuda.cuh"
#include "kernels/batchnorm.h"
#include "layers/batchnorm.h"
#include "layers/cudnn_util.h"

namespace gn::cuda {
namespace {

struct Descs {
  cudnn::TensorDesc x, stats;
};

void describe(Descs& d, const BatchNorm& layer, const Shape& in) {
  if (in.rank() == 4)
    cudnn::set_nhwc(d.x, in[0], in[1], in[2], in[3]);
  else
    cudnn::set_nhwc(d.x, layer.rows(in), 1, 1, layer.channels);
  GN_CHECK_CUDNN(cudnnDeriveBNTensorDescriptor(d.stats, d.x, CUDNN_BATCHNORM_SPATIAL));
}

}  // namespace

void batchnorm_forward(BatchNorm& layer, Context& ctx, ParameterStore& store, Tensor& y, const Tensor& x, Mode mode) {
  Descs d;
  describe(d, layer, x.shape());
  const Tensor gamma = store.param(layer.name + ".gamma"), beta = store.param(layer.name + ".beta");
  Tensor mm = store.buffer(layer.name + ".moving_mean"), mv = store.buffer(layer.name + ".moving_var");
  const float one = 1.0f, zero = 0.0f;
  const int c = layer.channels;
  if (mode == Mode::Infer) {
    GN_CHECK_CUDNN(cudnnBatchNormalizationForwardInference(
        cudnn_of(ctx), CUDNN_BATCHNORM_SPATIAL, &one, &zero, d.x, x.data(), d.x, y.data(), d.stats, gamma.data(),
        beta.data(), mm.data(), mv.data(), static_cast<double>(layer.epsilon)));
    return;
  }
  const std::int64_t m = layer.rows(x.shape());
  Tensor mean = scratch_view(layer.saved_mean, Shape{c}, ctx.device());
  Tensor invstd = scratch_view(layer.saved_invstd, Shape{c}, ctx.device());
  // The batch mean and UNBIASED variance, via cuDNN's running averages with factor 1 into a
  // zeroed scratch pair (factor 1 still multiplies the old value by 0: zero avoids 0 * NaN).
  Tensor batch_mean = scratch_view(layer.scratch_mean, Shape{c}, ctx.device());
  Tensor batch_var = scratch_view(layer.scratch_var, Shape{c}, ctx.device());
  GN_CHECK_CUDA(cudaMemsetAsync(batch_mean.data(), 0, c * sizeof(float), stream_of(ctx)));
  GN_CHECK_CUDA(cudaMemsetAsync(batch_var.data(), 0, c * sizeof(float), stream_of(ctx)));
  GN_CHECK_CUDNN(cudnnBatchNormalizationForwardTraining(
      cudnn_of(ctx), CUDNN_BATCHNORM_SPATIAL, &one, &zero, d.x, x.data(), d.x, y.data(), d.stats, gamma.data(),
      beta.data(), 1.0, batch_mean.data(), batch_var.data(), static_cast<double>(layer.epsilon), mean.data(),
      invstd.data()));
  // Keras records the unbiased variance for rank 4 (as cuDNN gives it) and the biased one
  // otherwise: rescale by (M - 1) / M there.
  const float factor = x.rank() == 4 ? 1.0f : static_cast<float>(static_cast<double>(m - 1) / static_cast<double>(m));
  gn::cuda::for_each(stream_of(ctx), c,
                     fn::BnMovingUpdate{mm.data(), mv.data(), batch_mean.data(), batch_var.data(), layer.momentum, factor});
  layer.have_batch_stats = true;
}

void batchnorm_backward(BatchNorm& layer, Context& ctx, ParameterStore& store, Tensor* dx, const Tensor& dy,
                        const Tensor& x) {
  Descs d;
  describe(d, layer, x.shape());
  const Tensor gamma = store.param(layer.name + ".gamma");
  Tensor dgamma = store.grad(layer.name + ".gamma"), dbeta = store.grad(layer.name + ".beta");
  // cuDNN always writes dx; without a caller's dx it goes to a scratch tensor.
  Tensor dxt = dx ? *dx : scratch_view(layer.dx_scratch, x.shape(), ctx.device());
  const float one = 1.0f, zero = 0.0f;
  GN_CHECK_CUDNN(cudnnBatchNormalizationBackward(
      cudnn_of(ctx), CUDNN_BATCHNORM_SPATIAL, &one, &zero, &one, &zero, d.x, x.data(), d.x, dy.data(), d.x,
      dxt.data(), d.stats, gamma.data(), dgamma.data(), dbeta.data(), static_cast<double>(layer.epsilon),
      layer.saved_mean.data(), layer.saved_invstd.data()));
}

}  // namespace gn::cuda
