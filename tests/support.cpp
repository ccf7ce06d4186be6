#include "tests/support.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <random>
#include <sstream>
#include <thread>

#include "engine/error.h"

namespace gn::test {
namespace fs = std::filesystem;

void DeviceTest::SetUp() {
  if (GetParam() == DeviceType::CUDA) {
    if (!cuda_available()) GTEST_SKIP() << "no CUDA device: " << cuda_unavailable_reason();
    ctx_ = std::make_unique<Context>(Device::cuda(0));
  } else {
    ctx_ = std::make_unique<Context>(Device::cpu());
  }
}

std::string device_param_name(const ::testing::TestParamInfo<DeviceType>& info) {
  return info.param == DeviceType::CPU ? "CPU" : "CUDA";
}

bool cuda_available() {
  static const bool available = probe_cuda().count > 0;
  return available;
}

std::string cuda_unavailable_reason() { return probe_cuda().reason; }

std::string source_dir() { return GENRENET_SOURCE_DIR; }

std::string fixture_path(const std::string& name) { return source_dir() + "/tests/fixtures/" + name; }

std::string shared_dir() {
  std::error_code ec;
  const std::string dir = GENRENET_SHARED_DIR;
  return fs::is_directory(dir + "/seed", ec) ? dir : "";
}

namespace {
std::vector<std::string>& temp_dirs() {
  static std::vector<std::string> dirs;
  static struct Cleaner {
    ~Cleaner() {
      std::error_code ec;
      for (const auto& d : temp_dirs()) fs::remove_all(d, ec);
    }
  } cleaner;
  return dirs;
}
}  // namespace

std::string temp_dir(const std::string& tag) {
  std::string pattern = (fs::temp_directory_path() / ("genrenet-" + tag + "-XXXXXX")).string();
  char* made = mkdtemp(pattern.data());
  if (!made) throw Error("cannot create a temporary folder for " + tag);
  temp_dirs().push_back(made);
  return made;
}

std::vector<float> random_values(std::int64_t n, std::uint32_t seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (auto& x : v) x = dist(rng);
  return v;
}

Tensor random_tensor(const Shape& shape, std::uint32_t seed, Device device, float lo, float hi) {
  return Tensor::from_vector(shape, random_values(shape.numel(), seed, lo, hi), device);
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  const auto va = a.to_vector(), vb = b.to_vector();
  if (va.size() != vb.size()) return INFINITY;
  double m = 0;
  for (std::size_t i = 0; i < va.size(); ++i) {
    const double d = std::fabs(static_cast<double>(va[i]) - vb[i]);
    if (std::isnan(d)) return INFINITY;
    m = std::max(m, d);
  }
  return m;
}

double normalized_error(const Tensor& a, const Tensor& b, double floor) {
  const auto vb = b.to_vector();
  double scale = floor;
  for (float x : vb) scale = std::max(scale, static_cast<double>(std::fabs(x)));
  return max_abs_diff(a, b) / scale;
}

void expect_close(const Tensor& actual, const Tensor& expected, double tol, const std::string& what) {
  ASSERT_EQ(actual.shape(), expected.shape()) << what << ": shape " << actual.shape().str() << " vs "
                                              << expected.shape().str();
  const double err = normalized_error(actual, expected);
  EXPECT_LE(err, tol) << what << ": normalised error " << err << " (max abs diff "
                      << max_abs_diff(actual, expected) << ") exceeds " << tol;
}

ChildProcess::ChildProcess(const std::vector<std::string>& argv, const ChildOptions& options) {
  if (argv.empty()) throw Error("ChildProcess: no program");
  std::vector<std::string> args = argv;
  std::vector<char*> raw;
  for (std::string& a : args) raw.push_back(a.data());
  raw.push_back(nullptr);
  const std::string out = options.out_path.empty() ? "/dev/null" : options.out_path;
  const std::string err = options.err_path.empty() ? "/dev/null" : options.err_path;
  pid_ = fork();
  if (pid_ < 0) throw Error("fork failed");
  if (pid_ == 0) {
    setpgid(0, 0);
    const int in_fd = open(options.in_path.empty() ? "/dev/null" : options.in_path.c_str(), O_RDONLY);
    const int out_fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    // The same path for both streams is `> file 2>&1`: one descriptor, one shared offset.
    const int err_fd = err == out ? out_fd : open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(in_fd, 0);
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    if (!options.working_dir.empty() && chdir(options.working_dir.c_str()) != 0) _exit(126);
    if (options.timeout_seconds > 0) alarm(static_cast<unsigned>(options.timeout_seconds));
    execv(raw[0], raw.data());
    _exit(127);
  }
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

void ChildProcess::signal(int sig) const {
  if (pid_ > 0) kill(pid_, sig);
}

namespace {
int exit_code_of(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }
}  // namespace

int ChildProcess::wait() {
  if (pid_ <= 0) return exit_code_of(raw_status_);
  rusage usage{};
  wait4(pid_, &raw_status_, 0, &usage);
  max_rss_kb_ = usage.ru_maxrss;
  pid_ = -1;
  return exit_code_of(raw_status_);
}

int ChildProcess::wait_for(double seconds) {
  if (pid_ <= 0) return exit_code_of(raw_status_);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (true) {
    rusage usage{};
    if (wait4(pid_, &raw_status_, WNOHANG, &usage) == pid_) {
      max_rss_kb_ = usage.ru_maxrss;
      pid_ = -1;
      return exit_code_of(raw_status_);
    }
    if (std::chrono::steady_clock::now() >= deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

int run_shell(const std::string& command) {
  ChildProcess sh({"/bin/sh", "-c", command});
  return sh.wait();
}

CommandResult run_genrenet(const std::vector<std::string>& args, int timeout_seconds,
                           const std::string& working_dir, const std::string& stdin_path) {
  const std::string dir = temp_dir("cmd");
  ChildOptions options;
  options.out_path = dir + "/stdout";
  options.err_path = dir + "/stderr";
  options.in_path = stdin_path;
  options.working_dir = working_dir;
  options.timeout_seconds = timeout_seconds;  // SIGALRM ends a hung child
  std::vector<std::string> argv = {GENRENET_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  ChildProcess child(argv, options);
  CommandResult r;
  r.exit_code = child.wait();
  r.max_rss_kb = child.max_rss_kb();
  auto slurp = [](const std::string& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  r.out = slurp(options.out_path);
  r.err = slurp(options.err_path);
  return r;
}

const std::string& reference_model() {
  static const std::string path = [] {
    const std::string out = temp_dir("reference_model") + "/ref.safetensors";
    const CommandResult r = run_genrenet({"import-keras", shared_dir() + "/seed/model.json",
                                          shared_dir() + "/seed/model_weights.h5", "-o", out});
    if (r.exit_code != 0) throw std::runtime_error("import-keras failed: " + r.err);
    return out;
  }();
  return path;
}

}  // namespace gn::test
