// Conv2D, CUDA twin: cuDNN convolution on NHWC tensors. Three details matter:
//  * Layout: Keras kernels are HWIO; cuDNN's NHWC filter layout is OHWI (KRSC), so the kernel
//    is transposed into a scratch copy for each call (tiny) and its gradient transposed back.
//  * Padding: cuDNN pads symmetrically. When TF "same" needs an odd total (extra pixel at the
//    bottom/right), the input is padded explicitly into a scratch copy (fn::PadNHWC) and
//    convolved with zero padding; backward-data writes the padded gradient and fn::CropNHWC
//    takes the window that maps to the real input. Symmetric cases use cuDNN's own padding.
//  * Numerics: CUDNN_FMA_MATH keeps FP32 (no TF32); deterministic algorithms are preferred and
//    chosen once per input shape (cudnnGet*_v7 heuristics), then cached in the layer.
#include <array>
#include <map>

#include "engine/cuda_context.h"
#include "engine/launch_cuda.cuh"
#include "kernels/bias.h"
#include "kernels/conv.h"
#include "kernels/elementwise.h"
#include "layers/conv2d.h"
#include "layers/cudnn_util.h"

namespace gn {

struct Conv2DAlgos {
  cudnnConvolutionFwdAlgo_t fwd;
  cudnnConvolutionBwdDataAlgo_t bwd_data;
  cudnnConvolutionBwdFilterAlgo_t bwd_filter;
  std::size_t workspace = 0;  // the largest of the three
};

struct Conv2DCuda {
  cudnn::TensorDesc x_desc, y_desc, bias_desc;
  cudnn::FilterDesc w_desc;
  cudnn::ConvDesc conv_desc;
  std::map<std::array<std::int64_t, 3>, Conv2DAlgos> algos;  // keyed by input (N, H, W)
  Tensor kernel_ohwi, dkernel_ohwi, x_pad, dx_pad, dpre;     // scratch
};

namespace {

constexpr std::size_t kMaxWorkspace = std::size_t{1} << 30;

// Perf lists come sorted fastest first: take the first that succeeded, is deterministic and
// fits kMaxWorkspace; failing that, the first that succeeded at all.
template <class Perf>
const Perf& pick(const Perf* perf, int count, const std::string& layer, const char* what) {
  GN_REQUIRE(count > 0, layer, ": cuDNN offers no ", what, " algorithm for this shape");
  for (int i = 0; i < count; ++i)
    if (perf[i].status == CUDNN_STATUS_SUCCESS && perf[i].determinism == CUDNN_DETERMINISTIC &&
        perf[i].memory <= kMaxWorkspace)
      return perf[i];
  for (int i = 0; i < count; ++i)
    if (perf[i].status == CUDNN_STATUS_SUCCESS) return perf[i];
  GN_FAIL(layer, ": cuDNN has no usable ", what, " algorithm for this shape");
}

// Describes the convolution the cuDNN calls see: input `xin` (maybe the padded copy).
struct Plan {
  ConvGeom g;
  bool explicit_pad = false;
  std::int64_t hp = 0, wp = 0;  // the convolved input's spatial size
  int pad_h = 0, pad_w = 0;     // cuDNN's symmetric padding
};

Plan make_plan(Conv2D& layer, Context& ctx, const Shape& in) {
  Plan p;
  p.g = layer.geometry(in);
  const Pad1D py = conv_padding(layer.name, in[1], layer.kernel_h, layer.stride_h, layer.padding);
  const Pad1D px = conv_padding(layer.name, in[2], layer.kernel_w, layer.stride_w, layer.padding);
  p.explicit_pad = py.before != py.after || px.before != px.after;
  p.hp = p.explicit_pad ? in[1] + py.before + py.after : in[1];
  p.wp = p.explicit_pad ? in[2] + px.before + px.after : in[2];
  p.pad_h = p.explicit_pad ? 0 : py.before;
  p.pad_w = p.explicit_pad ? 0 : px.before;

  if (!layer.cuda_state) layer.cuda_state = std::make_shared<Conv2DCuda>();
  Conv2DCuda& c = *layer.cuda_state;
  cudnn::set_nhwc(c.x_desc, p.g.n, p.hp, p.wp, p.g.c);
  cudnn::set_nhwc(c.y_desc, p.g.n, p.g.oh, p.g.ow, layer.filters);
  GN_CHECK_CUDNN(cudnnSetTensor4dDescriptor(c.bias_desc, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, 1,
                                            layer.filters, 1, 1));
  GN_CHECK_CUDNN(cudnnSetFilter4dDescriptor(c.w_desc, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NHWC, layer.filters,
                                            layer.in_channels, layer.kernel_h, layer.kernel_w));
  GN_CHECK_CUDNN(cudnnSetConvolution2dDescriptor(c.conv_desc, p.pad_h, p.pad_w, layer.stride_h,
                                                 layer.stride_w, 1, 1, CUDNN_CROSS_CORRELATION,
                                                 CUDNN_DATA_FLOAT));
  GN_CHECK_CUDNN(cudnnSetConvolutionMathType(c.conv_desc, CUDNN_FMA_MATH));
  int n = 0, ch = 0, oh = 0, ow = 0;
  GN_CHECK_CUDNN(cudnnGetConvolution2dForwardOutputDim(c.conv_desc, c.x_desc, c.w_desc, &n, &ch, &oh, &ow));
  GN_REQUIRE(oh == p.g.oh && ow == p.g.ow, layer.name, ": cuDNN output ", oh, "x", ow,
             " differs from TF's ", p.g.oh, "x", p.g.ow, " (padding bug)");

  const std::array<std::int64_t, 3> key{in[0], in[1], in[2]};
  if (c.algos.count(key) == 0) {
    cudnnHandle_t h = cudnn_of(ctx);
    Conv2DAlgos a{};
    int count = 0;
    cudnnConvolutionFwdAlgoPerf_t fwd[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    GN_CHECK_CUDNN(cudnnGetConvolutionForwardAlgorithm_v7(h, c.x_desc, c.w_desc, c.conv_desc, c.y_desc,
                                                          CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &count, fwd));
    a.fwd = pick(fwd, count, layer.name, "forward").algo;
    cudnnConvolutionBwdDataAlgoPerf_t bwd_data[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    GN_CHECK_CUDNN(cudnnGetConvolutionBackwardDataAlgorithm_v7(h, c.w_desc, c.y_desc, c.conv_desc, c.x_desc,
                                                               CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &count,
                                                               bwd_data));
    a.bwd_data = pick(bwd_data, count, layer.name, "backward-data").algo;
    cudnnConvolutionBwdFilterAlgoPerf_t bwd_filter[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
    GN_CHECK_CUDNN(cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, c.x_desc, c.y_desc, c.conv_desc, c.w_desc,
                                                                 CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT,
                                                                 &count, bwd_filter));
    a.bwd_filter = pick(bwd_filter, count, layer.name, "backward-filter").algo;
    std::size_t s = 0;
    GN_CHECK_CUDNN(cudnnGetConvolutionForwardWorkspaceSize(h, c.x_desc, c.w_desc, c.conv_desc, c.y_desc, a.fwd, &s));
    a.workspace = s;
    GN_CHECK_CUDNN(cudnnGetConvolutionBackwardDataWorkspaceSize(h, c.w_desc, c.y_desc, c.conv_desc, c.x_desc,
                                                                a.bwd_data, &s));
    a.workspace = std::max(a.workspace, s);
    GN_CHECK_CUDNN(cudnnGetConvolutionBackwardFilterWorkspaceSize(h, c.x_desc, c.y_desc, c.conv_desc, c.w_desc,
                                                                  a.bwd_filter, &s));
    a.workspace = std::max(a.workspace, s);
    c.algos[key] = a;
  }
  return p;
}

// The input cuDNN convolves: x itself, or its explicitly padded copy.
const float* convolved_input(Conv2D& layer, Context& ctx, const Plan& p, const Tensor& x) {
  if (!p.explicit_pad) return x.data();
  Tensor xp = scratch_view(layer.cuda_state->x_pad, Shape{p.g.n, p.hp, p.wp, p.g.c}, ctx.device());
  gn::cuda::for_each(stream_of(ctx), xp.numel(),
                     fn::PadNHWC{xp.data(), x.data(), p.g.h, p.g.w, p.g.c, p.hp, p.wp, p.g.pad_top, p.g.pad_left});
  return xp.data();
}

}  // namespace

namespace cuda {

void conv2d_forward(Conv2D& layer, Context& ctx, ParameterStore& store, Tensor& y, const Tensor& x) {
  const Plan p = make_plan(layer, ctx, x.shape());
  Conv2DCuda& c = *layer.cuda_state;
  const Conv2DAlgos& a = c.algos.at({x.dim(0), x.dim(1), x.dim(2)});
  const Tensor k = store.param(layer.name + ".kernel"), b = store.param(layer.name + ".bias");
  Tensor w = scratch_view(c.kernel_ohwi, Shape{layer.filters, layer.kernel_h, layer.kernel_w, layer.in_channels},
                          ctx.device());
  gn::cuda::for_each(stream_of(ctx), w.numel(),
                     fn::HwioToOhwi{w.data(), k.data(), layer.kernel_h, layer.kernel_w, layer.in_channels, layer.filters});
  const float* xin = convolved_input(layer, ctx, p, x);
  void* ws = a.workspace ? ctx.workspace(a.workspace) : nullptr;
  const float one = 1.0f, zero = 0.0f;
  GN_CHECK_CUDNN(cudnnConvolutionForward(cudnn_of(ctx), &one, c.x_desc, xin, c.w_desc, w.data(), c.conv_desc,
                                         a.fwd, ws, a.workspace, &zero, c.y_desc, y.data()));
  gn::cuda::for_each(stream_of(ctx), y.numel(), fn::AddBiasAct{y.data(), y.data(), b.data(), layer.filters, layer.relu});
}

void conv2d_backward(Conv2D& layer, Context& ctx, ParameterStore& store, Tensor* dx, const Tensor& dy,
                     const Tensor& x, const Tensor& y) {
  const Plan p = make_plan(layer, ctx, x.shape());
  Conv2DCuda& c = *layer.cuda_state;
  const Conv2DAlgos& a = c.algos.at({x.dim(0), x.dim(1), x.dim(2)});
  const Tensor k = store.param(layer.name + ".kernel");
  Tensor dk = store.grad(layer.name + ".kernel"), db = store.grad(layer.name + ".bias");
  cudaStream_t s = stream_of(ctx);

  const float* gpre = dy.data();
  if (layer.relu) {
    Tensor d = scratch_view(c.dpre, dy.shape(), ctx.device());
    gn::cuda::for_each(s, d.numel(), fn::ReluBackward{d.data(), dy.data(), y.data()});
    gpre = d.data();
  }
  const float one = 1.0f, zero = 0.0f;
  GN_CHECK_CUDNN(cudnnConvolutionBackwardBias(cudnn_of(ctx), &one, c.y_desc, gpre, &zero, c.bias_desc, db.data()));

  const float* xin = convolved_input(layer, ctx, p, x);
  void* ws = a.workspace ? ctx.workspace(a.workspace) : nullptr;
  Tensor dw = scratch_view(c.dkernel_ohwi, Shape{layer.filters, layer.kernel_h, layer.kernel_w, layer.in_channels},
                           ctx.device());
  GN_CHECK_CUDNN(cudnnConvolutionBackwardFilter(cudnn_of(ctx), &one, c.x_desc, xin, c.y_desc, gpre, c.conv_desc,
                                                a.bwd_filter, ws, a.workspace, &zero, c.w_desc, dw.data()));
  gn::cuda::for_each(s, dk.numel(),
                     fn::OhwiToHwio{dk.data(), dw.data(), layer.kernel_h, layer.kernel_w, layer.in_channels, layer.filters});
  if (!dx) return;

  Tensor w = scratch_view(c.kernel_ohwi, Shape{layer.filters, layer.kernel_h, layer.kernel_w, layer.in_channels},
                          ctx.device());
  gn::cuda::for_each(s, w.numel(),
                     fn::HwioToOhwi{w.data(), k.data(), layer.kernel_h, layer.kernel_w, layer.in_channels, layer.filters});
  float* dxin = dx->data();
  if (p.explicit_pad) dxin = scratch_view(c.dx_pad, Shape{p.g.n, p.hp, p.wp, p.g.c}, ctx.device()).data();
  GN_CHECK_CUDNN(cudnnConvolutionBackwardData(cudnn_of(ctx), &one, c.w_desc, w.data(), c.y_desc, gpre, c.conv_desc,
                                              a.bwd_data, ws, a.workspace, &zero, c.x_desc, dxin));
  if (p.explicit_pad)
    gn::cuda::for_each(s, dx->numel(),
                       fn::CropNHWC{dx->data(), dxin, p.g.h, p.g.w, p.g.c, p.hp, p.wp, p.g.pad_top, p.g.pad_left});
}

}  // namespace cuda
}  // namespace gn
