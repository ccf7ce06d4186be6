// A forward real FFT on the CPU in O(n log n) for every even size n: x (n real) -> X (n/2 + 1
// complex, interleaved re, im), X[k] = sum_j x[j] exp(-2 pi i j k / n), numpy.fft.rfft's
// semantics in float32.
//
// Sizes whose half n/2 factors into 2, 3 and 5 go straight to KissFFT's real transform (its
// radix-2/3/4/5 butterflies). Any other size -- the `seed` front-end's 32700 = 2^2 3 5^2 109 --
// would hit KissFFT's generic radix, O(n p) for a prime factor p (109 multiply-adds per
// element there), so it runs instead as:
//   * the real-input packing: z[j] = x[2j] + i x[2j+1], Z = DFT_{n/2}(z), then
//     X[k] = (Z[k] + conj(Z[h-k])) / 2 - i e^{-2 pi i k / n} (Z[k] - conj(Z[h-k])) / 2, h = n/2;
//   * Bluestein's chirp-z for the complex DFT of size h: with c[j] = e^{-i pi j^2 / h},
//     Z[k] = c[k] * sum_j (z[j] c[j]) conj(c[k - j]), a circular convolution of length
//     M = the power of two >= 2h - 1, done with two KissFFT power-of-two transforms (the
//     chirp's transform is computed once per plan). Chirp phases are reduced modulo 2h in
//     integers and evaluated in double, so they carry no error growing with j^2.
//
// Accuracy: float32 throughout the transforms; measured against a float64 DFT (tests/
// test_frontend.cpp) max |error| / max |X| ~1e-6 at n = 32700, the same order as KissFFT's own
// mixed radix (both ~ eps * log2 M rounding stages). A plan holds scratch buffers: one plan per
// thread.
#pragma once

#include <complex>
#include <memory>
#include <vector>

namespace gn {

class RealFft {
 public:
  explicit RealFft(int n);  // n even, >= 2; throws gn::Error otherwise
  ~RealFft();
  RealFft(const RealFft&) = delete;
  RealFft& operator=(const RealFft&) = delete;

  int size() const { return n_; }
  bool uses_bluestein() const { return bluestein_ != nullptr; }
  // x (n) -> out (n/2 + 1 complex = n + 2 floats, interleaved).
  void forward(const float* x, float* out);

 private:
  struct Kiss;       // KissFFT's real plan (smooth sizes)
  struct Bluestein;  // chirp-z plan of the half-size complex DFT + real unpacking
  int n_;
  std::unique_ptr<Kiss> kiss_;
  std::unique_ptr<Bluestein> bluestein_;
};

// True when every prime factor of m is 2, 3 or 5 (KissFFT's specialised radices).
bool is_smooth_fft_size(int m);

}  // namespace gn
