// `genrenet serve` as a child process on a free loopback port, and raw loopback connections,
// shared by the server tests. Every server process is bounded by alarm().
#pragma once

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/support.h"

namespace gn::test {

// The sanitizer run (Debug, -O0, ASan) predicts several times slower: waits scale with it.
#if defined(__SANITIZE_ADDRESS__)
constexpr int kSlowdown = 8;
#else
constexpr int kSlowdown = 1;
#endif

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// One `genrenet serve` child process.
class ServeProcess {
 public:
  ServeProcess(const std::string& model, std::vector<std::string> extra, int max_seconds = 240 * kSlowdown) {
    dir_ = temp_dir("serve_run");
    const std::string out = dir_ + "/stdout", err = dir_ + "/stderr";
    // The device is named: responses are compared with the CPU's `predict` bit for bit.
    std::vector<std::string> args = {GENRENET_BINARY, "serve", "--model", model, "--port", "0", "--device", "cpu"};
    args.insert(args.end(), extra.begin(), extra.end());
    const std::string cwd = work_dir();
    std::filesystem::create_directories(cwd);
    ChildOptions options;
    options.out_path = out;
    options.err_path = err;
    options.working_dir = cwd;  // its own empty folder: the test checks it stays empty
    options.timeout_seconds = max_seconds;  // a hung server ends whatever the test does
    process_ = std::make_unique<ChildProcess>(args, options);
    // Wait (bounded) for "listening on http://127.0.0.1:PORT/".
    const std::regex line("listening on http://127\\.0\\.0\\.1:([0-9]+)/");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60 * kSlowdown);
    while (std::chrono::steady_clock::now() < deadline) {
      std::smatch m;
      const std::string text = slurp(out);
      if (std::regex_search(text, m, line)) {
        port_ = std::stoi(m[1]);
        return;
      }
      if (process_->wait_for(0) != -1)
        throw std::runtime_error("genrenet serve exited before listening: " + slurp(err));
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    throw std::runtime_error("genrenet serve did not start within 60 s: " + slurp(err));
  }
  int port() const { return port_; }
  std::string work_dir() const { return dir_ + "/cwd"; }
  std::string stderr_text() const { return slurp(dir_ + "/stderr"); }
  std::string stdout_text() const { return slurp(dir_ + "/stdout"); }

  // SIGTERM, then the exit status (bounded wait; -1 if it did not exit in time).
  int terminate(int seconds = 30 * kSlowdown) {
    process_->signal(SIGTERM);
    return process_->wait_for(seconds);
  }

  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_connection_timeout(5);
    c.set_read_timeout(120 * kSlowdown);
    c.set_write_timeout(30);
    return c;
  }

 private:
  std::string dir_;
  std::unique_ptr<ChildProcess> process_;  // killed and reaped on destruction
  int port_ = 0;
};

// A raw loopback connection, for what httplib's client will not send (Expect: 100-continue, a
// Content-Length the body never reaches).
class RawConnection {
 public:
  // `from`: the local address to connect from (any of 127.0.0.0/8 is this machine), so tests
  // can act as several clients.
  explicit RawConnection(int port, int seconds = 30, const char* from = nullptr)
      : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    if (from) {
      sockaddr_in local{};
      local.sin_family = AF_INET;
      inet_pton(AF_INET, from, &local.sin_addr);
      ::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local);
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    timeval tv{seconds, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~RawConnection() { close(fd_); }
  bool connected() const { return connected_; }
  bool send_all(const std::string& data) {
    for (std::size_t done = 0; done < data.size();) {
      const ssize_t n = send(fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL);
      if (n <= 0) return false;
      done += static_cast<std::size_t>(n);
    }
    return true;
  }
  // Reads until `until` appears in what was read, the peer closes, or the timeout passes.
  std::string read_until(const std::string& until) {
    char buf[4096];
    while (received_.find(until) == std::string::npos) {
      const ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      received_.append(buf, static_cast<std::size_t>(n));
    }
    return received_;
  }

 private:
  int fd_;
  bool connected_ = false;
  std::string received_;
};

}  // namespace gn::test
