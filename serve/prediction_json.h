// The JSON form of one song's prediction: what `genrenet predict --json` prints per line and
// what `genrenet serve` answers to POST /api/predict. One function, so the two never drift.
// Keys in this order (nlohmann::ordered_json keeps it), the answer first:
//   {"file", "genre", "probability", "majority_vote",
//    "probabilities": {label: p, ...}          most probable first
//    "clips": [{"start", "end", "genre", "probabilities": {label: p, ...}}, ...]}
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "serve/predictor.h"

namespace gn {

struct PredictionJsonOptions {
  int top = 0;        // genres listed in each "probabilities" (0: all)
  bool clips = true;  // the "clips" array
};

// {label: p} for a probability row of `labels.size()` classes, the `top` most probable (0: all)
// in descending order (ties: label order).
nlohmann::ordered_json probabilities_json(const std::vector<float>& p, const std::vector<std::string>& labels,
                                          int top = 0);

// The whole song's prediction; `labels` are the checkpoint's (Predictor::labels()).
nlohmann::ordered_json prediction_json(const SongPrediction& s, const std::vector<std::string>& labels,
                                       const PredictionJsonOptions& options = {});

}  // namespace gn
