// What a person sees in a terminal, through the real binary: under a pseudo-terminal of 80 and
// of 200 columns the progress bar redraws one line that fits (no wrapped copies left behind)
// and uses the room it has; with stdout / stderr redirected to files the same run writes plain
// lines without carriage returns; status goes to stderr and results to stdout in order.
#include <gtest/gtest.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/safetensors.h"
#include "tests/support.h"
#include "tests/synth_support.h"
#include "data/synth.h"

namespace gn {
namespace {

const std::string& data_dir() { return test::small_synth_data_set(); }

std::vector<std::string> train_args(const std::string& out) {
  return {"train", "--data", data_dir(), "--out", out, "--model", "tiny", "--clip-seconds", "1", "--epochs", "2",
          "--batch", "16", "--cache", test::temp_dir("term-cache"), "--device", "cpu"};
}

// Runs the binary on a pseudo-terminal of `cols` columns (stdout and stderr both on it) and
// returns everything it wrote, with its exit status.
std::string run_in_pty(const std::vector<std::string>& args, int cols, int* exit_code) {
  winsize ws{};
  ws.ws_row = 40;
  ws.ws_col = static_cast<unsigned short>(cols);
  int master = -1;
  const pid_t pid = forkpty(&master, nullptr, nullptr, &ws);
  if (pid < 0) throw Error("forkpty failed");
  if (pid == 0) {
    std::vector<std::string> copy = args;
    std::string binary = GENRENET_BINARY;
    std::vector<char*> argv = {binary.data()};
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    unsetenv("COLUMNS");  // the width must come from the terminal itself
    alarm(300);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = read(master, buf, sizeof buf);
    if (n > 0) out.append(buf, static_cast<std::size_t>(n));
    else if (n < 0 && errno == EINTR) continue;
    else break;  // EIO: the child closed its side
  }
  close(master);
  int status = 0;
  waitpid(pid, &status, 0);
  *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return out;
}

// What the terminal shows as separate lines: split at \r and \n, the erase-line code removed.
std::vector<std::string> screen_lines(std::string s) {
  for (std::size_t p; (p = s.find("\033[K")) != std::string::npos;) s.erase(p, 3);
  std::vector<std::string> lines;
  std::string cur;
  for (char c : s) {
    if (c == '\r' || c == '\n') {
      if (!cur.empty()) lines.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) lines.push_back(cur);
  return lines;
}

// Cells of the widest "[###...]" bar of a training step's redraw (the lines with the most text).
std::size_t widest_bar(const std::vector<std::string>& lines) {
  std::size_t widest = 0;
  for (const std::string& l : lines) {
    if (l.rfind("epoch ", 0) != 0 || l.find(" step ") == std::string::npos) continue;
    const std::size_t open = l.find(" ["), close = l.find(']', open == std::string::npos ? 0 : open);
    if (open != std::string::npos && close != std::string::npos) widest = std::max(widest, close - open - 2);
  }
  return widest;
}

TEST(Terminal, ProgressBarFitsEightyAndTwoHundredColumns) {
  std::size_t bars[2] = {0, 0};
  const int widths[2] = {80, 200};
  for (int w = 0; w < 2; ++w) {
    const int cols = widths[w];
    int code = -1;
    const std::string out = run_in_pty(train_args(test::temp_dir("term-run") + "/run"), cols, &code);
    ASSERT_EQ(code, 0) << out;
    const std::vector<std::string> lines = screen_lines(out);
    int redraws = 0;
    for (const std::string& l : lines) {
      if (l.rfind("epoch ", 0) == 0 && l.find('[') != std::string::npos) ++redraws;
      // Lines that print a path of this machine's temporary folder may be as long as the path.
      if (l.find(data_dir()) != std::string::npos || l.find("/run") != std::string::npos) continue;
      EXPECT_LT(l.size(), static_cast<std::size_t>(cols)) << cols << " columns: this line wraps:\n" << l;
    }
    EXPECT_GT(redraws, 0) << "no progress bar drawn on the terminal:\n" << out;
    bars[w] = widest_bar(lines);
    for (const std::string& l : lines)
      if (l.find(" step ") != std::string::npos) std::printf("%d columns: %s\n", cols, l.c_str());
  }
  EXPECT_GE(bars[0], 10u) << "the bar vanished at 80 columns";
  EXPECT_GT(bars[1], bars[0]) << "the bar does not use the room of 200 columns";
}

TEST(Terminal, PlainLinesWhenNotATerminal) {
  const test::CommandResult r = test::run_genrenet(train_args(test::temp_dir("term-run") + "/run"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find('\r'), std::string::npos) << "carriage returns in a log:\n" << r.err;
  EXPECT_EQ(r.err.find("\033["), std::string::npos) << "terminal codes in a log:\n" << r.err;
  // The final line of each epoch's bar, whole.
  EXPECT_NE(r.err.find("epoch 2/2 ["), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("epoch 2/2  loss"), std::string::npos) << r.out;
}

// `genrenet ARGS > file 2>&1`: both streams into one file, as a log of a run is usually made.
std::string run_into_one_file(const std::vector<std::string>& args, int* exit_code) {
  const std::string path = test::temp_dir("term-log") + "/log";
  std::vector<std::string> argv = {GENRENET_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  test::ChildOptions options;
  options.out_path = options.err_path = path;
  options.timeout_seconds = 300;
  test::ChildProcess child(argv, options);
  *exit_code = child.wait();
  return read_file(path);
}

TEST(Terminal, ResultsAndStatusKeepTheirOrderInOneLog) {
  int code = -1;
  const std::string log = run_into_one_file(train_args(test::temp_dir("term-run") + "/run"), &code);
  ASSERT_EQ(code, 0) << log;
  const std::size_t start = log.find("training on cpu"), bar = log.find("epoch 1/2 ["),
                    summary = log.find("epoch 1/2  loss"), bar2 = log.find("epoch 2/2 [");
  ASSERT_NE(start, std::string::npos) << log;
  ASSERT_NE(bar, std::string::npos) << log;
  EXPECT_LT(start, bar) << "the start lines (stdout) were held back behind the progress (stderr):\n" << log;
  EXPECT_LT(summary, bar2) << "epoch 1's summary landed after epoch 2's progress:\n" << log;
}

TEST(Terminal, OnePlainDeviceNoteOnStderrOnlyWhereTheDeviceIsChosen) {
  std::vector<std::string> args = train_args(test::temp_dir("term-run") + "/run");
  args.back() = "auto";  // --device auto
  const test::CommandResult r = test::run_genrenet(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  if (test::cuda_available()) GTEST_SKIP() << "a GPU answers: auto chose it and there is nothing to say";
  const std::string note = "no GPU found: using the CPU";
  const std::size_t at = r.err.find(note);
  EXPECT_NE(at, std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(note, at + 1), std::string::npos) << "said twice:\n" << r.err;
  EXPECT_EQ(r.out.find(note), std::string::npos) << "status on stdout:\n" << r.out;
  EXPECT_EQ(r.err.find("CUDA"), std::string::npos) << "the driver's details belong to `genrenet devices`:\n" << r.err;
  // A mistake in the input is said alone, before any device is chosen.
  for (const std::vector<std::string>& bad :
       {std::vector<std::string>{"train", "--data", "no-such-folder", "--out", test::temp_dir("term") + "/run"},
        std::vector<std::string>{"predict", "--model", "no-such-model.safetensors", "no-such-song.wav"}}) {
    const test::CommandResult e = test::run_genrenet(bad);
    EXPECT_NE(e.exit_code, 0);
    EXPECT_EQ(e.err.find("GPU"), std::string::npos) << e.err;
    EXPECT_EQ(std::count(e.err.begin(), e.err.end(), '\n'), 1) << "one message:\n" << e.err;
  }
}

}  // namespace
}  // namespace gn
