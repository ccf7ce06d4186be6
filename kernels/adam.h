// The Adam update for one parameter, written once for both launchers (train/adam.cpp runs it
// in an OpenMP loop, train/adam.cu in a grid-stride kernel).
//
// Keras / TF semantics (tf.raw_ops.ApplyAdam, the op behind Keras 2.4's Adam), with the
// bias correction folded into the step size on the host:
//   m += (g - m) (1 - b1)          == b1 m + (1 - b1) g
//   v += (g^2 - v) (1 - b2)        == b2 v + (1 - b2) g^2
//   p -= lr_t m / (sqrt(v) + eps)  lr_t = lr sqrt(1 - b2^t) / (1 - b1^t)
// The "+=" forms are TF's own arithmetic (same math, one rounding fewer than b1 m + ...), so
// the float32 results track TensorFlow's to the last bit or two. eps is Keras's epsilon-hat
// (added to sqrt(v) after the bias correction moved into lr_t), 1e-7 by default.
#pragma once

#include "kernels/common.h"

namespace gn::fn {

struct AdamUpdate {
  float* param;
  float* m;
  float* v;
  const float* grad;
  float lr_t;           // lr sqrt(1 - b2^t) / (1 - b1^t)
  float one_minus_b1;   // 1 - beta1
  float one_minus_b2;   // 1 - beta2
  float epsilon;
  GN_HD void operator()(index_t i) const {
    const float g = grad[i];
    const float mi = m[i] + (g - m[i]) * one_minus_b1;
    const float vi = v[i] + (g * g - v[i]) * one_minus_b2;
    m[i] = mi;
    v[i] = vi;
    param[i] -= (mi * lr_t) / (sqrtf(vi) + epsilon);
  }
};

}  // namespace gn::fn
