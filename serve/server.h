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
// held whole (a Content-Length above it is refused at once, unread); the decoded size (length,
// and samples x channels) is checked from the file's header before decoding and again while
// decoding; bad uploads are 4xx with a message, never a guessed genre.
//
// Slow and heavy clients (serve/http_guard.h): every connection has a thread of its own, within
// caps per client address and in all; the head and the whole request each have one deadline;
// malformed or ambiguous heads are refused before routing. Decoding and classifying run for at
// most `threads` uploads at once, at most `queue` more wait, and beyond that an upload is
// answered 503 with Retry-After; health checks and the page never wait for them. Work whose
// client has gone is abandoned between decoding blocks.
//
// Decoded songs go to a PredictionBatcher: one model thread owns the Predictor (its Context and
// scratch tensors) and runs the songs waiting together, their clips sharing batches
// (serve/prediction_batcher.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace gn {

class Predictor;

struct ServerOptions {
  std::string host = "127.0.0.1";  // loopback unless asked otherwise
  int port = 8080;                 // 0: any free port (bind() returns it)
  int threads = 4;                 // uploads decoded and classified at once
  int queue = 16;                  // uploads waiting for one of `threads`; more get 503
  int max_connections = 128;       // connections held at once (more get 503 at once)
  int max_connections_per_client = 16;  // ... from one client address
  double request_seconds = 120;    // deadline for a whole request (head + body) to arrive
  double head_seconds = 10;        // deadline for its head (request line + headers)
  double shutdown_grace_seconds = 5;  // stop(): requests in flight get this long, then are dropped
  std::int64_t max_upload_bytes = std::int64_t{50} << 20;
  // Longer uploads are refused from their header, before decoding, and while decoding when the
  // header lied; with DecodeLimits::for_seconds this also bounds samples x channels. Decoding
  // streams, so one request holds the upload and the mono 22050 Hz song (600 s: 53 MB).
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
  // Serves until stop(); returns after in-flight requests have been answered or dropped.
  void run();
  // Stops accepting at once, drops connections still sending their head, gives requests in
  // flight options.shutdown_grace_seconds, then shuts their connections (their work stops at
  // its next check). Safe from any thread (not from a signal handler: `genrenet serve` waits
  // for signals on a thread of its own and calls this).
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
