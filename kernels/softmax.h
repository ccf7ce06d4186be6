// Row softmax and softmax + categorical cross-entropy, numerically stable: each row is shifted
// by its maximum before exp (no overflow), and log p = x - lse with lse = max + log(sum exp(x -
// max)) (no log of an underflowed probability). The per-element formulas below are shared by
// the CPU row functors and the CUDA warp-per-row kernel (layers/softmax_xent.cu).
#pragma once

#include "kernels/common.h"

namespace gn::fn {

GN_HD float softmax_prob(float x, float row_max, float row_sum) { return expf(x - row_max) / row_sum; }
// -t * log p = t * (lse - x); zero for t == 0 (also when lse - x is huge).
GN_HD float xent_term(float t, float x, float lse) { return t != 0.0f ? t * (lse - x) : 0.0f; }
// d(mean loss)/d logit = (p - t) / N.
GN_HD float xent_dlogit(float p, float t, float inv_n) { return (p - t) * inv_n; }

// probs row r = softmax(logits row r) of (N, C).
struct SoftmaxRow {
  float* probs;
  const float* logits;
  index_t classes;
  GN_HD void operator()(index_t r) const {
    const float* x = logits + r * classes;
    float m = x[0];
    for (index_t c = 1; c < classes; ++c) m = x[c] > m ? x[c] : m;
    float s = 0.0f;
    for (index_t c = 0; c < classes; ++c) s += expf(x[c] - m);
    for (index_t c = 0; c < classes; ++c) probs[r * classes + c] = softmax_prob(x[c], m, s);
  }
};

// Writes probs and dlogits of row r and returns the row's loss -sum_c t_c log p_c (a
// reduction body: the CPU launcher sums the rows in double).
struct SoftmaxXentRow {
  float* probs;
  float* dlogits;
  const float* logits;
  const float* onehot;
  index_t classes;
  float inv_n;
  GN_HD float operator()(index_t r) const {
    const float* x = logits + r * classes;
    const float* t = onehot + r * classes;
    float m = x[0];
    for (index_t c = 1; c < classes; ++c) m = x[c] > m ? x[c] : m;
    float s = 0.0f;
    for (index_t c = 0; c < classes; ++c) s += expf(x[c] - m);
    const float lse = m + logf(s);
    float loss = 0.0f;
    for (index_t c = 0; c < classes; ++c) {
      const float p = softmax_prob(x[c], m, s);
      probs[r * classes + c] = p;
      dlogits[r * classes + c] = xent_dlogit(p, t[c], inv_n);
      loss += xent_term(t[c], x[c], lse);
    }
    return loss;
  }
};

}  // namespace gn::fn
