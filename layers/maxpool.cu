// MaxPool2D, CUDA twin: cuDNN max pooling on NHWC tensors, window = stride, no padding (floor).
#include "engine/cuda_context.h"
#include "layers/cudnn_util.h"
#include "layers/maxpool.h"

namespace gn::cuda {
namespace {
struct Descs {
  cudnn::PoolDesc pool;
  cudnn::TensorDesc x, y;
  Descs(const MaxPool2D& layer, const PoolGeom& g) {
    GN_CHECK_CUDNN(cudnnSetPooling2dDescriptor(pool, CUDNN_POOLING_MAX_DETERMINISTIC, CUDNN_NOT_PROPAGATE_NAN,
                                               layer.pool_h, layer.pool_w, 0, 0, layer.pool_h, layer.pool_w));
    cudnn::set_nhwc(x, g.n, g.h, g.w, g.c);
    cudnn::set_nhwc(y, g.n, g.oh, g.ow, g.c);
  }
};
}  // namespace

void maxpool_forward(const MaxPool2D& layer, Context& ctx, Tensor& y, const Tensor& x) {
  const Descs d(layer, layer.geometry(x.shape()));
  const float one = 1.0f, zero = 0.0f;
  GN_CHECK_CUDNN(cudnnPoolingForward(cudnn_of(ctx), d.pool, &one, d.x, x.data(), &zero, d.y, y.data()));
}

void maxpool_backward(const MaxPool2D& layer, Context& ctx, Tensor& dx, const Tensor& dy, const Tensor& x,
                      const Tensor& y) {
  const Descs d(layer, layer.geometry(x.shape()));
  const float one = 1.0f, zero = 0.0f;
  GN_CHECK_CUDNN(cudnnPoolingBackward(cudnn_of(ctx), d.pool, &one, d.y, y.data(), d.y, dy.data(), d.x, x.data(),
                                      &zero, d.x, dx.data()));
}

}  // namespace gn::cuda
