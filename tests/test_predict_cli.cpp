// `genrenet predict` through the real binary with the reference model imported from ../shared:
// songs too short for the model are refused naming the minimum while the others are still
// predicted (test_slow_predict_stream.cpp: many files). Skips when ../shared is absent.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support.h"
#include "data/audio.h"

namespace gn::test {
namespace {

using json = nlohmann::json;

std::string song_path(const std::string& name) { return shared_dir() + "/seed/gtzan-sample/" + name; }

// Deterministic white noise at -20 dBFS: audible (silence is refused for its own reason), so
// only the length decides.
std::string write_noise(const std::string& dir, const std::string& name, std::size_t samples) {
  const std::string path = dir + "/" + name;
  std::vector<float> x(samples);
  std::uint32_t state = 12345;
  for (float& v : x) {
    state = state * 1664525u + 1013904223u;
    v = 0.1f * (static_cast<float>(state >> 8) / 8388608.0f - 1.0f);
  }
  std::ofstream(path, std::ios::binary) << encode_wav16(x, kSampleRate);
  return path;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// 0.5 s of audio used to get 'hiphop 1.000' from 19 clips of 0.05 s. The reference scheme's
// clips are 10% of the song and the seed front-end fills a 32700-point FFT, so the shortest
// song is 327000 samples = 14.83 s: one sample less is refused, that many is predicted.
TEST(PredictCli, ShortSongsAreRefusedNamingTheMinimum) {
  GN_REQUIRE_SHARED();
  const std::string dir = temp_dir("predict_short");
  const std::string half_second = write_noise(dir, "half_second.wav", kSampleRate / 2);
  const std::string just_short = write_noise(dir, "just_short.wav", 326999);
  const std::string just_enough = write_noise(dir, "just_enough.wav", 327000);
  const std::string real = song_path("blues.00001.wav");
  const CommandResult r =
      run_genrenet({"predict", "--device", "cpu", "--json", "--clips", "--model", reference_model(), half_second, real,
                    just_short, just_enough});
  EXPECT_EQ(r.exit_code, 1) << r.err;  // some files failed, the others are predicted
  for (const char* name : {"half_second.wav: too short: 0.50 s", "just_short.wav: too short: 14.83 s"})
    EXPECT_NE(r.err.find(name), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("this model needs songs of at least 14.83 s"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("32700 samples"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("just_enough.wav"), std::string::npos) << r.err;
  const std::vector<std::string> out = lines(r.out);
  ASSERT_EQ(out.size(), 4u) << r.out;  // one JSON object per file, in the order given
  EXPECT_NE(json::parse(out[0]).at("error").get<std::string>().find("too short"), std::string::npos);
  EXPECT_EQ(json::parse(out[1]).at("genre"), "blues");
  EXPECT_TRUE(json::parse(out[2]).contains("error"));
  EXPECT_EQ(json::parse(out[3]).at("clips").size(), 19u);
}

}  // namespace
}  // namespace gn::test
