// Dynamic batching for `genrenet serve`: requests on many threads hand their decoded songs to
// one model thread, which runs every song waiting together (clips of several songs share the
// model's batches) and hands each request its own prediction. A lone request waits at most
// `max_wait` for company, so latency at one connection stays that of one song; under load
// the model never idles while uploads decode on the request threads.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <mutex>
#include <thread>

#include "serve/predictor.h"

namespace gn {

class PredictionBatcher {
 public:
  // `batch`: clips per model batch (and the clip count that ends the wait early). One model
  // call takes at most kMaxSongsPerCall songs (their clips are cut at once).
  static constexpr int kMaxSongsPerCall = 4;
  PredictionBatcher(Predictor& predictor, int batch = kInferenceBatch,
                    std::chrono::microseconds max_wait = std::chrono::milliseconds(2));
  ~PredictionBatcher();  // answers what is queued, then stops the model thread
  PredictionBatcher(const PredictionBatcher&) = delete;
  PredictionBatcher& operator=(const PredictionBatcher&) = delete;

  // Blocks until the song is predicted; throws what Predictor::predict throws.
  SongPrediction predict(Audio song);

  std::int64_t model_calls() const;  // how many predict() calls the model ran (for tests)

 private:
  struct Request {
    Audio song;
    std::int64_t clips = 0;
    std::promise<SongPrediction> done;
  };
  void run();

  Predictor& predictor_;
  const int batch_;
  const std::chrono::microseconds max_wait_;
  mutable std::mutex mutex_;
  std::condition_variable arrived_;
  std::deque<Request> queue_;
  bool stopping_ = false;
  std::int64_t model_calls_ = 0;
  std::thread thread_;  // last: starts after everything above exists
};

}  // namespace gn
