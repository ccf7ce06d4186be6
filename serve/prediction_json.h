// The JSON form of one song's prediction: what `genrenet predict --json` prints per line and
// what `genrenet serve` answers to POST /api/predict. One function, so the two never drift:
//   {"file", "genre", "probability", "majority_vote",
//    "probabilities": {label: p, ...},
//    "clips": [{"start", "end", "genre", "probabilities": {label: p, ...}}, ...]}
// Keys are sorted (nlohmann::json's default object), so the text is deterministic.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "serve/predictor.h"

namespace gn {

// {label: p} for a probability row of `labels.size()` classes.
nlohmann::json probabilities_json(const std::vector<float>& p, const std::vector<std::string>& labels);

// The whole song's prediction; `labels` are the checkpoint's (Predictor::labels()).
nlohmann::json prediction_json(const SongPrediction& s, const std::vector<std::string>& labels);

}  // namespace gn
