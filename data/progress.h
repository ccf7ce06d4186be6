// A terminal progress bar with rate and ETA, for every long loop (scanning, caching,
// training epochs). On a terminal it redraws one line; otherwise (logs, CI, pipes) it prints
// a plain line at most every few seconds and once at the end, so logs stay readable.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace gn {

class ProgressBar {
 public:
  // `total` items (0 when unknown); `unit` names them in the rate ("songs", "clips").
  ProgressBar(std::string label, std::int64_t total, std::string unit, std::FILE* out = stderr);
  ~ProgressBar();
  // Advances by `n` items; `extra` is shown after the rate (e.g. "loss 0.734 acc 0.61").
  void advance(std::int64_t n = 1, const std::string& extra = "");
  void set_extra(const std::string& extra) { extra_ = extra; }
  // Final line (called by the destructor if not called before).
  void finish(const std::string& extra = "");
  double elapsed_seconds() const;
  double rate() const;  // items per second so far

 private:
  void draw(bool final);
  std::string label_, unit_, extra_;
  std::int64_t total_, done_ = 0;
  std::FILE* out_;
  bool tty_, finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// "1:05" / "1:02:03" from seconds.
std::string format_duration(double seconds);

}  // namespace gn
