// Per-row accuracy term of a training step, written once for both launchers: 1 when the
// argmax of probs row i (ties -> lowest index, like model/metrics.h) is the row's one-hot
// class, else 0. Summed by the reduction launchers into the batch's correct count, so the
// accuracy shown by the progress bar needs no copy of the probabilities to the host.
#pragma once

#include "kernels/common.h"

namespace gn::fn {

struct ArgmaxHit {
  const float* probs;   // (N, classes)
  const float* onehot;  // (N, classes)
  int classes;
  GN_HD float operator()(index_t row) const {
    const float* p = probs + row * classes;
    int best = 0;
    for (int k = 1; k < classes; ++k)
      if (p[k] > p[best]) best = k;
    return onehot[row * classes + best] > 0.5f ? 1.0f : 0.0f;
  }
};

}  // namespace gn::fn
