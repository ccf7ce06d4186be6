// BatchNorm over the last (channel) axis of x viewed as (M, C), M = N*H*W: the per-channel
// sums, the Keras moving-average update, normalisation and its gradient. Per-channel functors
// are called with the channel index c in [0, C); per-element ones with the flat index; row
// terms with a row index and an accumulator. Sums accumulate in double (M ~ 5e5 rows).
#pragma once

#include "kernels/common.h"

namespace gn::fn {

// Row terms of the per-channel sums. Each adds row r's contribution to its sums, laid out
// (K, C) in `acc` (K = 1 or 2); a driver sums rows in fixed blocks and the blocks in order, so
// results do not depend on the thread count (layers/batchnorm.cpp).
struct BnRowCentredSquares {  // K = 1: sum (x - mean)^2 (the second pass of a two-pass variance)
  const float* x;
  const float* mean;
  index_t channels;
  GN_HD void operator()(index_t r, double* acc) const {
    const float* row = x + r * channels;
    for (index_t c = 0; c < channels; ++c) {
      const double d = static_cast<double>(row[c]) - mean[c];
      acc[c] += d * d;
    }
  }
};

struct BnRowGradSums {  // K = 2: sum dy (-> dbeta), sum dy * xhat (-> dgamma)
  const float* dy;
  const float* x;
  const float* mean;
  const float* invstd;
  index_t channels;
  GN_HD void operator()(index_t r, double* acc) const {
    const float* g = dy + r * channels;
    const float* row = x + r * channels;
    for (index_t c = 0; c < channels; ++c) {
      acc[c] += g[c];
      acc[channels + c] += static_cast<double>(g[c]) * ((row[c] - mean[c]) * invstd[c]);
    }
  }
};

// invstd[c] = 1 / sqrt(var[c] + eps).
struct BnInvStd {
  float* invstd;
  const float* var;
  float eps;
  GN_HD void operator()(index_t c) const { invstd[c] = 1.0f / sqrtf(var[c] + eps); }
};

// Keras / TF assign_moving_average: moving -= (moving - value) * (1 - momentum), with the
// variance's value = var[c] * var_factor (var_factor = M / (M - 1) turns a biased variance
// into the unbiased one Keras's fused 4-D path records; 1 keeps it as given).
struct BnMovingUpdate {
  float* moving_mean;
  float* moving_var;
  const float* mean;
  const float* var;
  float momentum, var_factor;
  GN_HD void operator()(index_t c) const {
    const float decay = 1.0f - momentum;
    moving_mean[c] -= (moving_mean[c] - mean[c]) * decay;
    moving_var[c] -= (moving_var[c] - var[c] * var_factor) * decay;
  }
};

// y = gamma * (x - mean) * invstd + beta, per element (channel = i % C). y may alias x.
struct BnApply {
  float* y;
  const float* x;
  const float* mean;
  const float* invstd;
  const float* gamma;
  const float* beta;
  index_t channels;
  GN_HD void operator()(index_t i) const {
    const index_t c = i % channels;
    y[i] = gamma[c] * ((x[i] - mean[c]) * invstd[c]) + beta[c];
  }
};

// Training-mode input gradient (batch statistics depend on x):
//   dx = gamma * invstd * (dy - dbeta / M - xhat * dgamma / M)
struct BnInputGrad {
  float* dx;
  const float* dy;
  const float* x;
  const float* mean;
  const float* invstd;
  const float* gamma;
  const float* dgamma;
  const float* dbeta;
  index_t rows, channels;
  GN_HD void operator()(index_t i) const {
    const index_t c = i % channels;
    const float inv_m = 1.0f / static_cast<float>(rows);
    const float xhat = (x[i] - mean[c]) * invstd[c];
    dx[i] = gamma[c] * invstd[c] * (dy[i] - dbeta[c] * inv_m - xhat * dgamma[c] * inv_m);
  }
};

}  // namespace gn::fn
