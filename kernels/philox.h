// Philox 4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11), the
// counter-based generator behind every random choice of the engine. It is a pure function of
// (counter, key), so a dropout mask depends only on (seed, step, layer, element) and is the
// same on the CPU and on the GPU, whatever the thread layout.
#pragma once

#include <cmath>
#include <cstdint>

#include "kernels/common.h"

namespace gn {

struct Philox4x32 {
  std::uint32_t v[4];
};

namespace philox_detail {
constexpr std::uint32_t kMul0 = 0xD2511F53u;
constexpr std::uint32_t kMul1 = 0xCD9E8D57u;
constexpr std::uint32_t kWeyl0 = 0x9E3779B9u;  // golden ratio
constexpr std::uint32_t kWeyl1 = 0xBB67AE85u;  // sqrt(3) - 1

GN_HD void mulhilo(std::uint32_t a, std::uint32_t b, std::uint32_t& hi, std::uint32_t& lo) {
  const std::uint64_t p = static_cast<std::uint64_t>(a) * b;
  hi = static_cast<std::uint32_t>(p >> 32);
  lo = static_cast<std::uint32_t>(p);
}
}  // namespace philox_detail

// out = Philox4x32-10(counter, key).
GN_HD Philox4x32 philox4x32_10(Philox4x32 ctr, std::uint32_t key0, std::uint32_t key1) {
  using namespace philox_detail;
  for (int round = 0; round < 10; ++round) {
    std::uint32_t hi0, lo0, hi1, lo1;
    mulhilo(kMul0, ctr.v[0], hi0, lo0);
    mulhilo(kMul1, ctr.v[2], hi1, lo1);
    ctr = Philox4x32{{hi1 ^ ctr.v[1] ^ key0, lo1, hi0 ^ ctr.v[3] ^ key1, lo0}};
    key0 += kWeyl0;
    key1 += kWeyl1;
  }
  return ctr;
}

// The engine's keying convention: key = the 64-bit seed; counter = (block of 4 elements,
// high bits of the block, step, stream). `stream` separates independent users of one seed
// (one dropout layer, the shuffler, the initialiser, ...).
GN_HD Philox4x32 philox_block(std::uint64_t seed, std::uint64_t step, std::uint32_t stream,
                              std::uint64_t block) {
  Philox4x32 ctr{{static_cast<std::uint32_t>(block), static_cast<std::uint32_t>(block >> 32),
                  static_cast<std::uint32_t>(step), stream}};
  return philox4x32_10(ctr, static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32));
}

// Uniform float in [0, 1) from the top 24 bits: exactly representable, never 1.0.
GN_HD float uint_to_unit_float(std::uint32_t x) { return static_cast<float>(x >> 8) * (1.0f / 16777216.0f); }

// The i-th uniform of the stream (seed, step, stream): element i uses word i % 4 of block i / 4.
GN_HD float philox_uniform(std::uint64_t seed, std::uint64_t step, std::uint32_t stream, index_t i) {
  const Philox4x32 r = philox_block(seed, step, stream, static_cast<std::uint64_t>(i) >> 2);
  return uint_to_unit_float(r.v[i & 3]);
}

}  // namespace gn
