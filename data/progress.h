// A terminal progress bar with rate and ETA, for every long loop (scanning, caching,
// training epochs). On a terminal it redraws one line that fits the terminal's width (read at
// every redraw, so resizing works; as tqdm does): the bar shrinks first, then the extra text is
// cut, so a line never wraps and leaves copies behind. Otherwise (logs, CI, pipes) it prints a
// plain line at most every few seconds and once at the end, so logs stay readable.
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

// The line drawn for a state, at most `width` - 1 characters (the last column is left free:
// some terminals wrap when it is written). Exposed for tests.
std::string progress_line(const std::string& label, std::int64_t done, std::int64_t total, const std::string& rate,
                          const std::string& time, const std::string& extra, int width);

// Columns of the terminal behind `out` (TIOCGWINSZ), else $COLUMNS, else 80.
int terminal_width(std::FILE* out);

// "1:05" / "1:02:03" from seconds.
std::string format_duration(double seconds);

}  // namespace gn
