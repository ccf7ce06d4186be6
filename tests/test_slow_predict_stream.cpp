// `genrenet predict` of many files through the real binary with the reference model imported
// from ../shared: results in the order given, each as predicting the song alone, and peak
// memory that does not grow with the number of files. Slow (tens of songs through the full
// model). Skips when ../shared is absent.
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

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// Many files in one call (links to two real songs, alternating): one JSON line per file in
// the order given, each the same as predicting that song alone; the peak memory of 16 files
// is that of 4 (songs stream through a short queue and a few batches).
TEST(PredictCli, ManySongsStreamInOrderWithBoundedMemory) {
  GN_REQUIRE_SHARED();
  const std::vector<std::string> real = {"blues.00001.wav", "disco.00003.wav"};
  std::vector<json> alone;
  for (const std::string& song : real) {
    const CommandResult r = run_genrenet({"predict", "--device", "cpu", "--json", "--model", reference_model(), song_path(song)});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    alone.push_back(json::parse(r.out));
  }
  const std::string dir = temp_dir("predict_many");
  std::vector<std::string> files;
  for (int i = 0; i < 16; ++i) {
    files.push_back(dir + "/song" + std::to_string(i) + ".wav");
    std::filesystem::create_symlink(song_path(real[i % real.size()]), files.back());
  }
  auto predict = [&](std::size_t n) -> long {
    std::vector<std::string> args = {"predict", "--device", "cpu", "--json", "--model", reference_model()};
    args.insert(args.end(), files.begin(), files.begin() + static_cast<std::ptrdiff_t>(n));
    const CommandResult r = run_genrenet(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    const std::vector<std::string> out = lines(r.out);
    EXPECT_EQ(out.size(), n) << r.out;
    for (std::size_t i = 0; i < out.size() && i < n; ++i) {
      json got = json::parse(out[i]);
      const json& want = alone[i % real.size()];
      EXPECT_EQ(got.at("file"), files[i]) << "out of order at line " << i;
      EXPECT_EQ(got.at("genre"), want.at("genre")) << files[i];
      // Clips of two songs share a batch here: float32 GEMMs may block a batch of another
      // composition differently, so probabilities agree to rounding (~1e-7), not bit for bit.
      const auto& gp = got.at("probabilities");
      const auto& wp = want.at("probabilities");
      EXPECT_EQ(gp.size(), wp.size());
      for (auto it = gp.begin(); it != gp.end(); ++it)
        EXPECT_NEAR(it.value().get<double>(), wp.at(it.key()).get<double>(), 1e-5) << files[i] << " " << it.key();
    }
    return r.max_rss_kb;
  };
  const long peak4 = predict(4), peak16 = predict(16);
  std::printf("  peak RSS: 4 files %ld MiB, 16 files %ld MiB\n", peak4 / 1024, peak16 / 1024);
  // Four times the files through the same queue and batches. 16 MiB covers allocator noise
  // (a song is ~2.6 MB decoded, 5 MB as clips); holding every song would add 12 x 7.6 MB.
  EXPECT_LT(peak16, peak4 + 16 * 1024);
}

}  // namespace
}  // namespace gn::test
