// Metrics on small hand-computed cases.
#include <gtest/gtest.h>

#include "engine/error.h"
#include "model/metrics.h"

namespace gn {
namespace {

TEST(Metrics, ConfusionPrecisionRecallF1ByHand) {
  // 3 classes, truth / prediction pairs:
  //   class 0: 3 samples -> predicted 0, 0, 1
  //   class 1: 2 samples -> predicted 1, 2
  //   class 2: 1 sample  -> predicted 0
  ConfusionMatrix cm = confusion_of({0, 0, 0, 1, 1, 2}, {0, 0, 1, 1, 2, 0}, 3);
  EXPECT_EQ(cm.at(0, 0), 2);
  EXPECT_EQ(cm.at(0, 1), 1);
  EXPECT_EQ(cm.at(1, 2), 1);
  EXPECT_EQ(cm.at(2, 0), 1);
  EXPECT_EQ(cm.total(), 6);
  EXPECT_EQ(cm.correct(), 3);
  EXPECT_DOUBLE_EQ(cm.accuracy(), 0.5);

  const ClassificationScores s = score(cm);
  // class 0: tp 2, predicted 3 (2 + the class-2 sample), support 3 -> P 2/3, R 2/3, F1 2/3
  EXPECT_DOUBLE_EQ(s.per_class[0].precision, 2.0 / 3);
  EXPECT_DOUBLE_EQ(s.per_class[0].recall, 2.0 / 3);
  EXPECT_NEAR(s.per_class[0].f1, 2.0 / 3, 1e-15);
  // class 1: tp 1, predicted 2, support 2 -> P 1/2, R 1/2, F1 1/2
  EXPECT_DOUBLE_EQ(s.per_class[1].precision, 0.5);
  EXPECT_DOUBLE_EQ(s.per_class[1].recall, 0.5);
  EXPECT_DOUBLE_EQ(s.per_class[1].f1, 0.5);
  // class 2: tp 0, predicted 1, support 1 -> all 0
  EXPECT_EQ(s.per_class[2].precision, 0.0);
  EXPECT_EQ(s.per_class[2].f1, 0.0);
  EXPECT_EQ(s.per_class[2].support, 1);
  EXPECT_EQ(s.per_class[2].predicted, 1);
  EXPECT_NEAR(s.macro_precision, (2.0 / 3 + 0.5 + 0) / 3, 1e-15);
  EXPECT_NEAR(s.macro_recall, (2.0 / 3 + 0.5 + 0) / 3, 1e-15);
  EXPECT_NEAR(s.macro_f1, (2.0 / 3 + 0.5 + 0) / 3, 1e-15);
}

TEST(Metrics, F1IsTheHarmonicMeanAndAbsentClassesStayOutOfMacro) {
  // Class 0: tp 1, predicted 1, support 3 -> P 1, R 1/3, F1 = 2 * 1/3 / (4/3) = 1/2.
  // Class 1: every sample predicted 1 -> P 2/4, R 1, F1 2/3. Class 2 never occurs: out of macro.
  ConfusionMatrix cm = confusion_of({0, 0, 0, 1, 1}, {0, 1, 1, 1, 1}, 3);
  const ClassificationScores s = score(cm);
  EXPECT_DOUBLE_EQ(s.per_class[0].f1, 0.5);
  EXPECT_DOUBLE_EQ(s.per_class[1].precision, 0.5);
  EXPECT_NEAR(s.per_class[1].f1, 2.0 / 3, 1e-15);
  EXPECT_EQ(s.per_class[2].support, 0);
  EXPECT_NEAR(s.macro_f1, (0.5 + 2.0 / 3) / 2, 1e-15);
  EXPECT_NEAR(s.macro_precision, (1.0 + 0.5) / 2, 1e-15);
}

TEST(Metrics, EmptyAndBadInput) {
  ConfusionMatrix empty(4);
  EXPECT_EQ(empty.accuracy(), 0.0);
  EXPECT_EQ(score(empty).macro_f1, 0.0);
  EXPECT_THROW(empty.add(4, 0), Error);
  EXPECT_THROW(empty.add(0, -1), Error);
  EXPECT_THROW(confusion_of({0, 1}, {0}, 2), Error);
  EXPECT_THROW(clip_confusion({0.5f, 0.5f, 1.0f}, 2, {0, 1}), Error);
}

TEST(Metrics, ArgmaxTiesGoToTheLowestIndex) {
  const float a[] = {0.1f, 0.4f, 0.4f, 0.1f};
  EXPECT_EQ(argmax(a, 4), 1);
  const float b[] = {0.7f};
  EXPECT_EQ(argmax(b, 1), 0);
  EXPECT_EQ(clip_confusion({0.2f, 0.8f, 0.5f, 0.5f, 0.9f, 0.1f}, 2, {1, 1, 1}).correct(), 1);
}

TEST(Metrics, SongMeanAndMajorityVoteByHand) {
  // 2 classes, three songs (ids 7, 3, 12 interleaved; output sorted by id).
  // song 3 (label 0): clips (0.6, 0.4), (0.6, 0.4), (0.1, 0.9)
  //   votes 0, 0, 1 -> vote 0; mean (0.433, 0.567) -> mean 1. The two rules disagree.
  // song 7 (label 1): clips (0.45, 0.55), (0.9, 0.1)
  //   votes 1, 0: a tie; summed probability 1.35 vs 0.65 -> vote 0; mean (0.675, .325) -> 0.
  // song 12 (label 1): one clip (0.2, 0.8) -> 1 both ways.
  const std::vector<float> probs = {0.6f, 0.4f, 0.45f, 0.55f, 0.6f, 0.4f, 0.9f, 0.1f, 0.1f, 0.9f, 0.2f, 0.8f};
  const std::vector<int> labels = {0, 1, 0, 1, 0, 1};
  const std::vector<std::int64_t> songs = {3, 7, 3, 7, 3, 12};
  const SongPredictions sp = aggregate_songs(probs, 2, labels, songs);
  ASSERT_EQ(sp.songs, (std::vector<std::int64_t>{3, 7, 12}));
  EXPECT_EQ(sp.truth, (std::vector<int>{0, 1, 1}));
  EXPECT_EQ(sp.clip_counts, (std::vector<int>{3, 2, 1}));
  EXPECT_EQ(sp.mean_pred, (std::vector<int>{1, 0, 1}));
  EXPECT_EQ(sp.vote_pred, (std::vector<int>{0, 0, 1}));
  EXPECT_NEAR(sp.mean_probs[0], (0.6 + 0.6 + 0.1) / 3, 1e-7);
  EXPECT_NEAR(sp.mean_probs[3], (0.55 + 0.1) / 2, 1e-7);
  // Song accuracies: mean gets song 12 right only (1/3); vote gets songs 3 and 12 (2/3).
  EXPECT_NEAR(confusion_of(sp.truth, sp.mean_pred, 2).accuracy(), 1.0 / 3, 1e-15);
  EXPECT_NEAR(confusion_of(sp.truth, sp.vote_pred, 2).accuracy(), 2.0 / 3, 1e-15);
}

TEST(Metrics, VoteTieWithEqualProbabilityGoesToTheLowestClass) {
  // Two clips: (0.3, 0.7) votes 1 and (0.7, 0.3) votes 0, so the votes tie 1-1 and the
  // summed probabilities tie too (0.3f + 0.7f == 0.7f + 0.3f == 1 in double) -> class 0.
  const SongPredictions sp = aggregate_songs({0.3f, 0.7f, 0.7f, 0.3f}, 2, {1, 1}, {0, 0});
  EXPECT_EQ(sp.vote_pred[0], 0);
  EXPECT_EQ(sp.mean_pred[0], 0);
}

TEST(Metrics, SongWithMixedLabelsIsAnError) {
  EXPECT_THROW(aggregate_songs({0.5f, 0.5f, 0.5f, 0.5f}, 2, {0, 1}, {4, 4}), Error);
  EXPECT_THROW(aggregate_songs({0.5f, 0.5f}, 2, {2}, {4}), Error);
  EXPECT_THROW(aggregate_songs({0.5f, 0.5f}, 2, {0}, {4, 5}), Error);
}

}  // namespace
}  // namespace gn
