// `genrenet predict`: classify songs with a checkpoint (trained or imported).
#include <algorithm>
#include <condition_variable>
#include <deque>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "apps/args.h"
#include "apps/command.h"
#include "apps/inputs.h"
#include "data/audio.h"
#include "engine/error.h"
#include "model/metrics.h"
#include "serve/prediction_json.h"
#include "serve/predictor.h"
#include "serve/song_check.h"

namespace gn::app {
namespace {

constexpr const char* kUsage =
    "usage: genrenet predict [-m CKPT|RUN_DIR] [--device D] [--json] [--top K] [--clips] [--batch N]\n"
    "                        [--max-song-seconds S] FILE|FOLDER|- ...\n"
    "  Classifies each audio file (WAV, AU, AIFF, FLAC, OGG, Opus, MP3) with the checkpoint's clip\n"
    "  scheme and front-end. The song's genre is the argmax of the mean of its clips' probabilities.\n"
    "  A FOLDER is searched recursively for audio files (by extension); - reads one song from\n"
    "  standard input (e.g. `curl -s URL | genrenet predict -`).\n"
    "  -m, --model CKPT  checkpoint from `genrenet train`/`demo` or `genrenet import-keras`, or a run\n"
    "                    folder (its best.safetensors) (default: runs/demo/best.safetensors)\n"
    "  --device D        auto (default: a GPU when one answers, else the CPU), cpu, cuda or cuda:N\n"
    "  --json            one JSON object per song and line: file, genre, probability,\n"
    "                    majority_vote, probabilities (most probable first), clips (with --clips)\n"
    "  --top K           genres listed per song and clip (default 3; with --json: all unless given)\n"
    "  --clips           also give every clip's prediction\n"
    "  --batch N         clips per model batch (default 8; larger uses more memory, is not faster\n"
    "                    on the CPU)\n"
    "  --max-song-seconds S  longest song decoded (default 600; 0 lifts the limit); the file may\n"
    "                    also hold at most S seconds of 48 kHz x 4 channels of samples\n"
    "  -h, --help        this text\n"
    "  A silent song is refused; a song with a degenerate spectrum (DC, one tone) or only partly\n"
    "  decoded is classified with a warning beside its prediction (\"warnings\" in --json).\n"
    "  Results go to stdout, messages to stderr. A file that cannot be read, or is too short for the\n"
    "  model, is reported in its place and skipped; the exit status is then 1. Files are decoded while\n"
    "  the model runs and results are printed as they come, in the order given; memory does not grow\n"
    "  with the number of files.\n";

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

void print_prediction(const SongPrediction& s, const std::vector<std::string>& labels, bool json,
                      const PredictionJsonOptions& json_options, bool clips, int top) {
  if (json) {
    std::cout << prediction_json(s, labels, json_options).dump() << "\n";
    return;
  }
  char line[160];
  std::snprintf(line, sizeof line, "%s %.3f  (%zu clips; top: ", labels[s.genre].c_str(), s.probabilities[s.genre],
                s.clip_probabilities.size());
  std::cout << s.source << ": " << line << top_list(s.probabilities, labels, top)
            << (s.majority != s.genre ? "; majority vote: " + labels[s.majority] : std::string()) << ")\n";
  for (const std::string& w : s.warnings) std::cout << "  warning: " << w << "\n";
  if (clips)
    for (std::size_t c = 0; c < s.clip_probabilities.size(); ++c) {
      std::snprintf(line, sizeof line, "  clip %2zu  %6.2f-%6.2f s  ", c + 1, s.clip_starts[c],
                    s.clip_starts[c] + s.clip_seconds);
      std::cout << line << top_list(s.clip_probabilities[c], labels, top) << "\n";
    }
}

// Decoded songs (or a file's error) handed from the decoder thread to the model, in order;
// at most `capacity` waiting.
struct QueuedSong {
  std::string path;
  Audio audio;
  std::string error;  // non-empty: the file could not be used
};

class SongQueue {
 public:
  explicit SongQueue(std::size_t capacity) : capacity_(capacity) {}
  // Blocks while full; false when the consumer cancelled.
  bool push(QueuedSong song) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return cancelled_ || items_.size() < capacity_; });
    if (cancelled_) return false;
    items_.push_back(std::move(song));
    changed_.notify_all();
    return true;
  }
  // Blocks while empty and open; nullopt once closed and drained.
  std::optional<QueuedSong> pop() {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return closed_ || !items_.empty(); });
    if (items_.empty()) return std::nullopt;
    QueuedSong song = std::move(items_.front());
    items_.pop_front();
    changed_.notify_all();
    return song;
  }
  void close() { set(closed_); }
  void cancel() { set(cancelled_); }

 private:
  void set(bool& flag) {
    std::lock_guard<std::mutex> lock(mutex_);
    flag = true;
    changed_.notify_all();
  }
  std::size_t capacity_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<QueuedSong> items_;
  bool closed_ = false, cancelled_ = false;
};

// Songs decoded ahead of the model: enough to keep it busy while the next file decodes, few
// enough that memory does not grow with the number of files (a 30 s song is ~2.6 MB decoded).
constexpr std::size_t kSongsAhead = 4;

int run_predict(const std::vector<std::string>& argv) {
  Args args("predict", argv, {"model", "device", "top", "batch", "max-song-seconds"}, {"json", "clips", "help"});
  if (args.flag("help")) {
    std::cout << kUsage;
    return 0;
  }
  const int top = static_cast<int>(args.integer("top", 3, 1, 1000));
  const int batch = static_cast<int>(args.integer("batch", kInferenceBatch, 1, 4096));
  const bool json = args.flag("json"), clips = args.flag("clips");
  const double max_seconds = args.number("max-song-seconds", 600, 0, 1e9);
  const DecodeLimits limits = max_seconds > 0 ? DecodeLimits::for_seconds(max_seconds) : DecodeLimits{};
  GN_REQUIRE(!args.positional().empty(), "no audio files given\n", kUsage);
  if (!args.has("model"))
    GN_REQUIRE(std::filesystem::exists(default_model_path()), "no --model given and ", default_model_path(),
               " does not exist: train one with `genrenet demo` / `genrenet train`, or import the reference "
               "model with `genrenet import-keras`");
  const std::string model = resolve_model_path(args.str("model", default_model_path()));
  // Every argument is checked before a device is chosen or the model loaded.
  const AudioInputs inputs = list_audio_inputs(args.positional());
  int failed = static_cast<int>(inputs.errors.size());
  auto report_error = [&](const std::string& file, const std::string& message) {
    std::cerr << "genrenet predict: error: " << message << "\n";
    if (json) std::cout << nlohmann::ordered_json{{"file", file}, {"error", message}}.dump() << "\n";
  };
  for (const auto& problem : inputs.errors) report_error(problem.argument, problem.message);
  if (inputs.inputs.empty()) return 1;

  int ordinal = 0;
  const DeviceRequest request = parse_device_request(args.str("device", "auto"), &ordinal);
  const Device device = select_device(request, ordinal, &std::cerr);
  Predictor predictor(model, device);
  const auto& labels = predictor.labels();

  PredictionJsonOptions json_options;
  json_options.top = args.has("top") ? top : 0;
  json_options.clips = clips;

  // Streaming: a decoder thread reads the files in order (in parallel with the model) into a
  // short queue; this thread takes songs from it until their clips fill a few batches,
  // predicts them together (clips of consecutive songs share batches) and prints their results
  // (and any file's error) in the order given. Memory holds the queue and those few songs,
  // whatever the number of files.
  SongQueue queue(kSongsAhead);
  std::thread decoder([&] {
    for (const AudioInput& input : inputs.inputs) {
      QueuedSong item{input.name, {}, {}};
      try {
        item.audio = load_audio_input(input, limits);
        predictor.require_long_enough(item.audio);
        refuse_silence(item.audio);
      } catch (const std::exception& e) {  // gn::Error, or out of memory on a huge file
        item.error = e.what();
        item.audio = Audio{};
      }
      if (!queue.push(std::move(item))) return;  // the consumer stopped
    }
    queue.close();
  });
  struct StopDecoder {  // on any exit (an exception included) the decoder ends and is joined
    SongQueue& q;
    std::thread& t;
    ~StopDecoder() {
      q.cancel();
      t.join();
    }
  } stop{queue, decoder};

  std::vector<QueuedSong> pending;  // in file order; songs and errors
  std::int64_t pending_clips = 0;
  const auto flush = [&] {
    std::vector<Audio> songs;
    for (QueuedSong& q : pending)
      if (q.error.empty()) songs.push_back(std::move(q.audio));
    const std::vector<SongPrediction> predictions = predictor.predict(songs, batch);
    std::size_t next = 0;
    for (const QueuedSong& q : pending) {
      if (!q.error.empty()) {
        ++failed;
        std::cout << std::flush;  // keep stdout and stderr in file order on a terminal
        report_error(q.path, q.error);
        continue;
      }
      print_prediction(predictions.at(next++), labels, json, json_options, clips, top);
    }
    std::cout << std::flush;
    pending.clear();
    pending_clips = 0;
  };
  while (std::optional<QueuedSong> item = queue.pop()) {
    if (item->error.empty()) pending_clips += predictor.clip_count(item->audio);
    pending.push_back(std::move(*item));
    if (pending_clips >= 4 * batch) flush();  // a few songs: their clips share batches
  }
  flush();
  return failed ? 1 : 0;
}

}  // namespace
GN_COMMAND("predict", "classify songs with a trained or imported model", run_predict);
}  // namespace gn::app
