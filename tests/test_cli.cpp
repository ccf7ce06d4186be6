// The command line as people use it, through the real binary: what predict accepts (folders,
// standard input, a run folder as --model), --json's options and key order, option errors
// with suggestions, --version and the short flags, the file-kind messages, the cache command.
// A tiny model trained once per test binary (seconds) stands in for a real one.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/safetensors.h"
#include "tests/support.h"
#include "tests/synth_support.h"
#include "data/synth.h"

namespace gn {
namespace {
namespace fs = std::filesystem;
using test::CommandResult;
using test::run_genrenet;

const std::string& data_dir() { return test::small_synth_data_set(); }

const std::string& cache_dir() {
  static const std::string dir = test::temp_dir("cli-cache");
  return dir;
}

// A run folder of the tiny model after one epoch.
const std::string& run_dir() {
  static const std::string dir = [] {
    const std::string d = test::temp_dir("cli-run") + "/run";
    const CommandResult r =
        run_genrenet({"train", "--data", data_dir(), "--out", d, "--model", "tiny", "--clip-seconds", "1", "--epochs",
                      "1", "--batch", "16", "--cache", cache_dir(), "--device", "cpu", "--quiet"});
    if (r.exit_code != 0) throw Error("training the test model failed: " + r.err);
    return d;
  }();
  return dir;
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> lines;
  std::stringstream ss(s);
  for (std::string l; std::getline(ss, l);)
    if (!l.empty()) lines.push_back(l);
  return lines;
}

// ---- predict's inputs -------------------------------------------------------------------------

TEST(PredictInputs, FoldersRecursivelyStdinAndARunFolderAsModel) {
  const std::string root = test::temp_dir("cli-songs");
  fs::create_directories(root + "/album/disc2/.hidden");
  fs::copy_file(data_dir() + "/rock/rock.00001.wav", root + "/album/one.wav");
  fs::copy_file(data_dir() + "/jazz/jazz.00002.wav", root + "/album/disc2/two.wav");
  fs::copy_file(data_dir() + "/jazz/jazz.00003.wav", root + "/album/disc2/.hidden/skipped.wav");
  std::ofstream(root + "/album/cover.txt") << "not a song";

  // --model RUN_DIR takes its best checkpoint; the folder gives its two audio files, sorted.
  const CommandResult r = run_genrenet({"predict", "-m", run_dir(), root + "/album", "--device", "cpu"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<std::string> lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  EXPECT_EQ(lines[0].rfind(root + "/album/disc2/two.wav: ", 0), 0u) << r.out;
  EXPECT_EQ(lines[1].rfind(root + "/album/one.wav: ", 0), 0u) << r.out;

  // "-" reads the song from standard input: the same numbers as the file.
  const CommandResult file = run_genrenet({"predict", "--model", run_dir(), "--json", root + "/album/one.wav"});
  const CommandResult piped = run_genrenet({"predict", "--model", run_dir(), "--json", "-"}, 600, "",
                                           root + "/album/one.wav");
  ASSERT_EQ(piped.exit_code, 0) << piped.err;
  nlohmann::json a = nlohmann::json::parse(file.out), b = nlohmann::json::parse(piped.out);
  EXPECT_EQ(b.at("file"), "-");
  a.erase("file");
  b.erase("file");
  EXPECT_EQ(a, b);
}

TEST(PredictInputs, WhatCannotBeReadIsSaidOnceAndTheRestPredicted) {
  const std::string root = test::temp_dir("cli-songs");
  fs::create_directories(root + "/empty");
  std::ofstream(root + "/empty/readme.txt") << "x";
  const CommandResult r = run_genrenet({"predict", "--model", run_dir(), root + "/no-such.wav", root + "/empty",
                                        data_dir() + "/blues/blues.00000.wav", "-", "-"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no-such.wav: no such file or folder"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("the folder holds no audio files"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("standard input can be read only once"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("standard input was empty"), std::string::npos) << r.err;  // /dev/null
  EXPECT_EQ(lines_of(r.out).size(), 1u) << "the readable song was not predicted:\n" << r.out;

  const CommandResult no_run = run_genrenet({"predict", "--model", root + "/empty", data_dir() + "/blues"});
  EXPECT_EQ(no_run.exit_code, 2);
  EXPECT_NE(no_run.err.find("is a folder without best.safetensors"), std::string::npos) << no_run.err;
}

TEST(PredictJson, HonoursTopAndClipsWithTheAnswerFirst) {
  const std::string song = data_dir() + "/disco/disco.00004.wav";
  const CommandResult plain = run_genrenet({"predict", "--model", run_dir(), "--json", song});
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(plain.out.rfind("{\"file\":", 0), 0u) << plain.out;
  const std::size_t file = plain.out.find("\"file\""), genre = plain.out.find("\"genre\""),
                    probability = plain.out.find("\"probability\""), all = plain.out.find("\"probabilities\"");
  EXPECT_LT(file, genre);
  EXPECT_LT(genre, probability);
  EXPECT_LT(probability, all);
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(plain.out);
  EXPECT_EQ(j.at("probabilities").size(), 10u) << "without --top every genre is listed";
  EXPECT_FALSE(j.contains("clips")) << "clips without --clips";
  // Most probable first, and the first is the answer.
  float previous = 2.0f;
  for (const auto& [label, p] : j.at("probabilities").items()) {
    EXPECT_LE(p.get<float>(), previous) << label;
    previous = p.get<float>();
  }
  EXPECT_EQ(j.at("probabilities").begin().key(), j.at("genre").get<std::string>());

  const CommandResult top = run_genrenet({"predict", "--model", run_dir(), "--json", "--top", "2", "--clips", song});
  ASSERT_EQ(top.exit_code, 0) << top.err;
  j = nlohmann::ordered_json::parse(top.out);
  EXPECT_EQ(j.at("probabilities").size(), 2u);
  ASSERT_TRUE(j.contains("clips"));
  ASSERT_EQ(j.at("clips").size(), 3u);  // 2 s in 1 s clips with 50% overlap
  for (const auto& c : j.at("clips")) EXPECT_EQ(c.at("probabilities").size(), 2u);
}

// ---- files of the wrong kind ------------------------------------------------------------------

std::string write_bytes(const std::string& dir, const std::string& name, const std::string& bytes) {
  const std::string path = dir + "/" + name;
  write_file_atomically(path, bytes);
  return path;
}

TEST(FileKinds, AModelOfTheWrongKindIsNamedWithTheCommandThatTakesIt) {
  const std::string dir = test::temp_dir("cli-kinds");
  std::string junk(3000, 'x');
  const std::string h5 = write_bytes(dir, "model_weights.h5", std::string("\x89HDF\r\n\x1a\n", 8) + junk);
  const std::string keras_json = write_bytes(
      dir, "model.json", R"({"class_name": "Model", "config": {"layers": []}, "keras_version": "2.2.4"})");
  const std::string torch = write_bytes(dir, "model.pt", std::string("PK\x03\x04", 4) + "xxxxxxxxxxxxxxxxxxxxxxxxxx" +
                                                             "archive/data.pkl" + junk);
  const std::string pickle = write_bytes(dir, "old.pt", std::string("\x80\x02}q\x00", 5) + junk);
  const std::string song = data_dir() + "/rock/rock.00000.wav";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {h5, "is an HDF5 file (Keras weights, such as the reference's model_weights.h5), not a GenreNet checkpoint: "
           "convert the reference Keras model with `genrenet import-keras"},
      {keras_json, "is a Keras model architecture (JSON, such as the reference's model.json), not a GenreNet "
                   "checkpoint: convert"},
      {torch, "is a PyTorch file (torch.save), not a GenreNet checkpoint: GenreNet reads its own .safetensors"},
      {pickle, "is a Python pickle (an older torch.save file?), not a GenreNet checkpoint"},
      {song, "is an audio file, not a GenreNet checkpoint: songs are the arguments"},
  };
  for (const auto& [model, message] : cases) {
    const CommandResult r = run_genrenet({"predict", "-m", model, song});
    EXPECT_EQ(r.exit_code, 2) << model;
    EXPECT_EQ(r.err.rfind("genrenet predict: error: " + model + " " + message, 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  // import-keras with its two files swapped, and with a checkpoint for the architecture.
  const CommandResult swapped = run_genrenet({"import-keras", h5, keras_json, "-o", dir + "/out.safetensors"});
  EXPECT_EQ(swapped.exit_code, 2);
  EXPECT_NE(swapped.err.find("the two files are swapped: " + h5 + " is the HDF5 weights and " + keras_json +
                             " the model architecture"),
            std::string::npos)
      << swapped.err;
  const CommandResult checkpoint =
      run_genrenet({"import-keras", run_dir() + "/best.safetensors", h5, "--out", dir + "/out.safetensors"});
  EXPECT_NE(checkpoint.err.find("is a safetensors file, not a Keras model architecture (model.json) (it looks like a "
                                "GenreNet checkpoint already"),
            std::string::npos)
      << checkpoint.err;
  EXPECT_FALSE(fs::exists(dir + "/out.safetensors"));
  // A song argument that is no audio says what it is, once.
  const CommandResult not_audio = run_genrenet({"predict", "--device", "cpu", "-m", run_dir(), keras_json});
  EXPECT_EQ(not_audio.exit_code, 1);
  EXPECT_EQ(not_audio.err, "genrenet predict: error: " + keras_json +
                               ": not an audio file GenreNet can read (WAV, AU, AIFF, FLAC, Ogg Vorbis/Opus or MP3): "
                               "it is a Keras model architecture (JSON, such as the reference's model.json)\n");
}

TEST(FileKinds, ADamagedMp3IsOneMessageWithoutTheDecodersNotes) {
  std::string mp3 = "\xff\xfb\x90\x00";
  for (int i = 0; i < 20000; ++i) mp3 += static_cast<char>((i * 2654435761u) >> 13);
  const std::string path = write_bytes(test::temp_dir("cli-mp3"), "broken.mp3", mp3);
  const CommandResult r = run_genrenet({"predict", "--device", "cpu", "-m", run_dir(), path});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "genrenet predict: error: " + path +
                       ": not an audio file GenreNet can read (WAV, AU, AIFF, FLAC, Ogg Vorbis/Opus or MP3): the file "
                       "looks like audio but its data is damaged or in an unsupported encoding\n");
}

// ---- the spectrogram cache ---------------------------------------------------------------------

TEST(Cache, ShowsItsSizeAndClears) {
  run_dir();  // training filled cache_dir()
  std::uintmax_t bytes = 0, files = 0;
  for (const auto& e : fs::directory_iterator(cache_dir()))
    if (e.path().extension() == ".gnspec") {
      bytes += e.file_size();
      ++files;
    }
  ASSERT_EQ(files, 100u);  // one per song
  std::ofstream(cache_dir() + "/notes.txt") << "not the cache's";
  const CommandResult shown = run_genrenet({"cache", "--cache", cache_dir()});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  char size[32];
  std::snprintf(size, sizeof size, "%.1f", static_cast<double>(bytes) / (bytes >= 1000000 ? 1e6 : 1e3));
  EXPECT_NE(shown.out.find(": 100 files, " + std::string(size) + (bytes >= 1000000 ? " MB" : " KB")),
            std::string::npos)
      << shown.out << " (" << bytes << " bytes)";
  const CommandResult cleared = run_genrenet({"cache", "--clear", "--cache", cache_dir()});
  ASSERT_EQ(cleared.exit_code, 0) << cleared.err;
  EXPECT_NE(cleared.out.find("deleted 100 files"), std::string::npos) << cleared.out;
  EXPECT_TRUE(fs::exists(cache_dir() + "/notes.txt")) << "a file that is not the cache's was deleted";
  EXPECT_NE(run_genrenet({"cache", "--cache", cache_dir()}).out.find(": 0 files, 0 bytes"), std::string::npos);
  // Predicting from the run still works (the cache is only for training).
  EXPECT_EQ(run_genrenet({"predict", "-m", run_dir(), data_dir() + "/pop/pop.00001.wav"}).exit_code, 0);
}

// ---- options ----------------------------------------------------------------------------------

std::vector<std::string> command_names() {
  const CommandResult help = run_genrenet({"help"});
  std::vector<std::string> names;
  bool in_list = false;
  for (const std::string& l : lines_of(help.out)) {
    if (l == "commands:") {
      in_list = true;
    } else if (in_list && l.rfind("  ", 0) == 0) {
      names.push_back(l.substr(2, l.find(' ', 2) - 2));
    } else {
      in_list = false;
    }
  }
  return names;
}

TEST(Options, ErrorsNameTheCommandOnceAndSuggestTheNearest) {
  const CommandResult r = run_genrenet({"train", "--data", data_dir(), "--epoch", "3"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "genrenet train: error: unknown option '--epoch' (did you mean --epochs?); see `genrenet train "
                   "--help`\n");
  const CommandResult typo = run_genrenet({"predict", "--modle", "x", "song.wav"});
  EXPECT_NE(typo.err.find("did you mean --model?"), std::string::npos) << typo.err;
  const CommandResult far = run_genrenet({"predict", "--colour", "red", "song.wav"});
  EXPECT_EQ(far.err.find("did you mean"), std::string::npos) << "a guess from nowhere: " << far.err;
  const CommandResult command = run_genrenet({"trian"});
  EXPECT_EQ(command.exit_code, 2);
  EXPECT_NE(command.err.find("unknown command 'trian' (did you mean 'train'?)"), std::string::npos)
      << command.err;
  for (const std::string& name : command_names()) {
    const CommandResult e = run_genrenet({name, "--no-such-option"});
    EXPECT_EQ(e.exit_code, 2) << name;
    const std::string prefix = "genrenet " + name + ": ";
    EXPECT_EQ(e.err.rfind(prefix, 0), 0u) << e.err;
    EXPECT_EQ(e.err.find(prefix, 1), std::string::npos) << "the command named twice: " << e.err;
  }
}

TEST(Options, VersionAndShortFlags) {
  const CommandResult v = run_genrenet({"--version"});
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_EQ(v.out.rfind("genrenet ", 0), 0u) << v.out;
  EXPECT_EQ(v.out, run_genrenet({"version"}).out);
  for (const std::string& name : command_names()) {
    const CommandResult h = run_genrenet({name, "-h"});
    EXPECT_EQ(h.exit_code, 0) << name << ": " << h.err;
    EXPECT_EQ(h.out, run_genrenet({name, "--help"}).out) << name;
  }
  // -o and -q: synth writes where -o says, without a progress bar.
  const std::string out = test::temp_dir("cli-synth") + "/songs";
  const CommandResult synth = run_genrenet({"synth", "-o", out, "--songs-per-genre", "1", "--seconds", "1", "-q"});
  ASSERT_EQ(synth.exit_code, 0) << synth.err;
  EXPECT_TRUE(fs::exists(out + "/blues/blues.00000.wav"));
  EXPECT_EQ(synth.err, "");
}

// Every option a usage text names is described on a line of its own.
TEST(Options, EveryOptionInAUsageIsDescribed) {
  for (const std::string& name : command_names()) {
    const std::string help = run_genrenet({name, "--help"}).out;
    const std::vector<std::string> lines = lines_of(help);
    for (std::size_t at = 0; (at = help.find("--", at)) != std::string::npos; at += 2) {
      std::size_t end = at + 2;
      while (end < help.size() && (std::isalnum(static_cast<unsigned char>(help[end])) || help[end] == '-')) ++end;
      const std::string flag = help.substr(at, end - at);
      if (flag == "--" || flag == "--help" && name == "help") continue;
      bool described = false;
      for (const std::string& l : lines) {
        const std::size_t first = l.find_first_not_of(' ');
        if (first < 2 || l.rfind("usage:", 0) == 0) continue;
        const std::string body = l.substr(first);
        if (body.rfind(flag + " ", 0) == 0 || body == flag || (body.size() > 4 && body[0] == '-' && body[2] == ',' &&
                                                                (body.substr(4).rfind(flag + " ", 0) == 0 ||
                                                                 body.substr(4) == flag)))
          described = true;
      }
      EXPECT_TRUE(described) << "genrenet " << name << " --help names " << flag << " without describing it:\n"
                             << help;
    }
  }
}

}  // namespace
}  // namespace gn
