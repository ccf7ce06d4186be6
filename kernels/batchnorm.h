// BatchNorm over the last (channel) axis of x viewed as (M, C), M = N*H*W: the per-channel
// statistics, the Keras moving-average update, normalisation and its gradient. Per-channel
// functors are called with the channel index c in [0, C); per-element ones with the flat index.
// Channel sums accumulate in double in row order: deterministic and accurate for M ~ 5e5.
#pragma once

#include "kernels/common.h"

namespace gn::fn {

// mean[c] and the biased variance var[c] = mean((x - mean)^2) (two passes: no cancellation).
struct BnBatchStats {
  float* mean;
  float* var;
  const float* x;
  index_t rows, channels;
  GN_HD void operator()(index_t c) const {
    double s = 0.0;
    for (index_t r = 0; r < rows; ++r) s += x[r * channels + c];
    const double m = s / static_cast<double>(rows);
    double q = 0.0;
    for (index_t r = 0; r < rows; ++r) {
      const double d = x[r * channels + c] - m;
      q += d * d;
    }
    mean[c] = static_cast<float>(m);
    var[c] = static_cast<float>(q / static_cast<double>(rows));
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

// dbeta[c] = sum dy; dgamma[c] = sum dy * xhat with xhat = (x - mean) * invstd.
struct BnParamGrad {
  float* dgamma;
  float* dbeta;
  const float* dy;
  const float* x;
  const float* mean;
  const float* invstd;
  index_t rows, channels;
  GN_HD void operator()(index_t c) const {
    double sb = 0.0, sg = 0.0;
    for (index_t r = 0; r < rows; ++r) {
      const index_t i = r * channels + c;
      sb += dy[i];
      sg += static_cast<double>(dy[i]) * ((x[i] - mean[c]) * invstd[c]);
    }
    dbeta[c] = static_cast<float>(sb);
    dgamma[c] = static_cast<float>(sg);
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
