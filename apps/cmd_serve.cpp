// `genrenet serve`: the web page and JSON API that classify uploaded songs (serve/server.h).
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "apps/args.h"
#include "apps/command.h"
#include "apps/inputs.h"
#include "engine/error.h"
#include "serve/predictor.h"
#include "serve/server.h"

namespace gn::app {
namespace {

int g_stop_pipe[2] = {-1, -1};
constexpr int kExitBoundSeconds = 9;  // from SIGTERM to exit, at most (the grace period is 5 s)
extern "C" void on_stop_signal(int sig) {
  const char c = static_cast<char>(sig);
  (void)!write(g_stop_pipe[1], &c, 1);  // async-signal-safe
}

constexpr const char* kUsage =
    "usage: genrenet serve [-m CKPT|RUN_DIR] [--host 127.0.0.1] [--port 8080] [--device D]\n"
    "                      [--threads N] [--queue N] [--max-connections N] [--max-client-connections N]\n"
    "                      [--request-timeout S] [--max-upload-mb 50] [--max-song-seconds 600] [-q]\n"
    "  Serves a page at http://HOST:PORT/ where a song can be uploaded, played and classified, and\n"
    "  a JSON API: POST /api/predict (multipart field \"file\", or the raw audio as the body),\n"
    "  GET /api/health, GET /api/model, described by GET /openapi.json. The checkpoint is loaded once.\n"
    "  -m, --model CKPT  checkpoint or run folder (its best.safetensors) (default:\n"
    "                    runs/demo/best.safetensors)\n"
    "  --host H          address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 = all)\n"
    "  --port P          port (default 8080; 0 = any free port, printed at start)\n"
    "  --device D        auto (default: a GPU when one answers, else the CPU), cpu, cuda or cuda:N\n"
    "  --threads N       uploads decoded and classified at once (default 4); one model thread runs\n"
    "                    their songs together (their clips share batches)\n"
    "  --queue N         uploads that may wait for those (default 16); beyond: 503 + Retry-After\n"
    "  --max-connections N         connections held at once (default 128); beyond: 503\n"
    "  --max-client-connections N  ... from one client address (default 16)\n"
    "  --request-timeout S  a request's head and body must arrive within S seconds (default 120;\n"
    "                    the head alone within 10)\n"
    "  --max-upload-mb M largest accepted upload (default 50)\n"
    "  --max-song-seconds S  longest accepted song, checked before decoding (default 600); the\n"
    "                    source may also hold at most S seconds of 48 kHz x 4 channels of samples\n"
    "  -q, --quiet       no per-request log lines on stderr\n"
    "  -h, --help        this text\n"
    "  SIGINT / SIGTERM stop accepting at once; requests in flight get 5 s to finish, then are\n"
    "  dropped; the process exits within 10 s.\n";

int run_serve(const std::vector<std::string>& argv) {
  Args args("serve", argv,
            {"model", "host", "port", "device", "threads", "queue", "max-connections", "max-client-connections",
             "request-timeout", "max-upload-mb", "max-song-seconds"},
            {"quiet", "help"});
  if (args.flag("help")) {
    std::cout << kUsage;
    return 0;
  }
  GN_REQUIRE(args.positional().empty(), "serve takes no positional arguments (got '", args.positional()[0], "')\n",
             kUsage);
  const std::string model = resolve_model_path(args.str("model", default_model_path()));
  if (!args.has("model"))
    GN_REQUIRE(std::filesystem::exists(model), "no --model given and ", model,
               " does not exist: train one with `genrenet demo` / `genrenet train`, or import the reference "
               "model with `genrenet import-keras`");
  ServerOptions options;
  options.host = args.str("host", options.host);
  options.port = static_cast<int>(args.integer("port", options.port, 0, 65535));
  options.threads = static_cast<int>(args.integer("threads", options.threads, 1, 256));
  options.queue = static_cast<int>(args.integer("queue", options.queue, 0, 4096));
  options.max_connections = static_cast<int>(args.integer("max-connections", options.max_connections, 1, 4096));
  options.max_connections_per_client = static_cast<int>(
      args.integer("max-client-connections", options.max_connections_per_client, 1, 4096));
  options.request_seconds = args.number("request-timeout", options.request_seconds, 1, 86400);
  options.head_seconds = std::min(options.head_seconds, options.request_seconds);
  options.max_upload_bytes = args.integer("max-upload-mb", 50, 1, 4096) << 20;
  options.max_song_seconds = args.number("max-song-seconds", options.max_song_seconds, 1, 86400);
  options.log_requests = !args.flag("quiet");

  int ordinal = 0;
  const Device device = select_device(parse_device_request(args.str("device", "auto"), &ordinal), ordinal, &std::cerr);
  Predictor predictor(model, device);
  Server server(predictor, options);
  const int port = server.bind();
  // SIGINT/SIGTERM may land on any thread (OpenBLAS/OpenMP start theirs before main), so the
  // handler only writes the signal number to a pipe; a thread of ours reads it and calls
  // Server::stop, which is not async-signal-safe. A 0 byte is our own wake-up at exit.
  GN_REQUIRE(pipe(g_stop_pipe) == 0, "serve: pipe() failed: ", std::strerror(errno));
  struct sigaction action{};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  std::mutex done_mutex;
  std::condition_variable done_cv;
  bool done = false;
  std::thread waiter([&] {
    char sig = 0;
    while (read(g_stop_pipe[0], &sig, 1) < 0 && errno == EINTR) {
    }
    if (sig == 0) return;
    std::fprintf(stderr, "genrenet serve: %s, not accepting; requests in flight get %.0f s\n",
                 sig == SIGINT ? "SIGINT" : "SIGTERM", options.shutdown_grace_seconds);
    server.stop();
    // The stated bound: whatever is still running (a model call cannot be interrupted) does not
    // keep the process alive past it.
    std::unique_lock<std::mutex> lock(done_mutex);
    if (!done_cv.wait_for(lock, std::chrono::seconds(kExitBoundSeconds), [&] { return done; })) {
      std::fprintf(stderr, "genrenet serve: requests still running %d s after the signal; exiting without them\n",
                   kExitBoundSeconds);
      std::fflush(stderr);
      std::printf("genrenet serve: stopped\n");
      std::fflush(stdout);
      std::_Exit(0);
    }
  });
  // Tests and scripts read the port from this line (with --port 0).
  std::printf("genrenet serve: listening on http://%s:%d/ (model %s, %s, %d threads)\n",
              options.host.find(':') != std::string::npos ? ("[" + options.host + "]").c_str() : options.host.c_str(),
              port, model.c_str(), device.str().c_str(), options.threads);
  std::fflush(stdout);
  server.run();
  {
    std::lock_guard<std::mutex> lock(done_mutex);
    done = true;
  }
  done_cv.notify_all();
  // run() also returns when listening fails: wake the waiter and join it before `server` goes.
  const char wake = 0;
  (void)!write(g_stop_pipe[1], &wake, 1);
  waiter.join();
  std::printf("genrenet serve: stopped\n");
  std::fflush(stdout);
  return 0;
}

}  // namespace
GN_COMMAND("serve", "the web page and JSON API that classify uploaded songs", run_serve);
}  // namespace gn::app
