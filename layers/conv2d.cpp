// Conv2D, CPU reference: im2col + one cblas_sgemm per pass over the whole batch.
#include "layers/conv2d.h"

#include <cblas.h>

#include <algorithm>
#include <utility>

#include "engine/error.h"
#include "engine/ops.h"
#include "kernels/bias.h"
#include "kernels/elementwise.h"
#include "kernels/launch_cpu.h"
#include "layers/channel_sums.h"

namespace gn {

Pad1D conv_padding(const std::string& layer, std::int64_t in, int kernel, int stride, Padding padding) {
  GN_REQUIRE(kernel >= 1 && stride >= 1, layer, ": kernel ", kernel, " and stride ", stride,
             " must be at least 1");
  GN_REQUIRE(in >= 1, layer, ": input size ", in, " along a spatial axis must be at least 1");
  Pad1D p;
  if (padding == Padding::Same) {
    p.out = (in + stride - 1) / stride;  // ceil(in / stride)
    const std::int64_t total = std::max<std::int64_t>((p.out - 1) * stride + kernel - in, 0);
    p.before = static_cast<int>(total / 2);  // TF: the odd extra pixel goes after
    p.after = static_cast<int>(total - total / 2);
  } else {
    GN_REQUIRE(in >= kernel, layer, ": input size ", in, " is smaller than the kernel ", kernel,
               " with \"valid\" padding");
    p.out = (in - kernel) / stride + 1;
  }
  return p;
}

Conv2D::Conv2D(std::string name_, int in_channels_, int filters_, int kernel, int stride,
               Padding padding_, bool relu_)
    : name(std::move(name_)),
      in_channels(in_channels_),
      filters(filters_),
      kernel_h(kernel),
      kernel_w(kernel),
      stride_h(stride),
      stride_w(stride),
      padding(padding_),
      relu(relu_) {}

void Conv2D::declare(ParameterStore& store) const {
  GN_REQUIRE(in_channels >= 1 && filters >= 1, name, ": channels ", in_channels, " -> ", filters,
             " must be at least 1");
  store.declare(name + ".kernel", Shape{kernel_h, kernel_w, in_channels, filters});
  store.declare(name + ".bias", Shape{filters});
}

ConvGeom Conv2D::geometry(const Shape& in) const {
  GN_REQUIRE(in.rank() == 4, name, ": input has shape ", in.str(), ", expected rank 4 (N, H, W, ",
             in_channels, ")");
  check_shape(name, "input", in, Shape{in[0], in[1], in[2], in_channels});
  const Pad1D py = conv_padding(name, in[1], kernel_h, stride_h, padding);
  const Pad1D px = conv_padding(name, in[2], kernel_w, stride_w, padding);
  return ConvGeom{in[0], in[1], in[2], in[3], py.out, px.out, kernel_h, kernel_w,
                  stride_h, stride_w, py.before, px.before};
}

Shape Conv2D::output_shape(const Shape& in) const {
  const ConvGeom g = geometry(in);
  return Shape{g.n, g.oh, g.ow, filters};
}

void Conv2D::check_io(const Tensor& x, const Tensor* y, const char* what_y) const {
  const Shape out = output_shape(x.shape());
  if (y) check_shape(name, what_y, y->shape(), out);
}

namespace {
void check_params(const std::string& name, const Tensor& k, const Tensor& b, const Conv2D& c) {
  check_shape(name, "kernel", k.shape(), Shape{c.kernel_h, c.kernel_w, c.in_channels, c.filters});
  check_shape(name, "bias", b.shape(), Shape{c.filters});
}
}  // namespace

void Conv2D::forward(Context& ctx, ParameterStore& store, Tensor& y, const Tensor& x) {
  check_io(x, &y, "output");
  const Tensor k = store.param(name + ".kernel"), b = store.param(name + ".bias");
  check_params(name, k, b, *this);
  ops::check_same(name.c_str(), ctx, x, x);
  ops::check_same(name.c_str(), ctx, y, y);
#if GENRENET_WITH_CUDA
  if (ctx.is_cuda()) return cuda::conv2d_forward(*this, ctx, store, y, x);
#endif
  const ConvGeom g = geometry(x.shape());
  const std::int64_t rows = g.n * g.oh * g.ow, taps = static_cast<std::int64_t>(g.kh) * g.kw * g.c;
  Tensor col = scratch_view(col_buf, Shape{rows, taps}, ctx.device());
  cpu::for_each(fn::Im2Col::count(g), fn::Im2Col{col.data(), x.data(), g});
  // y (rows, Cout) = col (rows, taps) . kernel (taps, Cout)
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(rows), filters,
              static_cast<int>(taps), 1.0f, col.data(), static_cast<int>(taps), k.data(), filters, 0.0f,
              y.data(), filters);
  cpu::for_each(y.numel(), fn::AddBiasAct{y.data(), y.data(), b.data(), filters, relu});
}

void Conv2D::backward(Context& ctx, ParameterStore& store, Tensor* dx, const Tensor& dy, const Tensor& x,
                      const Tensor& y) {
  check_io(x, &dy, "output gradient");
  if (relu) check_io(x, &y, "output");
  if (dx) check_shape(name, "input gradient", dx->shape(), x.shape());
  if (dx) ops::check_same(name.c_str(), ctx, *dx, x);
  const Tensor k = store.param(name + ".kernel");
  Tensor dk = store.grad(name + ".kernel"), db = store.grad(name + ".bias");
  check_params(name, k, db, *this);
  ops::check_same(name.c_str(), ctx, x, x);
  ops::check_same(name.c_str(), ctx, dy, dy);
#if GENRENET_WITH_CUDA
  if (ctx.is_cuda()) return cuda::conv2d_backward(*this, ctx, store, dx, dy, x, y);
#endif
  const ConvGeom g = geometry(x.shape());
  const std::int64_t rows = g.n * g.oh * g.ow, taps = static_cast<std::int64_t>(g.kh) * g.kw * g.c;
  // g_pre = dL/d(conv + bias): dy through the fused ReLU (zero where the output was clamped).
  const float* gpre = dy.data();
  if (relu) {
    Tensor d = scratch_view(dpre_buf, dy.shape(), ctx.device());
    cpu::for_each(d.numel(), fn::ReluBackward{d.data(), dy.data(), y.data()});
    gpre = d.data();
  }
  cpu::column_sums(db.data(), rows, filters, fn::RowSum{gpre, filters}, partial);
  // im2col again rather than keeping forward's copy: backward then depends only on its
  // arguments, never on which forward ran last.
  Tensor col = scratch_view(col_buf, Shape{rows, taps}, ctx.device());
  cpu::for_each(fn::Im2Col::count(g), fn::Im2Col{col.data(), x.data(), g});
  // dkernel (taps, Cout) = col^T (taps, rows) . g_pre (rows, Cout)
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, static_cast<int>(taps), filters,
              static_cast<int>(rows), 1.0f, col.data(), static_cast<int>(taps), gpre, filters, 0.0f,
              dk.data(), filters);
  if (!dx) return;
  // dcol (rows, taps) = g_pre (rows, Cout) . kernel^T (Cout, taps), then scattered back by a gather.
  Tensor dcol = scratch_view(dcol_buf, Shape{rows, taps}, ctx.device());
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(rows), static_cast<int>(taps),
              filters, 1.0f, gpre, filters, k.data(), filters, 0.0f, dcol.data(), static_cast<int>(taps));
  cpu::for_each(fn::Col2Im::count(g), fn::Col2Im{dx->data(), dcol.data(), g});
}

}  // namespace gn
