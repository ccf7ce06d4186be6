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

#include "kernels/common.h"

namespace gn::fn {

// Forward of one time step, in place: z holds the preactivations x W + h_prev U + b on entry
// and the gate activations (i, f, g, o) on exit (backward needs them). c_prev may be null
// (zero initial state, the first step).
//   z (rows, 4U) row stride ldz   c_prev, c, h (rows, U) row strides ldc / ldh
//   out (rows, U) row stride ldo: a second copy of h (the layer's output), may be null
struct LstmCellForward {
  float* z;
  const float* c_prev;
  float* c;
  float* h;
  float* out;
  index_t units, ldz, ldc, ldh, ldo;
  GN_HD void operator()(index_t k) const {
    const index_t r = k / units, j = k % units;
    float* zr = z + r * ldz;
    const float i = sigmoidf_(zr[j]);
    const float f = sigmoidf_(zr[units + j]);
    const float g = tanhf(zr[2 * units + j]);
    const float o = sigmoidf_(zr[3 * units + j]);
    const float cp = c_prev ? c_prev[r * ldc + j] : 0.0f;
    const float cn = f * cp + i * g;
    const float hn = o * tanhf(cn);
    zr[j] = i;
    zr[units + j] = f;
    zr[2 * units + j] = g;
    zr[3 * units + j] = o;
    c[r * ldc + j] = cn;
    h[r * ldh + j] = hn;
    if (out) out[r * ldo + j] = hn;
  }
};

// Backward of one time step. On entry dc holds dL/dc_t coming from step t+1 (zero at the
// last step) and dh the full dL/dh_t (from the output and from step t+1's recurrence); on
// exit dc holds dL/dc_{t-1} and dz (rows, 4U) the preactivation gradients of step t.
//   gates (rows, 4U) stride ldz: activations saved by LstmCellForward; c (rows, U): c_t;
//   c_prev: c_{t-1} or null (zero initial state).
struct LstmCellBackward {
  float* dz;
  float* dc;
  const float* dh;
  const float* gates;
  const float* c;
  const float* c_prev;
  index_t units, ldz, ldc, ldh;  // ldc: row stride of c / c_prev; dc rows are `units` apart
  GN_HD void operator()(index_t k) const {
    const index_t r = k / units, j = k % units;
    const float* gr = gates + r * ldz;
    const float i = gr[j], f = gr[units + j], g = gr[2 * units + j], o = gr[3 * units + j];
    const float tc = tanhf(c[r * ldc + j]);
    const float dhv = dh[r * ldh + j];
    const float dct = dc[r * units + j] + dhv * o * (1.0f - tc * tc);
    const float cp = c_prev ? c_prev[r * ldc + j] : 0.0f;
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
