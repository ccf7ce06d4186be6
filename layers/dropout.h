// Dropout with inverted scaling (Keras): Train keeps each element with probability 1 - rate and
// multiplies it by 1 / (1 - rate); Infer is the identity.
//
//   x (any shape) -> y (same shape)
//
// The mask comes from Philox keyed by (rng.seed, rng.step, stream): `stream` is a per-layer id,
// so two dropout layers of one step draw independent masks, and the same (seed, step) gives the
// same mask on the CPU and the GPU (one functor, kernels/dropout.h, for both launchers).
// Backward recomputes the mask from the same key rather than storing it: no memory, nothing
// to keep in sync, and Philox costs far less than the GEMMs around it. So backward must be
// given the same rng as the forward it differentiates.
// No parameters, so no store in the signatures.
#pragma once

#include <cstdint>
#include <string>

#include "engine/context.h"
#include "engine/tensor.h"
#include "layers/layer.h"

namespace gn {

struct Dropout {
  std::string name;  // "cnn.dropout1"
  float rate = 0.0f;        // in [0, 1)
  std::uint32_t stream = 0;  // Philox stream id, unique per dropout layer of a model

  Dropout() = default;
  Dropout(std::string name, float rate, std::uint32_t stream);

  Shape output_shape(const Shape& in) const { return in; }

  // y may alias x (in-place).
  void forward(Context& ctx, Tensor& y, const Tensor& x, Mode mode, RandomStep rng);
  // dx = the same mask and scale applied to dy (identity in Infer mode). dx may alias dy.
  void backward(Context& ctx, Tensor& dx, const Tensor& dy, Mode mode, RandomStep rng);
};

#if GENRENET_WITH_CUDA
namespace cuda {
void dropout_apply(const Dropout& layer, Context& ctx, Tensor& out, const Tensor& in, RandomStep rng);
}  // namespace cuda
#endif

}  // namespace gn
