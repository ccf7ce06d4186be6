#include "train/trainer.h"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "data/clips.h"
#include "data/data_check.h"
#include "data/dataset.h"
#include "data/progress.h"
#include "data/split.h"
#include "engine/context.h"
#include "engine/error.h"
#include "engine/ops.h"
#include "engine/safetensors.h"
#include "engine/version.h"
#include "engine/strict_json.h"
#include "kernels/philox.h"
#include "layers/frontend.h"
#include "layers/model_config.h"
#include "layers/rcnn.h"
#include "layers/scratch.h"
#include "layers/softmax_xent.h"
#include "model/checkpoint.h"
#include "train/adam.h"
#include "train/distributed.h"
#include "train/report.h"
#include "train/run_records.h"
#include "train/step_metrics.h"

namespace gn {
namespace fs = std::filesystem;

namespace {

// Philox stream of the epoch shuffle (the model's dropout layers use 100..300).
constexpr std::uint32_t kShuffleStream = 1000;
// Files whose presence means RUN_DIR already holds a run.
const char* const kRunFiles[] = {"last.safetensors", "best.safetensors", "metrics.json", "report.html"};

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// The settings that must not change across --resume (they decide the split, the batches and
// the random streams), as stored in the checkpoint's "training" metadata.
nlohmann::json identity_settings(const TrainOptions& o) {
  nlohmann::json j = {{"frontend", o.frontend}, {"split", o.split}, {"batch", o.batch},
          {"seed", std::to_string(o.seed)}, {"model", o.model}, {"clip_seconds", o.clip_seconds}};
  // (A cosine schedule spans the whole run, so its length is part of the identity; the key is
  // absent for a constant rate, so earlier checkpoints still resume.)
  if (o.cosine_lr) j["lr_schedule"] = "cosine over " + std::to_string(o.epochs) + " epochs";
  return j;
}

struct Prepared {
  Device device;
  std::vector<std::string> labels;
  ModelConfig config;
  FrontendConfig frontend;
  ClipScheme clips;
  SplitConfig split;
  std::optional<Checkpoint> resume_from;  // last.safetensors when resuming
  int start_epoch = 0;                    // epochs already finished
  double best_val_loss = std::numeric_limits<double>::infinity();
  int best_epoch = 0;
  std::vector<EpochMetrics> history;
  DatasetScan scan;
  std::string fingerprint;  // of the data set (train/run_records.h)
};

SplitConfig parse_split(const std::string& text, std::uint64_t seed) {
  SplitConfig s;
  s.seed = seed;
  if (text == "song" || text == "clip") {
    s.kind = SplitConfig::parse_kind(text);
    return s;
  }
  // TRAIN,VAL[,TEST]: list files.
  std::vector<std::string> parts;
  std::stringstream ss(text);
  for (std::string p; std::getline(ss, p, ',');) parts.push_back(p);
  GN_REQUIRE(parts.size() == 2 || parts.size() == 3,
             "invalid --split '", text, "': expected song, clip or TRAIN_LIST,VAL_LIST[,TEST_LIST]");
  for (const std::string& p : parts)
    GN_REQUIRE(p.empty() || fs::is_regular_file(p), "--split: list file '", p, "' does not exist");
  GN_REQUIRE(!parts[0].empty(), "--split: the training list is required");
  s.kind = SplitConfig::Kind::List;
  s.train_list = parts[0];
  s.val_list = parts[1];
  s.test_list = parts.size() == 3 ? parts[2] : "";
  return s;
}

// Everything that can be checked before a byte is written or a song decoded.
Prepared prepare(const TrainOptions& o, std::ostream& log, const Communicator& comm) {
  GN_REQUIRE(!o.data_dir.empty(), "--data is required: a folder with one sub-folder of songs per genre");
  GN_REQUIRE(o.frontend == "logstft" || o.frontend == "seed", "invalid --frontend '", o.frontend,
             "': expected logstft or seed");
  GN_REQUIRE(o.model == "reference" || o.model == "tiny", "invalid --model '", o.model,
             "': expected reference or tiny");
  GN_REQUIRE(o.epochs >= 1, "--epochs must be at least 1, got ", o.epochs);
  GN_REQUIRE(o.batch >= 1, "--batch must be at least 1, got ", o.batch);
  GN_REQUIRE(std::isfinite(o.lr) && o.lr > 0, "--lr must be a positive number, got ", o.lr);
  GN_REQUIRE(o.clip_seconds >= 0 && o.clip_seconds <= 600, "--clip-seconds must be in [0, 600], got ",
             o.clip_seconds);
  GN_REQUIRE(!o.out_dir.empty(), "--out must name a folder");
  GN_REQUIRE(o.bn_momentum == 0 || (o.bn_momentum > 0 && o.bn_momentum < 1),
             "--bn-momentum must be in (0, 1), got ", o.bn_momentum);
  GN_REQUIRE(o.simulate_ranks >= 1, "--simulate-ranks must be at least 1, got ", o.simulate_ranks);
  GN_REQUIRE(o.simulate_ranks == 1 || !comm.distributed(), "--simulate-ranks reproduces an MPI run on one process; ",
             "under mpirun (", comm.size(), " ranks) leave it out");

  Prepared p;
  p.split = parse_split(o.split, o.seed);
  int ordinal = 0;
  const DeviceRequest request = parse_device_request(o.device, &ordinal);
  if (o.device.find(':') == std::string::npos) ordinal = -1;  // none named: rank r of a machine takes GPU r

  // The run folder: a new run never writes into a folder that holds one; a resumed run needs
  // its last checkpoint. The folder must be writable (checked with a probe file, removed).
  std::error_code ec;
  const fs::path out(o.out_dir);
  if (fs::exists(out, ec)) {
    GN_REQUIRE(fs::is_directory(out, ec), "--out ", o.out_dir, " exists and is not a folder");
    if (!o.resume)
      for (const char* f : kRunFiles)
        GN_REQUIRE(!fs::exists(out / f, ec), "--out ", o.out_dir, " already holds a run (", f,
                   "); pass --resume to continue it or choose another --out");
  }
  if (o.resume) {
    const fs::path last = out / "last.safetensors";
    GN_REQUIRE(fs::exists(last, ec), "--resume: ", last.string(),
               " does not exist (nothing to resume; run without --resume to start)");
    try {
      p.resume_from = load_checkpoint(last.string());
    } catch (const Error& e) {
      GN_FAIL("--resume: cannot use ", last.string(), ": ", e.what());
    }
    GN_REQUIRE(p.resume_from->has_optimizer_state(), "--resume: ", last.string(),
               " has no optimiser state (it is not a training checkpoint)");
  }

  // Labels: the genre folders, at least two.
  p.scan = scan_dataset(o.data_dir);
  const DatasetScan& scan = p.scan;
  GN_REQUIRE(scan.labels.size() >= 2, "data set ", o.data_dir, ": found only one genre ('", scan.labels[0],
             "'); training a classifier needs at least two genre folders");
  p.labels = scan.labels;
  p.fingerprint = data_set_fingerprint(scan);
  // What was found, and whether it can give a meaningful result, before anything is written.
  log << "data set " << o.data_dir << ":\n" << class_counts_text(scan);
  const std::vector<std::string> problems = data_set_problems(scan, p.split);
  if (!problems.empty() && !o.allow_small_data) {
    std::string message = "data set " + o.data_dir + " cannot score every genre:";
    for (const std::string& problem : problems) message += "\n  " + problem;
    GN_FAIL(message, "\nAdd songs or fix the folder; --allow-small-data trains anyway (those genres then have no ",
            "validation or test score).");
  }
  if (comm.is_root())
    for (const std::string& problem : problems) std::cerr << "warning: " << problem << "\n";
  // The device once the inputs are known to be usable; the note about it is status (stderr).
  p.device = choose_device(request, ordinal, probe_cuda(), {comm.local_rank(), comm.local_size()},
                           comm.is_root() ? &std::cerr : nullptr);

  p.frontend = o.frontend == "seed" ? FrontendConfig::seed() : FrontendConfig::logstft();
  p.config = o.model == "tiny" ? ModelConfig::tiny() : ModelConfig{};
  if (o.model == "tiny") {  // a 16 x 36 picture: 16 frames of a 70-point STFT
    p.frontend.n_fft = 2 * (p.config.freq_bins - 1);
    p.frontend.frames = static_cast<int>(p.config.time_frames);
  }
  p.config.classes = static_cast<int>(p.labels.size());
  if (o.bn_momentum > 0) p.config.bn_momentum = static_cast<float>(o.bn_momentum);
  p.config.validate();
  p.clips = o.clip_seconds > 0 ? ClipScheme::fixed(o.clip_seconds, 0.5)
            : o.frontend == "seed" ? ClipScheme::reference()
                                   : ClipScheme::fixed(3.0, 0.5);

  if (p.resume_from) {
    const Checkpoint& c = *p.resume_from;
    const std::string last = (out / "last.safetensors").string();
    GN_REQUIRE(c.config == p.config, "--resume: ", last,
               " holds a model of another configuration than this run builds (checkpoint: ",
               c.config.to_json().dump(), "; this run: ", p.config.to_json().dump(), ")");
    GN_REQUIRE(c.labels == p.labels, "--resume: ", last, " was trained on other genres than ", o.data_dir,
               " holds");
    nlohmann::json training;
    try {
      training = nlohmann::json::parse(c.training_json);
    } catch (const nlohmann::json::exception&) {
      GN_FAIL("--resume: ", last, " has no readable training state (not written by genrenet train?)");
    }
    GN_REQUIRE(training.is_object() && training.contains("epoch") && training.contains("settings"), "--resume: ",
               last, " has no training state (not written by genrenet train?)");
    const nlohmann::json want = identity_settings(o), have = training.at("settings");
    for (const auto& [key, value] : want.items())
      GN_REQUIRE(have.contains(key) && have.at(key) == value, "--resume: ", last, " was trained with ", key, " ",
                 have.contains(key) ? have.at(key).dump() : "(unset)", ", not ", value.dump(),
                 "; resume with the same settings");
    // The same songs and labels: resuming on another data set would carry on training on it
    // under the old run's name (and its old test results).
    if (training.contains("data_set") && training.at("data_set").is_object()) {
      const nlohmann::json& had = training.at("data_set");
      GN_REQUIRE(had.value("fingerprint", "") == p.fingerprint, "--resume: ", o.out_dir,
                 " was trained on another data set (", had.value("songs", 0), " songs in ", had.value("genres", 0),
                 " genres, fingerprint ", had.value("fingerprint", "?"), ") than --data ", o.data_dir, " holds (",
                 scan.songs.size(), " songs in ", scan.labels.size(), " genres, fingerprint ", p.fingerprint,
                 "); resume with the run's own data set",
                 training.contains("data") ? " (" + training.at("data").dump() + ")" : std::string(),
                 ", or start a new run with another --out");
    } else {
      std::cerr << "warning: --resume: " << last << " records no data-set fingerprint (an older run); "
                << "the songs cannot be checked\n";
    }
    // The learning rate is not part of the identity (a schedule may change it on purpose), but
    // a silent change is refused: the user says so with --allow-lr-change.
    if (training.contains("lr") && training.at("lr").is_number() && training.at("lr").get<double>() != o.lr &&
        !o.allow_lr_change)
      GN_FAIL("--resume: ", last, " was trained with --lr ", training.at("lr").get<double>(), ", this run asks for ",
              o.lr, "; pass --lr ", training.at("lr").get<double>(),
              " to continue as it was, or --allow-lr-change to continue with ", o.lr);
    try {
      p.start_epoch = static_cast<int>(json_int(training, "epoch", 0, 1000000, "training state"));
    } catch (const Error& e) {
      GN_FAIL("--resume: ", last, ": ", e.what());
    }
    if (training.contains("best_val_loss") && training.at("best_val_loss").is_number())
      p.best_val_loss = training.at("best_val_loss").get<double>();
    p.best_epoch = training.value("best_epoch", 0);
    p.frontend = FrontendConfig::from_json(nlohmann::json::parse(c.frontend_json));
    // The history up to the checkpoint's epoch (a later row is an epoch that was cut short).
    const fs::path mj = out / "metrics.json";
    if (fs::exists(mj, ec))
      for (const EpochMetrics& m : parse_metrics_json(read_file(mj.string()), mj.string()))
        if (m.epoch <= p.start_epoch) p.history.push_back(m);
  }
  // Only now, with every input checked, is the run folder created.
  fs::create_directories(out, ec);
  GN_REQUIRE(!ec && fs::is_directory(out), "--out ", o.out_dir, ": cannot create the folder (",
             ec ? ec.message() : "not a folder", ")");
  {
    // Each rank probes its own file: ranks sharing the folder must not remove each other's.
    const fs::path probe =
        out / (".genrenet-write-test" + (comm.distributed() ? "." + std::to_string(comm.rank()) : std::string()));
    std::ofstream f(probe);
    f << "ok";
    f.close();
    const bool ok = f.good() && fs::exists(probe, ec);
    fs::remove(probe, ec);
    GN_REQUIRE(ok, "--out ", o.out_dir, ": the folder is not writable");
  }

  return p;
}

std::vector<float> one_hot(const std::vector<int>& labels, int classes) {
  std::vector<float> v(labels.size() * classes, 0.0f);
  for (std::size_t i = 0; i < labels.size(); ++i) v[i * classes + labels[i]] = 1.0f;
  return v;
}

struct Batch {
  Tensor x;       // (n, T, F, 1) on the device, normalised
  Tensor onehot;  // (n, classes) on the device
  std::vector<int> labels;
};

void load_batch(Context& ctx, Batch& b, const Dataset& data, const FrontendConfig& frontend,
                const std::vector<std::int64_t>& order, std::size_t begin, std::size_t count, int classes) {
  Tensor host = Tensor::empty(Shape{static_cast<std::int64_t>(count), data.frames(), data.bins(), 1});
  data.gather(host, b.labels, order, begin, count);
  b.x = ctx.is_cuda() ? host.to(ctx.device()) : host;
  normalize_spectrograms(ctx, b.x, frontend);
  b.onehot = Tensor::from_vector(Shape{static_cast<std::int64_t>(count), classes}, one_hot(b.labels, classes),
                                 ctx.device());
}

struct Evaluation {
  double loss = std::numeric_limits<double>::quiet_NaN();
  double accuracy = std::numeric_limits<double>::quiet_NaN();
  std::vector<float> probs;  // (clips, classes) when kept
  std::vector<int> labels;
};

// Inference mode over `clips` (no dropout, moving BN statistics).
Evaluation evaluate(Context& ctx, RCNN& model, const Dataset& data, const FrontendConfig& frontend,
                    const std::vector<std::int64_t>& clips, int batch, bool keep_probs, const std::string& what,
                    bool progress) {
  Evaluation e;
  if (clips.empty()) return e;
  const int classes = model.config().classes;
  double loss_sum = 0;
  std::int64_t correct = 0;
  Batch b;
  Tensor probs, dlogits;
  std::optional<ProgressBar> bar;
  if (progress) bar.emplace(what, static_cast<std::int64_t>(clips.size()), "clips");
  for (std::size_t begin = 0; begin < clips.size(); begin += batch) {
    const std::size_t count = std::min<std::size_t>(batch, clips.size() - begin);
    load_batch(ctx, b, data, frontend, clips, begin, count, classes);
    const Tensor& logits = model.forward(ctx, b.x, Mode::Infer);
    probs = Tensor::empty(logits.shape(), ctx.device());
    dlogits = Tensor::empty(logits.shape(), ctx.device());
    loss_sum += softmax_cross_entropy(ctx, probs, dlogits, logits, b.onehot) * static_cast<double>(count);
    correct += count_correct(ctx, probs, b.onehot);
    if (keep_probs) {
      const std::vector<float> p = probs.to_vector();
      e.probs.insert(e.probs.end(), p.begin(), p.end());
      e.labels.insert(e.labels.end(), b.labels.begin(), b.labels.end());
    }
    if (bar) bar->advance(static_cast<std::int64_t>(count));
  }
  if (bar) bar->finish();
  e.loss = loss_sum / static_cast<double>(clips.size());
  e.accuracy = static_cast<double>(correct) / static_cast<double>(clips.size());
  return e;
}

// Every value of `t` (any device) is finite. One host copy of the flat parameter buffer per
// step: small next to the step itself.
bool all_finite(const Tensor& t) {
  if (!t.defined()) return true;
  const Tensor host = t.device().is_cpu() ? t : t.to(Device::cpu());
  const float* p = host.data();
  for (std::int64_t i = 0; i < host.numel(); ++i)
    if (!std::isfinite(p[i])) return false;
  return true;
}

std::string json_or_null(double v) { return std::isfinite(v) ? nlohmann::json(v).dump() : "null"; }

// Ctrl-C during training: the handler only raises a flag (async-signal-safe) and gives SIGINT
// back its default action, so a second Ctrl-C ends the process at once. The loop looks at the
// flag between steps and stops with a message that says what was kept and how to go on.
volatile std::sig_atomic_t g_interrupted = 0;
extern "C" void on_interrupt(int) {
  g_interrupted = 1;
  std::signal(SIGINT, SIG_DFL);
}

class InterruptGuard {
 public:
  explicit InterruptGuard(bool enable) : enabled_(enable) {
    if (!enabled_) return;
    g_interrupted = 0;
    previous_ = std::signal(SIGINT, on_interrupt);
  }
  ~InterruptGuard() {
    if (enabled_) std::signal(SIGINT, previous_);
  }
  bool interrupted() const { return enabled_ && g_interrupted; }

 private:
  bool enabled_;
  void (*previous_)(int) = SIG_DFL;
};

// The command that continues this run: every setting that decides its course, spelled out (a
// run started by `genrenet demo` continues with `genrenet train`).
std::string resume_command(const TrainOptions& o) {
  std::string c = "genrenet train --resume --data " + shell_quote(o.data_dir) + " --out " + shell_quote(o.out_dir) +
                  " --epochs " + std::to_string(o.epochs) + " --batch " + std::to_string(o.batch) + " --lr " +
                  shell_quote(nlohmann::json(o.lr).dump()) + " --seed " + std::to_string(o.seed);
  if (o.frontend != "logstft") c += " --frontend " + o.frontend;
  if (o.split != "song") c += " --split " + shell_quote(o.split);
  if (o.model != "reference") c += " --model " + o.model;
  if (o.clip_seconds > 0) c += " --clip-seconds " + nlohmann::json(o.clip_seconds).dump();
  if (o.bn_momentum > 0) c += " --bn-momentum " + nlohmann::json(o.bn_momentum).dump();
  if (!o.cache_dir.empty()) c += " --cache " + shell_quote(o.cache_dir);
  if (o.device != "auto") c += " --device " + o.device;
  if (o.allow_small_data) c += " --allow-small-data";
  return c;
}

// What an interruption during epoch `epoch` leaves behind.
std::string interrupted_message(const TrainOptions& o, int epoch, int best_epoch) {
  const fs::path out(o.out_dir);
  std::string m = "interrupted during epoch " + std::to_string(epoch) + " of " + std::to_string(o.epochs) + "; ";
  if (epoch <= 1)
    return m + "nothing was kept (the first epoch had not finished). Start again with the same command.";
  m += "kept " + (out / "last.safetensors").string() + " (epoch " + std::to_string(epoch - 1) + ", the resume point)";
  if (best_epoch > 0) m += ", best.safetensors (epoch " + std::to_string(best_epoch) + ")";
  return m + " and metrics.csv. Continue with:\n  " + resume_command(o);
}


}  // namespace

std::vector<std::int64_t> shuffled_order(std::int64_t n, std::uint64_t seed, std::uint64_t epoch) {
  std::vector<std::int64_t> order(n);
  for (std::int64_t i = 0; i < n; ++i) order[i] = i;
  // Fisher-Yates from the back; the swap partner of position i is the i-th Philox word of
  // (seed, epoch, kShuffleStream) scaled to [0, i] (multiply-shift: no modulo bias worth
  // noticing for n << 2^32).
  for (std::int64_t i = n - 1; i > 0; --i) {
    const Philox4x32 r = philox_block(seed, epoch, kShuffleStream, static_cast<std::uint64_t>(i) >> 2);
    const std::uint32_t word = r.v[i & 3];
    const auto j = static_cast<std::int64_t>((static_cast<std::uint64_t>(word) * static_cast<std::uint64_t>(i + 1)) >> 32);
    std::swap(order[i], order[j]);
  }
  return order;
}

namespace {

// A split that would make the run's numbers meaningless is refused before any training: a
// genre absent from validation or test counts as 0 in their macro averages, and an empty
// validation side leaves the "best" checkpoint chosen from nothing.
void refuse_meaningless_split(const Dataset& data, const SplitConfig& config, const Split& split,
                              const std::string& data_dir, bool allow_small_data) {
  // The song split rounds each genre's share: 10% of n songs is at least one song from n = 5.
  const double smallest = std::min(config.val_fraction, config.test_fraction);
  const int enough = smallest > 0 ? static_cast<int>(std::ceil(0.5 / smallest - 1e-9)) : 0;
  GN_REQUIRE(!split.val.empty(), "data set ", data_dir, ": the validation side of the ", config.str(),
             " is empty, so there would be nothing to choose the best checkpoint by",
             config.kind == SplitConfig::Kind::Song && enough > 0
                 ? "; give every genre at least " + std::to_string(enough) + " songs"
                 : std::string("; list validation songs"));
  // A genre without a validation or test song: refused by the data-set check before the split
  // unless the user allowed it (--allow-small-data), knowing its scores will be missing.
  if (config.kind != SplitConfig::Kind::Song || smallest <= 0 || allow_small_data) return;
  const auto& labels = data.labels();
  std::vector<int> in_val(labels.size(), 0), in_test(labels.size(), 0), songs(labels.size(), 0);
  for (const SongEntry& song : data.songs()) ++songs[song.label];
  for (const std::int64_t s : split.val_songs) ++in_val[data.songs()[s].label];
  for (const std::int64_t s : split.test_songs) ++in_test[data.songs()[s].label];
  for (std::size_t g = 0; g < labels.size(); ++g)
    GN_REQUIRE(in_val[g] > 0 && in_test[g] > 0, "data set ", data_dir, ": genre '", labels[g], "' has ", songs[g],
               " usable song", songs[g] == 1 ? "" : "s", ", too few for the song split to put one in ",
               in_val[g] == 0 ? "validation" : "test",
               " (its per-genre and macro-averaged scores would count it as 0); give every genre at least ", enough,
               " songs");
}

// FNV-1a of a list of clip indices: ranks compare their splits through it.
std::uint64_t index_checksum(const std::vector<std::int64_t>& v) {
  std::uint64_t h = 1469598103934665603ull;
  for (std::int64_t x : v) h = (h ^ static_cast<std::uint64_t>(x)) * 1099511628211ull;
  return h;
}

// Data: decode, cut, transform, cache; split; front-end statistics from the training side.
// Every rank builds the same data set and split and checks that it did.
Dataset load_data(Context& ctx, const TrainOptions& o, Prepared& p, Split& split, std::ostream& log,
                  Communicator& comm) {
  DatasetOptions dopt;
  dopt.cache_dir = o.cache_dir;
  dopt.progress = o.progress;
  dopt.log = &log;
  Dataset data = Dataset::build(ctx, p.scan, p.clips, p.frontend, dopt);
  GN_REQUIRE(data.num_clips() > 0, "data set ", o.data_dir, ": no usable clips (every song failed to decode or is ",
             "shorter than one clip)");
  split = make_split(data, p.split, &log);
  log << split_table_text(data, split, p.split.kind == SplitConfig::Kind::Clip);
  refuse_meaningless_split(data, p.split, split, o.data_dir, o.allow_small_data);
  if (comm.is_root()) write_split_lists(o.out_dir, data, split);
  if (!p.resume_from) data.fit_normalization(p.frontend, split.train);
  // Every rank decoded the data set itself (the cache files are written atomically, so ranks
  // sharing a cache folder are safe): the slowest decode sets the wait, not the timeout.
  Communicator::LongWait setup(comm, 24 * 3600.0);
  comm.check_agreement(static_cast<std::uint64_t>(data.num_clips()), "the number of clips in " + o.data_dir);
  comm.check_agreement(index_checksum(split.train) ^ index_checksum(split.val) * 3 ^ index_checksum(split.test) * 7,
                       "the train / validation / test split");
  return data;
}

// The parameters, BatchNorm statistics and Adam state a run starts from: the seed's
// initialisation, or the resume checkpoint (then released); identical on every rank.
void initialise(Context& ctx, RCNN& model, Adam& adam, Prepared& p, const TrainOptions& o, Communicator& comm) {
  if (p.resume_from) {
    load_into_store(*p.resume_from, model.store());
    adam.restore(p.resume_from->tensors.at(kOptimizerM), p.resume_from->tensors.at(kOptimizerV),
                 std::stoll(nlohmann::json::parse(p.resume_from->training_json).at("step").get<std::string>()));
    p.resume_from.reset();
  } else {
    model.init(o.seed);
  }
  if (!comm.distributed()) return;
  // Identical on every rank already (one seed, one checkpoint file); rank 0's copy makes it so.
  comm.check_agreement(static_cast<std::uint64_t>(adam.t()), "the optimiser step of " + o.out_dir);
  comm.broadcast(ctx, model.store().params(), 0, "initial parameters");
  comm.broadcast(ctx, model.store().buffers(), 0, "initial BatchNorm statistics");
  Tensor m = adam.m().clone(), v = adam.v().clone();
  comm.broadcast(ctx, m, 0, "initial Adam m");
  comm.broadcast(ctx, v, 0, "initial Adam v");
  adam.restore(m, v, adam.t());
}

// The "settings" table of the report.
std::vector<std::pair<std::string, std::string>> run_settings(const TrainOptions& o, const Prepared& p,
                                                              const Split& split, const RCNN& model,
                                                              const Communicator& comm, int shards) {
  std::string genres;
  for (const auto& l : p.labels) genres += (genres.empty() ? "" : ", ") + l;
  std::vector<std::pair<std::string, std::string>> settings = {
      {"data", o.data_dir},
      {"genres", genres},
      {"front-end", o.frontend + (p.frontend.normalized() ? " (standardised per bin, training statistics)" : "")},
      {"clips", p.clips.str()},
      {"split", p.split.str()},
      {"train / val / test clips", std::to_string(split.train.size()) + " / " + std::to_string(split.val.size()) +
                                       " / " + std::to_string(split.test.size())},
      {"model", o.model + " (" + std::to_string(model.store().num_params()) + " parameters)"},
      {"optimiser", "Adam (Keras): lr " + fixed(o.lr, 4) + (o.cosine_lr ? " (half cosine to 0)" : "") + ", beta1 0.9, beta2 0.999, eps 1e-7"},
      {"loss", "categorical cross-entropy"},
      {"epochs", std::to_string(o.epochs)},
      {"batch", std::to_string(o.batch)},
      {"BatchNorm momentum", fixed(p.config.bn_momentum, 3)},
      {"seed", std::to_string(o.seed)},
      {"device", p.device.str()},
      {"run folder", o.out_dir},
      {"data-set fingerprint", p.fingerprint},
      {"GenreNet version", version_string()},
      {"command line", o.command_line.empty() ? std::string("(not recorded)") : o.command_line},
      {"started", utc_timestamp()},
  };
  if (shards > 1)
    settings.emplace_back("data-parallel", std::to_string(comm.size()) + " rank" + (comm.size() > 1 ? "s" : "") +
                                               (o.simulate_ranks > 1 ? ", " + std::to_string(o.simulate_ranks) +
                                                                           " simulated on one process"
                                                                     : std::string()) +
                                               "; BatchNorm statistics per shard of " + std::to_string(o.batch) +
                                               " / " + std::to_string(shards) + " clips");
  return settings;
}

// What an epoch's training steps add up (summed over this process's shards).
struct StepTotals {
  double loss_sum = 0;  // sum over clips of each clip's loss
  std::int64_t correct = 0, seen = 0;
};

// Where a step stands, for the message of a diverged loss.
struct StepPlace {
  int epoch = 0;
  std::int64_t step = 0, steps = 0;  // step in [0, steps)
  std::string last_good;             // the checkpoint a user falls back to
};

// One message for every way a run diverges, naming the step and the last good checkpoint.
[[noreturn]] void diverged(const StepPlace& place, std::int64_t global_step, const std::string& what, double lr) {
  GN_FAIL("training diverged at global step ", global_step, " (epoch ", place.epoch, ", step ", place.step + 1, " of ",
          place.steps, "): ", what, "; try a smaller --lr (now ", lr, "). The last good checkpoint is ",
          place.last_good);
}

// One optimisation step on one global batch, the same path for 1..N shards. The batch's
// `count` clips are cut into `shards` contiguous shards; shard q is computed by rank
// q / simulate_ranks (one shard per rank under mpirun, all of them on one process with
// --simulate-ranks, the whole batch as shard 0 otherwise). Each shard runs forward / backward
// on its n clips; its gradient (the mean over the shard) weighted by n / count and summed over
// the shards and ranks is the gradient of the mean loss over the batch (a partial last batch
// included), given per-shard BatchNorm statistics. Shard q of global step t draws its dropout
// masks from Philox step t * shards + q: distinct per shard, the same whichever process
// computes it. With one shard (weight 1) this is the plain step, bit for bit.
class TrainStep {
 public:
  TrainStep(Context& ctx, RCNN& model, Adam& adam, const Dataset& data, const FrontendConfig& frontend,
            const TrainOptions& o, Communicator& comm)
      : ctx_(ctx), model_(model), adam_(adam), data_(data), frontend_(frontend), o_(o), comm_(comm),
        shards_(comm.size() * o.simulate_ranks) {
    // --simulate-ranks: the BatchNorm moving statistics of each simulated rank (a real rank
    // updates its own from its shards and the ranks average them at the end of the epoch).
    if (o.simulate_ranks > 1 && model.store().buffers().defined()) rank_buffers_.resize(o.simulate_ranks);
  }

  int shards() const { return shards_; }

  void begin_epoch() {
    for (Tensor& t : rank_buffers_) t = model_.store().buffers().clone();
  }

  // Adds the batch [begin, begin + count) of `order` to `totals` and updates the parameters.
  void run(const std::vector<std::int64_t>& order, std::size_t begin, std::size_t count, const StepPlace& place,
           StepTotals& totals) {
    Tensor& grads = model_.store().grads();
    const bool summed = o_.simulate_ranks > 1;  // several shards on this process: sum them here
    if (summed) {
      if (!grad_sum_.defined()) grad_sum_ = Tensor::empty(grads.shape(), ctx_.device());
      ops::fill(ctx_, grad_sum_, 0.0f);
    }
    bool computed = false;
    for (int k = 0; k < o_.simulate_ranks; ++k) {
      const int q = comm_.rank() * o_.simulate_ranks + k;
      const std::size_t lo = begin + count * q / shards_, hi = begin + count * (q + 1) / shards_;
      if (hi == lo) continue;  // fewer clips than shards: this shard adds nothing
      const std::size_t n = hi - lo;
      computed = true;
      load_batch(ctx_, batch_, data_, frontend_, order, lo, n, model_.config().classes);
      if (!rank_buffers_.empty()) ops::copy(ctx_, model_.store().buffers(), rank_buffers_[k]);
      const Tensor& logits = model_.forward(
          ctx_, batch_.x, Mode::Train, RandomStep{o_.seed, static_cast<std::uint64_t>(adam_.t()) * shards_ + q});
      if (!rank_buffers_.empty()) ops::copy(ctx_, rank_buffers_[k], model_.store().buffers());
      ensure_tensor(probs_, logits.shape(), ctx_.device());
      ensure_tensor(dlogits_, logits.shape(), ctx_.device());
      const double loss = softmax_cross_entropy(ctx_, probs_, dlogits_, logits, batch_.onehot);
      if (!std::isfinite(loss))
        diverged(place, adam_.t() + 1,
                 std::string("the loss became ") + (std::isnan(loss) ? "NaN" : "infinite") +
                     (shards_ > 1 ? " (shard " + std::to_string(q) + " of " + std::to_string(shards_) + ")" : ""),
                 o_.lr);
      totals.correct += count_correct(ctx_, probs_, batch_.onehot);
      totals.loss_sum += loss * static_cast<double>(n);
      totals.seen += static_cast<std::int64_t>(n);
      model_.backward(ctx_, dlogits_);
      const float weight = static_cast<float>(n) / static_cast<float>(count);
      if (summed)
        ops::axpby(ctx_, grad_sum_, grads, weight, 1.0f);
      else if (n != count)
        ops::scale(ctx_, grads, grads, weight);
    }
    if (summed)
      ops::copy(ctx_, grads, grad_sum_);
    else if (!computed)
      ops::fill(ctx_, grads, 0.0f);  // this rank's shard is empty: it adds nothing to the sum
    comm_.allreduce_sum(ctx_, grads, "the gradient all-reduce");
    adam_.step(ctx_, model_.store().params(), grads);
  }

  // Each rank's (and simulated rank's) BatchNorm moving statistics followed its own shards:
  // their mean is what every rank validates with and what the checkpoint holds (a resume then
  // needs no per-rank state). Reduces `totals` over the ranks too.
  void end_epoch(StepTotals& totals) {
    if (comm_.distributed()) {
      double sums[3] = {totals.loss_sum, static_cast<double>(totals.correct), static_cast<double>(totals.seen)};
      comm_.allreduce_sum(sums, 3, "the training metrics");
      totals.loss_sum = sums[0];
      totals.correct = std::llround(sums[1]);
      totals.seen = std::llround(sums[2]);
      comm_.allreduce_mean(ctx_, model_.store().buffers(), "the BatchNorm statistics average");
    }
    if (!rank_buffers_.empty()) {  // the same average over the simulated ranks, in rank order
      Tensor& buffers = model_.store().buffers();
      ops::fill(ctx_, buffers, 0.0f);
      for (const Tensor& t : rank_buffers_) ops::axpby(ctx_, buffers, t, 1.0f, 1.0f);
      ops::scale(ctx_, buffers, buffers, 1.0f / static_cast<float>(rank_buffers_.size()));
    }
  }

 private:
  Context& ctx_;
  RCNN& model_;
  Adam& adam_;
  const Dataset& data_;
  const FrontendConfig& frontend_;
  const TrainOptions& o_;
  Communicator& comm_;
  const int shards_;
  std::vector<Tensor> rank_buffers_;
  Batch batch_;
  Tensor probs_, dlogits_;
  Tensor grad_sum_;  // (params) the weighted sum of this process's shards, --simulate-ranks only
};

// Validation, sharded like training: rank r scores the r-th contiguous slice, the sums are reduced.
Evaluation validate(Context& ctx, RCNN& model, const Dataset& data, const FrontendConfig& frontend,
                    const std::vector<std::int64_t>& val_clips, const TrainOptions& o, Communicator& comm) {
  const std::size_t nv = val_clips.size();
  const std::vector<std::int64_t> mine(val_clips.begin() + nv * comm.rank() / comm.size(),
                                       val_clips.begin() + nv * (comm.rank() + 1) / comm.size());
  Evaluation val = evaluate(ctx, model, data, frontend, mine, o.batch, false, "validation", o.progress);
  if (comm.distributed()) {
    const double n = static_cast<double>(mine.size());
    double sums[3] = {n > 0 ? val.loss * n : 0, n > 0 ? val.accuracy * n : 0, n};
    comm.allreduce_sum(sums, 3, "the validation metrics");
    val.loss = sums[2] > 0 ? sums[0] / sums[2] : std::numeric_limits<double>::quiet_NaN();
    val.accuracy = sums[2] > 0 ? static_cast<double>(std::llround(sums[1])) / sums[2]
                               : std::numeric_limits<double>::quiet_NaN();
  }
  return val;
}

// After the last epoch: the best checkpoint (lowest validation loss) scores the test split at
// clip and song level (test_results.json), and the report is written. Rank 0 only.
void test_and_report(Context& ctx, RCNN& model, const Dataset& data, const Split& split, const Prepared& p,
                     const TrainOptions& o, const std::vector<std::pair<std::string, std::string>>& settings,
                     std::chrono::steady_clock::time_point run_start, TrainResult& result, std::ostream& log) {
  const fs::path out(o.out_dir);
  const fs::path best = out / "best.safetensors";
  if (!split.test.empty() && fs::exists(best)) {
    load_into_store(load_checkpoint(best.string()), model.store());
    const Evaluation test =
        evaluate(ctx, model, data, p.frontend, split.test, o.batch, true, "test", o.progress);
    std::vector<std::int64_t> clip_songs;
    for (std::int64_t c : split.test) clip_songs.push_back(data.clip_song(c));
    result.test = evaluate_predictions(p.labels, test.probs, test.labels, clip_songs, test.loss);
    write_file_atomically((out / "test_results.json").string(), test_results_json(*result.test));
    write_file_atomically((out / "test_predictions.csv").string(), test_predictions_csv(data, test.probs, clip_songs));
    log << "test (best epoch " << p.best_epoch << "): song accuracy " << fixed(100 * result.test->song_accuracy(), 1)
        << "% of " << result.test->songs << " songs (majority vote: "
        << fixed(100 * result.test->song_vote_accuracy(), 1) << "%)\n"
        << "test clip accuracy " << fixed(100 * result.test->clip_accuracy(), 1) << "% of " << result.test->clips
        << " clips\n";
  } else if (split.test.empty()) {
    log << "no test split: nothing to evaluate\n";
    // A test_results.json of an earlier session would sit beside a report that says "no test".
    std::error_code ec;
    fs::remove(out / "test_results.json", ec);
    fs::remove(out / "test_predictions.csv", ec);
  }

  ReportData report;
  const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start).count();
  report.status = "trained " + std::to_string(p.history.size()) + " epoch" + (p.history.size() == 1 ? "" : "s") +
                  " on " + p.device.str() + (p.best_epoch > 0 ? "; best epoch " + std::to_string(p.best_epoch) : "") +
                  "; this session took " + format_duration(total);
  report.settings = settings;
  report.epochs = p.history;
  report.best_epoch = p.best_epoch;
  report.test = result.test;
  report.train_clips = static_cast<std::int64_t>(split.train.size());
  report.val_clips = static_cast<std::int64_t>(split.val.size());
  report.train_songs = static_cast<std::int64_t>(split.train_songs.size());
  report.val_songs = static_cast<std::int64_t>(split.val_songs.size());
  result.report_path = (out / "report.html").string();
  write_report(result.report_path, report);
  log << "report: " << result.report_path << "\n";
}

// The run of one rank (the whole run on one process). Ranks other than 0 get a discarding
// `log`, no progress bars, and write nothing.
TrainResult train_rank(const TrainOptions& o, std::ostream& log, Communicator& comm) {
  Prepared p = prepare(o, log, comm);
  const fs::path out(o.out_dir);
  const auto run_start = std::chrono::steady_clock::now();
  Context ctx(p.device);

  Split split;
  Dataset data = load_data(ctx, o, p, split, log, comm);
  RCNN model(p.config, p.device);
  Adam adam(model.store().params(), AdamOptions{static_cast<float>(o.lr)});
  initialise(ctx, model, adam, p, o, comm);
  TrainStep step(ctx, model, adam, data, p.frontend, o, comm);
  const int shards = step.shards();

  const std::vector<std::pair<std::string, std::string>> settings = run_settings(o, p, split, model, comm, shards);
  if (shards > 1)
    log << "data-parallel: " << shards << " shards of each batch of " << o.batch << " clips (" << comm.size()
        << " rank" << (comm.size() > 1 ? "s" : "") << ")\n";
  log << "training on " << p.device.str() << ": " << p.labels.size() << " genres, "
      << model.store().num_params() << " parameters\n"
      << "clips: " << split.train.size() << " training, " << split.val.size() << " validation, "
      << split.test.size() << " test\n";
  if (p.start_epoch > 0)
    log << "resuming " << o.out_dir << " after epoch " << p.start_epoch << " (step " << adam.t() << ")\n";

  // One checkpoint holds everything a resume needs.
  const std::string clip_json = p.clips.to_json().dump(), frontend_json = p.frontend.to_json().dump();
  auto make_checkpoint = [&](int epoch) {
    Checkpoint c = checkpoint_from_store(model.store(), p.config, p.labels);
    c.frontend_json = frontend_json;
    c.clip_scheme_json = clip_json;
    nlohmann::json training = {{"epoch", epoch},
                               {"step", std::to_string(adam.t())},
                               {"best_epoch", p.best_epoch},
                               {"settings", identity_settings(o)},
                               {"lr", o.lr},
                               {"data", o.data_dir},
                               {"data_set", {{"fingerprint", p.fingerprint},
                                             {"songs", p.scan.songs.size()},
                                             {"genres", p.labels.size()}}},
                               {"genrenet_version", version_string()},
                               {"command_line", o.command_line},
                               {"date", utc_timestamp()}};
    training["best_val_loss"] = nlohmann::json::parse(json_or_null(p.best_val_loss));
    c.training_json = training.dump();
    return c;
  };

  // Under mpirun, the launcher owns Ctrl-C (it signals every rank).
  const InterruptGuard interrupt(!comm.distributed());
  for (int epoch = p.start_epoch + 1; epoch <= o.epochs; ++epoch) {
    const auto epoch_start = std::chrono::steady_clock::now();
    const std::vector<std::int64_t> perm = shuffled_order(static_cast<std::int64_t>(split.train.size()), o.seed,
                                                          static_cast<std::uint64_t>(epoch));
    std::vector<std::int64_t> order(perm.size());
    for (std::size_t i = 0; i < perm.size(); ++i) order[i] = split.train[perm[i]];

    StepTotals totals;
    StepPlace place;
    place.epoch = epoch;
    place.steps = (static_cast<std::int64_t>(order.size()) + o.batch - 1) / o.batch;
    place.last_good = epoch > 1 ? (out / "last.safetensors").string() + " (epoch " + std::to_string(epoch - 1) + ")"
                                : std::string("none (it diverged in the first epoch)");
    // The rate of global step adam.t() (0-based): every epoch has place.steps steps.
    // `lr` keeps the rate as a double, so metrics.csv records the --lr given (0.005), not its
    // float32 rounding.
    double lr = o.lr;
    auto schedule_lr = [&] {
      if (!o.cosine_lr) return;
      const double progress = static_cast<double>(adam.t()) / static_cast<double>(place.steps * o.epochs);
      lr = o.lr * 0.5 * (1.0 + std::cos(3.141592653589793 * progress));
      adam.set_lr(static_cast<float>(lr));
    };
    std::optional<ProgressBar> bar;
    if (o.progress)
      bar.emplace("epoch " + std::to_string(epoch) + "/" + std::to_string(o.epochs),
                  static_cast<std::int64_t>(order.size()), "clips");
    step.begin_epoch();
    for (place.step = 0; place.step < place.steps; ++place.step) {
      if (interrupt.interrupted()) {
        if (bar) bar->finish();
        throw Interrupted(interrupted_message(o, epoch, p.best_epoch));
      }
      const std::size_t begin = static_cast<std::size_t>(place.step) * o.batch;
      const std::size_t count = std::min<std::size_t>(o.batch, order.size() - begin);
      schedule_lr();
      step.run(order, begin, count, place, totals);
      // A huge --lr can throw the parameters (or, through them, the BatchNorm moving statistics)
      // to Inf/NaN while this step's loss was still finite.
      if (!all_finite(model.store().params()) || !all_finite(model.store().buffers()))
        diverged(place, adam.t(), "the parameters or BatchNorm statistics became non-finite", o.lr);
      const double seen = static_cast<double>(std::max<std::int64_t>(totals.seen, 1));
      if (bar)
        bar->advance(static_cast<std::int64_t>(count),
                     "step " + std::to_string(place.step + 1) + "/" + std::to_string(place.steps) + " loss " +
                         fixed(totals.loss_sum / seen, 4) + " acc " + fixed(100.0 * totals.correct / seen, 1) + "%" +
                         (comm.distributed() ? " (rank 0)" : ""));
    }
    const double train_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
    if (bar) bar->finish();
    step.end_epoch(totals);
    const Evaluation val = validate(ctx, model, data, p.frontend, split.val, o, comm);

    EpochMetrics m;
    m.epoch = epoch;
    m.train_loss = totals.loss_sum / static_cast<double>(totals.seen);
    m.train_accuracy = static_cast<double>(totals.correct) / static_cast<double>(totals.seen);
    m.val_loss = val.loss;
    m.val_accuracy = val.accuracy;
    m.lr = lr;  // the last step's rate
    m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count();
    m.clips_per_second = train_seconds > 0 ? static_cast<double>(totals.seen) / train_seconds : 0;
    p.history.push_back(m);

    // Best by validation loss (by training loss when there is no validation side).
    const double criterion = std::isfinite(val.loss) ? val.loss : m.train_loss;
    const bool improved = criterion < p.best_val_loss;
    if (improved) {
      p.best_val_loss = criterion;
      p.best_epoch = epoch;
    }
    // Order matters for a kill at any moment: metrics, then best, then last (the resume point),
    // so whatever last.safetensors says is finished has its metrics and best already on disk.
    if (comm.is_root()) {  // rank 0 alone writes (every rank holds the same state)
      write_metrics_files(o.out_dir, p.history);
      const Checkpoint c = make_checkpoint(epoch);
      Checkpoint with_state = c;
      with_state.tensors[kOptimizerM] = adam.m().to(Device::cpu());
      with_state.tensors[kOptimizerV] = adam.v().to(Device::cpu());
      // best.safetensors is for inference: the optimiser state (2x the parameters) is last's.
      if (improved) write_file_atomically((out / "best.safetensors").string(), serialize_checkpoint(c));
      write_file_atomically((out / "last.safetensors").string(), serialize_checkpoint(with_state));
    }

    // Under 80 columns for runs of up to 999 epochs (the speed is in metrics.csv).
    log << "epoch " << epoch << "/" << o.epochs << "  loss " << fixed(m.train_loss, 4) << " acc "
        << fixed(100 * m.train_accuracy, 1) << "%";
    if (std::isfinite(m.val_loss))
      log << "  val loss " << fixed(m.val_loss, 4) << " acc " << fixed(100 * m.val_accuracy, 1) << "%";
    log << "  " << format_duration(m.seconds) << (improved ? "  * best" : "") << "\n";
    log.flush();
  }

  TrainResult result;
  result.out_dir = o.out_dir;
  result.epochs_done = std::max(p.start_epoch, o.epochs);
  result.best_epoch = p.best_epoch;
  result.history = p.history;
  if (!comm.is_root()) return result;  // the test set and the report are rank 0's
  test_and_report(ctx, model, data, split, p, o, settings, run_start, result, log);
  return result;
}

}  // namespace

TrainResult run_training(const TrainOptions& o, std::ostream& log) {
  Communicator comm(o.collective_timeout);
  if (!comm.distributed()) return train_rank(o, log, comm);
  // Rank 0 speaks for the job; the others train silently. An error on any rank ends the whole
  // job with that rank's message (the others would otherwise wait in the next collective).
  std::ostream silent(nullptr);
  TrainOptions mine = o;
  if (!comm.is_root()) mine.progress = false;
  try {
    return train_rank(mine, comm.is_root() ? log : silent, comm);
  } catch (const std::exception& e) {
    comm.abort(e.what());
  }
}

}  // namespace gn
