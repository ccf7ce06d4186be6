#include "data/split.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <sstream>

#include "engine/error.h"

namespace gn {
namespace {

// Fisher-Yates with std::mt19937_64 (its output sequence is fixed by the standard) and a
// plain modulo draw (std::uniform_int_distribution and std::shuffle are implementation-
// defined), so a split is the same on every compiler and machine.
template <class T>
void shuffle(std::vector<T>& v, std::mt19937_64& rng) {
  for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng() % i]);
}

void check_fractions(double val, double test) {
  GN_REQUIRE(std::isfinite(val) && std::isfinite(test) && val >= 0.0 && test >= 0.0 && val + test < 1.0,
             "split: validation (", val, ") and test (", test,
             ") fractions must be >= 0 with a sum below 1");
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

std::string without_extension(const std::string& p) {
  const auto slash = p.rfind('/');
  const auto dot = p.rfind('.');
  return dot != std::string::npos && (slash == std::string::npos || dot > slash) ? p.substr(0, dot) : p;
}

void clips_of(const Dataset& d, const std::vector<std::int64_t>& songs, std::vector<std::int64_t>& out) {
  for (std::int64_t s : songs)
    for (std::int64_t c = 0; c < d.song_clip_count(s); ++c) out.push_back(d.song_first_clip(s) + c);
  std::sort(out.begin(), out.end());
}

}  // namespace

SplitConfig::Kind SplitConfig::parse_kind(const std::string& text) {
  if (text == "song") return Kind::Song;
  if (text == "clip") return Kind::Clip;
  if (text == "list") return Kind::List;
  GN_FAIL("split: unknown kind '", text, "' (expected song, clip or list)");
}

std::string SplitConfig::str() const {
  std::ostringstream os;
  switch (kind) {
    case Kind::Song: os << "song-level stratified, val " << val_fraction << ", test " << test_fraction << ", seed " << seed; break;
    case Kind::Clip: os << "clip-level random (leaks songs), val " << val_fraction << ", test " << test_fraction << ", seed " << seed; break;
    case Kind::List: os << "lists train=" << train_list << " val=" << val_list << " test=" << test_list; break;
  }
  return os.str();
}

void split_songs_stratified(const std::vector<int>& song_labels, double val_fraction, double test_fraction,
                            std::uint64_t seed, std::vector<std::int64_t>& train,
                            std::vector<std::int64_t>& val, std::vector<std::int64_t>& test) {
  check_fractions(val_fraction, test_fraction);
  train.clear();
  val.clear();
  test.clear();
  std::map<int, std::vector<std::int64_t>> by_label;
  for (std::size_t s = 0; s < song_labels.size(); ++s) by_label[song_labels[s]].push_back(static_cast<std::int64_t>(s));
  for (auto& [label, songs] : by_label) {
    // One generator per label keyed by (seed, label): adding songs of one genre leaves the
    // other genres' splits unchanged.
    std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + static_cast<std::uint64_t>(label) + 1);
    shuffle(songs, rng);
    const auto n = static_cast<double>(songs.size());
    const std::size_t n_test = static_cast<std::size_t>(std::llround(test_fraction * n));
    const std::size_t n_val = std::min(songs.size() - n_test, static_cast<std::size_t>(std::llround(val_fraction * n)));
    for (std::size_t i = 0; i < songs.size(); ++i)
      (i < n_test ? test : i < n_test + n_val ? val : train).push_back(songs[i]);
  }
  for (auto* v : {&train, &val, &test}) std::sort(v->begin(), v->end());
}

std::vector<std::int64_t> read_split_list(const std::string& list_path, const std::vector<SongEntry>& songs,
                                          const std::vector<std::string>& skipped, std::ostream* log) {
  std::ifstream in(list_path);
  GN_REQUIRE(in.good(), "split list ", list_path, ": cannot open");
  std::map<std::string, std::int64_t> exact, stem;
  for (std::size_t s = 0; s < songs.size(); ++s) {
    exact[songs[s].relative] = static_cast<std::int64_t>(s);
    stem[without_extension(songs[s].relative)] = static_cast<std::int64_t>(s);
  }
  std::vector<std::int64_t> out;
  std::map<std::int64_t, int> first_line;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    std::string entry = trim(line);
    if (entry.empty() || entry[0] == '#') continue;
    while (entry.rfind("./", 0) == 0) entry = entry.substr(2);
    // Lists made for GTZAN's .au originals match the same songs converted to .wav.
    std::int64_t song = -1;
    if (auto it = exact.find(entry); it != exact.end()) song = it->second;
    else if (auto jt = stem.find(without_extension(entry)); jt != stem.end()) song = jt->second;
    if (song < 0) {
      const bool was_skipped = std::any_of(skipped.begin(), skipped.end(), [&](const std::string& s) {
        return s.find(without_extension(entry) + ".") != std::string::npos;
      });
      if (was_skipped) {
        (log ? *log : std::cerr) << "warning: split list " << list_path << ":" << number << ": " << entry
                                 << " was skipped (could not be decoded); leaving it out\n";
        continue;
      }
      GN_FAIL("split list ", list_path, ":", number, ": '", entry,
              "' names no song of the data set (expected <genre>/<file> relative to the data-set folder)");
    }
    const auto [it, fresh] = first_line.emplace(song, number);
    GN_REQUIRE(fresh, "split list ", list_path, ":", number, ": '", entry, "' is already listed on line ",
               it->second);
    out.push_back(song);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Split make_split(const Dataset& data, const SplitConfig& config, std::ostream* log) {
  std::ostream& warn = log ? *log : std::cerr;
  Split split;
  switch (config.kind) {
    case SplitConfig::Kind::Song: {
      std::vector<int> labels;
      for (const SongEntry& s : data.songs()) labels.push_back(s.label);
      split_songs_stratified(labels, config.val_fraction, config.test_fraction, config.seed, split.train_songs,
                             split.val_songs, split.test_songs);
      clips_of(data, split.train_songs, split.train);
      clips_of(data, split.val_songs, split.val);
      clips_of(data, split.test_songs, split.test);
      break;
    }
    case SplitConfig::Kind::Clip: {
      check_fractions(config.val_fraction, config.test_fraction);
      warn << "warning: --split clip is the reference's clip-level split: clips of one song land in "
              "training and test, which leaks songs and inflates accuracy; use --split song for honest numbers\n";
      std::vector<std::int64_t> all(static_cast<std::size_t>(data.num_clips()));
      for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::int64_t>(i);
      std::mt19937_64 rng(config.seed);
      shuffle(all, rng);
      // Test first, then validation out of the rest (train_test_split twice, like the reference).
      const std::size_t n_test = static_cast<std::size_t>(std::llround(config.test_fraction * all.size()));
      const std::size_t n_val =
          static_cast<std::size_t>(std::llround(config.val_fraction * (all.size() - n_test)));
      split.test.assign(all.begin(), all.begin() + n_test);
      split.val.assign(all.begin() + n_test, all.begin() + n_test + n_val);
      split.train.assign(all.begin() + n_test + n_val, all.end());
      for (auto* v : {&split.train, &split.val, &split.test}) std::sort(v->begin(), v->end());
      break;
    }
    case SplitConfig::Kind::List: {
      GN_REQUIRE(!config.train_list.empty(), "split: --split list needs a training list");
      split.train_songs = read_split_list(config.train_list, data.songs(), data.skipped(), &warn);
      if (!config.val_list.empty()) split.val_songs = read_split_list(config.val_list, data.songs(), data.skipped(), &warn);
      if (!config.test_list.empty()) split.test_songs = read_split_list(config.test_list, data.songs(), data.skipped(), &warn);
      std::map<std::int64_t, std::string> side;
      const std::pair<const std::vector<std::int64_t>*, std::string> sides[] = {
          {&split.train_songs, config.train_list}, {&split.val_songs, config.val_list}, {&split.test_songs, config.test_list}};
      for (const auto& [songs, name] : sides)
        for (std::int64_t s : *songs) {
          const auto [it, fresh] = side.emplace(s, name);
          GN_REQUIRE(fresh, "split lists: ", data.songs()[s].relative, " is in both ", it->second, " and ", name);
        }
      clips_of(data, split.train_songs, split.train);
      clips_of(data, split.val_songs, split.val);
      clips_of(data, split.test_songs, split.test);
      break;
    }
  }
  GN_REQUIRE(!split.train.empty(), "split (", config.str(), "): the training side is empty");
  return split;
}

}  // namespace gn
