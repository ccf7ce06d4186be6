#include "data/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace gn {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const long s = std::lround(seconds);
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  return buf;
}

int terminal_width(std::FILE* out) {
  winsize ws{};
  if (out && ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  if (const char* c = std::getenv("COLUMNS")) {
    const int n = std::atoi(c);
    if (n > 0) return n;
  }
  return 80;
}

std::string progress_line(const std::string& label, std::int64_t done, std::int64_t total, const std::string& rate,
                          const std::string& time, const std::string& extra, int width) {
  const std::size_t room = static_cast<std::size_t>(std::max(width - 1, 10));
  const std::string count = total > 0 ? std::to_string(done) + "/" + std::to_string(total) : std::to_string(done);
  // Everything but the bar and the extra text: "label [bar] count rate time".
  const std::string tail = " " + count + " " + rate + (time.empty() ? "" : " " + time);
  std::string line = label;
  if (total > 0) {
    // The bar takes what is left after the fixed parts and the extra text, between 10 and 40
    // cells; below 10 cells it goes (the count says the same).
    constexpr int kMin = 10, kMax = 40;
    const std::size_t fixed = label.size() + 3 + tail.size();  // " [" + "]"
    const std::size_t want_extra = extra.empty() ? 0 : extra.size() + 2;
    int cells = static_cast<int>(std::min<std::size_t>(kMax, room > fixed + want_extra ? room - fixed - want_extra : 0));
    if (cells < kMin && room >= fixed + kMin) cells = kMin;  // keep a short bar; cut the extra text instead
    if (cells >= kMin && room >= fixed + static_cast<std::size_t>(cells)) {
      const double frac = std::min(1.0, static_cast<double>(done) / static_cast<double>(total));
      const int fill = static_cast<int>(frac * cells);
      line += " [" + std::string(fill, '#') + std::string(cells - fill, '.') + "]";
    }
  }
  line += tail;
  // The extra text whole, or as many of its words as fit ("step 3/15 loss 2.3", not "... a").
  if (!extra.empty() && line.size() + 2 < room) {
    std::string fit = extra;
    if (line.size() + 2 + fit.size() > room) {
      fit.resize(room - line.size() - 2);
      const std::size_t space = fit.rfind(' ');
      if (space != std::string::npos && extra[fit.size()] != ' ') fit.resize(space);
    }
    if (!fit.empty()) line += "  " + fit;
  }
  if (line.size() > room) line.resize(room);
  return line;
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
  char buf[96];
  std::snprintf(buf, sizeof buf, "%.1f %s/s", r, unit_.c_str());
  std::string time;
  if (final) time = "in " + format_duration(elapsed_seconds());
  else if (total_ > 0 && r > 0) time = "ETA " + format_duration((total_ - done_) / r);
  // A log file has no width: its lines are written whole.
  const std::string line = progress_line(label_, done_, total_, buf, time, extra_,
                                         tty_ ? terminal_width(out_) : 100000);
  if (tty_) std::fprintf(out_, "\r\033[K%s%s", line.c_str(), final ? "\n" : "");
  else std::fprintf(out_, "%s\n", line.c_str());
  std::fflush(out_);
}

}  // namespace gn
