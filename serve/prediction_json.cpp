#include "serve/prediction_json.h"

#include <algorithm>

#include "engine/error.h"
#include "model/metrics.h"

namespace gn {

nlohmann::ordered_json probabilities_json(const std::vector<float>& p, const std::vector<std::string>& labels,
                                          int top) {
  GN_REQUIRE(p.size() == labels.size(), "probabilities_json: ", p.size(), " probabilities for ", labels.size(),
             " labels");
  std::vector<std::size_t> order(p.size());
  for (std::size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return p[a] > p[b]; });
  if (top > 0 && static_cast<std::size_t>(top) < order.size()) order.resize(static_cast<std::size_t>(top));
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (std::size_t k : order) j[labels[k]] = p[k];
  return j;
}

nlohmann::ordered_json prediction_json(const SongPrediction& s, const std::vector<std::string>& labels,
                                       const PredictionJsonOptions& options) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  j["file"] = s.source;
  j["genre"] = labels[s.genre];
  j["probability"] = s.probabilities[s.genre];
  j["majority_vote"] = labels[s.majority];
  j["probabilities"] = probabilities_json(s.probabilities, labels, options.top);
  j["warnings"] = s.warnings;
  if (!options.clips) return j;
  nlohmann::ordered_json clips = nlohmann::ordered_json::array();
  for (std::size_t c = 0; c < s.clip_probabilities.size(); ++c) {
    const auto& p = s.clip_probabilities[c];
    nlohmann::ordered_json clip = nlohmann::ordered_json::object();
    clip["start"] = s.clip_starts[c];
    clip["end"] = s.clip_starts[c] + s.clip_seconds;
    clip["genre"] = labels[argmax(p.data(), static_cast<int>(p.size()))];
    clip["probabilities"] = probabilities_json(p, labels, options.top);
    clips.push_back(std::move(clip));
  }
  j["clips"] = std::move(clips);
  return j;
}

}  // namespace gn
