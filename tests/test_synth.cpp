// The synthetic GTZAN: deterministic (same seed, same bytes, whatever the thread count),
// seed-dependent, the right layout and format, and the command line's errors.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "data/audio.h"
#include "data/synth.h"
#include "engine/error.h"
#include "tests/support.h"

namespace gn {
namespace {
namespace fs = std::filesystem;

std::uint64_t fnv1a(const std::string& bytes, std::uint64_t h = 1469598103934665603ull) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// Hash of every file of a folder tree, in path order.
std::uint64_t hash_tree(const std::string& root) {
  std::vector<std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file()) files.push_back(fs::relative(e.path(), root).string());
  std::sort(files.begin(), files.end());
  std::uint64_t h = 1469598103934665603ull;
  for (const auto& f : files) {
    std::ifstream in(root + "/" + f, std::ios::binary);
    h = fnv1a(f + std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()), h);
  }
  return h;
}

std::string synth_into(const std::string& tag, std::uint64_t seed, int threads) {
  const std::string dir = test::temp_dir(tag);
  SynthOptions o;
  o.out_dir = dir;
  o.songs_per_genre = 2;
  o.seconds = 3.0;
  o.seed = seed;
  o.progress = false;
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  EXPECT_EQ(write_synth_dataset(o), 20);
  omp_set_num_threads(saved);
  return dir;
}

TEST(Synth, DeterministicBytesAcrossRunsAndThreads) {
  const std::string a = synth_into("synth_a", 5, 1);
  const std::string b = synth_into("synth_b", 5, 2);
  const std::string c = synth_into("synth_c", 6, 2);
  EXPECT_EQ(hash_tree(a), hash_tree(b)) << "same seed, different bytes";
  EXPECT_NE(hash_tree(a), hash_tree(c)) << "the seed changes nothing";
  // Layout: 10 genre folders of <genre>.NNNNN.wav; 22050 Hz mono 16-bit, 3 s each.
  for (const std::string& g : synth_genres()) {
    ASSERT_TRUE(fs::exists(a + "/" + g + "/" + g + ".00001.wav")) << g;
    const Audio audio = decode_audio(a + "/" + g + "/" + g + ".00000.wav");
    EXPECT_EQ(audio.source_rate, 22050);
    EXPECT_EQ(audio.source_channels, 1);
    EXPECT_EQ(audio.samples.size(), 3u * 22050u);
    float peak = 0;
    for (float v : audio.samples) peak = std::max(peak, std::fabs(v));
    EXPECT_GT(peak, 0.15f) << g << " is nearly silent";
    EXPECT_LT(peak, 1.0f) << g << " clips";
  }
}

TEST(Synth, SongsDifferWithinAndAcrossClasses) {
  // Within a class songs differ (tempo, key, mix), and classes differ from each other.
  const std::vector<float> a0 = synth_song(3, 0, 1, 2.0), a1 = synth_song(3, 1, 1, 2.0), b0 = synth_song(6, 0, 1, 2.0);
  EXPECT_EQ(a0, synth_song(3, 0, 1, 2.0));
  EXPECT_NE(a0, a1);
  EXPECT_NE(a0, b0);
  EXPECT_THROW(synth_song(10, 0, 1, 2.0), Error);
  EXPECT_THROW(synth_song(0, 0, 1, 0.5), Error);
  EXPECT_THROW(synth_song(0, 0, 1, NAN), Error);
}

TEST(Synth, CommandLine) {
  const std::string dir = test::temp_dir("synth_cli");
  const auto ok = test::run_genrenet({"synth", "--out", dir + "/d", "--songs-per-genre", "1", "--seconds", "2", "--seed", "4", "--quiet"}, 120);
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_TRUE(fs::exists(dir + "/d/reggae/reggae.00000.wav"));
  EXPECT_NE(ok.out.find("wrote 10 songs"), std::string::npos) << ok.out;
  const auto no_out = test::run_genrenet({"synth"}, 60);
  EXPECT_NE(no_out.exit_code, 0);
  EXPECT_NE(no_out.err.find("--out"), std::string::npos) << no_out.err;
  const auto bad = test::run_genrenet({"synth", "--out", dir + "/e", "--songs-per-genre", "zero"}, 60);
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("songs-per-genre"), std::string::npos) << bad.err;
  const auto bad_seconds = test::run_genrenet({"synth", "--out", dir + "/e", "--seconds", "0.1"}, 60);
  EXPECT_NE(bad_seconds.exit_code, 0);
  EXPECT_NE(bad_seconds.err.find("seconds"), std::string::npos) << bad_seconds.err;
}

}  // namespace
}  // namespace gn
