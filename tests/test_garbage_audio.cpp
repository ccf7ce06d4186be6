// Garbage in, no confident answer out, through the real binary: silence is refused, a
// degenerate spectrum (DC, one tone) is classified with a warning beside the prediction (text,
// --json and the server), a FLAC whose header gives no length is decoded to its end with a
// note, and the decoded size is bounded before anything is allocated (with a flag to lift it).
#include <gtest/gtest.h>
#include <sndfile.h>

#include <chrono>
#include <cmath>
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

using json = nlohmann::json;

void spit(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

std::vector<float> tone(double hz, double amplitude, double seconds, int rate = kSampleRate) {
  std::vector<float> x(static_cast<std::size_t>(seconds * rate));
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(amplitude * std::sin(2 * M_PI * hz * i / rate));
  return x;
}

// A 16-bit FLAC of `frames` frames x `channels` at `rate`, every sample given by `sample(i)`
// (written in blocks: a silent hour costs kilobytes of FLAC and no memory here).
void write_flac(const std::string& path, std::int64_t frames, int channels, int rate,
                const std::function<float(std::int64_t)>& sample) {
  SF_INFO info{};
  info.samplerate = rate;
  info.channels = channels;
  info.format = SF_FORMAT_FLAC | SF_FORMAT_PCM_16;
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  ASSERT_NE(f, nullptr) << sf_strerror(nullptr);
  std::vector<float> block(static_cast<std::size_t>(65536) * channels);
  for (std::int64_t done = 0; done < frames;) {
    const std::int64_t n = std::min<std::int64_t>(65536, frames - done);
    for (std::int64_t i = 0; i < n; ++i)
      for (int c = 0; c < channels; ++c) block[i * channels + c] = sample(done + i);
    sf_writef_float(f, block.data(), n);
    done += n;
  }
  sf_close(f);
}

class GarbageAudio : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(temp_dir("garbage"));
    write_tiny_checkpoint(model());
    spit(*dir_ + "/noise.wav", encode_wav16(random_values(3 * kSampleRate, 3, -0.5f, 0.5f), kSampleRate));
    spit(*dir_ + "/silence.wav", encode_wav16(std::vector<float>(3 * kSampleRate, 0.0f), kSampleRate));
    // -70 dBFS of noise: not digital silence, still nothing to classify.
    spit(*dir_ + "/quiet.wav", encode_wav16(random_values(3 * kSampleRate, 4, -5.5e-4f, 5.5e-4f), kSampleRate));
    spit(*dir_ + "/dc.wav", encode_wav16(std::vector<float>(3 * kSampleRate, 0.5f), kSampleRate));
    spit(*dir_ + "/tone.wav", encode_wav16(tone(440, 0.5, 3), kSampleRate));
  }
  static std::string model() { return *dir_ + "/tiny.safetensors"; }
  static std::string path(const std::string& name) { return *dir_ + "/" + name; }
  static CommandResult predict(std::vector<std::string> extra) {
    std::vector<std::string> args = {"predict", "--device", "cpu", "--model", model()};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_genrenet(args, 300);
  }
  static inline std::string* dir_ = nullptr;
};

TEST_F(GarbageAudio, SilenceIsRefused) {
  for (const char* name : {"silence.wav", "quiet.wav"}) {
    const CommandResult r = predict({path(name)});
    EXPECT_EQ(r.exit_code, 1) << name;
    EXPECT_NE(r.err.find(path(name) + ": the song is silent or nearly so"), std::string::npos) << r.err;
    EXPECT_EQ(r.out.find(name), std::string::npos) << "a prediction for " << name << ": " << r.out;
  }
  // A good song beside a silent one is still classified.
  const CommandResult both = predict({"--json", path("silence.wav"), path("noise.wav")});
  EXPECT_EQ(both.exit_code, 1);
  EXPECT_NE(both.out.find("\"genre\""), std::string::npos) << both.out;
}

TEST_F(GarbageAudio, DegenerateSpectrumIsAWarningBesideThePrediction) {
  const CommandResult text = predict({path("dc.wav"), path("tone.wav"), path("noise.wav")});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  // Each warning on the line after its song's prediction; none for noise.
  const auto after = [&](const std::string& song) {
    const std::size_t at = text.out.find(path(song) + ": ");
    if (at == std::string::npos) return std::string();
    const std::size_t next = text.out.find('\n', at);
    const std::size_t end = text.out.find('\n', next + 1);
    return text.out.substr(next + 1, end - next - 1);
  };
  EXPECT_NE(after("dc.wav").find("warning: degenerate spectrum"), std::string::npos) << text.out;
  EXPECT_NE(after("dc.wav").find("0 Hz"), std::string::npos) << text.out;
  EXPECT_NE(after("tone.wav").find("warning: degenerate spectrum"), std::string::npos) << text.out;
  EXPECT_NE(after("tone.wav").find("single tone near 441 Hz"), std::string::npos) << text.out;  // bin of 10.8 Hz
  EXPECT_EQ(after("noise.wav").find("warning"), std::string::npos) << text.out;

  const CommandResult j = predict({"--json", path("tone.wav"), path("noise.wav")});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  std::istringstream lines(j.out);
  std::string line;
  std::getline(lines, line);
  const json t = json::parse(line);
  ASSERT_EQ(t.at("warnings").size(), 1u) << line;
  EXPECT_NE(t["warnings"][0].get<std::string>().find("degenerate spectrum"), std::string::npos);
  std::getline(lines, line);
  EXPECT_TRUE(json::parse(line).at("warnings").empty()) << line;
}

TEST_F(GarbageAudio, ServerRefusesSilenceAndWarnsOnATone) {
  ServeProcess server(model(), {"--quiet"}, 120);
  auto c = server.client();
  auto silent = c.Post("/api/predict?name=silence.wav", slurp(path("silence.wav")), "audio/wav");
  ASSERT_TRUE(silent);
  EXPECT_EQ(silent->status, 422) << silent->body;
  EXPECT_NE(silent->body.find("silent or nearly so"), std::string::npos) << silent->body;
  EXPECT_EQ(silent->body.find("\"genre\""), std::string::npos) << silent->body;
  auto t = c.Post("/api/predict?name=tone.wav", slurp(path("tone.wav")), "audio/wav");
  ASSERT_TRUE(t);
  ASSERT_EQ(t->status, 200) << t->body;
  const json body = json::parse(t->body);
  ASSERT_EQ(body.at("warnings").size(), 1u) << t->body;
  EXPECT_NE(body["warnings"][0].get<std::string>().find("single tone"), std::string::npos);
  EXPECT_EQ(server.terminate(), 0);
}

// A FLAC written without its length (a streaming encoder's STREAMINFO says 0 samples) was
// refused as "too long (9223372036854775807 frames)"; it is decoded to the end, with a note.
TEST_F(GarbageAudio, FlacWithoutLengthIsDecodedWithANote) {
  const std::string flac = path("nolength.flac");
  const std::vector<float> noise = random_values(4 * kSampleRate, 9, -0.5f, 0.5f);
  write_flac(flac, static_cast<std::int64_t>(noise.size()), 1, kSampleRate,
             [&](std::int64_t i) { return noise[static_cast<std::size_t>(i)]; });
  std::string bytes = slurp(flac);
  // STREAMINFO starts at byte 8; its 36-bit total-samples field ends at byte 8 + 18.
  ASSERT_EQ(bytes.substr(0, 4), "fLaC");
  bytes[8 + 13] = static_cast<char>(bytes[8 + 13] & 0xf0);
  for (int i = 14; i < 18; ++i) bytes[8 + i] = 0;
  spit(flac, bytes);
  const CommandResult r = predict({"--json", "--clips", flac});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_NEAR(j.at("clips").size(), 7u, 0u);  // 4 s of 1 s clips at 50% overlap
  ASSERT_FALSE(j.at("warnings").empty()) << r.out;
  EXPECT_NE(j["warnings"][0].get<std::string>().find("header gives no length; decoded 4.0 s"), std::string::npos)
      << r.out;
}

// 599 s of silence at 96 kHz x 6 channels is 391 KB of FLAC and 345 M samples: refused from
// its header at once (it took 79 s of CPU and 1.8 GB), by predict and by the server (413).
TEST_F(GarbageAudio, DecodedSizeIsBoundedFromTheHeader) {
  const std::string flac = path("wide.flac");
  write_flac(flac, std::int64_t{599} * 96000, 6, 96000, [](std::int64_t) { return 0.0f; });
  const auto t0 = std::chrono::steady_clock::now();
  const CommandResult r = predict({flac});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(flac + ": too much audio to decode (its header announces 57504000 frames x 6 channels"),
            std::string::npos)
      << r.err;
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 30.0)
      << "refused from the header, not after decoding";

  ServeProcess server(model(), {"--quiet"}, 120);
  const auto t1 = std::chrono::steady_clock::now();
  auto res = server.client().Post("/api/predict?name=wide.flac", slurp(flac), "audio/flac");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413) << res->body;
  EXPECT_NE(res->body.find("too much audio to decode"), std::string::npos) << res->body;
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count(), 5.0);
  EXPECT_EQ(server.terminate(), 0);
}

TEST_F(GarbageAudio, LengthLimitAppliesToPredictAndCanBeLifted) {
  // 70 s of a quiet tone over noise at 8 kHz, against a limit of 60 s (the default, 600 s, is
  // the server's too: DecodedSizeIsBoundedFromTheHeader).
  const std::string flac = path("long.flac");
  const std::vector<float> noise = random_values(8000, 11, -0.05f, 0.05f);
  write_flac(flac, std::int64_t{70} * 8000, 1, 8000, [&](std::int64_t i) {
    return noise[static_cast<std::size_t>(i % 8000)] + 0.3f * static_cast<float>(std::sin(0.7 * i));
  });
  const CommandResult limited = predict({"--max-song-seconds", "60", flac});
  EXPECT_EQ(limited.exit_code, 1);
  EXPECT_NE(limited.err.find(flac + ": too long (its header announces 70.0 s; the limit is 60.0 s)"), std::string::npos)
      << limited.err;
  const CommandResult lifted = predict({"--max-song-seconds", "0", "--json", "--clips", flac});
  ASSERT_EQ(lifted.exit_code, 0) << lifted.err;
  EXPECT_NEAR(json::parse(lifted.out).at("clips").back().at("end").get<double>(), 70.0, 0.01);
}

// A truncated MP3: classified on what could be decoded, with a note saying how much that was,
// and no line of the MP3 decoder's own on the terminal.
TEST_F(GarbageAudio, TruncatedMp3SaysHowMuchWasDecoded) {
  const std::string mp3 = path("song.mp3");
  {
    SF_INFO info{};
    info.samplerate = 44100;
    info.channels = 2;
    info.format = SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III;
    SNDFILE* f = sf_open(mp3.c_str(), SFM_WRITE, &info);
    if (!f) GTEST_SKIP() << "this libsndfile cannot write MP3 (" << sf_strerror(nullptr) << ")";
    const std::vector<float> noise = random_values(2 * 44100 * 20, 13, -0.3f, 0.3f);
    sf_writef_float(f, noise.data(), 44100 * 20);
    sf_close(f);
  }
  const std::string whole = slurp(mp3);
  const std::string cut = path("cut.mp3");
  spit(cut, whole.substr(0, whole.size() / 2) + std::string(4000, '\x55'));  // half, then garbage
  const CommandResult r = predict({"--json", cut});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  const std::string warnings = j.at("warnings").dump();
  EXPECT_NE(warnings.find(" s its header announces could be decoded"), std::string::npos) << warnings;
  EXPECT_NE(warnings.find("decoding stopped after "), std::string::npos) << warnings;
  // The decoder's own notes, attributed to the song instead of loose on stderr.
  EXPECT_NE(warnings.find("the MP3 decoder reported"), std::string::npos) << warnings;
  EXPECT_EQ(r.err.find("mpg123"), std::string::npos) << "the decoder's own output reached the terminal:\n" << r.err;
  EXPECT_EQ(r.err.find("[src/"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace gn::test
