#include "data/data_check.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace gn {
namespace {

std::vector<std::int64_t> songs_per_class(const DatasetScan& scan) {
  std::vector<std::int64_t> n(scan.labels.size(), 0);
  for (const SongEntry& s : scan.songs) ++n[static_cast<std::size_t>(s.label)];
  return n;
}

// Below this many test songs one song moves the accuracy by more than 3 points.
constexpr std::size_t kFewTestSongs = 30;

}  // namespace

std::string class_counts_text(const DatasetScan& scan) {
  const std::vector<std::int64_t> n = songs_per_class(scan);
  std::string text, line = "  " + std::to_string(scan.labels.size()) + " genres, " +
                                std::to_string(scan.songs.size()) + " songs:";
  for (std::size_t k = 0; k < n.size(); ++k) {
    const std::string item = " " + scan.labels[k] + " " + std::to_string(n[k]) + (k + 1 < n.size() ? "," : "");
    if (line.size() + item.size() > 78) {
      text += line + "\n";
      line = "   ";
    }
    line += item;
  }
  return text + line + "\n";
}

std::vector<std::string> data_set_problems(const DatasetScan& scan, const SplitConfig& split) {
  std::vector<std::string> problems;
  if (split.kind != SplitConfig::Kind::Song) return problems;
  const std::vector<std::int64_t> n = songs_per_class(scan);
  std::vector<std::int64_t> sorted = n;
  std::sort(sorted.begin(), sorted.end());
  const std::int64_t median = sorted[sorted.size() / 2];
  // The smallest n whose round(f n) is at least 1 for both fractions (llround: halves round up).
  const double f = std::min(split.val_fraction, split.test_fraction);
  const auto needed = static_cast<std::int64_t>(std::ceil(0.5 / std::max(f, 1e-9)));
  for (std::size_t k = 0; k < n.size(); ++k) {
    const std::string& label = scan.labels[k];
    const std::int64_t n_test = std::llround(split.test_fraction * static_cast<double>(n[k]));
    const std::int64_t n_val = std::llround(split.val_fraction * static_cast<double>(n[k]));
    if (n_test == 0 || n_val == 0) {
      problems.push_back("genre '" + label + "' has " + std::to_string(n[k]) + " song" + (n[k] == 1 ? "" : "s") +
                         ": the song split gives it " + (n_val == 0 ? "no validation song" : "") +
                         (n_val == 0 && n_test == 0 ? " and " : "") + (n_test == 0 ? "no test song" : "") +
                         " (it needs at least " + std::to_string(needed) + " songs)" +
                         (n[k] * 4 < median ? "; the other genres have about " + std::to_string(median) +
                                                  ": is the folder name a typo?"
                                            : ""));
    } else if (n[k] * 4 < median) {
      problems.push_back("genre '" + label + "' has " + std::to_string(n[k]) + " songs where the others have about " +
                         std::to_string(median) + ": is the folder name a typo?");
    }
  }
  return problems;
}

std::string split_table_text(const Dataset& data, const Split& split, bool clip_split) {
  const std::size_t classes = data.labels().size();
  std::vector<std::int64_t> count[3];
  for (auto& c : count) c.assign(classes + 1, 0);
  const std::vector<std::int64_t>* sides[3] = {&split.train, &split.val, &split.test};
  const std::vector<std::int64_t>* song_sides[3] = {&split.train_songs, &split.val_songs, &split.test_songs};
  for (int side = 0; side < 3; ++side) {
    if (clip_split) {
      for (std::int64_t c : *sides[side]) ++count[side][static_cast<std::size_t>(data.clip_label(c))];
    } else {
      for (std::int64_t s : *song_sides[side]) ++count[side][static_cast<std::size_t>(data.songs()[s].label)];
    }
    for (std::size_t k = 0; k < classes; ++k) count[side][classes] += count[side][k];
  }
  std::size_t width = 5;
  for (const std::string& l : data.labels()) width = std::max(width, std::min<std::size_t>(l.size(), 40));
  std::string text = std::string(clip_split ? "clips" : "songs") + " per genre:\n";
  char buf[160];
  std::snprintf(buf, sizeof buf, "  %-*s %7s %7s %7s\n", static_cast<int>(width), "genre", "train", "val", "test");
  text += buf;
  for (std::size_t k = 0; k <= classes; ++k) {
    const std::string name = k < classes ? data.labels()[k].substr(0, 40) : "total";
    std::snprintf(buf, sizeof buf, "  %-*s %7lld %7lld %7lld\n", static_cast<int>(width), name.c_str(),
                  static_cast<long long>(count[0][k]), static_cast<long long>(count[1][k]),
                  static_cast<long long>(count[2][k]));
    text += buf;
  }
  const std::size_t test_songs = clip_split ? 0 : split.test_songs.size();
  if (!clip_split && test_songs > 0 && test_songs < kFewTestSongs)
    text += "warning: the test set has " + std::to_string(test_songs) + " songs: one song moves its accuracy by " +
            std::to_string(static_cast<int>(std::lround(100.0 / static_cast<double>(test_songs)))) + " points\n";
  if (!clip_split && test_songs == 0) text += "warning: no test songs: the run will report no test accuracy\n";
  return text;
}

}  // namespace gn
