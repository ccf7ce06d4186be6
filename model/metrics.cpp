#include "model/metrics.h"

#include <map>

#include "engine/error.h"

namespace gn {

ConfusionMatrix::ConfusionMatrix(int classes) : classes_(classes) {
  GN_REQUIRE(classes >= 0, "confusion matrix: negative class count ", classes);
  counts_.assign(static_cast<std::size_t>(classes) * classes, 0);
}

void ConfusionMatrix::add(int truth, int predicted, std::int64_t count) {
  GN_REQUIRE(truth >= 0 && truth < classes_ && predicted >= 0 && predicted < classes_,
             "confusion matrix: class (", truth, ", ", predicted, ") outside 0..", classes_ - 1);
  counts_[static_cast<std::size_t>(truth) * classes_ + predicted] += count;
}

std::int64_t ConfusionMatrix::at(int truth, int predicted) const {
  GN_REQUIRE(truth >= 0 && truth < classes_ && predicted >= 0 && predicted < classes_,
             "confusion matrix: class (", truth, ", ", predicted, ") outside 0..", classes_ - 1);
  return counts_[static_cast<std::size_t>(truth) * classes_ + predicted];
}

std::int64_t ConfusionMatrix::total() const {
  std::int64_t s = 0;
  for (std::int64_t c : counts_) s += c;
  return s;
}

std::int64_t ConfusionMatrix::correct() const {
  std::int64_t s = 0;
  for (int k = 0; k < classes_; ++k) s += at(k, k);
  return s;
}

std::int64_t ConfusionMatrix::row_total(int truth) const {
  std::int64_t s = 0;
  for (int p = 0; p < classes_; ++p) s += at(truth, p);
  return s;
}

std::int64_t ConfusionMatrix::col_total(int predicted) const {
  std::int64_t s = 0;
  for (int t = 0; t < classes_; ++t) s += at(t, predicted);
  return s;
}

double ConfusionMatrix::accuracy() const {
  const std::int64_t n = total();
  return n > 0 ? static_cast<double>(correct()) / static_cast<double>(n) : 0.0;
}

ClassificationScores score(const ConfusionMatrix& cm) {
  ClassificationScores s;
  s.accuracy = cm.accuracy();
  int present = 0;
  for (int k = 0; k < cm.classes(); ++k) {
    ClassScores c;
    const std::int64_t tp = cm.at(k, k);
    c.support = cm.row_total(k);
    c.predicted = cm.col_total(k);
    c.precision = c.predicted > 0 ? static_cast<double>(tp) / c.predicted : 0.0;
    c.recall = c.support > 0 ? static_cast<double>(tp) / c.support : 0.0;
    c.f1 = c.precision + c.recall > 0 ? 2.0 * c.precision * c.recall / (c.precision + c.recall) : 0.0;
    if (c.support > 0 || c.predicted > 0) {
      ++present;
      s.macro_precision += c.precision;
      s.macro_recall += c.recall;
      s.macro_f1 += c.f1;
    }
    s.per_class.push_back(c);
  }
  if (present > 0) {
    s.macro_precision /= present;
    s.macro_recall /= present;
    s.macro_f1 /= present;
  }
  return s;
}

int argmax(const float* row, int n) {
  int best = 0;
  for (int k = 1; k < n; ++k)
    if (row[k] > row[best]) best = k;  // strict: ties keep the lower index
  return best;
}

ConfusionMatrix clip_confusion(const std::vector<float>& probs, int classes, const std::vector<int>& labels) {
  GN_REQUIRE(classes > 0 && probs.size() == labels.size() * static_cast<std::size_t>(classes),
             "clip metrics: ", probs.size(), " probabilities for ", labels.size(), " clips of ", classes,
             " classes");
  ConfusionMatrix cm(classes);
  for (std::size_t i = 0; i < labels.size(); ++i) cm.add(labels[i], argmax(&probs[i * classes], classes));
  return cm;
}

ConfusionMatrix confusion_of(const std::vector<int>& truth, const std::vector<int>& predicted, int classes) {
  GN_REQUIRE(truth.size() == predicted.size(), "metrics: ", truth.size(), " labels but ", predicted.size(),
             " predictions");
  ConfusionMatrix cm(classes);
  for (std::size_t i = 0; i < truth.size(); ++i) cm.add(truth[i], predicted[i]);
  return cm;
}

SongPredictions aggregate_songs(const std::vector<float>& probs, int classes, const std::vector<int>& labels,
                                const std::vector<std::int64_t>& clip_songs) {
  GN_REQUIRE(classes > 0 && probs.size() == labels.size() * static_cast<std::size_t>(classes),
             "song metrics: ", probs.size(), " probabilities for ", labels.size(), " clips of ", classes,
             " classes");
  GN_REQUIRE(clip_songs.size() == labels.size(), "song metrics: ", clip_songs.size(), " song ids for ",
             labels.size(), " clips");
  // Per song: summed probabilities (double, so the mean does not depend on clip order beyond
  // float rounding of the inputs), vote counts and the label.
  struct Acc {
    std::vector<double> sum;
    std::vector<int> votes;
    int label = -1, clips = 0;
  };
  std::map<std::int64_t, Acc> songs;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    GN_REQUIRE(labels[i] >= 0 && labels[i] < classes, "song metrics: label ", labels[i], " of clip ", i,
               " outside 0..", classes - 1);
    Acc& a = songs[clip_songs[i]];
    if (a.clips == 0) {
      a.sum.assign(classes, 0.0);
      a.votes.assign(classes, 0);
      a.label = labels[i];
    }
    GN_REQUIRE(a.label == labels[i], "song metrics: song ", clip_songs[i], " has clips labelled ", a.label,
               " and ", labels[i]);
    const float* row = &probs[i * classes];
    for (int k = 0; k < classes; ++k) a.sum[k] += row[k];
    ++a.votes[argmax(row, classes)];
    ++a.clips;
  }
  SongPredictions out;
  for (const auto& [song, a] : songs) {
    out.songs.push_back(song);
    out.truth.push_back(a.label);
    out.clip_counts.push_back(a.clips);
    int mean_best = 0, vote_best = 0;
    for (int k = 0; k < classes; ++k) {
      out.mean_probs.push_back(static_cast<float>(a.sum[k] / a.clips));
      if (a.sum[k] > a.sum[mean_best]) mean_best = k;
      if (a.votes[k] > a.votes[vote_best] || (a.votes[k] == a.votes[vote_best] && a.sum[k] > a.sum[vote_best]))
        vote_best = k;
    }
    out.mean_pred.push_back(mean_best);
    out.vote_pred.push_back(vote_best);
  }
  return out;
}

}  // namespace gn
