// Tolerances for comparing two float32 implementations of one operation (CUDA vs CPU), derived
// from rounding-error bounds instead of picked as "about 10x what was measured", so that a
// correct GPU passes on any input and a real mistake (a wrong gate order, a missing term) fails.
//
// Derivation. u = 2^-24 is float32's unit roundoff. A sum of K terms computed in ANY order (any
// cuDNN algorithm, any CUDA reduction tree, FMA or not) satisfies |fl(s) - s| <= gamma_K * S with
// gamma_K = K u / (1 - K u) and S = sum |terms| (Higham, Accuracy and Stability of Numerical
// Algorithms, 2nd ed., eq. 3.5 and sec. 4.2). Two implementations each within that of the exact s
// differ by at most 2 gamma_K S. Our comparisons normalise by the output's scale M = max |s|
// (test::normalized_error), so the bound is 2 gamma_K * (S / M); S / M >= 1 is the data's
// condition, measured from the CPU's own inputs (cancellation makes it large).
// Each elementwise function (exp, tanh, the sigmoid, rsqrt in BatchNorm) adds its own error:
// CUDA's single-precision functions are within 2 ulp (CUDA C Programming Guide, "Mathematical
// Functions", fast-math off), glibc's within 1 ulp, so 3 ulp = 6u relative per function between
// the two, propagated with a derivative <= 1 (sigmoid 1/4, tanh 1).
// A recurrence (the LSTM) feeds step t's error into step t+1 through dh_t/dh_{t-1}; where that
// map does not expand (|W_h| * 1/4 + ... <= 1, true of trained and of Glorot-initialised
// weights at these sizes) the errors add up: T steps give at most T times one step's bound.
// BatchNorm: mean and variance are sums of M terms (gamma_M each, relative to the sum of |x| and
// of (x - mean)^2); x_hat = (x - mean) / sigma then carries (|x - mean| / sigma) times them, at
// most sqrt(M) for a batch of M values.
#pragma once

#include <cmath>

namespace gn::test {

inline double fp32_unit_roundoff() { return std::ldexp(1.0, -24); }

// gamma_K: the relative error bound of a K-term float32 sum, any order.
inline double fp32_gamma(long terms) {
  const double ku = static_cast<double>(terms) * fp32_unit_roundoff();
  return ku / (1.0 - ku);
}

// Normalised bound on the difference of two K-term float32 sums (dot products, convolutions,
// GEMMs) whose sum of |terms| is `condition` times the output scale, followed by `functions`
// elementwise functions.
inline double fp32_sum_bound(long terms, double condition = 1.0, int functions = 0) {
  return 2.0 * fp32_gamma(terms) * condition + functions * 6.0 * fp32_unit_roundoff();
}

// The same over a non-expanding recurrence of `steps` steps (LSTM states, their gradients).
inline double fp32_recurrence_bound(long steps, long terms_per_step, double condition, int functions_per_step) {
  return static_cast<double>(steps) * fp32_sum_bound(terms_per_step, condition, functions_per_step);
}

}  // namespace gn::test
