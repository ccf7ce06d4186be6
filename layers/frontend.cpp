// The spectrogram front-end on the CPU (KissFFT, float) and the config / statistics shared
// with the CUDA twin in layers/frontend.cu. One clip per OpenMP iteration, each thread with
// its own KissFFT plans and buffers (a kiss_fftr plan holds scratch memory, so plans are not
// shared across threads).
#include "layers/frontend.h"

#include <kiss_fftr.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <memory>
#include <sstream>

#include "engine/error.h"
#include "kernels/frontend.h"

namespace gn {

// ---- config ----------------------------------------------------------------------------------

FrontendConfig FrontendConfig::seed() {
  FrontendConfig c;
  c.name = "seed";
  return c;
}

FrontendConfig FrontendConfig::logstft() { return FrontendConfig{}; }

void FrontendConfig::validate() const {
  GN_REQUIRE(name == "seed" || name == "logstft", "front-end: unknown name '", name,
             "' (expected 'seed' or 'logstft')");
  GN_REQUIRE(n_fft >= 16 && n_fft % 2 == 0 && n_fft <= (1 << 16), "front-end: n_fft ", n_fft,
             " must be even and in [16, 65536]");
  GN_REQUIRE(frames >= 1 && frames <= 100000, "front-end: frames ", frames, " out of range");
  if (name == "seed") {
    GN_REQUIRE(seed_fft_size >= n_fft && seed_fft_size % 2 == 0, "front-end seed: fft size ",
               seed_fft_size, " must be even and at least n_fft (", n_fft, ")");
    GN_REQUIRE(seed_hop >= 1, "front-end seed: hop ", seed_hop, " must be positive");
    GN_REQUIRE(mean.empty() && stddev.empty(), "front-end seed: has no normalisation statistics");
  } else {
    GN_REQUIRE(log_floor > 0.0f && std::isfinite(log_floor), "front-end logstft: log floor ",
               log_floor, " must be positive");
  }
  GN_REQUIRE(mean.size() == stddev.size(), "front-end: ", mean.size(), " means but ",
             stddev.size(), " standard deviations");
  if (!mean.empty()) {
    GN_REQUIRE(static_cast<int>(mean.size()) == bins(), "front-end: statistics for ", mean.size(),
               " bins, expected ", bins());
    for (std::size_t i = 0; i < mean.size(); ++i)
      GN_REQUIRE(std::isfinite(mean[i]) && std::isfinite(stddev[i]) && stddev[i] > 0.0f,
                 "front-end: bad statistics at bin ", i, " (mean ", mean[i], ", std ", stddev[i], ")");
  }
}

nlohmann::json FrontendConfig::to_json() const {
  nlohmann::json j = {{"name", name}, {"n_fft", n_fft}, {"frames", frames}};
  if (name == "seed") {
    j["fft_size"] = seed_fft_size;
    j["hop"] = seed_hop;
  } else {
    j["log_floor"] = log_floor;
    if (normalized()) {
      j["mean"] = mean;
      j["std"] = stddev;
    }
  }
  return j;
}

FrontendConfig FrontendConfig::from_json(const nlohmann::json& j) {
  GN_REQUIRE(j.is_object(), "front-end config: expected a JSON object, got ", j.type_name());
  FrontendConfig c;
  try {
    c.name = j.at("name").get<std::string>();
    if (c.name == "seed") c = seed();
    c.n_fft = j.value("n_fft", c.n_fft);
    c.frames = j.value("frames", c.frames);
    c.seed_fft_size = j.value("fft_size", c.seed_fft_size);
    c.seed_hop = j.value("hop", c.seed_hop);
    c.log_floor = j.value("log_floor", c.log_floor);
    if (j.contains("mean")) c.mean = j.at("mean").get<std::vector<float>>();
    if (j.contains("std")) c.stddev = j.at("std").get<std::vector<float>>();
  } catch (const nlohmann::json::exception& e) {
    GN_FAIL("front-end config: ", e.what());
  }
  c.validate();
  return c;
}

std::string FrontendConfig::cache_key() const {
  std::ostringstream os;
  os << name << " v1 n_fft=" << n_fft << " frames=" << frames;
  if (name == "seed")
    os << " fft=" << seed_fft_size << " hop=" << seed_hop;
  else
    os << " floor=" << log_floor;
  return os.str();
}

// ---- statistics ------------------------------------------------------------------------------

BinStatistics::BinStatistics(int bins) : bins_(bins), sum_(bins, 0.0), sum_sq_(bins, 0.0) {}

void BinStatistics::add(const float* spectrogram, std::int64_t frames) {
  for (std::int64_t t = 0; t < frames; ++t)
    for (int f = 0; f < bins_; ++f) {
      const double v = spectrogram[t * bins_ + f];
      sum_[f] += v;
      sum_sq_[f] += v * v;
    }
  count_ += frames;
}

void BinStatistics::finish(FrontendConfig& config) const {
  GN_REQUIRE(count_ > 0, "front-end statistics: no spectrograms to fit on");
  GN_REQUIRE(bins_ == config.bins(), "front-end statistics: ", bins_, " bins, config has ", config.bins());
  config.mean.assign(bins_, 0.0f);
  config.stddev.assign(bins_, 0.0f);
  for (int f = 0; f < bins_; ++f) {
    const double m = sum_[f] / count_;
    const double var = std::max(0.0, sum_sq_[f] / count_ - m * m);
    config.mean[f] = static_cast<float>(m);
    config.stddev[f] = static_cast<float>(std::max(std::sqrt(var), 1e-5));
  }
}

// ---- CPU transform ---------------------------------------------------------------------------
namespace {

struct KissFree {
  void operator()(kiss_fftr_state* p) const { kiss_fftr_free(p); }
};
using KissPlan = std::unique_ptr<kiss_fftr_state, KissFree>;

// This thread's forward real FFT plan of size n (kept for the thread's lifetime).
kiss_fftr_cfg plan_for(int n) {
  thread_local std::map<int, KissPlan> plans;
  auto it = plans.find(n);
  if (it == plans.end()) {
    kiss_fftr_cfg cfg = kiss_fftr_alloc(n, 0, nullptr, nullptr);
    GN_REQUIRE(cfg != nullptr, "front-end: KissFFT could not plan a real FFT of size ", n);
    it = plans.emplace(n, KissPlan(cfg)).first;
  }
  return it->second.get();
}

// Periodic Hann (scipy.signal.get_window("hann", n, fftbins=True)), computed in double.
std::vector<float> hann_window(int n) {
  std::vector<float> w(n);
  for (int j = 0; j < n; ++j) w[j] = static_cast<float>(0.5 - 0.5 * std::cos(2.0 * M_PI * j / n));
  return w;
}

template <class F>
void run(index_t n, F f) {
  for (index_t i = 0; i < n; ++i) f(i);
}

// |STFT| of `signal` (len) into `out` (one clip's image), all buffers this thread's.
void stft_image(float* out, const float* signal, index_t len, index_t hop, const FrontendConfig& c,
                const std::vector<float>& window, const float* mean, const float* stddev,
                std::vector<float>& frames, std::vector<float>& spec) {
  const index_t T = c.frames, nfft = c.n_fft, bins = c.bins();
  frames.resize(T * nfft);
  spec.resize(2 * T * bins);
  run(T * nfft, fn::FrameWindow{frames.data(), signal, window.data(), len, hop, T, nfft});
  kiss_fftr_cfg plan = plan_for(static_cast<int>(nfft));
  for (index_t t = 0; t < T; ++t)
    kiss_fftr(plan, frames.data() + t * nfft, reinterpret_cast<kiss_fft_cpx*>(spec.data() + 2 * t * bins));
  run(T * bins, fn::SpectrumToImage{out, spec.data(), mean, stddev, T, bins, c.log_floor,
                                    c.name == "seed"});
}

void check_inputs(const char* what, Context& ctx, const Tensor& out, const Tensor& clips,
                  const FrontendConfig& c) {
  c.validate();
  GN_REQUIRE(clips.rank() == 2, what, ": clips must be (N, samples), got ", clips.shape().str());
  GN_REQUIRE(clips.device() == ctx.device() && out.device() == ctx.device(), what,
             ": tensors must be on the context's device ", ctx.device().str());
  check_shape(what, "output", out.shape(), c.output_shape(clips.dim(0)));
  if (c.name == "logstft")
    GN_REQUIRE(clips.dim(1) >= c.n_fft && clips.dim(1) / c.frames >= 1, what, ": clips of ",
               clips.dim(1), " samples are too short for ", c.frames, " frames of ", c.n_fft);
  else
    GN_REQUIRE(clips.dim(1) >= 1, what, ": empty clips");
}

}  // namespace

void compute_spectrograms(Context& ctx, Tensor& out, const Tensor& clips, const FrontendConfig& c,
                          bool normalize) {
  check_inputs("front-end", ctx, out, clips, c);
#if GENRENET_WITH_CUDA
  if (ctx.is_cuda()) return cuda::compute(ctx, out, clips, c, normalize);
#endif
  const index_t N = clips.dim(0), len = clips.dim(1);
  const index_t image = static_cast<index_t>(c.frames) * c.bins();
  const std::vector<float> window = hann_window(c.n_fft);
  const bool standardise = normalize && c.normalized();
  const float* mean = standardise ? c.mean.data() : nullptr;
  const float* stddev = standardise ? c.stddev.data() : nullptr;
  const float* in = clips.data();
  float* dst = out.data();
#pragma omp parallel
  {
    std::vector<float> padded, half, magnitude, frames, spec;
#pragma omp for schedule(dynamic, 1)
    for (index_t n = 0; n < N; ++n) {
      if (c.name == "seed") {
        const index_t F = c.seed_fft_size;
        padded.resize(F);
        half.resize(2 * (F / 2 + 1));
        magnitude.resize(F);
        run(F, fn::PadOrTruncate{padded.data(), in + n * len, len, F});
        kiss_fftr(plan_for(static_cast<int>(F)), padded.data(), reinterpret_cast<kiss_fft_cpx*>(half.data()));
        run(F, fn::MirroredMagnitude{magnitude.data(), half.data(), F});
        stft_image(dst + n * image, magnitude.data(), F, c.seed_hop, c, window, nullptr, nullptr,
                   frames, spec);
      } else {
        stft_image(dst + n * image, in + n * len, len, len / c.frames, c, window, mean, stddev,
                   frames, spec);
      }
    }
  }
}

void normalize_spectrograms(Context& ctx, Tensor& x, const FrontendConfig& c) {
  if (!c.normalized()) return;
  GN_REQUIRE(x.device() == ctx.device(), "normalize_spectrograms: tensor on ", x.device().str(),
             " with a ", ctx.device().str(), " context");
  GN_REQUIRE(x.rank() >= 2 && x.numel() % c.bins() == 0, "normalize_spectrograms: shape ",
             x.shape().str(), " is not a stack of ", c.bins(), "-bin spectra");
#if GENRENET_WITH_CUDA
  if (ctx.is_cuda()) return cuda::normalize(ctx, x, c);
#endif
  const index_t n = x.numel();
  fn::NormalizeBins f{x.data(), c.mean.data(), c.stddev.data(), c.bins()};
#pragma omp parallel for schedule(static) if (n > 65536)
  for (index_t i = 0; i < n; ++i) f(i);
}

}  // namespace gn
