#include "serve/prediction_json.h"

#include "engine/error.h"
#include "model/metrics.h"

namespace gn {

nlohmann::json probabilities_json(const std::vector<float>& p, const std::vector<std::string>& labels) {
  GN_REQUIRE(p.size() == labels.size(), "probabilities_json: ", p.size(), " probabilities for ", labels.size(),
             " labels");
  nlohmann::json j = nlohmann::json::object();
  for (std::size_t k = 0; k < labels.size(); ++k) j[labels[k]] = p[k];
  return j;
}

nlohmann::json prediction_json(const SongPrediction& s, const std::vector<std::string>& labels) {
  nlohmann::json clips = nlohmann::json::array();
  for (std::size_t c = 0; c < s.clip_probabilities.size(); ++c) {
    const auto& p = s.clip_probabilities[c];
    clips.push_back({{"start", s.clip_starts[c]},
                     {"end", s.clip_starts[c] + s.clip_seconds},
                     {"genre", labels[argmax(p.data(), static_cast<int>(p.size()))]},
                     {"probabilities", probabilities_json(p, labels)}});
  }
  return {{"file", s.source},
          {"genre", labels[s.genre]},
          {"probability", s.probabilities[s.genre]},
          {"majority_vote", labels[s.majority]},
          {"probabilities", probabilities_json(s.probabilities, labels)},
          {"clips", clips}};
}

}  // namespace gn
