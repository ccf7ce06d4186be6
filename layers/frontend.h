// The spectrogram front-end (forward only): clips of audio in, (N, 128, 513, 1) model inputs
// out. Two transforms, chosen by name and recorded in checkpoints (docs/design.md, "Front-ends"):
//
//  * "seed": the reference model's exact transform, needed to run its published weights.
//    Per clip: m = |FFT(clip, n = 32700)| (numpy semantics: the clip is truncated or
//    zero-padded to 32700 samples), then S = |STFT(m)| with n_fft 1024, hop 256, periodic
//    Hann window, centred with reflect padding (librosa.stft) -> (513 bins, 128 frames), then
//    a RAW row-major reshape of that (513, 128) array to (128, 513) (not a transpose). No log,
//    no normalisation.
//  * "logstft" (default for new training): a real time-frequency picture. Per clip of L
//    samples: STFT with n_fft 1024, periodic Hann, centred with reflect padding, hop =
//    floor(L / 128), the first 128 frames; value ln(|X| + 1e-4) laid out (128 frames, 513
//    bins); then, once statistics are set, standardised per frequency bin:
//    (v - mean[f]) / std[f] with mean / std from the training split.
//
// CPU: KissFFT (float). CUDA: cuFFT with batched plans cached per shape, on the context's
// stream; clips and spectrograms stay on the device.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/context.h"
#include "engine/tensor.h"

namespace gn {

struct FrontendConfig {
  std::string name = "logstft";  // "seed" | "logstft"
  int n_fft = 1024;               // STFT frame (both)
  int frames = 128;               // time frames of the output (both)
  int seed_fft_size = 32700;      // seed: length of the first FFT
  int seed_hop = 256;             // seed: STFT hop on the 32700-long magnitude sequence
  float log_floor = 1e-4f;        // logstft: v = ln(|X| + log_floor)
  // logstft per-bin standardisation, (bins) each; empty until fitted on the training split.
  std::vector<float> mean, stddev;

  static FrontendConfig seed();
  static FrontendConfig logstft();
  int bins() const { return n_fft / 2 + 1; }  // 513
  Shape output_shape(std::int64_t clips) const { return Shape{clips, frames, bins(), 1}; }
  bool normalized() const { return !mean.empty(); }
  void validate() const;  // throws gn::Error naming the bad field
  nlohmann::json to_json() const;  // everything, statistics included
  static FrontendConfig from_json(const nlohmann::json& j);  // validates; clear errors
  // A stable text key of the transform's parameters (statistics excluded): cached
  // spectrograms are keyed by it, so changing a parameter never reuses stale ones.
  std::string cache_key() const;
};

// out (N, frames, bins, 1) = the front-end of clips (N, L), on ctx's device. Standardises
// when `config.normalized()` and `normalize` is true; the cache stores unnormalised values
// (normalize = false) because the statistics depend on the split.
void compute_spectrograms(Context& ctx, Tensor& out, const Tensor& clips,
                          const FrontendConfig& config, bool normalize = true);

// x (N, frames, bins, 1) in place: (x - mean[f]) / stddev[f]. No-op when not normalized().
void normalize_spectrograms(Context& ctx, Tensor& x, const FrontendConfig& config);

// Per-bin mean and standard deviation accumulated in double over any number of
// (frames, bins) spectrograms (host memory), for fitting logstft's statistics.
class BinStatistics {
 public:
  explicit BinStatistics(int bins = 513);
  void add(const float* spectrogram, std::int64_t frames);  // one (frames, bins) array
  std::int64_t count() const { return count_; }
  // Writes mean / stddev into `config` (stddev floored at 1e-5 so a constant bin stays finite).
  void finish(FrontendConfig& config) const;

 private:
  int bins_;
  std::int64_t count_ = 0;
  std::vector<double> sum_, sum_sq_;
};

}  // namespace gn

#if GENRENET_WITH_CUDA
namespace gn::cuda {
void compute(Context& ctx, Tensor& out, const Tensor& clips, const FrontendConfig& config, bool normalize);
void normalize(Context& ctx, Tensor& x, const FrontendConfig& config);
}  // namespace gn::cuda
#endif
