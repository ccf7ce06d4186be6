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
    "  --batch N      clips per model batch (default 8; larger uses more memory, is not faster on the CPU)\n"
    "  A file that cannot be read, or is too short for the model, is reported in its place and\n"
    "  skipped; the exit status is then 1. Files are decoded while the model runs and results\n"
    "  are printed as they come, in the order given; memory does not grow with the number of files.\n";

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

void print_prediction(const SongPrediction& s, const std::vector<std::string>& labels, bool json, bool clips,
                      int top) {
  if (json) {
    std::cout << prediction_json(s, labels).dump() << "\n";
    return;
  }
  char line[160];
  std::snprintf(line, sizeof line, "%s %.3f  (%zu clips; top: ", labels[s.genre].c_str(), s.probabilities[s.genre],
                s.clip_probabilities.size());
  std::cout << s.source << ": " << line << top_list(s.probabilities, labels, top)
            << (s.majority != s.genre ? "; majority vote: " + labels[s.majority] : std::string()) << ")\n";
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
  Args args("predict", argv, {"model", "device", "top", "batch"}, {"json", "clips", "help"});
  if (args.flag("help")) {
    std::cout << kUsage;
    return 0;
  }
  const std::string model = args.str("model", default_model_path());
  const int top = static_cast<int>(args.integer("top", 3, 1, 1000));
  const int batch = static_cast<int>(args.integer("batch", kInferenceBatch, 1, 4096));
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

  // Streaming: a decoder thread reads the files in order (in parallel with the model) into a
  // short queue; this thread takes songs from it until their clips fill a few batches,
  // predicts them together (clips of consecutive songs share batches) and prints their results
  // (and any file's error) in the order given. Memory holds the queue and those few songs,
  // whatever the number of files.
  SongQueue queue(kSongsAhead);
  std::thread decoder([&] {
    for (const std::string& path : args.positional()) {
      QueuedSong item{path, {}, {}};
      try {
        item.audio = decode_audio(path);
        predictor.require_long_enough(item.audio);
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

  int failed = 0;
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
        std::cerr << "genrenet predict: error: " << q.error << "\n";
        if (json) std::cout << nlohmann::json{{"file", q.path}, {"error", q.error}}.dump() << "\n";
        continue;
      }
      print_prediction(predictions.at(next++), labels, json, clips, top);
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
