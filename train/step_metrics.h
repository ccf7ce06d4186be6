// Small reductions the training loop runs on the step's device.
#pragma once

#include <cstdint>

#include "engine/context.h"
#include "engine/tensor.h"

namespace gn {

// Rows of probs (N, C) whose argmax is the one-hot class of onehot (N, C).
std::int64_t count_correct(Context& ctx, const Tensor& probs, const Tensor& onehot);

}  // namespace gn

#if GENRENET_WITH_CUDA
namespace gn::cuda {
std::int64_t count_correct(Context& ctx, const Tensor& probs, const Tensor& onehot);  // train/step_metrics.cu
}  // namespace gn::cuda
#endif
