// The HTTP front of a Predictor: `genrenet serve`. Routes (cpp-httplib from Debian underneath):
//   GET  /             the page (HTML + CSS + JS compiled into the binary; no CDN)
//   GET  /api/health   {"status": "ok", ...}
//   GET  /api/model    labels, front-end, clip scheme, model config of the loaded checkpoint
//   POST /api/predict  one song as a multipart upload (field "file") or as the raw request body;
//                      answers exactly what `genrenet predict --json` prints for it
// Everything else: 404; a known path with another method: 405 (with Allow). Every error is a
// JSON body {"error": message, "status": code}.
//
// Hardening: uploads are decoded from memory (nothing is ever written to disk, so no name from
// a request reaches the file system); the body limit is enforced while reading, before a body is
// held whole (a Content-Length above it is refused unread when the client asked "Expect:
// 100-continue", and read-and-discarded otherwise); the decoded length is checked from the file's
// header before decoding; bad uploads are 4xx with a message, never a guessed genre.
//
// Concurrency: a fixed pool of `threads` workers accepts, reads and decodes requests in parallel;
// the one Predictor (which owns its Context and scratch tensors) runs one song at a time behind
// a mutex. On a CPU the model already uses every core for one song, so batching concurrent songs
// would change the GEMM shapes but not the work; requests queue on the mutex instead.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace gn {

class Predictor;

struct ServerOptions {
  std::string host = "127.0.0.1";  // loopback unless asked otherwise
  int port = 8080;                 // 0: any free port (bind() returns it)
  int threads = 4;                 // worker pool size (bounded; connections beyond it queue)
  std::int64_t max_upload_bytes = std::int64_t{50} << 20;
  // Longer uploads are refused from their header, before decoding: this bounds the memory one
  // request can take (600 s of 48 kHz stereo float is 230 MB before the mixdown).
  double max_song_seconds = 600;
  bool log_requests = true;        // one line per request on stderr
};

class Server {
 public:
  // `predictor` must outlive the server. Validates `options` (throws gn::Error naming the bad one).
  Server(Predictor& predictor, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the listening socket; returns the port (the chosen one when options.port == 0).
  // Throws gn::Error when the address cannot be bound (in use, bad host, no permission).
  int bind();
  // Serves until stop(); returns after in-flight requests have been answered.
  void run();
  // Stops accepting and makes run() return. Safe from any thread (not from a signal handler:
  // `genrenet serve` waits for signals on a thread of its own and calls this).
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A name from a request made safe to echo in JSON and logs: the last path component only,
// control characters dropped, at most 200 bytes; "upload" when nothing is left. It is never
// used as a path.
std::string sanitize_upload_name(const std::string& name);

}  // namespace gn
