// The spectrogram front-end's elementwise steps, written once for the CPU launcher (per clip,
// in layers/frontend.cpp) and the CUDA launcher (whole batch, in layers/frontend.cu). The FFTs
// between them come from KissFFT (CPU) or cuFFT (CUDA); complex values are interleaved
// (re, im) floats, the layout both libraries use.
#pragma once

#include "kernels/common.h"

namespace gn::fn {

// numpy.pad(mode="reflect") index: -1 -> 1, n -> n - 2 (the edge sample is not repeated).
// Valid for -n < i < 2n - 1, which centring by n_fft / 2 < n guarantees.
GN_HD index_t reflect_index(index_t i, index_t n) {
  if (i < 0) i = -i;
  if (i >= n) i = 2 * (n - 1) - i;
  return i;
}

// seed step 1: x (N, fft_n) <- clips (N, len), truncated or zero-padded like numpy.fft.fft(n=).
struct PadOrTruncate {
  float* out;
  const float* clips;
  index_t len, fft_n;
  GN_HD void operator()(index_t i) const {
    const index_t c = i / fft_n, k = i % fft_n;
    out[i] = k < len ? clips[c * len + k] : 0.0f;
  }
};

// seed step 2: m (N, fft_n) <- |X| from the half spectrum X (N, fft_n / 2 + 1) of a real
// signal, mirrored: |X[k]| = |X[n - k]|. The magnitude is taken in double so the only float
// rounding is the FFT's own.
struct MirroredMagnitude {
  float* out;
  const float* half;  // interleaved complex
  index_t fft_n;
  GN_HD void operator()(index_t i) const {
    const index_t c = i / fft_n, k = i % fft_n;
    const index_t h = fft_n / 2 + 1;
    const index_t j = k < h ? k : fft_n - k;
    const double re = half[2 * (c * h + j)], im = half[2 * (c * h + j) + 1];
    out[i] = static_cast<float>(sqrt(re * re + im * im));
  }
};

// STFT framing: frames (N, T, n_fft) <- signal (N, len) centred (frame t starts at
// t * hop - n_fft / 2), reflect-padded, times the window (n_fft).
struct FrameWindow {
  float* out;
  const float* signal;
  const float* window;
  index_t len, hop, frames, n_fft;
  GN_HD void operator()(index_t i) const {
    const index_t j = i % n_fft, t = (i / n_fft) % frames, c = i / (n_fft * frames);
    const index_t src = reflect_index(t * hop + j - n_fft / 2, len);
    out[i] = signal[c * len + src] * window[j];
  }
};

// STFT magnitude into the model's layout. spec (N, T, bins) interleaved complex.
//  seed:    out[c][f * T + t] = |X|      (the (bins, T) array, raw-reshaped to (T, bins))
//  logstft: out[c][t * bins + f] = ln(|X| + floor), then optionally (v - mean[f]) / std[f]
struct SpectrumToImage {
  float* out;
  const float* spec;
  const float* mean;    // nullptr: no standardisation
  const float* stddev;
  index_t frames, bins;
  float log_floor;
  bool seed_layout;     // true: seed (no log, raw reshape); false: logstft
  GN_HD void operator()(index_t i) const {
    const index_t f = i % bins, t = (i / bins) % frames, c = i / (bins * frames);
    const double re = spec[2 * i], im = spec[2 * i + 1];
    const float mag = static_cast<float>(sqrt(re * re + im * im));
    if (seed_layout) {
      out[c * bins * frames + f * frames + t] = mag;
      return;
    }
    float v = logf(mag + log_floor);
    if (mean != nullptr) v = (v - mean[f]) / stddev[f];
    out[i] = v;
  }
};

// x (rows, bins) in place: (x - mean[f]) / std[f].
struct NormalizeBins {
  float* x;
  const float* mean;
  const float* stddev;
  index_t bins;
  GN_HD void operator()(index_t i) const {
    const index_t f = i % bins;
    x[i] = (x[i] - mean[f]) / stddev[f];
  }
};

}  // namespace gn::fn
