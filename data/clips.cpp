#include "data/clips.h"

#include <cmath>
#include <cstring>
#include <sstream>

#include "engine/error.h"

namespace gn {

void ClipScheme::validate() const {
  if (kind == Kind::Reference) return;
  GN_REQUIRE(std::isfinite(seconds) && seconds > 0.0 && seconds <= 3600.0, "clip scheme: clip length ",
             seconds, " s must be in (0, 3600]");
  GN_REQUIRE(std::isfinite(overlap) && overlap >= 0.0 && overlap < 1.0, "clip scheme: overlap ",
             overlap, " must be in [0, 1)");
}

std::string ClipScheme::str() const {
  if (kind == Kind::Reference) return "reference (10% windows, 50% overlap)";
  std::ostringstream os;
  os << "fixed " << seconds << " s, " << overlap * 100.0 << "% overlap";
  return os.str();
}

nlohmann::json ClipScheme::to_json() const {
  if (kind == Kind::Reference) return {{"kind", "reference"}};
  return {{"kind", "fixed"}, {"seconds", seconds}, {"overlap", overlap}};
}

ClipScheme ClipScheme::from_json(const nlohmann::json& j) {
  GN_REQUIRE(j.is_object(), "clip scheme: expected a JSON object, got ", j.type_name());
  ClipScheme s;
  try {
    const std::string kind = j.at("kind").get<std::string>();
    if (kind == "reference") {
      s = reference();
    } else if (kind == "fixed") {
      s = fixed(j.at("seconds").get<double>(), j.value("overlap", 0.5));
    } else {
      GN_FAIL("clip scheme: unknown kind '", kind, "' (expected 'reference' or 'fixed')");
    }
  } catch (const nlohmann::json::exception& e) {
    GN_FAIL("clip scheme: ", e.what());
  }
  s.validate();
  return s;
}

ClipLayout clip_layout(const ClipScheme& scheme, std::int64_t song_samples, int sample_rate) {
  scheme.validate();
  GN_REQUIRE(song_samples >= 0 && sample_rate > 0, "clip_layout: bad song (", song_samples,
             " samples at ", sample_rate, " Hz)");
  ClipLayout l;
  if (scheme.kind == ClipScheme::Kind::Reference) {
    // The reference's splitsongs(): chunk = int(len * 0.1), offset = int(chunk * (1 - 0.5)),
    // starts range(0, len - chunk + offset, offset), keeping only full chunks.
    l.length = song_samples / 10;  // int(len * 0.1) for len < 2^53: exact in integers
    l.hop = l.length / 2;
  } else {
    l.length = static_cast<std::int64_t>(std::llround(scheme.seconds * sample_rate));
    l.hop = static_cast<std::int64_t>(std::llround(l.length * (1.0 - scheme.overlap)));
  }
  if (l.length < 1 || l.hop < 1 || song_samples < l.length) {
    l.count = 0;
    return l;
  }
  l.count = (song_samples - l.length) / l.hop + 1;
  return l;
}

Tensor extract_clips(const std::vector<float>& song, const ClipScheme& scheme,
                     const std::string& source, int sample_rate) {
  const ClipLayout l = clip_layout(scheme, static_cast<std::int64_t>(song.size()), sample_rate);
  GN_REQUIRE(l.count > 0, source, ": too short (", static_cast<double>(song.size()) / sample_rate,
             " s) for one clip of the ", scheme.str(), " scheme",
             l.length > 0 ? " (" + std::to_string(l.length) + " samples)" : std::string());
  Tensor out = Tensor::empty(Shape{l.count, l.length});
  for (std::int64_t c = 0; c < l.count; ++c)
    std::memcpy(out.data() + c * l.length, song.data() + c * l.hop, sizeof(float) * l.length);
  return out;
}

}  // namespace gn
