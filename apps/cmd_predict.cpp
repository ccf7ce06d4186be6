// `genrenet predict`: classify songs with a checkpoint (trained or imported).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "apps/args.h"
#include "apps/command.h"
#include "data/audio.h"
#include "engine/error.h"
#include "model/metrics.h"
#include "serve/prediction_json.h"
#include "serve/predictor.h"

namespace gn::app {
namespace {

constexpr const char* kUsage =
    "usage: genrenet predict [--model CKPT] [--device auto|cpu|cuda] [--json] [--top K] [--clips]\n"
    "                        [--batch N] FILE...\n"
    "  Classifies each audio file (WAV, AU, FLAC, OGG, MP3) with the checkpoint's clip scheme and\n"
    "  front-end. The song's genre is the argmax of the mean of its clips' probabilities.\n"
    "  --model CKPT   checkpoint from `genrenet train`/`demo` or `genrenet import-keras`\n"
    "                 (default: runs/demo/best.safetensors)\n"
    "  --json         one JSON object per song and line: file, genre, probabilities, clips\n"
    "  --top K        genres listed per song (default 3)\n"
    "  --clips        also print every clip's prediction\n"
    "  A file that cannot be read is reported and skipped; the exit status is then 1.\n";

std::string top_list(const std::vector<float>& p, const std::vector<std::string>& labels, int top) {
  std::vector<int> order(p.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return p[a] > p[b]; });
  std::string s;
  char buf[96];
  for (int i = 0; i < top && i < static_cast<int>(order.size()); ++i) {
    std::snprintf(buf, sizeof buf, "%s%s %.3f", i ? ", " : "", labels[order[i]].c_str(), p[order[i]]);
    s += buf;
  }
  return s;
}

int run_predict(const std::vector<std::string>& argv) {
  Args args("predict", argv, {"model", "device", "top", "batch"}, {"json", "clips", "help"});
  if (args.flag("help")) {
    std::cout << kUsage;
    return 0;
  }
  const std::string model = args.str("model", default_model_path());
  const int top = static_cast<int>(args.integer("top", 3, 1, 1000));
  const int batch = static_cast<int>(args.integer("batch", 32, 1, 4096));
  const bool json = args.flag("json"), clips = args.flag("clips");
  GN_REQUIRE(!args.positional().empty(), "no audio files given\n", kUsage);
  if (!args.has("model"))
    GN_REQUIRE(std::filesystem::exists(model), "no --model given and ", model,
               " does not exist: train one with `genrenet demo` / `genrenet train`, or import the reference "
               "model with `genrenet import-keras`");
  int ordinal = 0;
  const Device device = select_device(parse_device_request(args.str("device", "auto"), &ordinal), ordinal, &std::cerr);
  Predictor predictor(model, device);
  const auto& labels = predictor.labels();

  // Decode everything first; a bad file is reported and the others still predicted.
  std::vector<Audio> songs;
  int failed = 0;
  for (const std::string& path : args.positional()) {
    try {
      Audio a = decode_audio(path);
      GN_REQUIRE(predictor.clip_count(a) > 0, path, ": the song (", a.seconds(), " s) is shorter than one clip of ",
                 predictor.clip_scheme().str());
      songs.push_back(std::move(a));
    } catch (const Error& e) {
      ++failed;
      std::cerr << "genrenet predict: error: " << e.what() << "\n";
      if (json) std::cout << nlohmann::json{{"file", path}, {"error", e.what()}}.dump() << "\n";
    }
  }
  for (const SongPrediction& s : predictor.predict(songs, batch)) {
    if (json) {
      std::cout << prediction_json(s, labels).dump() << "\n";
      continue;
    }
    std::printf("%s: %s %.3f  (%zu clips; top: %s%s)\n", s.source.c_str(), labels[s.genre].c_str(),
                s.probabilities[s.genre], s.clip_probabilities.size(), top_list(s.probabilities, labels, top).c_str(),
                s.majority != s.genre ? ("; majority vote: " + labels[s.majority]).c_str() : "");
    if (clips)
      for (std::size_t c = 0; c < s.clip_probabilities.size(); ++c)
        std::printf("  clip %2zu  %6.2f-%6.2f s  %s\n", c + 1, s.clip_starts[c], s.clip_starts[c] + s.clip_seconds,
                    top_list(s.clip_probabilities[c], labels, top).c_str());
  }
  std::fflush(stdout);
  return failed ? 1 : 0;
}

}  // namespace
GN_COMMAND("predict", "classify songs with a trained or imported model", run_predict);
}  // namespace gn::app
