// Per-epoch training metrics, written to RUN_DIR/metrics.csv and RUN_DIR/metrics.json after
// every epoch (atomically: temp file, fsync, rename), and the final test results
// (RUN_DIR/test_results.json). `--resume` reads metrics.json back so the history continues.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/metrics.h"

namespace gn {

struct EpochMetrics {
  int epoch = 0;                  // 1-based
  double train_loss = 0, train_accuracy = 0;
  double val_loss = 0, val_accuracy = 0;  // NaN when there is no validation split
  double lr = 0;
  double seconds = 0;             // wall time of the epoch (training + validation)
  double clips_per_second = 0;    // training throughput
  bool operator==(const EpochMetrics&) const = default;
};

// CSV: a header line then one line per epoch; a missing (NaN) value is an empty field.
std::string metrics_csv(const std::vector<EpochMetrics>& epochs);
// JSON: {"epochs": [{"epoch": 1, "train_loss": ..., ...}, ...]}; NaN is written as null.
std::string metrics_json(const std::vector<EpochMetrics>& epochs);
// Parses metrics_json's output (null -> NaN). Throws gn::Error naming `source` when malformed.
std::vector<EpochMetrics> parse_metrics_json(const std::string& text, const std::string& source);

// Writes <dir>/metrics.csv and <dir>/metrics.json atomically.
void write_metrics_files(const std::string& dir, const std::vector<EpochMetrics>& epochs);

// Test-set evaluation at clip and song level, as the report and test_results.json show it.
struct TestResults {
  std::vector<std::string> labels;
  std::int64_t clips = 0, songs = 0;
  double loss = 0;  // mean clip cross-entropy
  ConfusionMatrix clip_confusion;
  ConfusionMatrix song_confusion;       // song label = argmax of the mean clip probabilities
  ConfusionMatrix song_vote_confusion;  // song label = majority vote of clip argmaxes
  double clip_accuracy() const { return clip_confusion.accuracy(); }
  double song_accuracy() const { return song_confusion.accuracy(); }
  double song_vote_accuracy() const { return song_vote_confusion.accuracy(); }
};

// Builds the results from test-set probabilities (clips, classes), labels and song ids.
TestResults evaluate_predictions(const std::vector<std::string>& labels, const std::vector<float>& probs,
                                 const std::vector<int>& clip_labels,
                                 const std::vector<std::int64_t>& clip_songs, double loss);

// {"clips", "songs", "loss", "clip_accuracy", "song_accuracy", "song_vote_accuracy",
//  "labels", "clip": {confusion, per_class [{label, precision, recall, f1, support}], macro_*},
//  "song": {...}, "song_vote": {...}}
std::string test_results_json(const TestResults& results);

}  // namespace gn
