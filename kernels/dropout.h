// Inverted dropout (Keras / TF semantics): keep an element with probability 1 - rate and scale
// kept ones by 1 / (1 - rate), so inference is the identity. The keep decision for element i
// is philox_uniform(seed, step, stream, i) >= rate: a pure function of its arguments, so the
// CPU and CUDA masks are bit-identical and backward can recompute the mask instead of storing it.
#pragma once

#include <cstdint>

#include "kernels/common.h"
#include "kernels/philox.h"

namespace gn::fn {

GN_HD bool dropout_keep(std::uint64_t seed, std::uint64_t step, std::uint32_t stream, index_t i, float rate) {
  return philox_uniform(seed, step, stream, i) >= rate;
}

// out[i] = keep(i) ? in[i] * scale : 0, scale = 1 / (1 - rate). Forward (in = x) and backward
// (in = dy: the same linear map) are the same functor. out may alias in.
struct DropoutApply {
  float* out;
  const float* in;
  float rate, scale;
  std::uint64_t seed, step;
  std::uint32_t stream;
  GN_HD void operator()(index_t i) const {
    out[i] = dropout_keep(seed, step, stream, i, rate) ? in[i] * scale : 0.0f;
  }
};

// The CPU launch of DropoutApply over n elements, one Philox block per call: block g serves
// elements 4g .. 4g+3 (word k for element 4g + k, exactly as philox_uniform assigns them), so
// the mask is bit-identical to DropoutApply's while each block is computed once instead of
// four times (per element, Philox was ~11% of a training step's CPU time). Run it over
// (n + 3) / 4 indices. tests/test_dropout_blocks.cpp compares the two.
struct DropoutApplyBlocks {
  DropoutApply f;
  index_t n;
  GN_HD void operator()(index_t g) const {
    const Philox4x32 r = philox_block(f.seed, f.step, f.stream, static_cast<std::uint64_t>(g));
    const index_t first = 4 * g;
    for (index_t k = 0; k < 4 && first + k < n; ++k)
      f.out[first + k] = uint_to_unit_float(r.v[k]) >= f.rate ? f.in[first + k] * f.scale : 0.0f;
  }
};

}  // namespace gn::fn
