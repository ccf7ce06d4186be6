// `genrenet serve`: the web page and JSON API that classify uploaded songs (serve/server.h).
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <thread>

#include "apps/args.h"
#include "apps/command.h"
#include "engine/error.h"
#include "serve/predictor.h"
#include "serve/server.h"

namespace gn::app {
namespace {

int g_stop_pipe[2] = {-1, -1};
extern "C" void on_stop_signal(int sig) {
  const char c = static_cast<char>(sig);
  (void)!write(g_stop_pipe[1], &c, 1);  // async-signal-safe
}

constexpr const char* kUsage =
    "usage: genrenet serve [--model CKPT] [--host 127.0.0.1] [--port 8080] [--device auto|cpu|cuda]\n"
    "                      [--threads N] [--max-upload-mb 50] [--max-song-seconds 600] [--quiet]\n"
    "  Serves a page at http://HOST:PORT/ where a song can be uploaded, played and classified, and\n"
    "  a JSON API: POST /api/predict (multipart field \"file\", or the raw audio as the body),\n"
    "  GET /api/health, GET /api/model. The checkpoint is loaded once.\n"
    "  --host H          address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 = all)\n"
    "  --port P          port (default 8080; 0 = any free port, printed at start)\n"
    "  --threads N       worker threads accepting requests (default 4); the model runs one song at\n"
    "                    a time, the others wait\n"
    "  --max-upload-mb M largest accepted upload (default 50)\n"
    "  --max-song-seconds S  longest accepted song, checked before decoding (default 600)\n"
    "  --quiet           no per-request log lines on stderr\n"
    "  SIGINT / SIGTERM stop the server after the requests in flight are answered.\n";

int run_serve(const std::vector<std::string>& argv) {
  Args args("serve", argv, {"model", "host", "port", "device", "threads", "max-upload-mb", "max-song-seconds"},
            {"quiet", "help"});
  if (args.flag("help")) {
    std::cout << kUsage;
    return 0;
  }
  GN_REQUIRE(args.positional().empty(), "serve takes no positional arguments (got '", args.positional()[0], "')\n",
             kUsage);
  const std::string model = args.str("model", default_model_path());
  if (!args.has("model"))
    GN_REQUIRE(std::filesystem::exists(model), "no --model given and ", model,
               " does not exist: train one with `genrenet demo` / `genrenet train`, or import the reference "
               "model with `genrenet import-keras`");
  ServerOptions options;
  options.host = args.str("host", options.host);
  options.port = static_cast<int>(args.integer("port", options.port, 0, 65535));
  options.threads = static_cast<int>(args.integer("threads", options.threads, 1, 256));
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
  std::thread waiter([&server] {
    char sig = 0;
    while (read(g_stop_pipe[0], &sig, 1) < 0 && errno == EINTR) {
    }
    if (sig == 0) return;
    std::fprintf(stderr, "genrenet serve: %s, stopping after the requests in flight\n",
                 sig == SIGINT ? "SIGINT" : "SIGTERM");
    server.stop();
  });
  // Tests and scripts read the port from this line (with --port 0).
  std::printf("genrenet serve: listening on http://%s:%d/ (model %s, %s, %d threads)\n",
              options.host.find(':') != std::string::npos ? ("[" + options.host + "]").c_str() : options.host.c_str(),
              port, model.c_str(), device.str().c_str(), options.threads);
  std::fflush(stdout);
  server.run();
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
