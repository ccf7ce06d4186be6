// `genrenet train` end to end through the real binary (test::run_genrenet): a small run's files,
// resuming bit-identically after SIGKILL, and every bad input of the training command giving one clear error,
// a non-zero exit and nothing overwritten. The tiny model (16 x 36 inputs) keeps each run to
// seconds; the trainer code is the same as for the reference model.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "data/synth.h"
#include "engine/safetensors.h"
#include "model/checkpoint.h"
#include "tests/support.h"
#include "train/metrics_log.h"
#include "train/trainer.h"

namespace gn {
namespace {
namespace fs = std::filesystem;

// 10 synthetic genres x 10 songs x 3 s, made once per test binary: the song split gives 8 / 1 / 1
// songs per genre to train / validation / test.
const std::string& data_dir() {
  static const std::string dir = [] {
    const std::string d = test::temp_dir("train-data") + "/synth";
    SynthOptions o;
    o.out_dir = d;
    o.songs_per_genre = 10;
    o.seconds = 3.0;
    o.progress = false;
    write_synth_dataset(o);
    return d;
  }();
  return dir;
}

const std::string& cache_dir() {
  static const std::string dir = test::temp_dir("train-cache");
  return dir;
}

// A tiny-model run on the synthetic data: 1 s clips, 5 per song.
std::vector<std::string> tiny_run(const std::string& out, int epochs, std::vector<std::string> extra = {}) {
  std::vector<std::string> a = {"train", "--data", data_dir(), "--out", out, "--model", "tiny", "--clip-seconds", "1",
                                "--epochs", std::to_string(epochs), "--batch", "16", "--cache", cache_dir(),
                                "--seed", "5", "--quiet"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

std::string slurp(const std::string& path) { return read_file(path); }

// Every tensor of two checkpoints, bit for bit.
void expect_same_tensors(const std::string& a, const std::string& b) {
  const Checkpoint ca = load_checkpoint(a), cb = load_checkpoint(b);
  ASSERT_EQ(ca.tensors.size(), cb.tensors.size());
  for (const auto& [name, t] : ca.tensors) {
    ASSERT_TRUE(cb.tensors.count(name)) << name;
    const std::vector<float> x = t.to_vector(), y = cb.tensors.at(name).to_vector();
    ASSERT_EQ(x.size(), y.size()) << name;
    EXPECT_EQ(std::memcmp(x.data(), y.data(), x.size() * sizeof(float)), 0) << name << " differs";
  }
}

TEST(Train, SmallRunWritesEveryFileAndLearns) {
  const std::string out = test::temp_dir("train-run") + "/run";
  const test::CommandResult r = test::run_genrenet(tiny_run(out, 4));
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  for (const char* f : {"last.safetensors", "best.safetensors", "metrics.csv", "metrics.json", "test_results.json",
                        "report.html"})
    EXPECT_TRUE(fs::exists(fs::path(out) / f)) << f;
  EXPECT_NE(r.out.find("epoch 4/4"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("report: "), std::string::npos);
  const std::vector<EpochMetrics> m = parse_metrics_json(slurp(out + "/metrics.json"), "metrics.json");
  ASSERT_EQ(m.size(), 4u);
  // 10 classes: chance is a loss of ln 10 = 2.30 and 10% accuracy.
  EXPECT_LT(m.back().train_loss, m.front().train_loss) << "the training loss did not fall";
  EXPECT_GT(m.back().train_accuracy, 0.3) << "training accuracy stayed near chance (10%)";
  const Checkpoint last = load_checkpoint(out + "/last.safetensors");
  EXPECT_TRUE(last.has_optimizer_state());
  const nlohmann::json training = nlohmann::json::parse(last.training_json);
  EXPECT_EQ(training.at("epoch"), 4);
  const nlohmann::json results = nlohmann::json::parse(slurp(out + "/test_results.json"));
  EXPECT_EQ(results.at("songs"), 10);  // 1 test song per genre (10% of 10)
  EXPECT_EQ(results.at("labels").size(), 10u);
}

TEST(Train, ResumeAfterSigkillIsBitIdentical) {
  const std::string root = test::temp_dir("train-resume");
  // The reference: 3 epochs without interruption.
  const test::CommandResult full = test::run_genrenet(tiny_run(root + "/full", 3));
  ASSERT_EQ(full.exit_code, 0) << full.err;

  // The same run, SIGKILLed once epoch 1's checkpoint exists (so inside epoch 2), then resumed.
  const std::string cut = root + "/cut";
  const std::vector<std::string> args = tiny_run(cut, 3);
  std::vector<std::string> argv = {GENRENET_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  test::ChildProcess run(argv);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!fs::exists(cut + "/last.safetensors") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  run.signal(SIGKILL);
  run.wait();
  ASSERT_TRUE(WIFSIGNALED(run.raw_status())) << "the run finished before it could be killed";
  const nlohmann::json at_kill = nlohmann::json::parse(load_checkpoint(cut + "/last.safetensors").training_json);
  EXPECT_LT(at_kill.at("epoch").get<int>(), 3);

  const test::CommandResult resumed = test::run_genrenet(tiny_run(cut, 3, {"--resume"}));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_NE(resumed.out.find("resuming"), std::string::npos) << resumed.out;
  expect_same_tensors(root + "/full/last.safetensors", cut + "/last.safetensors");
  expect_same_tensors(root + "/full/best.safetensors", cut + "/best.safetensors");
  // The history is whole again: 3 epochs, the same losses.
  const auto a = parse_metrics_json(slurp(root + "/full/metrics.json"), "a");
  const auto b = parse_metrics_json(slurp(cut + "/metrics.json"), "b");
  ASSERT_EQ(b.size(), 3u);
  for (int e = 0; e < 3; ++e) {
    EXPECT_EQ(a[e].train_loss, b[e].train_loss) << "epoch " << e + 1;
    EXPECT_EQ(a[e].val_loss, b[e].val_loss) << "epoch " << e + 1;
    EXPECT_EQ(a[e].val_accuracy, b[e].val_accuracy) << "epoch " << e + 1;
  }
  EXPECT_EQ(slurp(root + "/full/test_results.json"), slurp(cut + "/test_results.json"));
}

TEST(Train, SplitListsChooseTheSongs) {
  // train.txt: songs 0..7 of each genre, val.txt: song 8, test.txt: song 9 (and a comment).
  const std::string root = test::temp_dir("train-lists");
  std::ofstream train(root + "/train.txt"), val(root + "/val.txt"), test(root + "/test.txt");
  test << "# held-out songs\n";
  for (const std::string& g : synth_genres())
    for (int i = 0; i < 10; ++i) {
      char name[64];
      std::snprintf(name, sizeof name, "%s/%s.%05d.wav\n", g.c_str(), g.c_str(), i);
      (i < 8 ? train : i == 8 ? val : test) << name;
    }
  train.close();
  val.close();
  test.close();
  const test::CommandResult r = test::run_genrenet(
      tiny_run(root + "/run", 1, {"--split", root + "/train.txt," + root + "/val.txt," + root + "/test.txt"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("400 training clips, 50 validation, 50 test"), std::string::npos) << r.out;
  EXPECT_EQ(nlohmann::json::parse(slurp(root + "/run/test_results.json")).at("songs"), 10);
}

TEST(Train, ShuffleIsAPermutationKeyedBySeedAndEpoch) {
  const auto a = shuffled_order(1000, 1, 1), b = shuffled_order(1000, 1, 1), c = shuffled_order(1000, 1, 2),
             d = shuffled_order(1000, 2, 1);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_NE(a, d);
  std::vector<std::int64_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (std::int64_t i = 0; i < 1000; ++i) ASSERT_EQ(sorted[i], i);
  EXPECT_TRUE(shuffled_order(0, 1, 1).empty());
}

TEST(Demo, SmallVersionCreatesTheDataTrainsAndReallyLearns) {
  // The demo's own path (data set creation included) at test size: the tiny model, 10 songs of
  // 3 s per genre, 1 s clips. It must learn: the loss falls and accuracy ends far above the
  // 10% of chance.
  const std::string root = test::temp_dir("demo");
  const test::CommandResult r = test::run_genrenet({"demo", "--data", root + "/synth", "--out", root + "/run",
                                                    "--model", "tiny", "--songs-per-genre", "10", "--seconds", "3",
                                                    "--clip-seconds", "1", "--epochs", "6", "--cache", cache_dir(),
                                                    "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("creating the synthetic data set"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("demo finished: song-level test accuracy"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("open the report: "), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(root + "/synth/rock/rock.00009.wav"));
  const std::vector<EpochMetrics> m = parse_metrics_json(slurp(root + "/run/metrics.json"), "metrics.json");
  ASSERT_EQ(m.size(), 6u);
  EXPECT_LT(m.back().train_loss, 0.75 * m.front().train_loss) << "the loss did not fall";
  EXPECT_GT(m.back().train_accuracy, 0.4) << "training accuracy stayed near chance (10%)";
  const nlohmann::json results = nlohmann::json::parse(slurp(root + "/run/test_results.json"));
  EXPECT_GT(results.at("clip_accuracy").get<double>(), 0.3) << "test accuracy near chance (10%)";
  std::printf("demo (tiny): train loss %.3f -> %.3f, train acc %.1f%%, test clip acc %.1f%%, song acc %.1f%%\n",
              m.front().train_loss, m.back().train_loss, 100 * m.back().train_accuracy,
              100 * results.at("clip_accuracy").get<double>(), 100 * results.at("song_accuracy").get<double>());
  // A second demo with the same data reuses it and picks a new run folder by itself.
  const test::CommandResult again = test::run_genrenet({"demo", "--data", root + "/synth", "--model", "tiny",
                                                        "--clip-seconds", "1", "--epochs", "1", "--cache",
                                                        cache_dir(), "--quiet"},
                                                       600, root);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("using the data set in"), std::string::npos) << again.out;
  EXPECT_TRUE(fs::exists(root + "/runs/demo/report.html"));
}

// ---- bad input: one clear message, non-zero exit, nothing written or overwritten -------------

void expect_error(const std::vector<std::string>& args, const std::string& message) {
  const test::CommandResult r = test::run_genrenet(args);
  EXPECT_NE(r.exit_code, 0) << "accepted: " << r.out;
  EXPECT_NE(r.err.find(message), std::string::npos) << "expected '" << message << "' in: " << r.err;
  EXPECT_EQ(r.err.find("internal error"), std::string::npos) << r.err;
}

TEST(TrainBadInput, MissingDataFolder) {
  const std::string out = test::temp_dir("bad") + "/run";
  expect_error({"train", "--data", out + "-no-such-folder", "--out", out}, "not a folder");
  EXPECT_FALSE(fs::exists(out)) << "the run folder was created for a failing run";
  expect_error({"train", "--out", out}, "--data DIR is required");
}

TEST(TrainBadInput, FolderWithoutAudio) {
  const std::string root = test::temp_dir("bad");
  fs::create_directories(root + "/data/rock");
  std::ofstream(root + "/data/rock/notes.txt") << "not audio";
  expect_error({"train", "--data", root + "/data", "--out", root + "/run"}, "no audio files");
  EXPECT_FALSE(fs::exists(root + "/run"));
}

TEST(TrainBadInput, OnlyOneGenre) {
  const std::string root = test::temp_dir("bad");
  fs::create_directories(root + "/data/blues");
  fs::copy_file(data_dir() + "/blues/blues.00000.wav", root + "/data/blues/blues.00000.wav");
  expect_error({"train", "--data", root + "/data", "--out", root + "/run"}, "only one genre");
  EXPECT_FALSE(fs::exists(root + "/run"));
}

TEST(TrainBadInput, UnknownFlagValues) {
  const std::string out = test::temp_dir("bad") + "/run";
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--frontend", "mel"}, "invalid --frontend 'mel'"},
      {{"--split", "random"}, "invalid --split 'random'"},
      {{"--split", "a.txt,b.txt"}, "list file 'a.txt' does not exist"},
      {{"--device", "tpu"}, "invalid --device 'tpu'"},
      {{"--epochs", "0"}, "--epochs must be in"},
      {{"--batch", "many"}, "--batch expects an integer"},
      {{"--lr", "-1"}, "--lr must be in"},
      {{"--model", "huge"}, "invalid --model 'huge'"},
      {{"--colour", "red"}, "unknown option '--colour'"},
  };
  for (const auto& [flags, message] : cases) {
    std::vector<std::string> args = {"train", "--data", data_dir(), "--out", out, "--cache", cache_dir()};
    args.insert(args.end(), flags.begin(), flags.end());
    expect_error(args, message);
  }
  EXPECT_FALSE(fs::exists(out));
}

TEST(TrainBadInput, UnwritableOutputFolder) {
  const std::string root = test::temp_dir("bad");
  std::ofstream(root + "/a-file") << "x";
  // As root, permission bits do not stop writes; a path through a regular file always fails.
  expect_error(tiny_run(root + "/a-file/run", 1), "cannot create the folder");
  EXPECT_EQ(slurp(root + "/a-file"), "x");
}

TEST(TrainBadInput, RunFolderThatHoldsARunIsNotOverwritten) {
  const std::string out = test::temp_dir("bad") + "/run";
  fs::create_directories(out);
  std::ofstream(out + "/metrics.json") << "precious";
  expect_error(tiny_run(out, 1), "already holds a run");
  EXPECT_EQ(slurp(out + "/metrics.json"), "precious");
  expect_error(tiny_run(out, 1, {"--resume"}), "nothing to resume");
  EXPECT_EQ(slurp(out + "/metrics.json"), "precious");
}

TEST(TrainBadInput, ResumeWithAnotherConfigurationOrATruncatedCheckpoint) {
  const std::string out = test::temp_dir("bad") + "/run";
  ASSERT_EQ(test::run_genrenet(tiny_run(out, 1)).exit_code, 0);
  const std::string last = out + "/last.safetensors";
  const std::string before = slurp(last), metrics = slurp(out + "/metrics.json");

  // Another model configuration (the reference model) than the checkpoint's tiny one.
  std::vector<std::string> other = tiny_run(out, 2, {"--resume"});
  for (std::size_t i = 0; i + 1 < other.size(); ++i)
    if (other[i] == "--model") other[i + 1] = "reference";
  expect_error(other, "another configuration");
  // Other settings that decide the batches or random streams.
  std::vector<std::string> batch8 = tiny_run(out, 2, {"--resume"});
  for (std::size_t i = 0; i + 1 < batch8.size(); ++i)
    if (batch8[i] == "--batch") batch8[i + 1] = "8";
  expect_error(batch8, "was trained with batch 16");

  // A truncated checkpoint.
  write_file_atomically(last, before.substr(0, before.size() / 2));
  expect_error(tiny_run(out, 2, {"--resume"}), "--resume: cannot use");
  EXPECT_EQ(slurp(last).size(), before.size() / 2) << "the truncated checkpoint was replaced";
  EXPECT_EQ(slurp(out + "/metrics.json"), metrics);
}

TEST(TrainBadInput, DivergingLossStopsNamingTheStep) {
  const std::string out = test::temp_dir("bad") + "/run";
  const test::CommandResult r = test::run_genrenet(tiny_run(out, 2, {"--lr", "1e30"}));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("training stopped: the loss became"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("global step"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out + "/report.html"));
}

}  // namespace
}  // namespace gn
