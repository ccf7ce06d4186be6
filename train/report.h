// report.html: one self-contained page (no scripts, no external assets: inline CSS and SVG)
// summarising a training run: loss and accuracy curves (train and validation per epoch), the
// test accuracies (clip, song by mean probability, song by majority vote), coloured confusion
// matrices with the genre names on both axes, the per-genre precision / recall / F1 table and
// the run's settings. Every text that comes from outside (genre names are folder names,
// settings hold paths) is HTML-escaped.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "train/metrics_log.h"

namespace gn {

struct ReportData {
  std::string title = "GenreNet training report";
  std::string status;  // one line under the title, e.g. "finished 30 epochs in 4:12"
  std::vector<std::pair<std::string, std::string>> settings;  // shown in this order
  std::vector<EpochMetrics> epochs;
  int best_epoch = 0;                // epoch of best.safetensors (lowest val loss); 0 = none
  std::optional<TestResults> test;  // absent when there was no test split
  // What the training and validation accuracies rest on (shown next to them; 0 = not known).
  std::int64_t train_clips = 0, val_clips = 0, train_songs = 0, val_songs = 0;
};

// The page as a string / written atomically to `path` (engine/safetensors.h).
std::string render_report_html(const ReportData& data);
void write_report(const std::string& path, const ReportData& data);

// & < > " ' -> entities.
std::string html_escape(const std::string& text);

}  // namespace gn
