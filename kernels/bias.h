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
// double in row order (deterministic). For few rows (Dense); the CPU conv bias gradient uses the
// blocked RowSum driver instead (5e5 rows, parallel over blocks).
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

// Row term for the CPU's blocked column sums (layers/channel_sums.h): acc[c] += x[r, c].
struct RowSum {
  const float* x;
  index_t channels;
  GN_HD void operator()(index_t r, double* acc) const {
    const float* row = x + r * channels;
    for (index_t c = 0; c < channels; ++c) acc[c] += row[c];
  }
};

}  // namespace gn::fn
