// Shared test helpers: device-typed fixtures (each CPU case has a CUDA twin that skips with a
// reason when no device answers), paths to fixtures and ../shared, error metrics, and running
// the genrenet binary as a user would.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <ostream>
#include <sys/types.h>
#include <string>
#include <vector>

#include "engine/context.h"
#include "engine/tensor.h"

namespace gn {
// Readable parameter names in test output ("CPU" / "CUDA" instead of raw bytes).
inline void PrintTo(DeviceType d, std::ostream* os) { *os << (d == DeviceType::CPU ? "CPU" : "CUDA"); }
}  // namespace gn

namespace gn::test {

// ---- devices -------------------------------------------------------------------------------
// TEST_P(MySuite, Case) { Context& ctx = this->ctx(); ... }   with
// class MySuite : public gn::test::DeviceTest {};  GN_INSTANTIATE_DEVICE_TEST(MySuite);
class DeviceTest : public ::testing::TestWithParam<DeviceType> {
 protected:
  void SetUp() override;
  Context& ctx() { return *ctx_; }
  Device device() const { return ctx_->device(); }
  std::unique_ptr<Context> ctx_;
};

std::string device_param_name(const ::testing::TestParamInfo<DeviceType>& info);

#define GN_INSTANTIATE_DEVICE_TEST(Suite)                                                          \
  INSTANTIATE_TEST_SUITE_P(Devices, Suite,                                                        \
                           ::testing::Values(::gn::DeviceType::CPU, ::gn::DeviceType::CUDA),      \
                           ::gn::test::device_param_name)

// True when a CUDA device answers (cached). Tests that need one call GTEST_SKIP otherwise.
bool cuda_available();
std::string cuda_unavailable_reason();

// ---- paths ---------------------------------------------------------------------------------
std::string source_dir();            // the repository
std::string fixture_path(const std::string& name);  // tests/fixtures/<name>
// ../shared, or "" when absent. Use GN_REQUIRE_SHARED() to skip with a message.
std::string shared_dir();
#define GN_REQUIRE_SHARED()                                                                         \
  do {                                                                                             \
    if (::gn::test::shared_dir().empty())                                                          \
      GTEST_SKIP() << "../shared is absent: this test needs the real songs / reference model";    \
  } while (0)
std::string temp_dir(const std::string& tag);  // a fresh empty folder, removed at exit

// ---- numbers -------------------------------------------------------------------------------
// Deterministic pseudo-random values in [lo, hi) (std::mt19937, host).
std::vector<float> random_values(std::int64_t n, std::uint32_t seed, float lo = -1.0f, float hi = 1.0f);
Tensor random_tensor(const Shape& shape, std::uint32_t seed, Device device = Device::cpu(),
                     float lo = -1.0f, float hi = 1.0f);
double max_abs_diff(const Tensor& a, const Tensor& b);
// max |a - b| / max(max |b|, floor): the normalised error bound of ggml's test-backend-ops.
double normalized_error(const Tensor& a, const Tensor& b, double floor = 1e-6);
// EXPECT that `actual` matches `expected` (same shape) within `tol` normalised error.
void expect_close(const Tensor& actual, const Tensor& expected, double tol, const std::string& what);

// ---- child processes -------------------------------------------------------------------------
// How a child starts: stdin is /dev/null; stdout / stderr go to the named files ("" = /dev/null);
// it runs in `working_dir` ("" = ours), in its own process group, and SIGALRM ends it after
// `timeout_seconds` (0 = never) whatever the test does.
struct ChildOptions {
  std::string out_path, err_path;
  std::string working_dir;
  int timeout_seconds = 0;
};

// One child process: fork + exec of argv (argv[0] is the program's path). Everything the child
// needs is prepared before fork (no allocation between fork and exec). The destructor kills
// (SIGKILL) and reaps a child still running, so a failing test leaves no process behind.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, const ChildOptions& options = {});
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }
  void signal(int sig) const;  // no-op once reaped
  // Waits for the exit and returns the status: the exit code, or 128 + signal.
  int wait();
  // The same, bounded: -1 when it is still running after `seconds` (> 0), else the status.
  // `seconds` 0 only polls.
  int wait_for(double seconds);
  // The raw wait status of the last reaped exit (WIFSIGNALED etc.).
  int raw_status() const { return raw_status_; }

 private:
  pid_t pid_ = -1;
  int raw_status_ = 0;
};

// Runs `sh -c command` (a shell line: pipes, environment assignments, redirections) to the end.
int run_shell(const std::string& command);

// ---- the command line ------------------------------------------------------------------------
struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};
// Runs `genrenet <args>` (the real binary) with a timeout; stdin is /dev/null.
CommandResult run_genrenet(const std::vector<std::string>& args, int timeout_seconds = 600,
                           const std::string& working_dir = "");

}  // namespace gn::test
