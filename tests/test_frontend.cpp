// The spectrogram front-ends against independent NumPy/librosa computations
// (tests/fixtures/make_frontend_fixtures.py), KissFFT's accuracy at the seed's odd FFT size,
// and the CUDA path against the CPU path.
//
// Error metric for the seed golden test: per clip, max |a - b| / max |b|. The seed image is a
// magnitude spectrum of a magnitude spectrum: its values span ~6 orders of magnitude (the DC
// bin of each frame is huge, high bins are tiny), so a per-element relative error would be
// dominated by bins that are pure float32 rounding noise and matter to nothing downstream,
// while an absolute error would depend on the song's loudness. Normalising by the clip's
// largest value is scale-free and bounds every element's error relative to what the model
// sees. The per-element relative error on bins above 1e-3 of the maximum is reported too.
#include <gtest/gtest.h>
#include <kiss_fftr.h>

#include <cmath>
#include <complex>
#include <random>

#include "data/audio.h"
#include "data/clips.h"
#include "engine/error.h"
#include "engine/safetensors.h"
#include "layers/frontend.h"
#include "tests/support.h"

namespace gn {
namespace {

struct CloseStats {
  double normalized = 0.0;      // max |a - b| / max |b|
  double relative_above = 0.0;  // max |a - b| / |b| over |b| > floor x max |b|
};

CloseStats compare(const float* a, const float* b, std::int64_t n, double floor = 1e-3) {
  double max_b = 0.0, max_diff = 0.0;
  for (std::int64_t i = 0; i < n; ++i) {
    max_b = std::max(max_b, std::fabs(double(b[i])));
    max_diff = std::max(max_diff, std::fabs(double(a[i]) - b[i]));
  }
  CloseStats s;
  s.normalized = max_diff / max_b;
  for (std::int64_t i = 0; i < n; ++i)
    if (std::fabs(double(b[i])) > floor * max_b)
      s.relative_above = std::max(s.relative_above, std::fabs(double(a[i]) - b[i]) / std::fabs(double(b[i])));
  return s;
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ',') { out.push_back(cur); cur.clear(); } else cur += c;
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

// The real GTZAN songs decode bit for bit like librosa.load and their reference clips go
// through `seed` to within 1e-4 of the float64 NumPy/librosa transform.
TEST(FrontendSeed, MatchesNumpyLibrosaOnRealSongs) {
  GN_REQUIRE_SHARED();
  const SafeTensorsFile fx = read_safetensors(test::fixture_path("frontend_seed.safetensors"));
  const std::vector<std::string> songs = split_commas(fx.metadata.at("songs"));
  ASSERT_EQ(songs.size(), 7u);
  Context ctx;
  const FrontendConfig seed = FrontendConfig::seed();
  double worst = 0.0, worst_relative = 0.0;
  for (const std::string& song : songs) {
    const Audio audio = decode_audio(test::shared_dir() + "/seed/gtzan-sample/" + song + ".wav");
    ASSERT_EQ(std::to_string(audio.samples.size()), fx.metadata.at(song + ".samples")) << song;
    // Decoding: x / 32768 exactly, as librosa / soundfile do.
    const Tensor& head = fx.get(song + ".head");
    for (std::int64_t i = 0; i < head.numel(); ++i)
      ASSERT_EQ(audio.samples[i], head.at(i)) << song << " sample " << i;

    const Tensor clips = extract_clips(audio.samples, ClipScheme::reference(), song);
    ASSERT_EQ(std::to_string(clips.dim(0)), fx.metadata.at(song + ".clips")) << song;
    const std::int64_t pick = std::stoll(fx.metadata.at(song + ".clip"));
    const Tensor clip = clips.slice(pick, pick + 1);
    Tensor out = Tensor::empty(seed.output_shape(1));
    compute_spectrograms(ctx, out, clip, seed);
    const Tensor& expected = fx.get(song + ".image");
    ASSERT_EQ(expected.numel(), out.numel());
    const CloseStats s = compare(out.data(), expected.data(), out.numel());
    std::printf("  %s clip %lld: max|a-b|/max|b| = %.3g, max rel err above 1e-3 max = %.3g\n", song.c_str(),
                static_cast<long long>(pick), s.normalized, s.relative_above);
    // 1e-4: the bound. float32 FFTs of 32700 then 1024 points accumulate ~1e-6 relative
    // error (measured ~1e-6..1e-5); a layout or padding mistake gives errors of order 1.
    EXPECT_LT(s.normalized, 1e-4) << song;
    worst = std::max(worst, s.normalized);
    worst_relative = std::max(worst_relative, s.relative_above);
  }
  std::printf("  worst over %zu songs: normalised %.3g, relative above floor %.3g\n", songs.size(), worst,
              worst_relative);
  // Bins above 1e-3 of the maximum hold ~10+ significant bits of signal over float rounding:
  // their element-wise relative error must stay small too.
  EXPECT_LT(worst_relative, 1e-3);
}

TEST(FrontendLogStft, MatchesLibrosa) {
  const SafeTensorsFile fx = read_safetensors(test::fixture_path("frontend_logstft.safetensors"));
  const Tensor& clips = fx.get("clips");
  const Tensor& expected = fx.get("images");
  Context ctx;
  const FrontendConfig config = FrontendConfig::logstft();
  Tensor out = Tensor::empty(config.output_shape(clips.dim(0)));
  compute_spectrograms(ctx, out, clips, config);
  // Compared as magnitudes |X| = exp(v) - floor with the seed's metric (max |a-b| / max |b|):
  // float32 1024-point FFTs are ~1e-6 of the frame's largest bin apart from float64. In log
  // units that is tiny on strong bins but large on bins near the 1e-4 floor (the chord's
  // empty bins hold ~1e-5: pure rounding noise), so the log values are checked only on bins
  // above 1e-3 of the maximum, where 1e-6 x max is < 1e-3 relative: |a - b| < 1e-3 there.
  const std::int64_t n = out.numel();
  std::vector<float> a(n), b(n);
  double log_err = 0.0, max_b = 0.0;
  for (std::int64_t i = 0; i < n; ++i) {
    a[i] = std::exp(out.at(i)) - config.log_floor;
    b[i] = std::exp(expected.at(i)) - config.log_floor;
    max_b = std::max(max_b, double(b[i]));
  }
  for (std::int64_t i = 0; i < n; ++i)
    if (b[i] > 1e-3 * max_b) log_err = std::max(log_err, std::fabs(double(out.at(i)) - expected.at(i)));
  const CloseStats s = compare(a.data(), b.data(), n);
  std::printf("  logstft: magnitude max|a-b|/max|b| = %.3g, log error above 1e-3 max = %.3g\n", s.normalized, log_err);
  EXPECT_LT(s.normalized, 1e-5);
  EXPECT_LT(log_err, 1e-3);
}

TEST(FrontendSeed, KissFftAccurateAt32700) {
  const int n = 32700;
  std::vector<float> x = test::random_values(n, 7, -0.5f, 0.5f);
  for (int i = 0; i < n; ++i) x[i] += 0.3f * std::sin(0.01f * i);
  kiss_fftr_cfg cfg = kiss_fftr_alloc(n, 0, nullptr, nullptr);
  ASSERT_NE(cfg, nullptr);
  std::vector<kiss_fft_cpx> X(n / 2 + 1);
  kiss_fftr(cfg, x.data(), X.data());
  kiss_fftr_free(cfg);
  double max_err = 0.0, max_mag = 0.0;
  for (int b = 0; b < 64; ++b) {
    const int k = (b * 2557 + (b == 63 ? 0 : 1)) % (n / 2 + 1);
    std::complex<double> ref = 0.0;
    for (int i = 0; i < n; ++i) ref += double(x[i]) * std::polar(1.0, -2.0 * M_PI * double(k) * i / n);
    max_err = std::max(max_err, std::abs(std::complex<double>(X[k].r, X[k].i) - ref));
    max_mag = std::max(max_mag, std::abs(ref));
  }
  // Relative to the spectrum's scale (sqrt(n) x signal rms for noise, n x amplitude for the
  // sine): float32 with log2(n) ~ 15 stages of rounding gives ~1e-6.
  std::printf("  KissFFT n=32700: max |err| %.3g over max |X| %.3g -> %.3g\n", max_err, max_mag, max_err / max_mag);
  EXPECT_LT(max_err / max_mag, 1e-5);
}

TEST(FrontendLogStft, SinePeaksAtItsBin) {
  // 1000 Hz at 22050 Hz: bin 1000 / (22050 / 1024) = 46.4.
  const std::int64_t len = 66150;
  std::vector<float> v(len);
  for (std::int64_t i = 0; i < len; ++i) v[i] = 0.5f * std::sin(2.0 * M_PI * 1000.0 * i / 22050.0);
  const Tensor clip = Tensor::from_vector(Shape{1, len}, v);
  Context ctx;
  const FrontendConfig config = FrontendConfig::logstft();
  Tensor out = Tensor::empty(config.output_shape(1));
  compute_spectrograms(ctx, out, clip, config);
  for (int t : {10, 64, 120}) {  // not the edge frames: reflect padding smears them
    int best = 0;
    for (int f = 1; f < 513; ++f)
      if (out.at(t * 513 + f) > out.at(t * 513 + best)) best = f;
    EXPECT_EQ(best, 46) << "frame " << t;
  }
}

TEST(FrontendConfig, JsonRoundTripAndErrors) {
  FrontendConfig c = FrontendConfig::logstft();
  c.mean.assign(513, 0.5f);
  c.stddev.assign(513, 2.0f);
  const FrontendConfig back = FrontendConfig::from_json(nlohmann::json::parse(c.to_json().dump()));
  EXPECT_EQ(back.name, "logstft");
  EXPECT_EQ(back.mean, c.mean);
  EXPECT_EQ(back.stddev, c.stddev);
  EXPECT_EQ(FrontendConfig::from_json(FrontendConfig::seed().to_json()).cache_key(), FrontendConfig::seed().cache_key());
  EXPECT_NE(FrontendConfig::seed().cache_key(), FrontendConfig::logstft().cache_key());
  EXPECT_THROW(FrontendConfig::from_json({{"name", "mel"}}), Error);
  EXPECT_THROW(FrontendConfig::from_json({{"name", "logstft"}, {"n_fft", 1023}}), Error);
  EXPECT_THROW(FrontendConfig::from_json({{"name", "logstft"}, {"mean", {1.0}}, {"std", {1.0}}}), Error);
  EXPECT_THROW(FrontendConfig::from_json(nlohmann::json::array()), Error);
  Context ctx;
  Tensor out = Tensor::empty(Shape{1, 128, 513, 1});
  EXPECT_THROW(compute_spectrograms(ctx, out, Tensor::zeros(Shape{1, 100}), FrontendConfig::logstft()), Error);
  EXPECT_THROW(compute_spectrograms(ctx, out, Tensor::zeros(Shape{2, 66150}), FrontendConfig::logstft()), Error);
}

TEST(FrontendLogStft, StatisticsStandardise) {
  Context ctx;
  FrontendConfig config = FrontendConfig::logstft();
  const Tensor clips = test::random_tensor(Shape{3, 8192}, 11);
  Tensor raw = Tensor::empty(config.output_shape(3));
  compute_spectrograms(ctx, raw, clips, config);
  BinStatistics stats;
  for (int n = 0; n < 3; ++n) stats.add(raw.data() + n * 128 * 513, 128);
  stats.finish(config);
  ASSERT_TRUE(config.normalized());
  Tensor fused = Tensor::empty(config.output_shape(3));
  compute_spectrograms(ctx, fused, clips, config);  // standardised inside the transform
  normalize_spectrograms(ctx, raw, config);         // standardised afterwards
  EXPECT_LT(test::max_abs_diff(fused, raw), 1e-5);
  for (int f : {0, 100, 512}) {
    double s = 0, ss = 0;
    for (int r = 0; r < 3 * 128; ++r) {
      s += raw.at(r * 513 + f);
      ss += raw.at(r * 513 + f) * double(raw.at(r * 513 + f));
    }
    EXPECT_NEAR(s / 384, 0.0, 1e-4);
    EXPECT_NEAR(ss / 384, 1.0, 1e-3);
  }
}

// The CUDA twin (cuFFT) against the CPU path (KissFFT) on the same clips.
class FrontendDevice : public test::DeviceTest {};

TEST_P(FrontendDevice, MatchesCpu) {
  Context cpu;
  for (const FrontendConfig& base : {FrontendConfig::seed(), FrontendConfig::logstft()}) {
    FrontendConfig config = base;
    const std::int64_t len = config.name == "seed" ? 40000 : 66150;  // seed: truncation path
    const Tensor clips = test::random_tensor(Shape{3, len}, 3);
    Tensor expected = Tensor::empty(config.output_shape(3));
    compute_spectrograms(cpu, expected, clips, config);
    if (config.name == "logstft") {
      BinStatistics stats;
      for (int n = 0; n < 3; ++n) stats.add(expected.data() + n * 128 * 513, 128);
      stats.finish(config);
      compute_spectrograms(cpu, expected, clips, config);
    }
    Tensor out = Tensor::empty(config.output_shape(3), device());
    compute_spectrograms(ctx(), out, clips.to(device()), config);
    // Two float32 FFT libraries with different factorisations: ~1e-6 relative apart.
    test::expect_close(out.to(Device::cpu()), expected, 1e-4, config.name);
    // A clip shorter than the seed FFT (zero padding path) and a second call reusing plans.
    if (config.name == "seed") {
      const Tensor short_clips = test::random_tensor(Shape{2, 20000}, 4);
      Tensor e2 = Tensor::empty(config.output_shape(2)), o2 = Tensor::empty(config.output_shape(2), device());
      compute_spectrograms(cpu, e2, short_clips, config);
      compute_spectrograms(ctx(), o2, short_clips.to(device()), config);
      test::expect_close(o2.to(Device::cpu()), e2, 1e-4, "seed, zero-padded");
    }
  }
}
GN_INSTANTIATE_DEVICE_TEST(FrontendDevice);

}  // namespace
}  // namespace gn
