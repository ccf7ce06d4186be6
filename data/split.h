// Train / validation / test splits of a Dataset (docs/design.md, "Splits"):
//  * song (the default): stratified by label at the song level with a seed: in each label the
//    songs are shuffled and the first round(test x n) go to test, the next round(val x n) to
//    validation, the rest to training (defaults 80/10/10). No song has clips on two sides.
//  * clip: the reference's clip-level random split (10% test, then 10% of the rest for
//    validation). Clips of one song land on several sides, which leaks songs and inflates
//    accuracy: a warning says so.
//  * list: user-supplied files with one relative path ("<genre>/<file>") per line, as the
//    fault-filtered GTZAN split is distributed; blank lines and '#' comments are ignored.
//    An entry naming no usable song, or a song listed twice, is an error naming file and line
//    (a song skipped as undecodable is a warning, so jazz.00054 in a list does not stop a run).
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace gn {

struct SplitConfig {
  enum class Kind { Song, Clip, List };
  Kind kind = Kind::Song;
  double val_fraction = 0.1;
  double test_fraction = 0.1;
  std::uint64_t seed = 1;
  // Kind::List: paths of the list files; an empty val / test list gives an empty side.
  std::string train_list, val_list, test_list;

  static Kind parse_kind(const std::string& text);  // "song" | "clip" | "list"
  std::string str() const;
};

struct Split {
  std::vector<std::int64_t> train, val, test;  // clip indices into the Dataset, ascending
  std::vector<std::int64_t> train_songs, val_songs, test_songs;  // song indices ({} for clip)
};

// Throws gn::Error on bad fractions, bad list entries or an empty training side. Warnings
// (clip split, skipped songs named by lists) go to `log` (nullptr = std::cerr).
Split make_split(const Dataset& data, const SplitConfig& config, std::ostream* log = nullptr);

// The lower-level pieces, usable without a Dataset:
// songs of each label shuffled with `seed` -> song indices per side.
void split_songs_stratified(const std::vector<int>& song_labels, double val_fraction,
                            double test_fraction, std::uint64_t seed,
                            std::vector<std::int64_t>& train, std::vector<std::int64_t>& val,
                            std::vector<std::int64_t>& test);
// One relative path per line -> song indices (see above for the rules).
std::vector<std::int64_t> read_split_list(const std::string& list_path,
                                          const std::vector<SongEntry>& songs,
                                          const std::vector<std::string>& skipped,
                                          std::ostream* log = nullptr);

}  // namespace gn
