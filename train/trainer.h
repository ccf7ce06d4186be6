// The training loop behind `genrenet train` and `genrenet demo`: data set -> split
// -> front-end statistics -> RCNN + Adam (Keras semantics) -> epochs -> best / last checkpoints,
// metrics files, test evaluation at clip and song level, report.html.
//
// Reproducibility: every random choice is keyed by the seed: the split (seed), the
// initialisation (seed), the shuffle of epoch e (Philox (seed, e)), the dropout masks of
// global step t (Philox (seed, t)). So a resumed run needs only the last finished epoch's
// checkpoint (parameters, BN statistics, Adam m / v / t) to continue bit-identically on the CPU.
//
// RUN_DIR after a run:
//   last.safetensors   every epoch, with the optimiser state (what --resume continues from)
//   best.safetensors   whenever the validation loss improves (the model the test set scores;
//                      no optimiser state: a third of the size)
//   metrics.csv / metrics.json   one row per finished epoch
//   test_results.json  clip / song (mean, vote) accuracy, per-genre P/R/F1, confusion matrices
//   test_predictions.csv, split_*.txt  per-song test predictions, the split (train/run_records.h)
//   report.html        the self-contained report (train/report.h)
// best.safetensors holds the model alone; last.safetensors also the optimiser state. Both
// record the GenreNet version, the command line, the date and the data set's fingerprint,
// which --resume compares with the --data it is given.
// Every file is written to a temporary name, flushed and renamed.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "train/metrics_log.h"

namespace gn {

struct TrainOptions {
  std::string data_dir;              // one sub-folder per genre
  std::string frontend = "logstft";  // logstft | seed
  // song | clip | TRAIN_LIST,VAL_LIST[,TEST_LIST] (files of "<genre>/<file>" lines)
  std::string split = "song";
  int epochs = 70;
  int batch = 32;
  double lr = 0.005;
  std::string device = "auto";       // auto | cpu | cuda | cuda:N
  std::uint64_t seed = 1;
  std::string out_dir = "run";
  bool resume = false;
  std::string model = "reference";   // reference (docs/design.md) | tiny (16 x 36 inputs, for tests)
  bool allow_lr_change = false;      // --resume with another --lr than the run's (refused otherwise)
  double clip_seconds = 0;           // 0: the front-end's default (logstft 3 s, seed: reference)
  // BatchNorm moving-average momentum; 0 = the model's (Keras's 0.99). Short runs (the demo)
  // take a smaller one: with 0.99 the moving statistics still weigh their initial values by
  // 0.99^steps (35% after 100 steps), so inference-mode accuracy lags far behind training.
  double bn_momentum = 0;
  // The learning rate follows a half cosine from `lr` at the first step to 0 after the last
  // (epochs x steps per epoch): short runs (the demo) then end on small steps, so the final
  // weights and the BatchNorm moving statistics they are validated with settle instead of
  // carrying a full-size step's noise into the best-epoch choice. false: constant `lr` (Keras).
  bool cosine_lr = false;
  std::string cache_dir;             // spectrogram cache; "" = the data set's default
  bool progress = true;              // progress bars on stderr
  // Data-parallel training (train/distributed.h): under `mpirun -np N` every rank computes its
  // shard of each global batch; a collective that waits longer than this for the other ranks
  // ends the job with a clear error (<= 0: wait forever).
  double collective_timeout = 300;
  // One process computing each global batch as this many ranks would (one shard at a time, the
  // gradients weighted and summed): reproduces an N-rank run, per-shard BatchNorm statistics and
  // dropout masks included, without MPI. 1 = the ordinary single-process step.
  int simulate_ranks = 1;
  // Train although a class has too few songs for the split to score it (see check_data_set).
  bool allow_small_data = false;
  // The command as typed, recorded in the checkpoints and the report ("" = not known).
  std::string command_line;
};

struct TrainResult {
  std::string out_dir;
  std::string report_path;
  int epochs_done = 0;
  int best_epoch = 0;
  std::vector<EpochMetrics> history;
  std::optional<TestResults> test;
};

// Validates everything a user can get wrong before writing anything, then trains. Summary
// lines go to `log` (progress bars to stderr). Throws gn::Error with one clear message on bad
// input, on a non-finite loss (naming the step; the last good checkpoint is kept) and on I/O
// failures.
TrainResult run_training(const TrainOptions& options, std::ostream& log);

// The Philox-keyed permutation of [0, n) used as epoch `epoch`'s order (Fisher-Yates).
std::vector<std::int64_t> shuffled_order(std::int64_t n, std::uint64_t seed, std::uint64_t epoch);

}  // namespace gn
