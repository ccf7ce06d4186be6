// Synthetic GTZAN: the built-in default data set (`genrenet synth`, `genrenet demo`, tests).
// Ten genre-like classes that differ the way genres do - tempo and rhythm pattern (kick /
// snare / hat placement, swing), harmonic content and timbre (partials, inharmonicity,
// chord vs melody), spectral balance (brightness, bass weight) and noise - with every song
// drawing its own tempo, key, instrument mix, loudness and noise inside its class's ranges,
// so classes overlap on average spectra and a model has to look at structure in time.
//
// Deterministic: a song depends only on (seed, genre, index), generated with Philox, so the
// same arguments give the same bytes on every machine and thread count.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gn {

struct SynthOptions {
  std::string out_dir;
  int songs_per_genre = 10;
  std::uint64_t seed = 1;
  double seconds = 30.0;
  int sample_rate = 22050;
  bool progress = true;
};

// The class names, in the GTZAN order: blues classical country disco hiphop jazz metal pop
// reggae rock.
const std::vector<std::string>& synth_genres();

// One song (mono, sample_rate) of genre `genre` (0..9), number `index`.
std::vector<float> synth_song(int genre, int index, std::uint64_t seed, double seconds,
                              int sample_rate = 22050);

// Writes <out_dir>/<genre>/<genre>.<index 00000>.wav for every genre and index (OpenMP over
// songs). Creates the folders; overwrites existing songs. Returns the number of files.
int write_synth_dataset(const SynthOptions& options);

}  // namespace gn
