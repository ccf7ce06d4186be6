// LSTM gate math, written once for both launchers (Keras semantics: gates i, f, c, o; sigmoid
// on i, f, o; tanh on the candidate c and on the cell before the output gate).
//
// One index = one (row, unit) pair of one time step: row in [0, rows), unit j in [0, U).
// A row's preactivations / gate activations are 4U consecutive floats [i | f | c | o], which
// is Keras's column order of kernel (In, 4U), recurrent_kernel (U, 4U) and bias (4U).
//
// The CPU path (layers/bilstm.cpp) runs LstmCellForward / LstmCellBackward per time step;
// the CUDA path (layers/bilstm.cu) leaves the cell to cuDNN and uses the packing and
// last-state functors below, which CPU tests exercise too.
#pragma once

#include <cstdint>
#include <cstring>

#include "kernels/common.h"

// The cell bodies must inline into the CPU's vectorised unit loop (a call per element would
// keep it scalar), also into its per-ISA clones, where GCC's heuristics alone decline.
#if defined(__CUDACC__)
#define GN_LSTM_HD __host__ __device__ __forceinline__
#else
#define GN_LSTM_HD inline __attribute__((always_inline))
#endif

namespace gn {

// exp, sigmoid and tanh for the LSTM cell, written with only +, *, / and bit operations so a
// CPU compiler vectorises them (libm's tanhf / expf calls were 30% of a CPU training step).
// exp: Cody-Waite reduction x = n ln2 + r, |r| <= ln2/2, Cephes' degree-6 polynomial for e^r
// (max relative error ~1.5 ulp over the clamped range), then the exponent bits set to n.
GN_LSTM_HD float lstm_bits_to_float(std::uint32_t bits) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(bits);
#else
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
#endif
}
GN_LSTM_HD std::uint32_t lstm_float_to_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  std::uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  return bits;
#endif
}
// |x| clamped to 87 keeping the sign (NaN stays NaN), in integer arithmetic: positive floats
// order like their bit patterns, and integer selects vectorise where float compares do not
// (GCC will not if-convert a float compare under the default -ftrapping-math).
GN_LSTM_HD float lstm_clamp_87(float x) {
  const std::uint32_t bits = lstm_float_to_bits(x);
  std::uint32_t mag = bits & 0x7fffffffu;
  mag = (mag > 0x42ae0000u && mag <= 0x7f800000u) ? 0x42ae0000u : mag;  // 0x42ae0000 = 87.0f
  return lstm_bits_to_float((bits & 0x80000000u) | mag);
}
GN_LSTM_HD float lstm_expf(float x) {
  x = lstm_clamp_87(x);  // e^+-87 stay normal floats; the callers only need saturation there
  // Round x / ln2 to the nearest integer with the 1.5 * 2^23 trick (branch-free, vectorises).
  const float shifted = x * 1.44269504088896341f + 12582912.0f;
  const float n = shifted - 12582912.0f;
  float r = x - n * 0.693359375f;  // ln2 split in two so n * ln2 is exact to ~1e-10
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float er = p * r * r + r + 1.0f;
  // 2^n from its exponent bits; |n| <= 126 here.
  const float scale = lstm_bits_to_float(static_cast<std::uint32_t>(static_cast<std::int32_t>(n) + 127) << 23);
  return er * scale;
}
// 1 / (1 + e^-x): relative error a few ulp; saturates cleanly (to ~1e-38 and 1).
GN_LSTM_HD float lstm_sigmoid(float x) { return 1.0f / (1.0f + lstm_expf(-x)); }
// 1 - 2 / (1 + e^2x): absolute error ~1e-7 near 0 (relative error grows there, as in Eigen's
// float tanh that TensorFlow uses), exact saturation to +-1.
GN_LSTM_HD float lstm_tanh(float x) { return 1.0f - 2.0f / (1.0f + lstm_expf(2.0f * x)); }

}  // namespace gn

namespace gn::fn {

// Forward of one time step, in place: z holds the preactivations x W + h_prev U + b on entry
// and the gate activations (i, f, g, o) on exit (backward needs them). No pointer may be null
// (a branch per element would stop the CPU loop from vectorising): the first step passes a
// zero c_prev, and a caller with no second output passes out = h, ldo = ldh.
//   z (rows, 4U) row stride ldz   c_prev, c, h (rows, U) row strides ldc / ldh
//   out (rows, U) row stride ldo: a second copy of h (the layer's output)
struct LstmCellForward {
  float* z;
  const float* c_prev;
  float* c;
  float* h;
  float* out;
  index_t units, ldz, ldc, ldh, ldo;
  GN_HD void operator()(index_t k) const { apply(k / units, k % units); }
  GN_LSTM_HD void apply(index_t r, index_t j) const {  // row r, unit j
    float* zr = z + r * ldz;
    const float i = lstm_sigmoid(zr[j]);
    const float f = lstm_sigmoid(zr[units + j]);
    const float g = lstm_tanh(zr[2 * units + j]);
    const float o = lstm_sigmoid(zr[3 * units + j]);
    const float cn = f * c_prev[r * ldc + j] + i * g;
    const float hn = o * lstm_tanh(cn);
    zr[j] = i;
    zr[units + j] = f;
    zr[2 * units + j] = g;
    zr[3 * units + j] = o;
    c[r * ldc + j] = cn;
    h[r * ldh + j] = hn;
    out[r * ldo + j] = hn;
  }
};

// Backward of one time step. On entry dc holds dL/dc_t coming from step t+1 (zero at the
// last step) and dh the full dL/dh_t (from the output and from step t+1's recurrence); on
// exit dc holds dL/dc_{t-1} and dz (rows, 4U) the preactivation gradients of step t.
//   gates (rows, 4U) stride ldz: activations saved by LstmCellForward; c (rows, U): c_t;
//   c_prev: c_{t-1} (zeros at the first step; never null, as above).
struct LstmCellBackward {
  float* dz;
  float* dc;
  const float* dh;
  const float* gates;
  const float* c;
  const float* c_prev;
  index_t units, ldz, ldc, ldh;  // ldc: row stride of c / c_prev; dc rows are `units` apart
  GN_HD void operator()(index_t k) const { apply(k / units, k % units); }
  GN_LSTM_HD void apply(index_t r, index_t j) const {  // row r, unit j
    const float* gr = gates + r * ldz;
    const float i = gr[j], f = gr[units + j], g = gr[2 * units + j], o = gr[3 * units + j];
    const float tc = lstm_tanh(c[r * ldc + j]);  // the same tanh forward used
    const float dhv = dh[r * ldh + j];
    const float dct = dc[r * units + j] + dhv * o * (1.0f - tc * tc);
    const float cp = c_prev[r * ldc + j];
    float* dzr = dz + r * ldz;
    dzr[j] = dct * g * i * (1.0f - i);
    dzr[units + j] = dct * cp * f * (1.0f - f);
    dzr[2 * units + j] = dct * i * (1.0f - g * g);
    dzr[3 * units + j] = dhv * tc * o * (1.0f - o);
    dc[r * units + j] = dct * f;
  }
};

// cuDNN stores each gate's matrix of an LSTM as (U, rows) row-major (one row per unit, the
// transpose of Keras's (rows, 4U) column block). Index k over U * rows.
//   to cuDNN:   dst[j * rows + r] = src[r * 4U + gate * U + j]
struct LstmGateToCudnn {
  float* dst;
  const float* src;
  index_t rows, units, gate;
  GN_HD void operator()(index_t k) const {
    const index_t j = k / rows, r = k % rows;
    dst[k] = src[r * 4 * units + gate * units + j];
  }
};
//   from cuDNN: dst[r * 4U + gate * U + j] = src[j * rows + r]   (the inverse; index k over
//   U * rows in Keras order so writes are contiguous)
struct LstmGateFromCudnn {
  float* dst;
  const float* src;
  index_t rows, units, gate;
  GN_HD void operator()(index_t k) const {
    const index_t r = k / units, j = k % units;
    dst[r * 4 * units + gate * units + j] = src[j * rows + r];
  }
};

// Bidirectional last state from a full sequence output y_seq (N, T, 2U) (directions
// concatenated, the backward one already re-aligned to original time):
//   out (N, 2U) = concat(y_seq[:, T-1, :U], y_seq[:, 0, U:])
struct BiLastStateGather {
  float* out;
  const float* seq;
  index_t steps, units;
  GN_HD void operator()(index_t k) const {
    const index_t n = k / (2 * units), j = k % (2 * units);
    const index_t t = j < units ? steps - 1 : 0;
    out[k] = seq[(n * steps + t) * 2 * units + j];
  }
};
// Its adjoint: d_seq (N, T, 2U) is zero except where the gather read. Index over N*T*2U.
struct BiLastStateScatter {
  float* d_seq;
  const float* d_out;
  index_t steps, units;
  GN_HD void operator()(index_t k) const {
    const index_t j = k % (2 * units), t = (k / (2 * units)) % steps, n = k / (2 * units * steps);
    const bool hit = j < units ? t == steps - 1 : t == 0;
    d_seq[k] = hit ? d_out[n * 2 * units + j] : 0.0f;
  }
};

}  // namespace gn::fn
