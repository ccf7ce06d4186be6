// The closed form the Keras fixture scripts use for every parameter, buffer and input
// (tests/fixtures/make_rcnn_fixtures.py, make_trajectory_fixtures.py), recomputed bit for bit so
// the fixtures store answers only:
//   h(i, s) = lowbias32((i * 0x9E3779B1 + s) mod 2^32), s = FNV-1a-32 of the tensor's name,
//   u = (h >> 8) * 2^-24 (exact in float32), value = float32(lo + (hi - lo) u) (in double).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "engine/safetensors.h"
#include "engine/tensor.h"

namespace gn::test {

inline std::uint32_t fnv1a32(const std::string& s) {
  std::uint32_t h = 0x811C9DC5u;
  for (unsigned char c : s) h = (h ^ c) * 0x01000193u;
  return h;
}

inline std::vector<float> closed_form(const std::string& name, std::int64_t n, double lo, double hi) {
  const std::uint32_t seed = fnv1a32(name);
  std::vector<float> v(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    std::uint32_t x = static_cast<std::uint32_t>(i) * 0x9E3779B1u + seed;  // lowbias32
    x ^= x >> 16;
    x *= 0x7FEB352Du;
    x ^= x >> 15;
    x *= 0x846CA68Bu;
    x ^= x >> 16;
    const double u = static_cast<double>(x >> 8) * 0x1p-24;
    v[static_cast<std::size_t>(i)] = static_cast<float>(lo + (hi - lo) * u);
  }
  return v;
}

inline bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The [lo, hi) of every model tensor, by the scripts' table (glorot-like scales keep the
// recurrences out of saturation).
inline std::pair<double, double> closed_form_range(const std::string& name, const Shape& s) {
  auto glorot = [](std::int64_t fan_in, std::int64_t fan_out) {
    const double lim = std::sqrt(6.0 / static_cast<double>(fan_in + fan_out));
    return std::pair<double, double>{-lim, lim};
  };
  if (ends_with(name, ".kernel") && s.rank() == 4)  // conv (KH, KW, Cin, Cout)
    return glorot(s[0] * s[1] * s[2], s[0] * s[1] * s[3]);
  if (ends_with(name, "kernel")) return glorot(s[0], s[1]);  // LSTM kernels, recurrent kernels, Dense
  if (ends_with(name, ".bias")) return name.rfind("rnn.", 0) == 0 ? std::pair{-0.5, 0.5} : std::pair{-0.1, 0.1};
  if (ends_with(name, ".gamma")) return {0.75, 1.25};
  if (ends_with(name, ".beta") || ends_with(name, ".moving_mean")) return {-0.2, 0.2};
  if (ends_with(name, ".moving_var")) return {0.5, 1.5};
  ADD_FAILURE() << "no closed-form range for " << name;
  return {0.0, 0.0};
}

// The closed form of `name` (shape `s`), after checking its first values against the fixture's
// check.<name> (so a formula drift is reported as such, not as a model error).
inline std::vector<float> checked_closed_form(const SafeTensorsFile& f, const std::string& name, const Shape& s,
                                              double lo, double hi) {
  std::vector<float> v = closed_form(name, s.numel(), lo, hi);
  const std::vector<float> check = f.get("check." + name).to_vector();
  for (std::size_t i = 0; i < check.size(); ++i)
    EXPECT_EQ(v[i], check[i]) << "closed form of " << name << " differs from the fixture script at " << i;
  return v;
}

}  // namespace gn::test
