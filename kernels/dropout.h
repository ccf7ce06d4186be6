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

}  // namespace gn::fn
