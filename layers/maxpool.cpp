// MaxPool2D, CPU reference.
#include "layers/maxpool.h"

#include <utility>

#include "engine/error.h"
#include "engine/ops.h"
#include "kernels/elementwise.h"
#include "kernels/launch_cpu.h"

namespace gn {

MaxPool2D::MaxPool2D(std::string name_, int pool_h_, int pool_w_)
    : name(std::move(name_)), pool_h(pool_h_), pool_w(pool_w_) {}

PoolGeom MaxPool2D::geometry(const Shape& in) const {
  GN_REQUIRE(pool_h >= 1 && pool_w >= 1, name, ": pool size ", pool_h, "x", pool_w, " must be at least 1x1");
  GN_REQUIRE(in.rank() == 4, name, ": input has shape ", in.str(), ", expected rank 4 (N, H, W, C)");
  GN_REQUIRE(in[1] >= pool_h && in[2] >= pool_w, name, ": input ", in.str(), " is smaller than the ",
             pool_h, "x", pool_w, " window");
  GN_REQUIRE(in.numel() < (std::int64_t{1} << 31), name, ": input ", in.str(), " is too large (2^31 elements)");
  return PoolGeom{in[0], in[1], in[2], in[3], in[1] / pool_h, in[2] / pool_w, pool_h, pool_w};
}

Shape MaxPool2D::output_shape(const Shape& in) const {
  const PoolGeom g = geometry(in);
  return Shape{g.n, g.oh, g.ow, g.c};
}

void MaxPool2D::forward(Context& ctx, Tensor& y, const Tensor& x) {
  check_shape(name, "output", y.shape(), output_shape(x.shape()));
  ops::check_same(name.c_str(), ctx, y, y);
  ops::check_same(name.c_str(), ctx, x, x);
#if GENRENET_WITH_CUDA
  if (ctx.is_cuda()) return cuda::maxpool_forward(*this, ctx, y, x);
#endif
  argmax.resize(static_cast<std::size_t>(y.numel()));
  argmax_shape = x.shape();
  cpu::for_each(y.numel(), fn::MaxPoolForward{y.data(), argmax.data(), x.data(), geometry(x.shape())});
}

void MaxPool2D::backward(Context& ctx, Tensor& dx, const Tensor& dy, const Tensor& x, const Tensor& y) {
  const Shape out = output_shape(x.shape());
  check_shape(name, "output gradient", dy.shape(), out);
  check_shape(name, "output", y.shape(), out);
  check_shape(name, "input gradient", dx.shape(), x.shape());
  ops::check_same(name.c_str(), ctx, dx, x);
  ops::check_same(name.c_str(), ctx, dy, y);
#if GENRENET_WITH_CUDA
  if (ctx.is_cuda()) return cuda::maxpool_backward(*this, ctx, dx, dy, x, y);
#endif
  GN_REQUIRE(argmax_shape == x.shape(), name, ": backward on input ", x.shape().str(),
             " but the last forward saw ", argmax_shape.str());
  GN_REQUIRE(cpu::reduce_sum(y.numel(), fn::MaxPoolArgmaxMismatch{y.data(), x.data(), argmax.data()}) == 0.0,
             name, ": backward's x and y are not those of the last forward (use one MaxPool2D per place in the graph)");
  cpu::for_each(dx.numel(), fn::Fill{dx.data(), 0.0f});
  cpu::for_each(dy.numel(), fn::MaxPoolBackwardScatter{dx.data(), dy.data(), argmax.data()});
}

}  // namespace gn
