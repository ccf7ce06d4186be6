#include "serve/prediction_batcher.h"

#include <exception>
#include <vector>

namespace gn {

PredictionBatcher::PredictionBatcher(Predictor& predictor, int batch, std::chrono::microseconds max_wait)
    : predictor_(predictor), batch_(batch), max_wait_(max_wait), thread_([this] { run(); }) {}

PredictionBatcher::~PredictionBatcher() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  arrived_.notify_all();
  thread_.join();
}

SongPrediction PredictionBatcher::predict(Audio song) {
  Request r;
  r.clips = predictor_.clip_count(song);
  r.song = std::move(song);
  std::future<SongPrediction> result = r.done.get_future();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back(std::move(r));
  }
  arrived_.notify_all();
  return result.get();
}

std::int64_t PredictionBatcher::model_calls() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return model_calls_;
}

void PredictionBatcher::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    arrived_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, nothing left to answer
    // Wait (briefly) until a batch's worth of clips is queued; songs that arrive while the
    // model runs are simply taken next time, so under load there is no waiting at all.
    const auto deadline = std::chrono::steady_clock::now() + max_wait_;
    const auto queued_clips = [&] {
      std::int64_t n = 0;
      for (const Request& r : queue_) n += r.clips;
      return n;
    };
    arrived_.wait_until(lock, deadline, [&] { return stopping_ || queued_clips() >= batch_; });
    std::vector<Request> taken;
    while (!queue_.empty() && static_cast<int>(taken.size()) < kMaxSongsPerCall) {
      taken.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    ++model_calls_;
    lock.unlock();
    std::vector<Audio> songs;
    for (Request& r : taken) songs.push_back(std::move(r.song));
    try {
      std::vector<SongPrediction> out = predictor_.predict(songs, batch_);
      for (std::size_t i = 0; i < taken.size(); ++i) taken[i].done.set_value(std::move(out[i]));
    } catch (...) {
      for (Request& r : taken) r.done.set_exception(std::current_exception());
    }
    lock.lock();
  }
}

}  // namespace gn
