// Data sets that cannot give a meaningful result are called out before training starts:
//  * the classes found, with their song counts (a folder with a typo, `bluse/` holding one
//    song, shows up as an 11th class at a glance);
//  * a class with too few songs for the song split to give it a validation and a test song
//    (round(0.1 n) >= 1 needs n >= 5 at the default 10% / 10%) is an error unless the user
//    insists (--allow-small-data), and so is a class far smaller than the others (a stray
//    folder); a test set too small for its accuracy to mean much is a warning;
//  * after the split, the songs (or clips) of each class on each side.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/split.h"

namespace gn {

// "  10 genres, 100 songs: blues 10, classical 10, ..." in indented lines of at most 78
// characters.
std::string class_counts_text(const DatasetScan& scan);

// What makes the data set unable to score every class under `split` (messages, one per
// problem; empty when none). Only the song split is judged before decoding: lists and the clip
// split are the user's own choice.
std::vector<std::string> data_set_problems(const DatasetScan& scan, const SplitConfig& split);

// The table of a split: per class the songs on each side (clips for the clip split), and the
// totals; followed by a warning line when the test set has fewer than 30 songs.
std::string split_table_text(const Dataset& data, const Split& split, bool clip_split);

}  // namespace gn
