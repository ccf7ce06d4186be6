// What a training run tells and keeps, through the real binary: the classes and split sizes it
// found, the data sets it refuses (a genre too small to be scored, a stray folder), Ctrl-C's
// message and its resume command, the data-set fingerprint that --resume checks, and the
// records in the run folder (split lists, per-song test predictions, version / command line /
// date, shortest numbers in metrics.csv, best.safetensors without optimiser state).
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "engine/error.h"
#include "engine/safetensors.h"
#include "tests/support.h"
#include "tests/synth_support.h"
#include "model/checkpoint.h"
#include "data/synth.h"

namespace gn {
namespace {
namespace fs = std::filesystem;
using test::CommandResult;
using test::run_genrenet;

const std::string& data_dir() { return test::small_synth_data_set(); }

const std::string& cache_dir() {
  static const std::string dir = test::temp_dir("rec-cache");
  return dir;
}

std::vector<std::string> tiny_run(const std::string& data, const std::string& out, int epochs,
                                  std::vector<std::string> extra = {}) {
  std::vector<std::string> a = {"train", "--data", data, "--out", out, "--model", "tiny", "--clip-seconds", "1",
                                "--epochs", std::to_string(epochs), "--batch", "16", "--cache", cache_dir(),
                                "--device", "cpu", "--quiet"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

// A data set of links to the synthetic songs: `per_genre` of each genre, plus extra folders.
std::string linked_data_set(int per_genre, const std::vector<std::pair<std::string, int>>& extra = {}) {
  const std::string root = test::temp_dir("rec-linked") + "/data";
  for (const auto& genre : fs::directory_iterator(data_dir())) {
    const std::string name = genre.path().filename().string();
    fs::create_directories(root + "/" + name);
    for (int i = 0; i < per_genre; ++i) {
      char file[64];
      std::snprintf(file, sizeof file, "%s.%05d.wav", name.c_str(), i);
      fs::create_symlink(genre.path() / file, fs::path(root) / name / file);
    }
  }
  for (const auto& [folder, songs] : extra) {
    fs::create_directories(root + "/" + folder);
    for (int i = 0; i < songs; ++i) {
      char file[64];
      std::snprintf(file, sizeof file, "blues.%05d.wav", i);
      fs::create_symlink(fs::path(data_dir()) / "blues" / file, fs::path(root) / folder / file);
    }
  }
  return root;
}

// ---- data sets that cannot give a meaningful result --------------------------------------------

TEST(DataSet, ClassesWithTheirSongsAndTheSplitPerClassArePrinted) {
  const std::string out = test::temp_dir("rec-run") + "/run";
  const CommandResult r = run_genrenet(tiny_run(data_dir(), out, 1));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("10 genres, 100 songs: blues 10, classical 10,"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("songs per genre:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  blues           8       1       1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  total          80      10      10"), std::string::npos) << r.out;
  // 10 test songs: the warning says what one song weighs.
  EXPECT_NE(r.out.find("the test set has 10 songs: one song moves its accuracy by 10 points"), std::string::npos)
      << r.out;
  // The report puts the counts next to the accuracies.
  const std::string html = read_file(out + "/report.html");
  EXPECT_NE(html.find("Training accuracy over 240 clips of 80 songs; validation accuracy over 30 clips of 10 songs"),
            std::string::npos);
  EXPECT_NE(html.find("train acc (240 clips)"), std::string::npos);
  EXPECT_NE(html.find("of 10 songs"), std::string::npos);
}

TEST(DataSet, AFolderWithATypoIsRefusedUnlessAllowed) {
  const std::string data = linked_data_set(10, {{"bluse", 1}});
  const std::string out = test::temp_dir("rec-run") + "/run";
  const CommandResult r = run_genrenet(tiny_run(data, out, 1));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("genre 'bluse' has 1 song: the song split gives it no validation song and no test song "
                       "(it needs at least 5 songs); the other genres have about 10: is the folder name a typo?"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("--allow-small-data"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out)) << "a refused run made its folder";

  const CommandResult allowed = run_genrenet(tiny_run(data, out, 1, {"--allow-small-data"}));
  ASSERT_EQ(allowed.exit_code, 0) << allowed.err;
  EXPECT_NE(allowed.err.find("warning: genre 'bluse' has 1 song"), std::string::npos) << allowed.err;
  EXPECT_NE(allowed.out.find("11 genres, 101 songs"), std::string::npos) << allowed.out;
}

TEST(DataSet, OneSongPerGenreIsRefused) {
  const CommandResult r = run_genrenet(tiny_run(linked_data_set(1), test::temp_dir("rec-run") + "/run", 1));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("genre 'blues' has 1 song: the song split gives it no validation song and no test song"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("typo"), std::string::npos) << "every genre is small alike: no typo to suspect\n" << r.err;
}

// ---- Ctrl-C -------------------------------------------------------------------------------------

TEST(Interrupt, CtrlCSaysWhatWasKeptAndTheResumeCommandWorks) {
  const std::string root = test::temp_dir("rec-int");
  const std::string out = root + "/run", log = root + "/stdout", err = root + "/stderr";
  const std::vector<std::string> args = tiny_run(data_dir(), out, 1000);
  std::ofstream(log).flush();
  std::vector<std::string> argv = {GENRENET_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  test::ChildOptions options;
  options.out_path = log;
  options.err_path = err;
  options.timeout_seconds = 300;
  test::ChildProcess child(argv, options);
  // Interrupt once epoch 2 has finished (its summary line is written after its checkpoint).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (read_file(log).find("epoch 2/1000  loss") == std::string::npos && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  child.signal(SIGINT);
  child.wait();
  ASSERT_TRUE(WIFEXITED(child.raw_status())) << "Ctrl-C killed the process instead of ending the run with a message";
  EXPECT_EQ(WEXITSTATUS(child.raw_status()), 130);
  const std::string message = read_file(err);
  const int kept = nlohmann::json::parse(load_checkpoint(out + "/last.safetensors").training_json).at("epoch");
  EXPECT_GE(kept, 2);
  EXPECT_NE(message.find("interrupted during epoch " + std::to_string(kept + 1) + " of 1000; kept " + out +
                         "/last.safetensors (epoch " + std::to_string(kept) + ", the resume point)"),
            std::string::npos)
      << message;
  const std::size_t at = message.find("Continue with:\n  genrenet ");
  ASSERT_NE(at, std::string::npos) << message;
  // The printed command, with fewer epochs, continues the run.
  std::stringstream words(message.substr(at + 26, message.find('\n', at + 26) - at - 26));
  std::vector<std::string> resume;
  for (std::string w; words >> w;) resume.push_back(w);
  for (std::size_t i = 0; i + 1 < resume.size(); ++i)
    if (resume[i] == "--epochs") resume[i + 1] = std::to_string(kept + 1);
  resume.push_back("--quiet");
  const CommandResult r = run_genrenet(resume);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("resuming " + out + " after epoch " + std::to_string(kept)), std::string::npos) << r.out;
  EXPECT_EQ(nlohmann::json::parse(load_checkpoint(out + "/last.safetensors").training_json).at("epoch"), kept + 1);
}

// ---- what the run folder keeps ----------------------------------------------------------------

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> lines;
  std::stringstream ss(s);
  for (std::string l; std::getline(ss, l);)
    if (!l.empty()) lines.push_back(l);
  return lines;
}

TEST(Records, SplitListsTestPredictionsAndProvenance) {
  const std::string out = test::temp_dir("rec-run") + "/run";
  const CommandResult r = run_genrenet(tiny_run(data_dir(), out, 2));
  ASSERT_EQ(r.exit_code, 0) << r.err;

  // The split's song lists, in the format --split takes: training on them again gives the same sides.
  EXPECT_EQ(lines_of(read_file(out + "/split_train.txt")).size(), 80u);
  EXPECT_EQ(lines_of(read_file(out + "/split_val.txt")).size(), 10u);
  const std::vector<std::string> test_songs = lines_of(read_file(out + "/split_test.txt"));
  ASSERT_EQ(test_songs.size(), 10u);
  const std::string again = test::temp_dir("rec-run") + "/again";
  const CommandResult replay = run_genrenet(tiny_run(
      data_dir(), again, 1,
      {"--split", out + "/split_train.txt," + out + "/split_val.txt," + out + "/split_test.txt"}));
  ASSERT_EQ(replay.exit_code, 0) << replay.err;
  EXPECT_EQ(read_file(again + "/split_test.txt"), read_file(out + "/split_test.txt"));
  EXPECT_EQ(read_file(again + "/split_train.txt"), read_file(out + "/split_train.txt"));

  // One row per test song; its "correct" column adds up to the song accuracy of test_results.json.
  const std::vector<std::string> csv = lines_of(read_file(out + "/test_predictions.csv"));
  ASSERT_EQ(csv.size(), 11u);
  EXPECT_EQ(csv[0].rfind("file,genre,predicted,probability,correct,clips,blues,classical,", 0), 0u) << csv[0];
  int correct = 0;
  for (std::size_t i = 1; i < csv.size(); ++i) {
    std::vector<std::string> cells;
    std::stringstream ss(csv[i]);
    for (std::string c; std::getline(ss, c, ',');) cells.push_back(c);
    ASSERT_EQ(cells.size(), 16u) << csv[i];
    EXPECT_NE(std::find(test_songs.begin(), test_songs.end(), cells[0]), test_songs.end()) << cells[0];
    EXPECT_EQ(cells[1], cells[0].substr(0, cells[0].find('/')));
    EXPECT_EQ(cells[4], cells[1] == cells[2] ? "1" : "0");
    EXPECT_EQ(cells[5], "3");  // 2 s songs in 1 s clips, 50% overlap
    correct += cells[4] == "1";
  }
  const nlohmann::json results = nlohmann::json::parse(read_file(out + "/test_results.json"));
  EXPECT_DOUBLE_EQ(results.at("song_accuracy").get<double>(), correct / 10.0);

  // best.safetensors is the model alone; last.safetensors carries the optimiser for --resume.
  const Checkpoint best = load_checkpoint(out + "/best.safetensors"), last = load_checkpoint(out + "/last.safetensors");
  EXPECT_FALSE(best.has_optimizer_state());
  EXPECT_TRUE(last.has_optimizer_state());
  EXPECT_LT(fs::file_size(out + "/best.safetensors") * 2, fs::file_size(out + "/last.safetensors"));
  // Version, command line and date in the checkpoints and the report.
  const std::string version = run_genrenet({"version"}).out;
  for (const Checkpoint* c : {&best, &last}) {
    const nlohmann::json t = nlohmann::json::parse(c->training_json);
    EXPECT_NE(version.find(t.at("genrenet_version").get<std::string>()), std::string::npos) << version;
    EXPECT_EQ(t.at("command_line").get<std::string>().rfind("genrenet train --data " + data_dir() + " --out " + out, 0),
              0u)
        << t.dump();
    const std::string date = t.at("date");
    EXPECT_EQ(date.size(), 20u) << date;
    EXPECT_EQ(date[10], 'T');
    EXPECT_EQ(date.back(), 'Z');
  }
  const std::string html = read_file(out + "/report.html");
  EXPECT_NE(html.find("<th>command line</th><td>genrenet train --data"), std::string::npos);
  EXPECT_NE(html.find("<th>GenreNet version</th>"), std::string::npos);
  // metrics.csv: the learning rate as typed, not 0.0050000000000000001.
  const std::vector<std::string> metrics = lines_of(read_file(out + "/metrics.csv"));
  ASSERT_EQ(metrics.size(), 3u);
  EXPECT_NE(metrics[1].find(",0.005,"), std::string::npos) << metrics[1];
}

TEST(Records, ResumeRefusesAnotherDataSet) {
  const std::string out = test::temp_dir("rec-run") + "/run";
  ASSERT_EQ(run_genrenet(tiny_run(data_dir(), out, 1)).exit_code, 0);
  const std::string last = read_file(out + "/last.safetensors");
  // The same genres, one song fewer in each.
  const CommandResult other = run_genrenet(tiny_run(linked_data_set(9), out, 2, {"--resume"}));
  EXPECT_EQ(other.exit_code, 2);
  EXPECT_NE(other.err.find("was trained on another data set (100 songs in 10 genres, fingerprint "),
            std::string::npos)
      << other.err;
  EXPECT_NE(other.err.find("holds (90 songs in 10 genres"), std::string::npos) << other.err;
  EXPECT_EQ(read_file(out + "/last.safetensors"), last) << "the refused resume changed the run";
  // The same songs in another folder are the same data set.
  const CommandResult same = run_genrenet(tiny_run(linked_data_set(10), out, 2, {"--resume"}));
  ASSERT_EQ(same.exit_code, 0) << same.err;
  EXPECT_NE(same.out.find("resuming"), std::string::npos) << same.out;
}

}  // namespace
}  // namespace gn
