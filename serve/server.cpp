#include "serve/server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <utility>

#include "data/audio.h"
#include "engine/error.h"
#include "serve/prediction_batcher.h"
#include "serve/openapi.h"
#include "serve/http_guard.h"
#include "serve/prediction_json.h"
#include "serve/predictor.h"
#include "serve/server_page.h"
#include "serve/song_check.h"

namespace gn {
namespace {

// Invalid UTF-8 (a file name from a request, say) is replaced, not thrown on. Ordered JSON
// (a prediction: the answer first) keeps its key order.
template <class Json = nlohmann::json>
std::string dump(const Json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

template <class Json = nlohmann::json>
void send_json(httplib::Response& res, int status, const Json& body) {
  res.status = status;
  res.set_content(dump(body) + "\n", "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& message) {
  send_json(res, status, {{"error", message}, {"status", status}});
}

// For a log line: printable ASCII only, so a crafted path cannot forge log lines.
std::string printable(const std::string& s, std::size_t max = 200) {
  std::string out;
  for (unsigned char c : s) {
    if (out.size() >= max) return out + "...";
    out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
  }
  return out;
}

// The methods a known path answers; "" for an unknown path.
std::string allowed_methods(const std::string& path) {
  if (path == "/" || path == "/api/health" || path == "/api/model") return "GET, HEAD";
  if (path == "/api/predict") return "POST";
  return "";
}

// 405 for a known path, 404 otherwise.
void refuse_method(const httplib::Request& req, httplib::Response& res) {
  const std::string allow = allowed_methods(req.path);
  if (allow.empty()) return send_error(res, 404, "not found: " + printable(req.path));
  res.set_header("Allow", allow);
  send_error(res, 405, "method " + printable(req.method) + " not allowed on " + req.path + " (allowed: " + allow + ")");
}

// At most `slots` holders at once and `max_waiting` waiting; a caller beyond that is told so at
// once (the server answers 503) instead of joining an unbounded queue.
class WorkGate {
 public:
  enum class Result { Acquired, Full, Abandoned };
  WorkGate(int slots, int max_waiting) : slots_(slots), max_waiting_(max_waiting) {}
  // Waits for a slot while `abandoned()` stays false (checked every 100 ms).
  Result acquire(const std::function<bool()>& abandoned) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (active_ < slots_ && waiting_ == 0) {
      ++active_;
      return Result::Acquired;
    }
    if (waiting_ >= max_waiting_) return Result::Full;
    ++waiting_;
    while (active_ >= slots_) {
      if (abandoned()) {
        --waiting_;
        return Result::Abandoned;
      }
      freed_.wait_for(lock, std::chrono::milliseconds(100));
    }
    --waiting_;
    ++active_;
    return Result::Acquired;
  }
  void release() {
    std::lock_guard<std::mutex> lock(mutex_);
    --active_;
    freed_.notify_one();
  }
  int active() {
    std::lock_guard<std::mutex> lock(mutex_);
    return active_;
  }
  int waiting() {
    std::lock_guard<std::mutex> lock(mutex_);
    return waiting_;
  }

 private:
  const int slots_, max_waiting_;
  std::mutex mutex_;
  std::condition_variable freed_;
  int active_ = 0, waiting_ = 0;
};

GuardLimits guard_limits(const ServerOptions& o) {
  GuardLimits g;
  g.head_seconds = o.head_seconds;
  g.request_seconds = o.request_seconds;
  g.max_connections = o.max_connections;
  g.max_connections_per_client = o.max_connections_per_client;
  g.max_body_bytes = o.max_upload_bytes;
  g.log = o.log_requests;
  return g;
}

}  // namespace

std::string sanitize_upload_name(const std::string& name) {
  const std::size_t slash = name.find_last_of("/\\");
  std::string base = slash == std::string::npos ? name : name.substr(slash + 1);
  std::string out;
  for (unsigned char c : base)
    if (c >= 0x20 && c != 0x7f && out.size() < 200) out += static_cast<char>(c);
  if (out.empty() || out == "." || out == "..") return "upload";
  return out;
}

struct Server::Impl {
  Predictor& predictor;
  ServerOptions options;
  GuardedHttpServer http;
  WorkGate work;               // uploads decoded and classified at once, and waiting
  PredictionBatcher batcher;   // one model thread; concurrent uploads share its batches
  std::string model_json;      // GET /api/model, computed once
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

  Impl(Predictor& p, ServerOptions o)
      : predictor(p),
        options(std::move(o)),
        http(guard_limits(options)),
        work(options.threads, options.queue),
        batcher(p) {}

  void routes();
  void predict(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader);
  // After a body could not be read whole: 413 when it passed the limit (counted by us, or by
  // httplib from the Content-Length, which then discards the body unread), else 400.
  void body_error(httplib::Response& res, std::int64_t received) const {
    if (received > options.max_upload_bytes || res.status == 413)
      return send_error(res, 413, "upload larger than the server's limit of " +
                                      std::to_string(options.max_upload_bytes) + " bytes");
    send_error(res, 400, "the request body could not be read (malformed multipart or chunked encoding, "
                         "or the client stopped sending or did not finish within " +
                             std::to_string(static_cast<int>(options.request_seconds)) + " s)");
  }
};

void Server::Impl::routes() {
  const std::string page(server_page());
  http.Get("/", [page](const httplib::Request&, httplib::Response& res) {
    // Everything the page needs is inline; it talks to this server only and plays blob: URLs.
    res.set_header("Content-Security-Policy",
                   "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                   "img-src data:; media-src blob:; connect-src 'self'; base-uri 'none'; "
                   "form-action 'none'; frame-ancestors 'none'");
    res.set_header("Cache-Control", "no-cache");
    res.set_content(page, "text/html; charset=utf-8");
  });
  http.Get("/api/health", [this](const httplib::Request&, httplib::Response& res) {
    const double up = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    send_json(res, 200,
              {{"status", "ok"},
               {"device", predictor.device().str()},
               {"uploads_running", work.active()},
               {"uploads_waiting", work.waiting()},
               {"model", std::filesystem::path(predictor.checkpoint()).filename().string()},
               {"uptime_seconds", up}});
  });
  const std::string openapi = openapi_json(predictor.labels(), options.max_upload_bytes);
  http.Get("/openapi.json", [openapi](const httplib::Request&, httplib::Response& res) {
    res.status = 200;
    res.set_content(openapi, "application/json");
  });
  http.Get("/api/model", [this](const httplib::Request&, httplib::Response& res) {
    res.status = 200;
    res.set_content(model_json, "application/json");
  });
  // Every request that may carry a body (POST, PUT, PATCH, DELETE) goes to a content-reader
  // handler, so httplib never buffers a body on its own: its own reading bounds only a
  // Content-Length, not a chunked or compressed body (0.11). Ours counts the bytes as they arrive
  // (after any Content-Encoding is undone) and stops at the limit. Bodies that are not wanted are
  // drained through the same bound, so the connection stays in step for the next request.
  http.Post("/api/predict", [this](const httplib::Request& req, httplib::Response& res,
                                   const httplib::ContentReader& reader) { predict(req, res, reader); });
  auto refuse = [this](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
    std::int64_t total = 0;
    const bool read = reader([&](const char*, std::size_t n) {
      total += static_cast<std::int64_t>(n);
      return total <= options.max_upload_bytes;
    });
    if (!read) return body_error(res, total);
    refuse_method(req, res);
  };
  http.Post(".*", refuse).Put(".*", refuse).Patch(".*", refuse).Delete(".*", refuse);
  http.Get("/api/predict", [](const httplib::Request& req, httplib::Response& res) { refuse_method(req, res); });
  http.Options(".*", [](const httplib::Request& req, httplib::Response& res) {
    const std::string allow = allowed_methods(req.path);
    if (allow.empty()) return send_error(res, 404, "not found: " + printable(req.path));
    res.status = 204;
    res.set_header("Allow", allow);
  });

  // Any 4xx/5xx left without a body (httplib's own 404, 413, 400 for a malformed request).
  http.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    std::string message = res.status == 404   ? "not found: " + printable(req.path)
                          : res.status == 413 ? "upload larger than the server's limit"
                          : res.status == 400 ? "malformed request"
                          : "HTTP error " + std::to_string(res.status);
    send_error(res, res.status, message);
    return httplib::Server::HandlerResponse::Handled;
  }));
  http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    std::fprintf(stderr, "genrenet serve: internal error: %s\n", what.c_str());
    send_error(res, 500, "internal error: " + what);
  });
  if (options.log_requests)
    http.set_logger([](const httplib::Request& req, const httplib::Response& res) {
      std::fprintf(stderr, "%s %s %s %d %zu\n", printable(req.remote_addr).c_str(), printable(req.method).c_str(),
                   printable(req.path).c_str(), res.status, res.body.size());
    });
}

void Server::Impl::predict(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
  const auto t0 = std::chrono::steady_clock::now();
  // The song's bytes: the first multipart part named "file" (other parts are counted against
  // the limit and dropped), or the whole body. Nothing is kept but these bytes in memory.
  std::string bytes, name = req.has_param("name") ? req.get_param_value("name") : "upload";
  std::int64_t total = 0;
  const auto count = [&](std::size_t n) {
    total += static_cast<std::int64_t>(n);
    return total <= options.max_upload_bytes;
  };
  bool read = false, have_file = false;
  if (req.is_multipart_form_data()) {
    enum class Part { None, File, Other } part = Part::None;
    read = reader(
        [&](const httplib::MultipartFormData& header) {
          part = header.name == "file" && !have_file ? Part::File : Part::Other;
          if (part == Part::File) {
            have_file = true;
            if (!header.filename.empty()) name = header.filename;
          }
          return true;
        },
        [&](const char* data, std::size_t n) {
          if (!count(n)) return false;
          if (part == Part::File) bytes.append(data, n);
          return true;
        });
  } else {
    read = reader([&](const char* data, std::size_t n) {
      if (!count(n)) return false;
      bytes.append(data, n);
      return true;
    });
    have_file = true;
  }
  if (!read) return body_error(res, total);
  if (!have_file) return send_error(res, 400, "multipart upload without a \"file\" field");
  name = sanitize_upload_name(name);
  if (bytes.empty()) return send_error(res, 400, name + ": empty upload (0 bytes)");

  // Decoding and classifying are the heavy part: a bounded number at once, a bounded queue.
  switch (work.acquire(GuardedHttpServer::client_gone)) {
    case WorkGate::Result::Full:
      res.set_header("Retry-After", "5");
      return send_error(res, 503, "busy: " + std::to_string(options.threads) + " uploads are being classified and " +
                                      std::to_string(options.queue) + " are waiting; retry later");
    case WorkGate::Result::Abandoned:
      return send_error(res, 503, "the client went away or the server is stopping");
    case WorkGate::Result::Acquired:
      break;
  }
  struct Release {
    WorkGate& gate;
    ~Release() { gate.release(); }
  } release{work};
  Audio audio;
  try {
    DecodeLimits limits = DecodeLimits::for_seconds(options.max_song_seconds);
    limits.cancelled = GuardedHttpServer::client_gone;  // nobody waits for the answer any more
    audio = decode_audio_memory(bytes, name, limits);
  } catch (const Error& e) {
    if (GuardedHttpServer::client_gone()) return send_error(res, 503, "the client went away");
    const std::string what = e.what();
    // Too long / too much audio is a size limit (413); everything else is unreadable input.
    const bool too_big = what.find(": too long (") != std::string::npos ||
                         what.find(": too much audio to decode (") != std::string::npos;
    return send_error(res, too_big ? 413 : 415, what);
  }
  try {
    predictor.require_long_enough(audio);
    refuse_silence(audio);
  } catch (const Error& e) {
    return send_error(res, 422, e.what());  // valid audio the model cannot classify
  }
  std::string().swap(bytes);  // the upload is not needed while this request waits for the model
  const auto t1 = std::chrono::steady_clock::now();
  const SongPrediction song = batcher.predict(std::move(audio));
  const auto t2 = std::chrono::steady_clock::now();
  // Timings for clients and load tests: receiving + decoding vs. waiting for + running the model.
  char timing[96];
  std::snprintf(timing, sizeof timing, "read_decode;dur=%.1f, predict;dur=%.1f",
                std::chrono::duration<double, std::milli>(t1 - t0).count(),
                std::chrono::duration<double, std::milli>(t2 - t1).count());
  res.set_header("Server-Timing", timing);
  send_json(res, 200, prediction_json(song, predictor.labels()));
}

Server::Server(Predictor& predictor, ServerOptions options) : impl_(std::make_unique<Impl>(predictor, std::move(options))) {
  ServerOptions& o = impl_->options;
  GN_REQUIRE(!o.host.empty(), "serve: empty --host");
  GN_REQUIRE(o.port >= 0 && o.port <= 65535, "serve: --port ", o.port, " is outside 0..65535");
  GN_REQUIRE(o.threads >= 1 && o.threads <= 256, "serve: --threads ", o.threads, " is outside 1..256");
  GN_REQUIRE(o.queue >= 0 && o.queue <= 4096, "serve: --queue ", o.queue, " is outside 0..4096");
  GN_REQUIRE(o.max_connections >= 1 && o.max_connections <= 4096, "serve: --max-connections ", o.max_connections,
             " is outside 1..4096");
  GN_REQUIRE(o.max_connections_per_client >= 1 && o.max_connections_per_client <= o.max_connections,
             "serve: --max-client-connections ", o.max_connections_per_client, " is outside 1..", o.max_connections);
  GN_REQUIRE(o.request_seconds > 0 && o.head_seconds > 0 && o.shutdown_grace_seconds >= 0,
             "serve: timeouts must be positive");
  GN_REQUIRE(o.max_upload_bytes >= 1, "serve: the upload limit must be positive");
  GN_REQUIRE(o.max_song_seconds > 0, "serve: the song length limit must be positive");

  impl_->model_json = dump({{"labels", predictor.labels()},
                            {"frontend", predictor.frontend().to_json()},
                            {"clip_scheme", predictor.clip_scheme().to_json()},
                            {"clip_scheme_name", predictor.clip_scheme().str()},
                            {"model_config", predictor.model_config().to_json()},
                            {"model", std::filesystem::path(predictor.checkpoint()).filename().string()},
                            {"max_upload_bytes", o.max_upload_bytes},
                            {"max_song_seconds", o.max_song_seconds}}) +
                       "\n";
  httplib::Server& http = impl_->http;
  // httplib's default sets SO_REUSEPORT, which lets a second server bind the same port and take
  // half its connections; SO_REUSEADDR alone still allows a quick restart (TIME_WAIT).
  http.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  http.set_payload_max_length(static_cast<std::size_t>(o.max_upload_bytes));
  // Reading and writing deadlines are the guard's (one per request, not per read).
  http.set_default_headers({{"X-Content-Type-Options", "nosniff"}, {"Referrer-Policy", "no-referrer"}});
  impl_->routes();
}

Server::~Server() = default;

int Server::bind() {
  const ServerOptions& o = impl_->options;
  if (o.port == 0) {
    const int port = impl_->http.bind_to_any_port(o.host);
    GN_REQUIRE(port > 0, "serve: cannot listen on ", o.host, " (no free port, or the host is not an address of this machine)");
    return port;
  }
  GN_REQUIRE(impl_->http.bind_to_port(o.host, o.port), "serve: cannot listen on ", o.host, ":", o.port,
             " (in use, not an address of this machine, or not permitted)");
  return o.port;
}

void Server::run() { impl_->http.listen_after_bind(); }

void Server::stop() { impl_->http.begin_shutdown(impl_->options.shutdown_grace_seconds); }

}  // namespace gn
