// Max pooling with window = stride (Keras MaxPooling2D(pool_size) with padding "valid"): the
// output is floor(in / window) and trailing rows/columns that do not fill a window are dropped.
#pragma once

#include <cstdint>

#include "kernels/common.h"

namespace gn {

struct PoolGeom {
  index_t n, h, w, c;  // input (N, H, W, C)
  index_t oh, ow;      // floor(h / ph), floor(w / pw)
  int ph, pw;
};

}  // namespace gn

namespace gn::fn {

// y (N, OH, OW, C) = window maxima; argmax (same shape, optional) = the flat input index of the
// first maximum in row-major window order (ties go to the earliest element).
struct MaxPoolForward {
  float* y;
  std::int32_t* argmax;  // may be null
  const float* x;
  PoolGeom g;
  GN_HD void operator()(index_t i) const {
    index_t t = i;
    const index_t c = t % g.c; t /= g.c;
    const index_t ox = t % g.ow; t /= g.ow;
    const index_t oy = t % g.oh;
    const index_t n = t / g.oh;
    index_t best = ((n * g.h + oy * g.ph) * g.w + ox * g.pw) * g.c + c;
    float m = x[best];
    for (int dy = 0; dy < g.ph; ++dy)
      for (int dx = 0; dx < g.pw; ++dx) {
        const index_t j = ((n * g.h + oy * g.ph + dy) * g.w + ox * g.pw + dx) * g.c + c;
        if (x[j] > m) {
          m = x[j];
          best = j;
        }
      }
    y[i] = m;
    if (argmax) argmax[i] = static_cast<std::int32_t>(best);
  }
};

// dx[argmax[o]] = dy[o] for every output o, after dx has been zero-filled (elements that were
// no window's maximum, and the dropped trailing rows/columns, keep 0). Windows do not overlap
// (window = stride), so no two outputs write one element: race-free and deterministic.
struct MaxPoolBackwardScatter {
  float* dx;
  const float* dy;
  const std::int32_t* argmax;
  GN_HD void operator()(index_t o) const { dx[argmax[o]] = dy[o]; }
};

// 1 when output o's saved argmax does not point at a value equal to y[o] (a reduction body):
// catches a backward given other tensors than the forward that filled the argmax.
struct MaxPoolArgmaxMismatch {
  const float* y;
  const float* x;
  const std::int32_t* argmax;
  GN_HD float operator()(index_t o) const { return x[argmax[o]] == y[o] ? 0.0f : 1.0f; }
};

}  // namespace gn::fn
