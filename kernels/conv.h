// Convolution index math shared by the CPU reference (im2col + GEMM) and the CUDA path (the
// explicit-padding copy that lets cuDNN, which pads symmetrically, run TF's asymmetric "same").
// All tensors NHWC, kernels HWIO (KH, KW, Cin, Cout) as Keras stores them.
#pragma once

#include "kernels/common.h"

namespace gn {

// The geometry of one convolution. pad_top / pad_left are the zeros before the first input
// row / column (TF "same": floor(total / 2); the odd extra pixel goes bottom / right and is
// implied by oh / ow).
struct ConvGeom {
  index_t n, h, w, c;  // input (N, H, W, Cin)
  index_t oh, ow;      // output spatial size
  int kh, kw, sh, sw;  // kernel and stride
  int pad_top, pad_left;
};

}  // namespace gn

namespace gn::fn {

// col (N*OH*OW, KH*KW*Cin) row-major from x (N, H, W, Cin): row (n, oh, ow) holds the receptive
// field in (kh, kw, cin) order, which is exactly the row order of an HWIO kernel viewed as the
// (KH*KW*Cin, Cout) matrix, so y = col . kernel. Out-of-image taps are zeros (the padding).
// Called for j in [0, N*OH*OW*KH*KW): one (output pixel, tap) copies its Cin contiguous
// channels, so the index arithmetic is paid once per tap, not once per element.
struct Im2Col {
  float* col;
  const float* x;
  ConvGeom g;
  GN_HD void operator()(index_t j) const {
    index_t t = j;
    const int kx = static_cast<int>(t % g.kw); t /= g.kw;
    const int ky = static_cast<int>(t % g.kh); t /= g.kh;
    const index_t ox = t % g.ow; t /= g.ow;
    const index_t oy = t % g.oh;
    const index_t n = t / g.oh;
    const index_t iy = oy * g.sh - g.pad_top + ky, ix = ox * g.sw - g.pad_left + kx;
    float* out = col + j * g.c;
    if (iy >= 0 && iy < g.h && ix >= 0 && ix < g.w) {
      const float* in = x + ((n * g.h + iy) * g.w + ix) * g.c;
      for (index_t c = 0; c < g.c; ++c) out[c] = in[c];
    } else {
      for (index_t c = 0; c < g.c; ++c) out[c] = 0.0f;
    }
  }
  static index_t count(const ConvGeom& g) { return g.n * g.oh * g.ow * g.kh * g.kw; }
};

// dx (N, H, W, Cin) from dcol (N*OH*OW, KH*KW*Cin): the adjoint of Im2Col written as a gather
// (each input element sums the taps that read it, in a fixed order): no atomics, deterministic.
// Called for p in [0, N*H*W): one input pixel, all its Cin channels.
struct Col2Im {
  float* dx;
  const float* dcol;
  ConvGeom g;
  GN_HD void operator()(index_t p) const {
    index_t t = p;
    const index_t ix = t % g.w; t /= g.w;
    const index_t iy = t % g.h;
    const index_t n = t / g.h;
    float* out = dx + p * g.c;
    for (index_t c = 0; c < g.c; ++c) out[c] = 0.0f;
    for (int ky = 0; ky < g.kh; ++ky) {
      const index_t ty = iy + g.pad_top - ky;
      if (ty < 0 || ty % g.sh != 0 || ty / g.sh >= g.oh) continue;
      const index_t oy = ty / g.sh;
      for (int kx = 0; kx < g.kw; ++kx) {
        const index_t tx = ix + g.pad_left - kx;
        if (tx < 0 || tx % g.sw != 0 || tx / g.sw >= g.ow) continue;
        const index_t ox = tx / g.sw;
        const float* in = dcol + ((((n * g.oh + oy) * g.ow + ox) * g.kh + ky) * g.kw + kx) * g.c;
        for (index_t c = 0; c < g.c; ++c) out[c] += in[c];
      }
    }
  }
  static index_t count(const ConvGeom& g) { return g.n * g.h * g.w; }
};

// xp (N, HP, WP, C) = x (N, H, W, C) placed at (top, left) in zeros: explicit asymmetric padding.
struct PadNHWC {
  float* xp;
  const float* x;
  index_t h, w, c, hp, wp;
  int top, left;
  GN_HD void operator()(index_t i) const {
    index_t t = i;
    const index_t ch = t % c; t /= c;
    const index_t x_ = t % wp - left; t /= wp;
    const index_t y_ = t % hp - top;
    const index_t n = t / hp;
    xp[i] = (y_ >= 0 && y_ < h && x_ >= 0 && x_ < w) ? x[((n * h + y_) * w + x_) * c + ch] : 0.0f;
  }
};

// dx (N, H, W, C) = the (top, left) window of dxp (N, HP, WP, C): the adjoint of PadNHWC.
struct CropNHWC {
  float* dx;
  const float* dxp;
  index_t h, w, c, hp, wp;
  int top, left;
  GN_HD void operator()(index_t i) const {
    index_t t = i;
    const index_t ch = t % c; t /= c;
    const index_t x_ = t % w; t /= w;
    const index_t y_ = t % h;
    const index_t n = t / h;
    dx[i] = dxp[((n * hp + y_ + top) * wp + x_ + left) * c + ch];
  }
};

// out (Cout, KH, KW, Cin) from an HWIO kernel (KH, KW, Cin, Cout): cuDNN's NHWC filter layout.
struct HwioToOhwi {
  float* out;
  const float* in;
  int kh, kw, ci, co;
  GN_HD void operator()(index_t i) const {
    index_t t = i;
    const index_t c = t % ci; t /= ci;
    const index_t x = t % kw; t /= kw;
    const index_t y = t % kh;
    const index_t o = t / kh;
    out[i] = in[((y * kw + x) * ci + c) * co + o];
  }
};

// out (KH, KW, Cin, Cout) from (Cout, KH, KW, Cin): the inverse, for the kernel gradient.
struct OhwiToHwio {
  float* out;
  const float* in;
  int kh, kw, ci, co;
  GN_HD void operator()(index_t i) const {
    index_t t = i;
    const index_t o = t % co; t /= co;
    const index_t c = t % ci; t /= ci;
    const index_t x = t % kw;
    const index_t y = t / kw;
    out[i] = in[((o * kh + y) * kw + x) * ci + c];
  }
};

}  // namespace gn::fn
