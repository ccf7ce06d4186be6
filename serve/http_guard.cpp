#include "serve/http_guard.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>
#include <thread>

namespace gn {
namespace {

// An IPv4 / IPv6 address as text and its port ("" and -1 for another family).
void address_text(const sockaddr_storage& addr, std::string& ip, int& port) {
  char text[INET6_ADDRSTRLEN] = {0};
  if (addr.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &a->sin_addr, text, sizeof text);
    port = ntohs(a->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text);
    port = ntohs(a->sin6_port);
  }
  ip = text;
}

using Clock = std::chrono::steady_clock;
constexpr std::size_t kMaxHead = 16 << 10;  // request line + headers

Clock::time_point after(double seconds) {
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

// Waits until `sock` is ready for `events`, the deadline passes or `abandon()` says so
// (checked every 100 ms). True when ready.
bool wait_socket(int sock, short events, Clock::time_point deadline, const std::function<bool()>& abandon) {
  for (;;) {
    if (abandon && abandon()) return false;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{sock, events, 0};
    const int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 100)));
    if (r > 0) return true;
    if (r < 0 && errno != EINTR) return false;
  }
}

bool send_all(int sock, const char* data, std::size_t size, Clock::time_point deadline,
              const std::function<bool()>& abandon) {
  std::size_t done = 0;
  while (done < size) {
    if (!wait_socket(sock, POLLOUT, deadline, abandon)) return false;
    const ssize_t n = ::send(sock, data + done, size - done, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

const char* reason(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return "Error";
  }
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t')) --e;
  return std::string(s.substr(b, e - b));
}

// Printable ASCII only, for log lines and messages echoing the client.
std::string printable(std::string_view s, std::size_t max = 100) {
  std::string out;
  for (unsigned char c : s) {
    if (out.size() >= max) return out + "...";
    out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
  }
  return out;
}

// The end of the head in `buf` (one past its blank line), or npos. Lines may end in CRLF or LF.
std::size_t head_end(const std::string& buf, std::size_t from) {
  for (std::size_t i = from; i < buf.size(); ++i) {
    if (buf[i] != '\n') continue;
    if (i + 1 < buf.size() && buf[i + 1] == '\n') return i + 2;
    if (i + 2 < buf.size() && buf[i + 1] == '\r' && buf[i + 2] == '\n') return i + 3;
  }
  return std::string::npos;
}

thread_local GuardedHttpServer::Connection* t_connection = nullptr;
// Set while a connection is handled on the accepting thread (every connection thread is busy):
// it is refused without reading, so accepting never waits on a client.
thread_local bool t_refuse_inline = false;

}  // namespace

struct GuardedHttpServer::Connection {
  int sock;
  std::string peer;
  int peer_port = 0;
  GuardedHttpServer* server;
  Clock::time_point request_deadline;
};

HeadVerdict check_request_head(std::string_view head, std::int64_t max_body_bytes) {
  HeadVerdict v;
  auto refuse = [&v](int status, std::string message) {
    v.status = status;
    v.message = std::move(message);
    return v;
  };
  for (std::size_t i = 0; i < head.size(); ++i) {
    if (head[i] == '\0') return refuse(400, "NUL byte in the request head");
    // A CR that does not end a line is read as a line break by some parsers and not by others.
    if (head[i] == '\r' && (i + 1 >= head.size() || head[i + 1] != '\n'))
      return refuse(400, "bare CR in the request head");
  }
  int content_lengths = 0, transfer_encodings = 0;
  std::string content_length, transfer_encoding;
  bool first = true;
  for (std::size_t pos = 0; pos < head.size();) {
    std::size_t nl = head.find('\n', pos);
    if (nl == std::string_view::npos) nl = head.size();
    std::string_view line = head.substr(pos, nl - pos);
    pos = nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (first) {
      if (line.empty()) continue;  // a stray blank line before the request line is tolerated
      first = false;
      const std::size_t a = line.find(' '), b = line.rfind(' ');
      if (a == std::string_view::npos || a == b) return refuse(400, "malformed request line");
      v.method = printable(line.substr(0, a));
      v.target = printable(line.substr(a + 1, b - a - 1), 200);
      continue;
    }
    if (line.empty()) break;
    if (line[0] == ' ' || line[0] == '\t') return refuse(400, "folded header line (obsolete line folding)");
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return refuse(400, "header line without a name and ':'");
    const std::string name = lower(std::string(line.substr(0, colon)));
    if (name.find_first_of(" \t") != std::string::npos) return refuse(400, "white space in a header name");
    const std::string value = trim(line.substr(colon + 1));
    if (name == "content-length") {
      ++content_lengths;
      content_length = value;
    } else if (name == "transfer-encoding") {
      ++transfer_encodings;
      transfer_encoding = lower(value);
    }
  }
  if (first) return refuse(400, "empty request");
  if (content_lengths > 1) return refuse(400, "Content-Length given " + std::to_string(content_lengths) + " times");
  if (transfer_encodings > 1) return refuse(400, "Transfer-Encoding given more than once");
  if (content_lengths && transfer_encodings)
    return refuse(400, "both Content-Length and Transfer-Encoding: the body's length would be ambiguous");
  if (transfer_encodings && transfer_encoding != "chunked")
    return refuse(501, "Transfer-Encoding '" + printable(transfer_encoding) + "' is not supported (only chunked)");
  if (content_lengths) {
    if (content_length.empty() || content_length.size() > 18 ||
        content_length.find_first_not_of("0123456789") != std::string::npos)
      return refuse(400, "Content-Length '" + printable(content_length) + "' is not a byte count");
    const std::int64_t n = std::stoll(content_length);
    if (n > max_body_bytes)
      return refuse(413, "the body announces " + content_length + " bytes, above the server's limit of " +
                             std::to_string(max_body_bytes) + " bytes");
  }
  return v;
}

namespace {

// Serves each connection on its own thread, at most `max` at once; beyond that a connection is
// handled on the accepting thread, where the guard refuses it without reading (503).
class ThreadPerConnection : public httplib::TaskQueue {
 public:
  explicit ThreadPerConnection(int max) : max_(max) {}
  void enqueue(std::function<void()> fn) override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (running_ >= max_) {
        t_refuse_inline = true;
        fn();  // cheap: refused at once
        t_refuse_inline = false;
        return;
      }
      ++running_;
    }
    std::thread([this, fn = std::move(fn)] {
      fn();
      std::lock_guard<std::mutex> lock(mutex_);
      --running_;
      done_.notify_all();
    }).detach();
  }
  void shutdown() override {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return running_ == 0; });
  }

 private:
  const int max_;
  std::mutex mutex_;
  std::condition_variable done_;
  int running_ = 0;
};

// httplib's view of a guarded connection: the bytes the guard already read first, then the
// socket; every read shares the request's one deadline.
class GuardedStream : public httplib::Stream {
 public:
  GuardedStream(GuardedHttpServer::Connection& c, std::string buffered, const GuardLimits& limits,
                std::function<bool()> forced)
      : c_(c), buffered_(std::move(buffered)), limits_(limits), forced_(std::move(forced)) {}

  bool is_readable() const override {
    return pos_ < buffered_.size() || wait_socket(c_.sock, POLLIN, c_.request_deadline, forced_);
  }
  bool is_writable() const override { return wait_socket(c_.sock, POLLOUT, write_deadline(), forced_); }
  ssize_t read(char* ptr, std::size_t size) override {
    if (pos_ < buffered_.size()) {
      const std::size_t n = std::min(size, buffered_.size() - pos_);
      std::memcpy(ptr, buffered_.data() + pos_, n);
      pos_ += n;
      return static_cast<ssize_t>(n);
    }
    for (;;) {
      if (!wait_socket(c_.sock, POLLIN, c_.request_deadline, forced_)) return -1;
      const ssize_t n = ::recv(c_.sock, ptr, size, MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
      return n;
    }
  }
  ssize_t write(const char* ptr, std::size_t size) override {
    return send_all(c_.sock, ptr, size, write_deadline(), forced_) ? static_cast<ssize_t>(size) : -1;
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = c_.peer;
    port = c_.peer_port;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    ip.clear();
    port = -1;
    if (::getsockname(c_.sock, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return;
    address_text(addr, ip, port);
  }
  socket_t socket() const override { return c_.sock; }

 private:
  // Set at the first write: the answer is written after the handler, however long it took.
  Clock::time_point write_deadline() const {
    if (!write_started_) {
      write_deadline_ = after(limits_.write_seconds);
      write_started_ = true;
    }
    return write_deadline_;
  }
  GuardedHttpServer::Connection& c_;
  std::string buffered_;
  std::size_t pos_ = 0;
  const GuardLimits& limits_;
  std::function<bool()> forced_;
  mutable bool write_started_ = false;
  mutable Clock::time_point write_deadline_;
};

void peer_of(int sock, std::string& ip, int& port) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  ip = "?";
  port = -1;
  if (::getpeername(sock, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return;
  address_text(addr, ip, port);
}

}  // namespace

GuardedHttpServer::GuardedHttpServer(GuardLimits limits) : limits_(limits) {
  // Room for refusing a flood without reading it: refusals are short-lived threads.
  const int threads = limits_.max_connections + 16;
  new_task_queue = [threads] { return new ThreadPerConnection(threads); };
}

GuardedHttpServer::~GuardedHttpServer() {
  std::unique_lock<std::mutex> lock(mutex_);
  released_.wait(lock, [this] { return !closer_running_; });
}

bool GuardedHttpServer::client_gone() {
  Connection* c = t_connection;
  if (!c) return false;
  if (c->server->forced_.load()) return true;
  pollfd p{c->sock, static_cast<short>(POLLIN | POLLRDHUP), 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  if (p.revents & (POLLHUP | POLLERR | POLLNVAL | POLLRDHUP)) return true;
  char byte;
  return (p.revents & POLLIN) && ::recv(c->sock, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

void GuardedHttpServer::begin_shutdown(double grace_seconds) {
  if (shutting_down_.exchange(true)) return;
  stop();  // closes the listening socket: nothing new is accepted
  std::lock_guard<std::mutex> lock(mutex_);
  closer_running_ = true;
  // Requests in flight get `grace_seconds`; then their sockets are shut down under them.
  std::thread([this, grace_seconds] {
    std::unique_lock<std::mutex> lock(mutex_);
    released_.wait_for(lock, std::chrono::duration<double>(grace_seconds), [this] { return live_.empty(); });
    forced_ = true;
    for (Connection* c : live_) ::shutdown(c->sock, SHUT_RDWR);
    closer_running_ = false;
    released_.notify_all();
  }).detach();
}

bool GuardedHttpServer::admit(Connection& c) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (shutting_down_ || open_ >= limits_.max_connections ||
      per_client_[c.peer] >= limits_.max_connections_per_client) {
    if (per_client_[c.peer] == 0) per_client_.erase(c.peer);
    return false;
  }
  ++open_;
  ++per_client_[c.peer];
  live_.insert(&c);
  return true;
}

void GuardedHttpServer::release(Connection& c) {
  std::lock_guard<std::mutex> lock(mutex_);
  --open_;
  if (--per_client_[c.peer] <= 0) per_client_.erase(c.peer);
  live_.erase(&c);
  released_.notify_all();
}

void GuardedHttpServer::refuse(Connection& c, int status, const std::string& message, const std::string& method,
                               const std::string& target) {
  const std::string body =
      nlohmann::json{{"error", message}, {"status", status}}.dump(-1, ' ', false,
                                                                  nlohmann::json::error_handler_t::replace) + "\n";
  std::string response = "HTTP/1.1 " + std::to_string(status) + " " + reason(status) +
                         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                         "\r\nConnection: close\r\nX-Content-Type-Options: nosniff\r\n";
  if (status == 503) response += "Retry-After: 5\r\n";
  response += "\r\n" + body;
  send_all(c.sock, response.data(), response.size(), after(2), nullptr);
  if (limits_.log)
    std::fprintf(stderr, "%s %s %s %d %zu (%s)\n", printable(c.peer).c_str(), method.empty() ? "-" : method.c_str(),
                 target.empty() ? "-" : target.c_str(), status, body.size(), message.c_str());
}

bool GuardedHttpServer::process_and_close_socket(socket_t sock) {
  Connection c{sock, "", 0, this, after(limits_.request_seconds)};
  peer_of(sock, c.peer, c.peer_port);
  const auto head_deadline = std::min(after(limits_.head_seconds), c.request_deadline);
  if (t_refuse_inline || !admit(c)) {
    refuse(c, 503,
           shutting_down_ ? "the server is shutting down"
                          : "too many connections (at most " + std::to_string(limits_.max_connections) + ", " +
                                std::to_string(limits_.max_connections_per_client) + " per client); retry later",
           "", "");
    ::close(sock);
    return true;
  }
  // The head, within its deadline; a connection still sending it when shutdown begins is dropped.
  std::string buf;
  std::size_t end = std::string::npos;
  const std::function<bool()> stopping = [this] { return shutting_down_.load(); };
  int status = 0;
  std::string message;
  char chunk[4096];
  std::size_t scanned = 0;  // the blank line cannot end before here
  while ((end = head_end(buf, scanned)) == std::string::npos) {
    scanned = buf.size() > 3 ? buf.size() - 3 : 0;
    if (buf.size() > kMaxHead) {
      status = 431;
      message = "request head larger than " + std::to_string(kMaxHead) + " bytes";
      break;
    }
    if (!wait_socket(sock, POLLIN, head_deadline, stopping)) {
      if (!shutting_down_) {
        status = 408;
        message = "the request head did not arrive within " + std::to_string(static_cast<int>(limits_.head_seconds)) +
                  " s";
      }
      break;
    }
    const ssize_t n = ::recv(sock, chunk, sizeof chunk, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
    if (n <= 0) break;  // the client went away
    buf.append(chunk, static_cast<std::size_t>(n));
  }
  if (end != std::string::npos) {
    const HeadVerdict v = check_request_head(std::string_view(buf).substr(0, end), limits_.max_body_bytes);
    if (v.status) {
      refuse(c, v.status, v.message, v.method, v.target);
      // Let the client read the answer: stop sending, then swallow what it still sends for a
      // moment, so closing with unread bytes does not reset the connection under the answer.
      ::shutdown(sock, SHUT_WR);
      const auto drain_until = after(1.0);
      while (wait_socket(sock, POLLIN, drain_until, nullptr) && ::recv(sock, chunk, sizeof chunk, MSG_DONTWAIT) > 0) {
      }
    } else {
      GuardedStream stream(c, std::move(buf), limits_, [this] { return forced_.load(); });
      t_connection = &c;
      bool closed = false;
      process_request(stream, /*close_connection=*/true, closed, nullptr);
      t_connection = nullptr;
    }
  } else if (status) {
    refuse(c, status, message, "", "");
  }
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  release(c);
  return true;
}

}  // namespace gn
