// The real FFT of layers/real_fft.h: KissFFT for smooth sizes, Bluestein over a KissFFT
// power-of-two transform for the others.
#include "layers/real_fft.h"

#include <kiss_fft.h>
#include <kiss_fftr.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "engine/error.h"

namespace gn {

bool is_smooth_fft_size(int m) {
  if (m < 1) return false;
  for (int p : {2, 3, 5})
    while (m % p == 0) m /= p;
  return m == 1;
}

namespace {
struct KissFree {
  void operator()(void* p) const { kiss_fft_free(p); }
};
using KissCfg = std::unique_ptr<kiss_fft_state, KissFree>;
using KissRealCfg = std::unique_ptr<kiss_fftr_state, KissFree>;

kiss_fft_cpx mul(kiss_fft_cpx a, kiss_fft_cpx b) { return {a.r * b.r - a.i * b.i, a.r * b.i + a.i * b.r}; }
kiss_fft_cpx polar_float(double angle) {
  return {static_cast<float>(std::cos(angle)), static_cast<float>(std::sin(angle))};
}
}  // namespace

struct RealFft::Kiss {
  KissRealCfg cfg;
};

struct RealFft::Bluestein {
  int h = 0;  // complex DFT size n / 2
  int m = 0;  // convolution length: power of two >= 2h - 1
  KissCfg fwd, inv;
  std::vector<kiss_fft_cpx> chirp;        // (h) c[j] = exp(-i pi j^2 / h)
  std::vector<kiss_fft_cpx> kernel_fft;   // (m) FFT_m of conj(c) laid out circularly, / m
  std::vector<kiss_fft_cpx> unpack;       // (h + 1) exp(-2 pi i k / n)
  std::vector<kiss_fft_cpx> a, spectrum;  // (m) scratch

  explicit Bluestein(int n) : h(n / 2) {
    m = 1;
    while (m < 2 * h - 1) m *= 2;
    fwd.reset(kiss_fft_alloc(m, 0, nullptr, nullptr));
    inv.reset(kiss_fft_alloc(m, 1, nullptr, nullptr));
    GN_REQUIRE(fwd && inv, "real FFT: KissFFT could not plan a transform of size ", m);
    chirp.resize(h);
    for (std::int64_t j = 0; j < h; ++j)  // j^2 mod 2h exactly, so the phase is exact in double
      chirp[j] = polar_float(-M_PI * static_cast<double>((j * j) % (2 * static_cast<std::int64_t>(h))) / h);
    std::vector<kiss_fft_cpx> b(m, kiss_fft_cpx{0.0f, 0.0f});
    b[0] = {chirp[0].r, -chirp[0].i};
    for (int j = 1; j < h; ++j) b[j] = b[m - j] = {chirp[j].r, -chirp[j].i};
    kernel_fft.resize(m);
    kiss_fft(fwd.get(), b.data(), kernel_fft.data());
    const float scale = 1.0f / static_cast<float>(m);  // the inverse transform is unnormalised
    for (kiss_fft_cpx& v : kernel_fft) v = {v.r * scale, v.i * scale};
    unpack.resize(h + 1);
    for (int k = 0; k <= h; ++k) unpack[k] = polar_float(-M_PI * k / h);
    a.resize(m);
    spectrum.resize(m);
  }

  // x (2h real) -> out (h + 1 complex).
  void forward(const float* x, kiss_fft_cpx* out) {
    // z[j] = x[2j] + i x[2j+1], times the chirp; zero beyond h.
    for (int j = 0; j < h; ++j) a[j] = mul(kiss_fft_cpx{x[2 * j], x[2 * j + 1]}, chirp[j]);
    std::fill(a.begin() + h, a.end(), kiss_fft_cpx{0.0f, 0.0f});
    kiss_fft(fwd.get(), a.data(), spectrum.data());
    for (int k = 0; k < m; ++k) spectrum[k] = mul(spectrum[k], kernel_fft[k]);
    kiss_fft(inv.get(), spectrum.data(), a.data());
    for (int k = 0; k < h; ++k) a[k] = mul(a[k], chirp[k]);  // a[0, h) = Z = DFT_h(z)
    // Real unpacking, k = 0..h (Z is h-periodic).
    for (int k = 0; k <= h; ++k) {
      const kiss_fft_cpx zk = a[k == h ? 0 : k];
      const kiss_fft_cpx zc = {a[k == 0 ? 0 : h - k].r, -a[k == 0 ? 0 : h - k].i};  // conj(Z[h-k])
      const kiss_fft_cpx even = {0.5f * (zk.r + zc.r), 0.5f * (zk.i + zc.i)};
      const kiss_fft_cpx odd = {0.5f * (zk.i - zc.i), -0.5f * (zk.r - zc.r)};  // -i (zk - zc) / 2
      const kiss_fft_cpx t = mul(odd, unpack[k]);
      out[k] = {even.r + t.r, even.i + t.i};
    }
  }
};

RealFft::RealFft(int n) : n_(n) {
  GN_REQUIRE(n >= 2 && n % 2 == 0, "real FFT: size ", n, " must be even and at least 2");
  if (is_smooth_fft_size(n / 2)) {
    kiss_ = std::make_unique<Kiss>();
    kiss_->cfg.reset(kiss_fftr_alloc(n, 0, nullptr, nullptr));
    GN_REQUIRE(kiss_->cfg != nullptr, "real FFT: KissFFT could not plan a real FFT of size ", n);
  } else {
    bluestein_ = std::make_unique<Bluestein>(n);
  }
}

RealFft::~RealFft() = default;

void RealFft::forward(const float* x, float* out) {
  kiss_fft_cpx* dst = reinterpret_cast<kiss_fft_cpx*>(out);
  if (kiss_)
    kiss_fftr(kiss_->cfg.get(), x, dst);
  else
    bluestein_->forward(x, dst);
}

}  // namespace gn
