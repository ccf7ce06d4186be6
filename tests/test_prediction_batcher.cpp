// Dynamic batching of `genrenet serve` in-process: songs submitted concurrently from three
// threads share model calls and each gets exactly what predicting it alone gives. Uses the
// reference model imported from ../shared; skips when it is absent.
#include <gtest/gtest.h>

#include <future>
#include <vector>

#include "tests/support.h"
#include "data/audio.h"
#include "serve/prediction_batcher.h"
#include "serve/predictor.h"

namespace gn::test {
namespace {

TEST(PredictionBatcher, ConcurrentSongsShareModelCallsAndMatchAlone) {
  GN_REQUIRE_SHARED();
  Predictor predictor(reference_model(), Device::cpu());
  const std::vector<std::string> names = {"blues.00001.wav", "disco.00003.wav", "pop.00021.wav"};
  std::vector<Audio> songs;
  for (const std::string& n : names) songs.push_back(decode_audio(shared_dir() + "/seed/gtzan-sample/" + n));
  std::vector<SongPrediction> alone;
  for (const Audio& s : songs) alone.push_back(predictor.predict({s}).at(0));

  PredictionBatcher batcher(predictor);
  std::vector<std::future<SongPrediction>> results;
  for (const Audio& s : songs) results.push_back(std::async(std::launch::async, [&batcher, s] { return batcher.predict(s); }));
  for (std::size_t i = 0; i < songs.size(); ++i) {
    const SongPrediction got = results[i].get();
    EXPECT_EQ(got.source, alone[i].source);
    EXPECT_EQ(got.genre, alone[i].genre) << names[i];
    ASSERT_EQ(got.clip_probabilities.size(), alone[i].clip_probabilities.size());
    // Clips of several songs share batches of 8: the same per-row float32 arithmetic; allow
    // rounding in case a GEMM blocks a batch of another composition differently.
    for (std::size_t c = 0; c < got.probabilities.size(); ++c)
      EXPECT_NEAR(got.probabilities[c], alone[i].probabilities[c], 1e-5) << names[i];
  }
  // The first song starts the model at once (it fills a batch); the others arrive while it
  // runs (a song takes >= 100 ms) and go together: fewer model calls than songs.
  EXPECT_LT(batcher.model_calls(), static_cast<std::int64_t>(songs.size()));
  EXPECT_GE(batcher.model_calls(), 1);
}

}  // namespace
}  // namespace gn::test
