// `genrenet train`: trains the RCNN on a folder of genre sub-folders (train/trainer.h).
#include <iostream>
#include <limits>

#include "apps/args.h"
#include "apps/command.h"
#include "engine/error.h"
#include "train/run_records.h"
#include "train/trainer.h"

namespace gn::app {
namespace {

constexpr const char* kUsage =
    "usage: genrenet train --data DIR [options]\n"
    "  Trains the parallel CNN + BiLSTM genre classifier on DIR (one sub-folder of songs per genre)\n"
    "  with the reference recipe: Adam (Keras semantics), categorical cross-entropy, the best\n"
    "  checkpoint chosen by validation loss. Writes into RUN_DIR: last.safetensors (every epoch,\n"
    "  with optimiser state), best.safetensors, metrics.csv, metrics.json, test_results.json and\n"
    "  report.html.\n"
    "  --data DIR            the data set (required)\n"
    "  --frontend NAME       logstft (default: log-magnitude STFT, standardised per bin) or seed\n"
    "                        (the reference model's transform)\n"
    "  --split KIND          song (default: stratified by song, 80/10/10), clip (the reference's\n"
    "                        clip-level split; leaks songs) or TRAIN.txt,VAL.txt[,TEST.txt] (lists of\n"
    "                        <genre>/<file> lines)\n"
    "  --epochs N            epochs (default 70)\n"
    "  --batch N             clips per step (default 32)\n"
    "  --lr X                Adam learning rate (default 0.005)\n"
    "  --device D            auto (default), cpu, cuda or cuda:N\n"
    "  --seed S              seed of the split, initialisation, shuffling and dropout (default 1)\n"
    "  -o, --out RUN_DIR     where the run is written (default ./run); must not hold a run\n"
    "  --resume              continue the run in RUN_DIR after its last finished epoch (with the\n"
    "                        same --lr, unless --allow-lr-change)\n"
    "  --allow-lr-change     with --resume: continue with a --lr other than the run's own\n"
    "  -m, --model NAME      reference (default) or tiny (a small model for quick tests)\n"
    "  --clip-seconds X      clip length with 50% overlap, > 0 (default: the front-end's own scheme)\n"
    "  --bn-momentum X       BatchNorm moving-average momentum (default: Keras's 0.99)\n"
    "  --cache DIR           spectrogram cache folder (default: the user's cache folder)\n"
    "  --allow-small-data    train although a genre has too few songs for the split to give it a\n"
    "                        validation and a test song (at least 5 at 10%/10%), or looks like a\n"
    "                        stray folder (a quarter of the others' songs or fewer)\n"
    "  -q, --quiet           no progress bars\n"
    "  -h, --help            this text\n"
    "  Data-parallel: mpirun -np N genrenet train ... trains one model on N ranks (each computes\n"
    "  its shard of every batch; --batch and --lr mean the same as on one process; rank 0 writes).\n"
    "  --collective-timeout S  end the job when a rank waits S seconds for the others (default 300;\n"
    "                        0: wait forever)\n"
    "  --simulate-ranks N    compute each batch as N ranks would, on this one process (per-shard\n"
    "                        BatchNorm statistics and dropout masks; reproduces an N-rank run)\n";

int run_train(const std::vector<std::string>& argv) {
  Args args("train", argv,
            {"data", "frontend", "split", "epochs", "batch", "lr", "device", "seed", "out", "model", "clip-seconds",
             "cache", "bn-momentum", "collective-timeout", "simulate-ranks"},
            {"resume", "allow-lr-change", "quiet", "help", "allow-small-data"});
  if (args.flag("help")) {
    std::cout << kUsage;
    return 0;
  }
  GN_REQUIRE(args.positional().empty(), "unexpected argument '", args.positional().front(), "'\n", kUsage);
  TrainOptions o;
  o.data_dir = args.str("data", "");
  GN_REQUIRE(!o.data_dir.empty(), "--data DIR is required\n", kUsage);
  o.frontend = args.str("frontend", o.frontend);
  o.split = args.str("split", o.split);
  o.epochs = static_cast<int>(args.integer("epochs", o.epochs, 1, 1000000));
  o.batch = static_cast<int>(args.integer("batch", o.batch, 1, 65536));
  o.lr = args.number("lr", o.lr, std::numeric_limits<double>::min(), 1e30);
  o.device = args.str("device", o.device);
  o.seed = static_cast<std::uint64_t>(args.integer("seed", 1, 0, std::numeric_limits<std::int64_t>::max()));
  o.out_dir = args.str("out", o.out_dir);
  o.resume = args.flag("resume");
  o.model = args.str("model", o.model);
  o.clip_seconds = args.number("clip-seconds", 0, 0, 600);
  // 0 is the "front-end default" inside; given on the command line it is a mistake, not a choice.
  GN_REQUIRE(!args.has("clip-seconds") || o.clip_seconds > 0, "--clip-seconds must be positive, got ",
             o.clip_seconds, " (leave it out for the front-end's own clip scheme)");
  o.allow_lr_change = args.flag("allow-lr-change");
  o.cache_dir = args.str("cache", "");
  o.bn_momentum = args.number("bn-momentum", 0, 0, 0.999999);
  o.progress = !args.flag("quiet");
  o.allow_small_data = args.flag("allow-small-data");
  o.command_line = command_line_text("train", argv);
  o.collective_timeout = args.number("collective-timeout", o.collective_timeout, 0, 1e9);
  o.simulate_ranks = static_cast<int>(args.integer("simulate-ranks", 1, 1, 4096));
  const TrainResult r = run_training(o, std::cout);
  (void)r;
  return 0;
}

}  // namespace
GN_COMMAND("train", "train the genre classifier on a folder of genre sub-folders", run_train);
}  // namespace gn::app
