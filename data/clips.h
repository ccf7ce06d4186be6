// Cutting a song into clips. Two schemes:
//  * reference: the seed model's: window = int(0.10 x song length) samples, hop =
//    int(window x 0.5), full windows only. A 30 s GTZAN song (661794 samples) gives 19 clips
//    of 66179 samples.
//  * fixed: clips of `seconds`, consecutive clips sharing `overlap` (a fraction in [0, 1)) of
//    a clip; full clips only (default 3 s at 50%: 19 clips for a 30 s song).
// The scheme is recorded in checkpoints (to_json / from_json) so prediction cuts songs the
// way training did.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace gn {

struct ClipScheme {
  enum class Kind { Reference, Fixed };
  Kind kind = Kind::Fixed;
  double seconds = 3.0;  // Fixed only
  double overlap = 0.5;  // Fixed only: fraction of a clip shared with the next one

  static ClipScheme reference() { return {Kind::Reference, 0.0, 0.5}; }
  static ClipScheme fixed(double seconds = 3.0, double overlap = 0.5) {
    return {Kind::Fixed, seconds, overlap};
  }
  void validate() const;  // throws gn::Error on seconds <= 0 or overlap outside [0, 1)
  std::string str() const;  // "reference" | "fixed 3 s, 50% overlap"
  nlohmann::json to_json() const;  // {"kind": "reference"} | {"kind": "fixed", "seconds", "overlap"}
  static ClipScheme from_json(const nlohmann::json& j);  // validates; clear errors
  bool operator==(const ClipScheme&) const = default;
};

struct ClipLayout {
  std::int64_t length = 0;  // samples per clip
  std::int64_t hop = 0;     // samples between clip starts
  std::int64_t count = 0;   // full clips in the song (0 when the song is shorter than one clip)
};

// The clips of a song of `song_samples` samples at `sample_rate`.
ClipLayout clip_layout(const ClipScheme& scheme, std::int64_t song_samples,
                       int sample_rate = 22050);

// The clips of `song` as a CPU tensor (count, length). Throws gn::Error naming `source` when
// the song is shorter than one clip.
Tensor extract_clips(const std::vector<float>& song, const ClipScheme& scheme,
                     const std::string& source, int sample_rate = 22050);

}  // namespace gn
