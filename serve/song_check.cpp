#include "serve/song_check.h"

#include <kiss_fftr.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <numeric>

#include "engine/error.h"

namespace gn {

double rms_dbfs(const std::vector<float>& samples) {
  if (samples.empty()) return -INFINITY;
  double sum = 0.0;
  for (const float x : samples) sum += static_cast<double>(x) * x;
  const double rms = std::sqrt(sum / static_cast<double>(samples.size()));
  return rms > 0.0 ? 20.0 * std::log10(rms) : -INFINITY;
}

void refuse_silence(const Audio& song) {
  const double level = rms_dbfs(song.samples);
  if (level >= kSilenceDbfs) return;
  char buf[64];
  std::snprintf(buf, sizeof buf, std::isfinite(level) ? "%.1f dBFS" : "digital silence", level);
  GN_FAIL(song.source, ": the song is silent or nearly so (RMS level ", buf, ", below ", kSilenceDbfs,
          " dBFS): there is nothing to classify");
}

std::vector<std::string> spectrum_warnings(const Audio& song) {
  constexpr int kFrame = 2048, kBins = kFrame / 2 + 1, kMaxFrames = 256;
  const std::int64_t n = static_cast<std::int64_t>(song.samples.size());
  if (n < kFrame) return {};
  // Up to kMaxFrames frames spread evenly over the song: the cost does not grow with its length.
  const std::int64_t available = n / kFrame;
  const std::int64_t frames = std::min<std::int64_t>(available, kMaxFrames);
  const std::unique_ptr<kiss_fftr_state, void (*)(kiss_fftr_state*)> plan(
      kiss_fftr_alloc(kFrame, 0, nullptr, nullptr), [](kiss_fftr_state* p) { kiss_fftr_free(p); });
  GN_REQUIRE(plan != nullptr, "spectrum check: cannot plan a ", kFrame, "-point FFT");
  std::vector<float> window(kFrame), in(kFrame);
  for (int i = 0; i < kFrame; ++i) window[i] = static_cast<float>(0.5 - 0.5 * std::cos(2.0 * M_PI * i / kFrame));
  std::vector<kiss_fft_cpx> out(kBins);
  std::vector<double> power(kBins, 0.0);
  for (std::int64_t f = 0; f < frames; ++f) {
    const std::int64_t start = (f * available / frames) * kFrame;
    for (int i = 0; i < kFrame; ++i) in[i] = song.samples[start + i] * window[i];
    kiss_fftr(plan.get(), in.data(), out.data());
    for (int k = 0; k < kBins; ++k) power[k] += static_cast<double>(out[k].r) * out[k].r + static_cast<double>(out[k].i) * out[k].i;
  }
  const double total = std::accumulate(power.begin(), power.end(), 0.0);
  if (!(total > 0.0)) return {};
  std::vector<int> order(kBins);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int a, int b) { return power[a] > power[b]; });
  double kept = 0.0;
  int bins = 0;
  while (kept < 0.99 * total) kept += power[order[bins++]];
  if (bins > kBins / 100) return {};
  const double peak_hz = static_cast<double>(order[0]) * song.sample_rate / kFrame;
  char buf[256];
  if (order[0] <= 1)
    std::snprintf(buf, sizeof buf,
                  "degenerate spectrum: 99%% of the energy is at 0 Hz (a constant offset, no sound); "
                  "the prediction means nothing");
  else
    std::snprintf(buf, sizeof buf,
                  "degenerate spectrum: 99%% of the energy lies in %d of %d frequency bins (a single tone near "
                  "%.0f Hz, not music); the prediction means nothing",
                  bins, kBins, peak_hz);
  return {buf};
}

}  // namespace gn
