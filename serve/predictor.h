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

struct SongPrediction {
  std::string source;                 // file or upload name
  double seconds = 0;                 // song length
  int genre = 0;                      // argmax of the mean clip probabilities
  int majority = 0;                   // majority vote of the clips' argmaxes
  std::vector<float> probabilities;   // (classes) mean of the clip probabilities
  std::vector<std::vector<float>> clip_probabilities;  // (clips, classes)
  std::vector<double> clip_starts;    // seconds
  double clip_seconds = 0;            // length of one clip
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
  // to `batch` clips. Each song must have at least one clip (throws naming it otherwise:
  // check with clip_count() first to report a bad song without losing the others).
  std::vector<SongPrediction> predict(const std::vector<Audio>& songs, int batch = 32);
  std::int64_t clip_count(const Audio& song) const;

 private:
  std::string path_;
  Context ctx_;
  std::unique_ptr<RCNN> model_;
  std::vector<std::string> labels_;
  FrontendConfig frontend_;
  ClipScheme clips_;
  Tensor clip_batch_, spectrograms_;
};

// The checkpoint `predict`/`serve` use when --model is not given.
std::string default_model_path();

}  // namespace gn
