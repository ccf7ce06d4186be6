#include "data/progress.h"

#include <unistd.h>

#include <cmath>

namespace gn {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const long s = std::lround(seconds);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  return buf;
}

ProgressBar::ProgressBar(std::string label, std::int64_t total, std::string unit, std::FILE* out)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total), out_(out),
      tty_(out && isatty(fileno(out))), start_(std::chrono::steady_clock::now()), last_draw_(start_) {
  if (tty_) draw(false);
}

ProgressBar::~ProgressBar() {
  if (!finished_) finish();
}

double ProgressBar::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

double ProgressBar::rate() const {
  const double t = elapsed_seconds();
  return t > 0 ? done_ / t : 0.0;
}

void ProgressBar::advance(std::int64_t n, const std::string& extra) {
  done_ += n;
  if (!extra.empty()) extra_ = extra;
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_draw_).count();
  if ((tty_ && since >= 0.1) || (!tty_ && since >= 5.0)) {
    last_draw_ = now;
    draw(false);
  }
}

void ProgressBar::finish(const std::string& extra) {
  if (finished_) return;
  if (!extra.empty()) extra_ = extra;
  finished_ = true;
  draw(true);
}

void ProgressBar::draw(bool final) {
  if (!out_) return;
  const double r = rate();
  std::string line = label_ + " ";
  if (total_ > 0) {
    constexpr int kWidth = 24;
    const double frac = std::min(1.0, static_cast<double>(done_) / total_);
    const int fill = static_cast<int>(frac * kWidth);
    line += "[" + std::string(fill, '#') + std::string(kWidth - fill, '.') + "] ";
    line += std::to_string(done_) + "/" + std::to_string(total_);
  } else {
    line += std::to_string(done_);
  }
  char buf[96];
  std::snprintf(buf, sizeof buf, " %.1f %s/s", r, unit_.c_str());
  line += buf;
  if (final) line += " in " + format_duration(elapsed_seconds());
  else if (total_ > 0 && r > 0) line += " ETA " + format_duration((total_ - done_) / r);
  if (!extra_.empty()) line += "  " + extra_;
  if (tty_) std::fprintf(out_, "\r\033[K%s%s", line.c_str(), final ? "\n" : "");
  else std::fprintf(out_, "%s\n", line.c_str());
  std::fflush(out_);
}

}  // namespace gn
