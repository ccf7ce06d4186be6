#include "serve/server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <utility>

#include "data/audio.h"
#include "engine/error.h"
#include "serve/prediction_json.h"
#include "serve/predictor.h"
#include "serve/server_page.h"

namespace gn {
namespace {

// Invalid UTF-8 (a file name from a request, say) is replaced, not thrown on.
std::string dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void send_json(httplib::Response& res, int status, const nlohmann::json& body) {
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
  httplib::Server http;
  std::mutex predict_mutex;  // the Predictor's Context and scratch tensors serve one song at a time
  std::string model_json;    // GET /api/model, computed once
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

  Impl(Predictor& p, ServerOptions o) : predictor(p), options(std::move(o)) {}

  void routes();
  void predict(const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader);
  // After a body could not be read whole: 413 when it passed the limit (counted by us, or by
  // httplib from the Content-Length, which then discards the body unread), else 400.
  void body_error(httplib::Response& res, std::int64_t received) const {
    if (received > options.max_upload_bytes || res.status == 413)
      return send_error(res, 413, "upload larger than the server's limit of " +
                                      std::to_string(options.max_upload_bytes) + " bytes");
    send_error(res, 400, "the request body could not be read (malformed multipart or chunked encoding, "
                         "or the client stopped sending)");
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
               {"model", std::filesystem::path(predictor.checkpoint()).filename().string()},
               {"uptime_seconds", up}});
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

  Audio audio;
  try {
    const double seconds = audio_memory_seconds(bytes, name);
    if (seconds > options.max_song_seconds)
      return send_error(res, 413, name + ": " + std::to_string(static_cast<long long>(seconds)) +
                                      " s of audio, above the server's limit of " +
                                      std::to_string(static_cast<long long>(options.max_song_seconds)) + " s");
    audio = decode_audio_memory(bytes, name);
  } catch (const Error& e) {
    return send_error(res, 415, e.what());  // not audio, corrupt, truncated, no samples
  }
  if (predictor.clip_count(audio) <= 0)
    return send_error(res, 422, name + ": the song (" + std::to_string(audio.seconds()) +
                                    " s) is shorter than one clip of the model's clip scheme (" +
                                    predictor.clip_scheme().str() + ")");
  std::string().swap(bytes);  // the upload is not needed while this request waits for the model
  std::vector<Audio> songs;
  songs.push_back(std::move(audio));
  const auto t1 = std::chrono::steady_clock::now();
  SongPrediction song;
  {
    std::lock_guard<std::mutex> lock(predict_mutex);
    song = std::move(predictor.predict(songs).at(0));
  }
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
  const int threads = o.threads;
  http.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<std::size_t>(threads)); };
  // httplib's default sets SO_REUSEPORT, which lets a second server bind the same port and take
  // half its connections; SO_REUSEADDR alone still allows a quick restart (TIME_WAIT).
  http.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  http.set_payload_max_length(static_cast<std::size_t>(o.max_upload_bytes));
  http.set_read_timeout(30);   // a slow upload of 50 MB on a slow link; stalls end here
  http.set_write_timeout(30);
  // An idle keep-alive connection holds a worker of the bounded pool until this passes.
  http.set_keep_alive_timeout(2);
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

void Server::stop() { impl_->http.stop(); }

}  // namespace gn
