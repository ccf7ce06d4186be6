// `genrenet serve` end to end: the real binary on a free loopback port (--port 0, the port read
// from its first line), serving the reference model imported from ../shared, asked with
// cpp-httplib's client and with raw sockets. Every server process is bounded by alarm() and
// stopped with SIGTERM, whose clean exit is itself checked. Skips when ../shared is absent.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "data/audio.h"
#include "tests/support.h"

namespace gn::test {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// The sanitizer run (Debug, -O0, ASan) predicts several times slower: waits scale with it.
#if defined(__SANITIZE_ADDRESS__)
constexpr int kSlowdown = 8;
#else
constexpr int kSlowdown = 1;
#endif

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string song_path(const std::string& name) { return shared_dir() + "/seed/gtzan-sample/" + name; }

// The reference model imported once per test binary.
const std::string& reference_model() {
  static const std::string path = [] {
    const std::string out = temp_dir("serve_model") + "/ref.safetensors";
    const CommandResult r = run_genrenet({"import-keras", shared_dir() + "/seed/model.json",
                                          shared_dir() + "/seed/model_weights.h5", "-o", out},
                                         300 * kSlowdown);
    if (r.exit_code != 0) throw std::runtime_error("import-keras failed: " + r.err);
    return out;
  }();
  return path;
}

// One `genrenet serve` child process.
class ServeProcess {
 public:
  explicit ServeProcess(std::vector<std::string> extra, int max_seconds = 240 * kSlowdown) {
    dir_ = temp_dir("serve_run");
    const std::string out = dir_ + "/stdout", err = dir_ + "/stderr";
    std::vector<std::string> args = {GENRENET_BINARY, "serve", "--model", reference_model(), "--port", "0"};
    args.insert(args.end(), extra.begin(), extra.end());
    const std::string cwd = work_dir();
    fs::create_directories(cwd);
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
  explicit RawConnection(int port, int seconds = 30) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
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

// A 4xx answer that is JSON with an "error" and carries no prediction.
void expect_json_error(const httplib::Result& r, int status, const std::string& what) {
  ASSERT_TRUE(r) << what << ": no response (" << httplib::to_string(r.error()) << ")";
  EXPECT_EQ(r->status, status) << what << ": " << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json") << what;
  const json j = json::parse(r->body, nullptr, false);
  ASSERT_TRUE(j.is_object()) << what << ": not JSON: " << r->body;
  EXPECT_TRUE(j.contains("error") && j["error"].is_string() && !j["error"].get<std::string>().empty()) << what;
  EXPECT_FALSE(j.contains("genre")) << what << ": a bad upload must never get a genre";
  EXPECT_EQ(j.value("status", 0), status) << what;
}

class Serve : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (shared_dir().empty()) return;
    // 2 MB upload limit: a 30 s GTZAN WAV (1.3 MB) fits, the 413 tests need less to send.
    try {
      server_ = new ServeProcess({"--threads", "4", "--max-upload-mb", "2"});
    } catch (const std::exception& e) {
      start_error_ = e.what();
    }
  }
  static void TearDownTestSuite() {
    if (!server_) return;
    const int code = server_->terminate();
    EXPECT_EQ(code, 0) << "SIGTERM must stop the server cleanly; stderr:\n" << server_->stderr_text();
    EXPECT_NE(server_->stdout_text().find("genrenet serve: stopped"), std::string::npos);
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    GN_REQUIRE_SHARED();
    ASSERT_NE(server_, nullptr) << start_error_;
  }
  static inline ServeProcess* server_ = nullptr;
  static inline std::string start_error_;
};

TEST_F(Serve, HealthAndModel) {
  auto c = server_->client();
  auto h = c.Get("/api/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(json::parse(h->body).at("status"), "ok");

  auto m = c.Get("/api/model");
  ASSERT_TRUE(m);
  ASSERT_EQ(m->status, 200);
  const json j = json::parse(m->body);
  ASSERT_EQ(j.at("labels").size(), 10u);
  EXPECT_NE(std::find(j["labels"].begin(), j["labels"].end(), "blues"), j["labels"].end());
  EXPECT_EQ(j.at("clip_scheme").at("kind"), "reference");
  EXPECT_TRUE(j.at("frontend").is_object());
  EXPECT_TRUE(j.at("model_config").is_object());
  EXPECT_EQ(j.at("max_upload_bytes"), 2 << 20);
}

TEST_F(Serve, PageIsSelfContained) {
  auto r = server_->client().Get("/");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(r->get_header_value("Content-Security-Policy").find("default-src 'none'"), std::string::npos);
  EXPECT_NE(r->body.find("/api/predict"), std::string::npos);
  EXPECT_NE(r->body.find("<audio"), std::string::npos);
  EXPECT_NE(r->body.find("name=\"viewport\""), std::string::npos);
  // No CDN, font or script from elsewhere: the page must work offline.
  for (const char* external : {"src=\"http", "href=\"http", "src=\"//", "href=\"//", "@import", "url("})
    EXPECT_EQ(r->body.find(external), std::string::npos) << external;
  auto head = server_->client().Head("/");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
}

// The server answers exactly what `genrenet predict --json` prints for the same song (but the
// file name, which is the upload's name and not a path), and the file's genre.
TEST_F(Serve, PredictsARealSongLikePredictJson) {
  const std::string path = song_path("disco.00003.wav");
  const CommandResult cli = run_genrenet({"predict", "--json", "--model", reference_model(), path}, 300 * kSlowdown);
  ASSERT_EQ(cli.exit_code, 0) << cli.err;
  json expected = json::parse(cli.out);
  expected.erase("file");

  auto c = server_->client();
  const httplib::MultipartFormDataItems items = {{"file", slurp(path), "disco.00003.wav", "audio/wav"}};
  auto r = c.Post("/api/predict", items);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
  json got = json::parse(r->body);
  EXPECT_EQ(got.at("file"), "disco.00003.wav");
  EXPECT_EQ(got.at("genre"), "disco");
  EXPECT_EQ(got.at("clips").size(), 19u);  // the reference scheme on a 30 s song
  got.erase("file");
  // Same checkpoint, same decoder, same batch of 19 clips on the same CPU code: bit-identical.
  EXPECT_EQ(got, expected);

  // The raw body form, named by ?name=.
  auto raw = c.Post("/api/predict?name=blues.wav", slurp(song_path("blues.00001.wav")), "audio/wav");
  ASSERT_TRUE(raw);
  ASSERT_EQ(raw->status, 200) << raw->body;
  const json b = json::parse(raw->body);
  EXPECT_EQ(b.at("genre"), "blues");
  EXPECT_EQ(b.at("file"), "blues.wav");
}

TEST_F(Serve, BadUploadsAreJsonErrors) {
  auto c = server_->client();
  expect_json_error(c.Post("/api/predict", "", "audio/wav"), 400, "empty raw body");
  expect_json_error(c.Post("/api/predict", httplib::MultipartFormDataItems{{"file", "", "empty.wav", "audio/wav"}}),
                    400, "empty multipart file");
  expect_json_error(c.Post("/api/predict", httplib::MultipartFormDataItems{{"song", "abc", "x.wav", "audio/wav"}}),
                    400, "multipart without a file field");
  expect_json_error(c.Post("/api/predict", "<html>definitely not audio</html>", "text/html"), 415, "not audio");
  std::string noise(100000, '\0');
  for (std::size_t i = 0; i < noise.size(); ++i) noise[i] = static_cast<char>((i * 2654435761u) >> 13);
  expect_json_error(c.Post("/api/predict", noise, "application/octet-stream"), 415, "random bytes");
  // A real WAV cut in half: its header promises more than the body holds.
  const std::string song = slurp(song_path("pop.00021.wav"));
  expect_json_error(c.Post("/api/predict", song.substr(0, song.size() / 2), "audio/wav"), 415, "truncated WAV");
  // A RIFF/WAVE header followed by garbage.
  expect_json_error(c.Post("/api/predict", song.substr(0, 12) + noise.substr(0, 5000), "audio/wav"), 415,
                    "corrupt WAV");
  // Valid audio, shorter than one clip (the reference scheme needs a few hundred samples).
  const std::string tiny = encode_wav16(std::vector<float>(5, 0.1f), kSampleRate);
  expect_json_error(c.Post("/api/predict", tiny, "audio/wav"), 422, "too short");
  // Valid audio longer than the server takes (600 s by default): refused from its header.
  const std::string long_song = encode_wav16(std::vector<float>(700 * 1000, 0.0f), 1000);  // 1.4 MB
  expect_json_error(c.Post("/api/predict", long_song, "audio/wav"), 413, "700 s song");
  // The server is still fine afterwards.
  auto h = c.Get("/api/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
}

TEST_F(Serve, TraversalNamesAreNeverPaths) {
  auto c = server_->client();
  const std::string song = slurp(song_path("blues.00002.wav"));
  const std::string target = server_->work_dir() + "/../pwned.wav";
  const std::vector<std::string> names = {"../../../../../../tmp/genrenet_serve_pwned.wav", "..\\..\\x.wav",
                                          "/" + target, ".."};
  for (const std::string& name : names) {
    auto r = c.Post("/api/predict", httplib::MultipartFormDataItems{{"file", song, name, "audio/wav"}});
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << name << ": " << r->body;
    const std::string file = json::parse(r->body).at("file");
    EXPECT_EQ(file.find('/'), std::string::npos) << file;
    EXPECT_EQ(file.find('\\'), std::string::npos) << file;
    EXPECT_NE(file, "..");
  }
  auto q = c.Post("/api/predict?name=%2e%2e%2f%2e%2e%2fetc%2fpasswd", song, "audio/wav");
  ASSERT_TRUE(q);
  EXPECT_EQ(json::parse(q->body).at("file"), "passwd");
  // Nothing was written anywhere we can see: not the targets, not the server's working folder.
  EXPECT_FALSE(fs::exists(target));
  EXPECT_FALSE(fs::exists("/tmp/genrenet_serve_pwned.wav"));
  EXPECT_TRUE(fs::is_empty(server_->work_dir()));
  // A traversal in the URL itself is just an unknown path.
  auto p = c.Get("/api/../../etc/passwd");
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->status == 404 || p->status == 400) << p->status;
  EXPECT_EQ(p->body.find("root:"), std::string::npos);
}

TEST_F(Serve, UnknownPathsAndWrongMethods) {
  auto c = server_->client();
  expect_json_error(c.Get("/nope"), 404, "GET /nope");
  expect_json_error(c.Post("/api/nope", "x", "text/plain"), 404, "POST /api/nope");
  auto g = c.Get("/api/predict");
  expect_json_error(g, 405, "GET /api/predict");
  EXPECT_EQ(g->get_header_value("Allow"), "POST");
  auto d = c.Delete("/");
  expect_json_error(d, 405, "DELETE /");
  EXPECT_EQ(d->get_header_value("Allow"), "GET, HEAD");
  expect_json_error(c.Post("/api/health", "x", "text/plain"), 405, "POST /api/health");
  expect_json_error(c.Put("/api/model", "x", "text/plain"), 405, "PUT /api/model");
}

TEST_F(Serve, OversizeUploadsAre413) {
  const std::string big((2 << 20) + 1, 'x');
  expect_json_error(server_->client().Post("/api/predict", big, "audio/wav"), 413, "2 MB + 1 byte raw body");
  expect_json_error(server_->client().Post("/api/predict",
                                           httplib::MultipartFormDataItems{{"file", big, "big.wav", "audio/wav"}}),
                    413, "oversize multipart");
  // Chunked bodies carry no Content-Length; the limit is counted as they arrive (httplib 0.11
  // alone would buffer them without bound).
  {
    RawConnection raw(server_->port());
    ASSERT_TRUE(raw.connected());
    std::string request = "POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: audio/wav\r\n"
                          "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    const std::string chunk(1 << 16, 'x');
    char size_line[32];
    std::snprintf(size_line, sizeof size_line, "%zx\r\n", chunk.size());
    for (int i = 0; i < 40; ++i) request += size_line + chunk + "\r\n";  // 2.5 MB > 2 MB
    request += "0\r\n\r\n";
    raw.send_all(request);  // may stop early when the server answers and closes
    const std::string reply = raw.read_until("}\n");
    EXPECT_EQ(reply.rfind("HTTP/1.1 413", 0), 0u) << reply.substr(0, 300);
    EXPECT_NE(reply.find("\"error\""), std::string::npos) << reply.substr(0, 300);
  }
  // A client announcing 1 GB that it never sends occupies one worker until the read timeout;
  // it is never buffered, and the server keeps answering others meanwhile.
  {
    RawConnection lying(server_->port());
    ASSERT_TRUE(lying.connected());
    lying.send_all("POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: audio/wav\r\n"
                   "Content-Length: 1073741824\r\n\r\nRIFF");
    auto h = server_->client().Get("/api/health");
    ASSERT_TRUE(h);
    EXPECT_EQ(h->status, 200);
  }
  // Expect: 100-continue with an oversize body: the body is read and discarded (never held),
  // then 413.
  {
    RawConnection raw(server_->port());
    ASSERT_TRUE(raw.connected());
    raw.send_all("POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: audio/wav\r\n"
                 "Content-Length: 3000000\r\nExpect: 100-continue\r\n\r\n");
    EXPECT_EQ(raw.read_until("\r\n\r\n").rfind("HTTP/1.1 100 Continue", 0), 0u);
    raw.send_all(std::string(3000000, 'x'));
    const std::string reply = raw.read_until("}\n");
    EXPECT_NE(reply.find("HTTP/1.1 413"), std::string::npos) << reply.substr(0, 300);
  }
}

// Several uploads at once on the 4-thread pool: every one answered, and answered right.
TEST_F(Serve, ConcurrentUploadsAllSucceed) {
  const std::vector<std::pair<std::string, std::string>> songs = {
      {"blues.00001.wav", "blues"}, {"disco.00003.wav", "disco"}, {"blues.00071.wav", "blues"},
      {"pop.00021.wav", "pop"},     {"blues.00075.wav", "blues"}, {"blues.00083.wav", "blues"}};
  std::vector<std::future<std::pair<int, std::string>>> answers;
  for (const auto& [file, genre] : songs)
    answers.push_back(std::async(std::launch::async, [file = file] {
      auto c = server_->client();
      auto r = c.Post("/api/predict", httplib::MultipartFormDataItems{{"file", slurp(song_path(file)), file, "audio/wav"}});
      if (!r) return std::make_pair(-1, std::string(httplib::to_string(r.error())));
      return std::make_pair(r->status, r->status == 200 ? json::parse(r->body).at("genre").get<std::string>() : r->body);
    }));
  for (std::size_t i = 0; i < songs.size(); ++i) {
    const auto [status, genre] = answers[i].get();
    EXPECT_EQ(status, 200) << songs[i].first << ": " << genre;
    EXPECT_EQ(genre, songs[i].second) << songs[i].first;
  }
}

// SIGTERM while a request is in flight: the request is still answered, then the server exits 0.
TEST(ServeShutdown, SigtermFinishesTheRequestInFlight) {
  GN_REQUIRE_SHARED();
  ServeProcess server({"--threads", "2", "--quiet"});
  auto pending = std::async(std::launch::async, [&server] {
    auto c = server.client();
    auto r = c.Post("/api/predict?name=song.wav", slurp(song_path("blues.00001.wav")), "audio/wav");
    return r ? r->status : -1;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the upload (1.3 MB on loopback) is in
  EXPECT_EQ(server.terminate(), 0) << server.stderr_text();
  EXPECT_EQ(pending.get(), 200);
  EXPECT_NE(server.stderr_text().find("SIGTERM"), std::string::npos);
}

TEST(ServeStartup, BadOptionsAndBusyPortsAreClearErrors) {
  GN_REQUIRE_SHARED();
  ServeProcess server({"--quiet"});
  const CommandResult busy = run_genrenet(
      {"serve", "--model", reference_model(), "--port", std::to_string(server.port()), "--quiet"}, 60);
  EXPECT_NE(busy.exit_code, 0);
  EXPECT_NE(busy.err.find("cannot listen"), std::string::npos) << busy.err;
  const CommandResult threads = run_genrenet({"serve", "--model", reference_model(), "--threads", "0"}, 60);
  EXPECT_NE(threads.exit_code, 0);
  EXPECT_NE(threads.err.find("threads"), std::string::npos) << threads.err;
  const CommandResult missing = run_genrenet({"serve", "--model", "/nonexistent/model.safetensors"}, 60);
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_EQ(server.terminate(), 0);
}

}  // namespace
}  // namespace gn::test
