// Classification metrics: confusion matrix, accuracy, per-class precision / recall / F1 with
// macro averages, and song-level aggregation of clip probabilities (docs/design.md, "Front-ends":
// a song's label is the mean of its clips' probabilities; the majority vote is reported too).
//
// Conventions (stated once, used everywhere):
//  * confusion(t, p) counts samples of true class t predicted as p (rows = truth).
//  * argmax ties go to the lowest class index (numpy's argmax).
//  * precision of a class never predicted, recall of a class absent from the truth, and F1
//    when precision + recall = 0 are 0 (scikit-learn's zero_division = 0).
//  * macro averages are over the classes that occur in the truth or the predictions
//    (scikit-learn's default label set), so a split without some genre is not dragged to 0.
//  * majority vote: the class most clips of the song predict; a tie goes to the tied class
//    with the larger summed probability over the song's clips, then to the lowest index.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gn {

class ConfusionMatrix {
 public:
  explicit ConfusionMatrix(int classes = 0);
  int classes() const { return classes_; }
  void add(int truth, int predicted, std::int64_t count = 1);  // throws on a class out of range
  std::int64_t at(int truth, int predicted) const;
  std::int64_t total() const;
  std::int64_t correct() const;              // the diagonal
  std::int64_t row_total(int truth) const;   // support of a class
  std::int64_t col_total(int predicted) const;
  double accuracy() const;                   // correct / total; 0 when empty

 private:
  int classes_;
  std::vector<std::int64_t> counts_;  // (classes, classes) row-major
};

struct ClassScores {
  double precision = 0, recall = 0, f1 = 0;
  std::int64_t support = 0;     // samples of this class in the truth
  std::int64_t predicted = 0;   // samples predicted as this class
};

struct ClassificationScores {
  std::vector<ClassScores> per_class;
  double accuracy = 0;
  double macro_precision = 0, macro_recall = 0, macro_f1 = 0;
};

ClassificationScores score(const ConfusionMatrix& confusion);

// Index of the largest of row[0..n); ties -> lowest index. n >= 1.
int argmax(const float* row, int n);

// Clip-level confusion of probs (clips, classes) row-major against labels (clips).
ConfusionMatrix clip_confusion(const std::vector<float>& probs, int classes, const std::vector<int>& labels);

struct SongPredictions {
  std::vector<std::int64_t> songs;  // song ids, ascending
  std::vector<int> truth;           // per song
  std::vector<int> mean_pred;       // argmax of the mean of the clips' probabilities
  std::vector<int> vote_pred;       // majority vote of the clips' argmaxes (tie-break above)
  std::vector<float> mean_probs;    // (songs, classes) row-major
  std::vector<int> clip_counts;     // clips per song
};

// Groups clips by song id. probs (clips, classes) row-major; labels, clip_songs (clips).
// Throws gn::Error when sizes disagree, a label is out of range or one song's clips carry
// different labels.
SongPredictions aggregate_songs(const std::vector<float>& probs, int classes, const std::vector<int>& labels,
                                const std::vector<std::int64_t>& clip_songs);

ConfusionMatrix confusion_of(const std::vector<int>& truth, const std::vector<int>& predicted, int classes);

}  // namespace gn
