// What a run folder keeps so that a result can be checked and reproduced, beside the
// checkpoints and metrics:
//   split_train.txt / split_val.txt / split_test.txt  the songs of each side, one
//       "<genre>/<file>" per line: the format --split takes, so `--split split_train.txt,...`
//       trains on exactly these songs again;
//   test_predictions.csv  one row per test song: file, genre, predicted (argmax of the mean of
//       its clips' probabilities), probability, correct, clips, then one column per genre;
// and the fingerprint of the data set a run was trained on, which --resume compares.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/split.h"

namespace gn {

// FNV-1a (64 bit, hex) over the labels in order and every song's "<genre>/<file>", label and
// size in bytes: another data set, a renamed genre, an added, removed or re-encoded song gives
// another fingerprint (reading the bytes of all of GTZAN's 1.2 GB would take longer than the
// rest of a resume; the sizes stand in for them).
std::string data_set_fingerprint(const DatasetScan& scan);

// Writes the three split lists into `run_dir` (atomically; nothing for the clip split, whose
// sides are not sets of songs).
void write_split_lists(const std::string& run_dir, const Dataset& data, const Split& split);

// test_predictions.csv from the test clips' probabilities (clips x classes, in the order of
// `clip_songs`, the Dataset's song index of each clip).
std::string test_predictions_csv(const Dataset& data, const std::vector<float>& probs,
                                 const std::vector<std::int64_t>& clip_songs);

// A word as a POSIX shell reads it back ('...' quoting where needed), for recorded commands.
std::string shell_quote(const std::string& word);

// "genrenet <command> <args...>", each word quoted as needed.
std::string command_line_text(const std::string& command, const std::vector<std::string>& args);

// "2026-12-02T14:30:00Z": the time now, for the records.
std::string utc_timestamp();

}  // namespace gn
