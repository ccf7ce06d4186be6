#include "serve/predictor.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "layers/rcnn.h"
#include "model/checkpoint.h"
#include "model/metrics.h"

namespace gn {

std::string default_model_path() { return "runs/demo/best.safetensors"; }

Predictor::Predictor(const std::string& checkpoint_path, Device device) : path_(checkpoint_path), ctx_(device) {
  const Checkpoint ck = load_checkpoint(checkpoint_path);
  GN_REQUIRE(!ck.frontend_json.empty(), checkpoint_path, ": the checkpoint records no front-end");
  GN_REQUIRE(!ck.clip_scheme_json.empty(), checkpoint_path, ": the checkpoint records no clip scheme");
  try {
    frontend_ = FrontendConfig::from_json(nlohmann::json::parse(ck.frontend_json));
    clips_ = ClipScheme::from_json(nlohmann::json::parse(ck.clip_scheme_json));
  } catch (const nlohmann::json::exception& e) {
    GN_FAIL(checkpoint_path, ": malformed front-end or clip scheme (", e.what(), ")");
  }
  GN_REQUIRE(frontend_.frames == ck.config.time_frames && frontend_.bins() == ck.config.freq_bins, checkpoint_path,
             ": the front-end makes ", frontend_.frames, " x ", frontend_.bins(), " spectrograms but the model takes ",
             ck.config.time_frames, " x ", ck.config.freq_bins);
  labels_ = ck.labels;
  model_ = std::make_unique<RCNN>(ck.config, Device::cpu());
  load_into_store(ck, model_->store());
  model_->to(device);
}

Predictor::~Predictor() = default;

const ModelConfig& Predictor::model_config() const { return model_->config(); }

std::int64_t Predictor::clip_count(const Audio& song) const {
  return clip_layout(clips_, static_cast<std::int64_t>(song.samples.size()), song.sample_rate).count;
}

std::vector<SongPrediction> Predictor::predict(const std::vector<Audio>& songs, int batch) {
  GN_REQUIRE(batch > 0, "predict: batch must be positive");
  // Clips of every song, in order; clip_song[i] = index of the song clip i belongs to.
  std::vector<Tensor> song_clips;
  std::vector<std::int64_t> clip_song;
  std::vector<SongPrediction> out(songs.size());
  for (std::size_t s = 0; s < songs.size(); ++s) {
    song_clips.push_back(extract_clips(songs[s].samples, clips_, songs[s].source, songs[s].sample_rate));
    const ClipLayout layout = clip_layout(clips_, static_cast<std::int64_t>(songs[s].samples.size()),
                                          songs[s].sample_rate);
    out[s].source = songs[s].source;
    out[s].seconds = songs[s].seconds();
    out[s].clip_seconds = static_cast<double>(layout.length) / songs[s].sample_rate;
    for (std::int64_t c = 0; c < layout.count; ++c) {
      clip_song.push_back(static_cast<std::int64_t>(s));
      out[s].clip_starts.push_back(static_cast<double>(c * layout.hop) / songs[s].sample_rate);
    }
  }
  const std::int64_t total = static_cast<std::int64_t>(clip_song.size());
  const int classes = static_cast<int>(labels_.size());
  std::vector<float> probs(static_cast<std::size_t>(total * classes));

  // Batches of up to `batch` clips across song boundaries. The reference scheme's clip length
  // depends on the song's length, so a batch ends early where the next song's clips differ.
  std::int64_t done = 0;
  std::size_t song = 0;
  std::int64_t row_in_song = 0;
  while (done < total) {
    while (row_in_song == song_clips[song].dim(0)) {  // skip finished songs
      ++song;
      row_in_song = 0;
    }
    const std::int64_t length = song_clips[song].dim(1);
    std::vector<std::pair<std::size_t, std::int64_t>> rows;  // (song, clip)
    while (static_cast<int>(rows.size()) < batch && done + static_cast<std::int64_t>(rows.size()) < total) {
      if (row_in_song == song_clips[song].dim(0)) {
        ++song;
        row_in_song = 0;
        if (song_clips[song].dim(1) != length) break;
        continue;
      }
      rows.emplace_back(song, row_in_song++);
    }
    const std::int64_t n = static_cast<std::int64_t>(rows.size());
    Tensor host = Tensor::empty(Shape{n, length});
    for (std::int64_t i = 0; i < n; ++i)
      std::memcpy(host.data() + i * length, song_clips[rows[i].first].data() + rows[i].second * length,
                  sizeof(float) * static_cast<std::size_t>(length));
    const Tensor clips = ctx_.is_cuda() ? host.to(ctx_.device()) : host;
    Tensor spectrograms = Tensor::empty(frontend_.output_shape(n), ctx_.device());
    compute_spectrograms(ctx_, spectrograms, clips, frontend_);
    const std::vector<float> p = model_->predict(ctx_, spectrograms).to_vector();
    std::copy(p.begin(), p.end(), probs.begin() + done * classes);
    done += n;
  }

  // Song level: the trainer's aggregation (mean of probabilities; vote with its tie-break).
  const SongPredictions agg =
      aggregate_songs(probs, classes, std::vector<int>(clip_song.size(), 0), clip_song);
  for (std::size_t i = 0; i < agg.songs.size(); ++i) {
    SongPrediction& sp = out[static_cast<std::size_t>(agg.songs[i])];
    sp.genre = agg.mean_pred[i];
    sp.majority = agg.vote_pred[i];
    sp.probabilities.assign(agg.mean_probs.begin() + static_cast<std::ptrdiff_t>(i) * classes,
                            agg.mean_probs.begin() + static_cast<std::ptrdiff_t>(i + 1) * classes);
  }
  for (std::int64_t c = 0; c < total; ++c)
    out[static_cast<std::size_t>(clip_song[c])].clip_probabilities.emplace_back(
        probs.begin() + c * classes, probs.begin() + (c + 1) * classes);
  return out;
}

}  // namespace gn
