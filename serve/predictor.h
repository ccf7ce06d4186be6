// Predictor: a checkpoint loaded once, ready to classify songs. Shared by `genrenet predict`
// and `genrenet serve`. For each song: cut clips with the checkpoint's clip scheme, run its
// front-end and the model in inference mode, and reduce the clips' probabilities to a song
// prediction (mean of the clip probabilities; majority vote reported beside it).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/audio.h"
#include "data/clips.h"
#include "engine/context.h"
#include "layers/frontend.h"
#include "layers/model_config.h"

namespace gn {

class RCNN;

// Clips per model batch when classifying. The model keeps every layer's output of a batch
// (the first CNN block's alone is 2 MiB per clip at the reference size), so the batch sets
// the peak memory: one 30 s song, whole process, CPU build: batch 32 -> 166 MB peak RSS,
// 8 -> 96 MB, 4 -> 70 MB, at the same speed (the convolutions' GEMMs have N x 128 x 513
// rows either way).
constexpr int kInferenceBatch = 8;

struct SongPrediction {
  std::string source;                 // file or upload name
  double seconds = 0;                 // song length
  int genre = 0;                      // argmax of the mean clip probabilities
  int majority = 0;                   // majority vote of the clips' argmaxes
  std::vector<float> probabilities;   // (classes) mean of the clip probabilities
  std::vector<std::vector<float>> clip_probabilities;  // (clips, classes)
  std::vector<double> clip_starts;    // seconds
  double clip_seconds = 0;            // length of one clip
  std::vector<std::string> warnings;  // shown beside the prediction: degenerate spectrum, partial decode
};

class Predictor {
 public:
  // Loads and validates `checkpoint_path` onto `device`. Throws gn::Error with a clear message
  // for a missing, truncated or foreign checkpoint.
  Predictor(const std::string& checkpoint_path, Device device);
  ~Predictor();

  const std::vector<std::string>& labels() const { return labels_; }
  const ModelConfig& model_config() const;
  const FrontendConfig& frontend() const { return frontend_; }
  const ClipScheme& clip_scheme() const { return clips_; }
  Device device() const { return ctx_.device(); }
  std::string checkpoint() const { return path_; }

  // Classifies several songs together: their clips are concatenated and run in batches of up
  // to `batch` clips. Each song must be long enough (throws naming it otherwise: check with
  // require_long_enough() first to report a bad song without losing the others).
  std::vector<SongPrediction> predict(const std::vector<Audio>& songs, int batch = kInferenceBatch);
  std::int64_t clip_count(const Audio& song) const;
  // The shortest song this model classifies (at kSampleRate): its clips must be at least as
  // long as the front-end needs (FrontendConfig::minimum_clip_samples, minimum_song_samples).
  std::int64_t minimum_song_samples() const { return min_song_samples_; }
  // Throws gn::Error "<source>: too short: ... needs at least ... s (why)" for a shorter song.
  void require_long_enough(const Audio& song) const;

 private:
  std::string path_;
  Context ctx_;
  std::unique_ptr<RCNN> model_;
  std::vector<std::string> labels_;
  FrontendConfig frontend_;
  ClipScheme clips_;
  std::int64_t min_song_samples_ = 0;
  Tensor clip_batch_, spectrograms_;
};

// The checkpoint `predict`/`serve` use when --model is not given.
std::string default_model_path();

}  // namespace gn
