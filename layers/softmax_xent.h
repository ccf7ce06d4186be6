// Softmax and softmax fused with categorical cross-entropy over the last axis of (N, C) logits.
// Numerically stable: every row is shifted by its maximum before exp, and the loss uses
// log-sum-exp, so logits of 1e4 neither overflow nor lose the answer. Keras's
// categorical_crossentropy on a softmax output computes the same thing from the logits.
//
// CPU: one row per loop iteration (kernels/softmax.h). CUDA: one warp per row; the per-row
// losses are reduced on the device and only the final scalar is read back.
#pragma once

#include "engine/context.h"
#include "engine/tensor.h"

namespace gn {

// probs (N, C) = softmax(logits (N, C)) row by row. probs may not alias logits.
void softmax(Context& ctx, Tensor& probs, const Tensor& logits);

// Mean over the batch of -sum_c onehot[n, c] * log softmax(logits)[n, c]; also writes
// probs (N, C) = softmax(logits) and dlogits (N, C) = (probs - onehot) / N, the gradient of the
// returned mean loss (exact when every onehot row sums to 1, as one-hot labels do).
// onehot is float (N, C). Returns the loss as a double on the host.
double softmax_cross_entropy(Context& ctx, Tensor& probs, Tensor& dlogits, const Tensor& logits,
                             const Tensor& onehot);

}  // namespace gn
