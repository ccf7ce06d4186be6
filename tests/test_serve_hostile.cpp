// `genrenet serve` against slow, greedy and ambiguous clients, on loopback only, every wait
// bounded. The model is the tiny test checkpoint (milliseconds per song): what is measured here
// is the server around it. Several client addresses are simulated by connecting from other
// addresses of 127.0.0.0/8, all of which are this machine.
#include <gtest/gtest.h>
#include <sndfile.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <nlohmann/json.hpp>

#include "data/audio.h"
#include "data/clips.h"
#include "layers/frontend.h"
#include "model/checkpoint.h"
#include "model/keras_import.h"
#include "serve/server.h"
#include "tests/serve_support.h"
#include "tests/support.h"
#include "tests/tiny_checkpoint.h"

namespace gn::test {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

const std::string& dir() {
  static const std::string d = temp_dir("serve_hostile");
  return d;
}

const std::string& tiny_model() {
  static const std::string path = [] {
    const std::string p = dir() + "/tiny.safetensors";
    write_tiny_checkpoint(p);
    return p;
  }();
  return path;
}

// 3 s of noise, 16-bit WAV at 22050 Hz: a cheap, valid song.
const std::string& small_song() {
  static const std::string bytes = encode_wav16(random_values(3 * kSampleRate, 21, -0.5f, 0.5f), kSampleRate);
  return bytes;
}

// A heavy upload: `seconds` of 96 kHz stereo FLAC, silent so it is small (about 100 KB per
// minute), yet decoding and resampling it costs many seconds of CPU. Within the default limits.
std::string heavy_flac(int seconds) {
  const std::string path = dir() + "/heavy" + std::to_string(seconds) + ".flac";
  if (!std::filesystem::exists(path)) {
    SF_INFO info{};
    info.samplerate = 96000;
    info.channels = 2;
    info.format = SF_FORMAT_FLAC | SF_FORMAT_PCM_16;
    SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
    if (!f) throw std::runtime_error(sf_strerror(nullptr));
    const std::vector<float> zeros(2 * 96000, 0.0f);
    for (int s = 0; s < seconds; ++s) sf_writef_float(f, zeros.data(), 96000);
    sf_close(f);
  }
  return slurp(path);
}

std::string status_line(const std::string& reply) { return reply.substr(0, reply.find("\r\n")); }

// The done-when of the server: with 50 slow clients (one header line a second, from five
// addresses) and 4 heavy uploads connected, health checks are answered within 1 s each, and
// SIGTERM ends the process within 10 s.
TEST(ServeHostile, HealthWithin1sUnderSlowClientsAndHeavyUploadsAndExitWithin10s) {
  ServeProcess server(tiny_model(), {"--threads", "2", "--queue", "8"}, 240);
  const std::string heavy = heavy_flac(590);
  std::vector<std::unique_ptr<RawConnection>> slow;
  for (int i = 0; i < 50; ++i) {
    const std::string from = "127.0.0." + std::to_string(2 + i / 10);
    slow.push_back(std::make_unique<RawConnection>(server.port(), 30, from.c_str()));
    ASSERT_TRUE(slow.back()->connected()) << i;
    slow.back()->send_all("POST /api/predict HTTP/1.1\r\nHost: x\r\n");
  }
  std::atomic<bool> stop{false};
  std::thread dribble([&] {
    for (int line = 0; !stop; ++line) {
      for (auto& c : slow) c->send_all("X-Slow-" + std::to_string(line) + ": 1\r\n");
      for (int i = 0; i < 10 && !stop; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  std::vector<std::future<int>> uploads;
  for (int i = 0; i < 4; ++i)
    uploads.push_back(std::async(std::launch::async, [&server, &heavy] {
      auto c = server.client();
      c.set_read_timeout(60);
      auto r = c.Post("/api/predict?name=heavy.flac", heavy, "audio/flac");
      return r ? r->status : -1;
    }));
  std::this_thread::sleep_for(std::chrono::seconds(2));  // uploads are in and decoding
  double slowest = 0;
  for (int i = 0; i < 10; ++i) {
    httplib::Client c("127.0.0.1", server.port());
    c.set_connection_timeout(5);
    c.set_read_timeout(5);
    const auto t0 = Clock::now();
    auto h = c.Get("/api/health");
    const double took = since(t0);
    ASSERT_TRUE(h) << "health check " << i << ": " << httplib::to_string(h.error());
    EXPECT_EQ(h->status, 200) << h->body;
    slowest = std::max(slowest, took);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  std::printf("  slowest of 10 health checks: %.3f s\n", slowest);
  EXPECT_LT(slowest, 1.0);
  const auto t0 = Clock::now();
  const int code = server.terminate(20);
  const double exit_seconds = since(t0);
  std::printf("  exit %.2f s after SIGTERM\n", exit_seconds);
  stop = true;
  dribble.join();
  EXPECT_EQ(code, 0) << server.stderr_text();
  EXPECT_LT(exit_seconds, 10.0);
  for (auto& u : uploads) u.wait();  // answered or dropped; nothing waits past the exit
}

// A head arriving one line at a time is cut off at its deadline, not kept alive by its trickle.
TEST(ServeHostile, SlowHeadGets408AtItsDeadline) {
  ServeProcess server(tiny_model(), {"--request-timeout", "3", "--quiet"}, 120);
  RawConnection c(server.port(), 15);
  ASSERT_TRUE(c.connected());
  const auto t0 = Clock::now();
  c.send_all("GET /api/health HTTP/1.1\r\n");
  std::atomic<bool> stop{false};
  std::thread dribble([&] {
    for (int i = 0; !stop && i < 40; ++i) {
      c.send_all("X-Slow: 1\r\n");
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  });
  const std::string reply = c.read_until("}\n");
  const double took = since(t0);
  stop = true;
  dribble.join();
  EXPECT_EQ(status_line(reply), "HTTP/1.1 408 Request Timeout") << reply;
  EXPECT_GT(took, 2.5);
  EXPECT_LT(took, 6.0);
  EXPECT_EQ(server.terminate(), 0);
}

// A body trickling in is cut off at the request's deadline too.
TEST(ServeHostile, SlowBodyIsCutOffAtTheRequestDeadline) {
  ServeProcess server(tiny_model(), {"--request-timeout", "3", "--quiet"}, 120);
  RawConnection c(server.port(), 15);
  ASSERT_TRUE(c.connected());
  const auto t0 = Clock::now();
  c.send_all("POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: audio/wav\r\nContent-Length: 100000\r\n\r\n");
  std::atomic<bool> stop{false};
  std::thread dribble([&] {
    for (int i = 0; !stop && i < 40; ++i) {
      c.send_all(std::string(100, 'x'));
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  });
  const std::string reply = c.read_until("}\n");
  const double took = since(t0);
  stop = true;
  dribble.join();
  EXPECT_EQ(status_line(reply), "HTTP/1.1 400 Bad Request") << reply;
  EXPECT_NE(reply.find("did not finish within 3 s"), std::string::npos) << reply;
  EXPECT_LT(took, 6.0);
  EXPECT_EQ(server.terminate(), 0);
}

TEST(ServeHostile, ConnectionCapsPerClientAndInAll) {
  ServeProcess server(tiny_model(), {"--max-client-connections", "3", "--max-connections", "6", "--quiet"}, 120);
  std::vector<std::unique_ptr<RawConnection>> held;
  auto connect_from = [&](const char* from) {
    held.push_back(std::make_unique<RawConnection>(server.port(), 5, from));
    return held.back().get();
  };
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(connect_from("127.0.0.7")->connected());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // admitted
  const auto t0 = Clock::now();
  const std::string fourth = connect_from("127.0.0.7")->read_until("}\n");
  EXPECT_EQ(status_line(fourth), "HTTP/1.1 503 Service Unavailable") << fourth;
  EXPECT_NE(fourth.find("Retry-After: 5"), std::string::npos) << fourth;
  EXPECT_LT(since(t0), 2.0);
  // Another client is still served while the first is at its cap.
  auto h = server.client().Get("/api/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  // Three more from elsewhere fill the server (6); the next, from anywhere, is refused.
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(connect_from("127.0.0.8")->connected());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const std::string full = connect_from("127.0.0.9")->read_until("}\n");
  EXPECT_EQ(status_line(full), "HTTP/1.1 503 Service Unavailable") << full;
  held.clear();  // closing them frees the server
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto again = server.client().Get("/api/health");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200);
  EXPECT_EQ(server.terminate(), 0);
}

// Bodies that cannot be accepted are answered at once, without waiting for them.
TEST(ServeHostile, ImpossibleContentLengthsAreAnsweredAtOnce) {
  ServeProcess server(tiny_model(), {"--quiet"}, 120);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"10000000000", "HTTP/1.1 413 Payload Too Large"}, {"-1", "HTTP/1.1 400 Bad Request"}};
  for (const auto& [length, expected] : cases) {
    RawConnection c(server.port(), 10);
    ASSERT_TRUE(c.connected());
    const auto t0 = Clock::now();
    c.send_all("POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Length: " + length + "\r\n\r\nRIFF");
    const std::string reply = c.read_until("}\n");
    EXPECT_EQ(status_line(reply), expected) << length << ": " << reply;
    EXPECT_LT(since(t0), 1.0) << length;
  }
  EXPECT_EQ(server.terminate(), 0);
}

// Heads that two parsers could read differently (request smuggling) are refused.
TEST(ServeHostile, AmbiguousHeadsAreRefused) {
  ServeProcess server(tiny_model(), {"--quiet"}, 120);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 40\r\n\r\nRIFF",
       "Content-Length given 2 times"},
      {"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nRIFF\r\n0\r\n\r\n",
       "both Content-Length and Transfer-Encoding"},
      {"GET /api/health HTTP/1.1\r\nHost: x\rX-Injected: 1\r\n\r\n", "bare CR"},
      {"POST /api/predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "not supported"},
      {"GET /api/health HTTP/1.1\r\nHost: x\r\n folded: 1\r\n\r\n", "folded header line"},
  };
  for (const auto& [request, why] : cases) {
    RawConnection c(server.port(), 10);
    ASSERT_TRUE(c.connected());
    c.send_all(request);
    const std::string reply = c.read_until("}\n");
    EXPECT_TRUE(reply.rfind("HTTP/1.1 400", 0) == 0 || reply.rfind("HTTP/1.1 501", 0) == 0) << reply;
    EXPECT_NE(reply.find(why), std::string::npos) << why << ": " << reply;
  }
  // Well-formed requests are still fine, chunked ones included.
  RawConnection ok(server.port(), 10);
  ok.send_all("GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(status_line(ok.read_until("}\n")), "HTTP/1.1 200 OK");
  EXPECT_EQ(server.terminate(), 0);
}

// Beyond the work slots and the queue, an upload is answered 503 with Retry-After at once.
TEST(ServeHostile, BusyServerAnswers503WithRetryAfter) {
  ServeProcess server(tiny_model(), {"--threads", "1", "--queue", "0", "--quiet"}, 120);
  const std::string heavy = heavy_flac(590);
  auto first = std::async(std::launch::async, [&] {
    auto c = server.client();
    c.set_read_timeout(120);
    auto r = c.Post("/api/predict?name=heavy.flac", heavy, "audio/flac");
    return r ? r->status : -1;
  });
  std::this_thread::sleep_for(std::chrono::seconds(1));  // the first holds the only slot
  const auto t0 = Clock::now();
  auto second = server.client().Post("/api/predict?name=song.wav", small_song(), "audio/wav");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 503) << second->body;
  EXPECT_EQ(second->get_header_value("Retry-After"), "5");
  EXPECT_LT(since(t0), 2.0);
  EXPECT_EQ(server.terminate(), 0);
  first.wait();
}

// More uploads than work slots: the extra ones wait in the queue and every one is answered.
TEST(ServeHostile, UploadsBeyondTheSlotsWaitAndAllSucceed) {
  ServeProcess server(tiny_model(), {"--threads", "2", "--queue", "8", "--quiet"}, 120);
  std::vector<std::future<int>> answers;
  for (int i = 0; i < 8; ++i)
    answers.push_back(std::async(std::launch::async, [&server] {
      auto r = server.client().Post("/api/predict?name=song.wav", small_song(), "audio/wav");
      return r ? r->status : -1;
    }));
  for (auto& a : answers) EXPECT_EQ(a.get(), 200);
  EXPECT_EQ(server.terminate(), 0);
}

// A client that goes away while its upload waits or decodes frees its slot within moments.
TEST(ServeHostile, WorkOfADisconnectedClientIsAbandoned) {
  ServeProcess server(tiny_model(), {"--threads", "1", "--queue", "4"}, 120);
  const std::string heavy = heavy_flac(590);
  {
    RawConnection gone(server.port(), 10);
    ASSERT_TRUE(gone.connected());
    gone.send_all("POST /api/predict?name=heavy.flac HTTP/1.1\r\nHost: x\r\nContent-Type: audio/flac\r\n"
                  "Content-Length: " + std::to_string(heavy.size()) + "\r\n\r\n" + heavy);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // decoding has begun
  }  // closed
  const auto t0 = Clock::now();
  auto r = server.client().Post("/api/predict?name=song.wav", small_song(), "audio/wav");
  const double took = since(t0);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  // Decoding 590 s of 96 kHz stereo takes well over 10 s of CPU; abandoned, it takes a block.
  EXPECT_LT(took, 8.0);
  EXPECT_EQ(server.terminate(), 0);
  EXPECT_NE(server.stderr_text().find("503"), std::string::npos) << server.stderr_text();
}

// SIGTERM: nothing new is accepted at once; a request in flight is still answered; the
// process exits 0 within the stated bound.
TEST(ServeHostile, SigtermStopsAcceptingAndFinishesTheRequestInFlight) {
  ServeProcess server(tiny_model(), {"--quiet"}, 120);
  const int port = server.port();
  RawConnection in_flight(port, 15);
  ASSERT_TRUE(in_flight.connected());
  const std::string& song = small_song();
  in_flight.send_all("POST /api/predict?name=song.wav HTTP/1.1\r\nHost: x\r\nContent-Type: audio/wav\r\n"
                     "Content-Length: " + std::to_string(song.size()) + "\r\n\r\n" + song.substr(0, 1000));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto t0 = Clock::now();
  auto exited = std::async(std::launch::async, [&] { return server.terminate(20); });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  RawConnection late(port, 2);
  EXPECT_FALSE(late.connected() && late.send_all("GET /api/health HTTP/1.1\r\n\r\n") &&
               late.read_until("}\n").rfind("HTTP/1.1 200", 0) == 0)
      << "a new connection was served after SIGTERM";
  in_flight.send_all(song.substr(1000));
  const std::string reply = in_flight.read_until("}\n");
  EXPECT_EQ(status_line(reply), "HTTP/1.1 200 OK") << reply.substr(0, 300);
  EXPECT_EQ(exited.get(), 0);
  EXPECT_LT(since(t0), 10.0);
}

}  // namespace
}  // namespace gn::test
