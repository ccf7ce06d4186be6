// A guard in front of cpp-httplib's request handling, for what httplib 0.11 (Debian 12) cannot
// bound on its own: its read timeout restarts with every byte, so a client sending one header
// line every few seconds held a worker forever; it keeps no count of connections; and it
// accepts a duplicate Content-Length, Content-Length beside chunked encoding and bare CRs.
//
// GuardedHttpServer is an httplib::Server that serves each connection on a thread of its own
// (at most `max_connections` at once, `max_connections_per_client` per client address; more
// are answered 503 with Retry-After at once), reads the request head itself within a total
// deadline, refuses a bad or oversized head at once (400 / 408 / 413 / 431), and only then hands
// the connection to httplib's routing, through a Stream whose reads share one deadline for the
// whole request (head + body). One request per connection (answers carry Connection: close):
// an idle keep-alive connection then holds nothing. Slow work (decoding an upload) is not
// limited here: the routes limit it, and ask client_gone() to stop work nobody waits for.
//
// Shutdown: begin_shutdown() stops accepting at once, drops connections still sending their
// head, lets requests in flight finish for `grace_seconds`, then shuts their sockets down (their
// handlers see client_gone()), so run() returns within about grace + one handler's check.
#pragma once

#include <httplib.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

namespace gn {

struct GuardLimits {
  double head_seconds = 10;        // request line + headers must have arrived by then
  double request_seconds = 120;    // the whole request (head + body) must have arrived by then
  double write_seconds = 30;       // an answer must have been sent by then
  int max_connections = 128;       // connections held at once, all clients together
  int max_connections_per_client = 16;  // connections held at once from one address
  std::int64_t max_body_bytes = std::int64_t{50} << 20;
  bool log = true;                 // a line on stderr for each request refused by the guard
};

// The verdict on a request head (request line, header lines, blank line; CRLF line ends).
struct HeadVerdict {
  int status = 0;          // 0: fine; else the HTTP status to refuse it with
  std::string message;     // why, for the client
  std::string method, target;
};
// Refuses a bare CR or NUL, an obsolete folded header line, a header line without ':', a
// Content-Length given twice, not a decimal number or above `max_body_bytes` (413), a
// Transfer-Encoding other than "chunked", given twice, or beside a Content-Length.
HeadVerdict check_request_head(std::string_view head, std::int64_t max_body_bytes);

class GuardedHttpServer : public httplib::Server {
 public:
  explicit GuardedHttpServer(GuardLimits limits);
  ~GuardedHttpServer() override;

  // See the file comment. Safe from any thread (not from a signal handler).
  void begin_shutdown(double grace_seconds);
  bool shutting_down() const { return shutting_down_.load(); }

  // For a route handler: true when the client of the connection this thread serves has closed
  // it or the server forced it shut. Cheap (one poll() with zero timeout).
  static bool client_gone();

  struct Connection;

 private:
  bool process_and_close_socket(socket_t sock) override;
  bool admit(Connection& c);
  void release(Connection& c);
  void refuse(Connection& c, int status, const std::string& message, const std::string& method,
              const std::string& target);

  GuardLimits limits_;
  std::atomic<bool> shutting_down_{false}, forced_{false};
  std::mutex mutex_;
  std::condition_variable released_;
  int open_ = 0;                        // admitted connections
  std::map<std::string, int> per_client_;
  std::set<Connection*> live_;          // admitted connections, for the forced shutdown
  bool closer_running_ = false;         // the thread of begin_shutdown still holds `this`
};

}  // namespace gn
