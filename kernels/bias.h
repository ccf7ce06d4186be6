// Per-channel bias add (optionally fused with ReLU) and its gradient, the column sum. Used by
// Conv2D and Dense on both devices: channels are the last, fastest axis (NHWC / (N, Out)).
#pragma once

#include "kernels/common.h"

namespace gn::fn {

// y[i] = x[i] + b[i % C], then max(., 0) when relu. y may alias x.
struct AddBiasAct {
  float* y;
  const float* x;
  const float* b;
  index_t channels;
  bool relu;
  GN_HD void operator()(index_t i) const {
    const float v = x[i] + b[i % channels];
    y[i] = relu ? (v > 0.0f ? v : 0.0f) : v;
  }
};

// out[j] = sum over r of x[r, j] for x (rows, cols) row-major; one column per call, summed in
// double in row order (deterministic, and exact enough for 5e5-row conv outputs).
struct ColumnSum {
  float* out;
  const float* x;
  index_t rows, cols;
  GN_HD void operator()(index_t j) const {
    double s = 0.0;
    for (index_t r = 0; r < rows; ++r) s += static_cast<double>(x[r * cols + j]);
    out[j] = static_cast<float>(s);
  }
};

}  // namespace gn::fn
