// End-to-end parity with the published reference model: `import-keras` of
// ../shared/seed, then every clip of the seven seed songs through the engine's decoder, clip
// scheme, `seed` front-end and RCNN must give the probabilities real TensorFlow/Keras gives
// (tests/fixtures/keras_reference.safetensors, made by make_keras_reference.py) to within 5e-4
// absolute, and every song must be predicted as the genre in its file name. Any drift in the
// front-end, padding, BatchNorm, pooling order, BiLSTM, flatten order or Dense shows up here;
// the trace test then says whether the front-end or the model drifted.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "data/audio.h"
#include "data/clips.h"
#include "engine/safetensors.h"
#include "layers/frontend.h"
#include "layers/rcnn.h"
#include "model/checkpoint.h"
#include "model/keras_import.h"
#include "serve/predictor.h"
#include "tests/support.h"

namespace gn {
namespace {

// The bound on every per-clip probability. TF runs the model in float32 too, so the two
// differ only by float32 summation order (im2col GEMMs vs oneDNN, 128 LSTM steps): measured
// well below this bound; a real drift (reflect vs zero padding in the front-end, a transposed
// reshape, a wrong gate order) moves probabilities by 0.1 to 1.
constexpr double kProbTolerance = 5e-4;

std::string seed_dir() { return test::shared_dir() + "/seed"; }

class KerasParity : public test::DeviceTest {
 protected:
  void SetUp() override {
    test::DeviceTest::SetUp();
    if (IsSkipped()) return;
    GN_REQUIRE_SHARED();
    reference_ = read_safetensors(test::fixture_path("keras_reference.safetensors"));
    checkpoint_ = test::temp_dir("parity") + "/reference.safetensors";
    save_checkpoint(checkpoint_, import_keras_files(seed_dir() + "/model.json", seed_dir() + "/model_weights.h5"));
  }
  SafeTensorsFile reference_;
  std::string checkpoint_;
};

TEST_P(KerasParity, EveryClipOfTheSeedSongsMatchesTensorFlow) {
  const std::vector<std::string> songs = nlohmann::json::parse(reference_.metadata.at("songs"));
  ASSERT_EQ(songs.size(), 7u);
  std::vector<Audio> audio;
  for (const std::string& name : songs) audio.push_back(decode_audio(seed_dir() + "/gtzan-sample/" + name));

  Predictor predictor(checkpoint_, device());
  const std::vector<SongPrediction> predictions = predictor.predict(audio);
  ASSERT_EQ(predictions.size(), songs.size());
  double worst = 0;
  for (std::size_t s = 0; s < songs.size(); ++s) {
    const std::string key = songs[s].substr(0, songs[s].size() - 4);  // "blues.00001"
    const Tensor& expected = reference_.get(key + ".probs");         // (clips, 10)
    const SongPrediction& p = predictions[s];
    ASSERT_EQ(static_cast<std::int64_t>(p.clip_probabilities.size()), expected.dim(0)) << songs[s];
    double song_worst = 0;
    for (std::int64_t c = 0; c < expected.dim(0); ++c)
      for (std::int64_t k = 0; k < expected.dim(1); ++k)
        song_worst = std::max(song_worst, std::abs(static_cast<double>(p.clip_probabilities[c][k]) -
                                                   expected.at(c * expected.dim(1) + k)));
    EXPECT_LE(song_worst, kProbTolerance) << songs[s] << ": worst per-clip probability difference";
    worst = std::max(worst, song_worst);
    // The song-level prediction is the genre in the file name ("blues.00001.wav" -> blues).
    const std::string genre = songs[s].substr(0, songs[s].find('.'));
    EXPECT_EQ(predictor.labels().at(p.genre), genre) << songs[s];
  }
  std::printf("[ parity   ] %zu songs, worst per-clip |p - p_keras| = %.3g (bound %.0e) on %s\n", songs.size(), worst,
              kProbTolerance, device().str().c_str());
}

TEST_P(KerasParity, TraceLocalisesADrift) {
  // 1. Front-end: the engine's spectrogram of the traced clip against NumPy/librosa's.
  const Audio song = decode_audio(seed_dir() + "/gtzan-sample/" + reference_.metadata.at("trace_song"));
  const Tensor clips = extract_clips(song.samples, ClipScheme::reference(), song.source);
  const Tensor& expected_input = reference_.get("trace.input");  // (1, 128, 513, 1)
  Tensor spectrograms = Tensor::empty(FrontendConfig::seed().output_shape(1), device());
  compute_spectrograms(ctx(), spectrograms, clips.slice(0, 1).to(device()), FrontendConfig::seed());
  // float32 FFTs (32700 points, then 1024) against float64 NumPy: relative rounding of order
  // log2(n) x 6e-8 ~ 1e-6 of the largest magnitude; 1e-5 leaves headroom, and zero padding
  // instead of reflect, or a transpose instead of the raw reshape, gives errors of order 1.
  const Tensor engine_input = spectrograms.to(Device::cpu());
  test::expect_close(engine_input, expected_input, 1e-5, "seed front-end vs librosa");

  // 2. Model: the engine's RCNN on TF's own input, so only the model can differ.
  const Checkpoint ck = load_checkpoint(checkpoint_);
  RCNN model(ck.config, Device::cpu());
  load_into_store(ck, model.store());
  model.to(device());
  const Tensor x = expected_input.to(device());
  const Tensor logits = model.forward(ctx(), x, Mode::Infer).to(Device::cpu());
  // Logits are O(10); float32 through 5 convs and 2 x 128 LSTM steps: 1e-4 normalised.
  test::expect_close(logits, reference_.get("trace.logits"), 1e-4, "RCNN logits vs tf_keras");
  const Tensor probs = model.predict(ctx(), x).to(Device::cpu());
  EXPECT_LE(test::max_abs_diff(probs, reference_.get("trace.probs")), kProbTolerance);
  std::printf("[ trace    ] front-end normalised error %.3g, logits %.3g, probabilities max |dp| %.3g on %s\n",
              test::normalized_error(engine_input, expected_input),
              test::normalized_error(logits, reference_.get("trace.logits")),
              test::max_abs_diff(probs, reference_.get("trace.probs")), device().str().c_str());
}

GN_INSTANTIATE_DEVICE_TEST(KerasParity);

}  // namespace
}  // namespace gn
