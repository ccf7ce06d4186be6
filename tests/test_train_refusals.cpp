// Training inputs that would give a meaningless run are refused (or stopped) with one clear
// message, through the real binary: a genre too small for the song split to reach validation
// and test, an empty validation side, a clip length of 0 or longer than every song, a learning
// rate that makes the run diverge, and a resume that silently changes the learning rate.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <algorithm>
#include <map>

#include "tests/support.h"
#include "data/audio.h"
#include "data/synth.h"

namespace gn::test {
namespace {

namespace fs = std::filesystem;

// A data set of synthetic 2 s songs: `songs[genre]` songs per genre.
std::string make_data(const std::string& root, const std::map<std::string, int>& songs) {
  const std::string dir = root + "/data";
  int g = 0;
  for (const auto& [genre, n] : songs) {
    fs::create_directories(dir + "/" + genre);
    for (int i = 0; i < n; ++i) {
      std::ofstream out(dir + "/" + genre + "/" + genre + "." + std::to_string(i) + ".wav", std::ios::binary);
      out << encode_wav16(synth_song(g, i, 1, 2.0, kSampleRate), kSampleRate);
    }
    ++g;
  }
  return dir;
}

CommandResult train(const std::string& data, const std::string& out, std::vector<std::string> extra) {
  std::vector<std::string> args = {"train", "--data", data, "--out", out, "--model", "tiny",
                                   "--batch", "8", "--cache", out + "-cache", "--quiet", "--device", "cpu"};
  if (std::find(extra.begin(), extra.end(), "--clip-seconds") == extra.end())
    args.insert(args.end(), {"--clip-seconds", "1"});
  if (std::find(extra.begin(), extra.end(), "--epochs") == extra.end()) args.insert(args.end(), {"--epochs", "1"});
  args.insert(args.end(), extra.begin(), extra.end());
  return run_genrenet(args, 300);
}

void expect_refused(const CommandResult& r, const std::string& message, const std::string& out) {
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_NE(r.err.find(message), std::string::npos) << "expected '" << message << "' in:\n" << r.err;
  EXPECT_FALSE(fs::exists(out + "/best.safetensors")) << "a best checkpoint from a meaningless run";
}

TEST(TrainRefusals, GenreWithOneSongIsRefused) {
  const std::string root = temp_dir("refuse-one");
  const std::string data = make_data(root, {{"blues", 6}, {"rock", 1}});
  expect_refused(train(data, root + "/run", {}),
                 "genre 'rock' has 1 song: the song split gives it no validation song and no test song", root + "/run");
}

TEST(TrainRefusals, TwoSongsPerGenreLeaveValidationEmpty) {
  const std::string root = temp_dir("refuse-two");
  const std::string data = make_data(root, {{"blues", 2}, {"rock", 2}});
  expect_refused(train(data, root + "/run", {}), "genre 'blues' has 2 songs: the song split gives it no validation",
                 root + "/run");
  // Allowing small genres still cannot make a best checkpoint out of an empty validation side.
  const CommandResult r = train(data, root + "/run-allowed", {"--allow-small-data"});
  expect_refused(r, "the validation side of the song-level stratified", root + "/run-allowed");
  EXPECT_NE(r.err.find("is empty, so there would be nothing to choose the best checkpoint by"), std::string::npos)
      << r.err;
}

TEST(TrainRefusals, ClipSecondsZeroOrLongerThanEverySong) {
  const std::string root = temp_dir("refuse-clip");
  const std::string data = make_data(root, {{"blues", 5}, {"rock", 5}});
  expect_refused(train(data, root + "/run0", {"--clip-seconds", "0"}), "--clip-seconds must be positive, got 0",
                 root + "/run0");
  // 2 s songs, 100 s clips: the message says why no song could be used, not "could be decoded".
  const CommandResult r = train(data, root + "/run100", {"--clip-seconds", "100"});
  expect_refused(r, "audio files could be used; the first: ", root + "/run100");
  EXPECT_NE(r.err.find("too short (2 s) for one clip of the fixed 100 s"), std::string::npos) << r.err;
}

TEST(TrainRefusals, HugeLearningRateIsReportedAsDivergence) {
  const std::string root = temp_dir("refuse-lr");
  const std::string data = make_data(root, {{"blues", 5}, {"rock", 5}});
  const CommandResult r = train(data, root + "/run", {"--lr", "1e9", "--epochs", "2"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("training diverged at global step "), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(root + "/run/report.html"));
  EXPECT_NE(r.err.find("try a smaller --lr"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("checkpoint to save"), std::string::npos) << r.err;
}

TEST(TrainRefusals, ResumeWithAnotherLearningRateNeedsAnExplicitFlag) {
  const std::string root = temp_dir("refuse-resume");
  const std::string data = make_data(root, {{"blues", 5}, {"rock", 5}});
  const std::string out = root + "/run";
  const CommandResult first = train(data, out, {"--lr", "0.001"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const CommandResult changed = train(data, out, {"--lr", "0.01", "--epochs", "2", "--resume"});
  EXPECT_NE(changed.exit_code, 0);
  EXPECT_NE(changed.err.find("was trained with --lr 0.001, this run asks for 0.01"), std::string::npos)
      << changed.err;
  EXPECT_NE(changed.err.find("--allow-lr-change"), std::string::npos) << changed.err;
  const CommandResult allowed = train(data, out, {"--lr", "0.01", "--epochs", "2", "--resume", "--allow-lr-change"});
  EXPECT_EQ(allowed.exit_code, 0) << allowed.err;
}

}  // namespace
}  // namespace gn::test
