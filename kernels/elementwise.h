// Elementwise and reduction bodies, written once for both launchers (docs/design.md, "The CPU / CUDA contract").
// Each functor holds raw pointers and computes one index; kernels/launch_cpu.h runs it in an
// OpenMP loop and engine/launch_cuda.cuh in a grid-stride kernel.
#pragma once

#include <cstdint>

#include "kernels/common.h"
#include "kernels/philox.h"

namespace gn::fn {

struct Fill {  // y[i] = value
  float* y;
  float value;
  GN_HD void operator()(index_t i) const { y[i] = value; }
};

struct Copy {  // y[i] = x[i]
  float* y;
  const float* x;
  GN_HD void operator()(index_t i) const { y[i] = x[i]; }
};

struct Scale {  // y[i] = alpha * x[i]
  float* y;
  const float* x;
  float alpha;
  GN_HD void operator()(index_t i) const { y[i] = alpha * x[i]; }
};

struct Axpby {  // y[i] = alpha * x[i] + beta * y[i]
  float* y;
  const float* x;
  float alpha, beta;
  GN_HD void operator()(index_t i) const { y[i] = alpha * x[i] + beta * y[i]; }
};

struct Add {  // out[i] = a[i] + b[i]
  float* out;
  const float* a;
  const float* b;
  GN_HD void operator()(index_t i) const { out[i] = a[i] + b[i]; }
};

struct Relu {  // y[i] = max(x[i], 0)
  float* y;
  const float* x;
  GN_HD void operator()(index_t i) const { y[i] = x[i] > 0.0f ? x[i] : 0.0f; }
};

struct ReluBackward {  // dx[i] = y[i] > 0 ? dy[i] : 0   (uses the output, so it works in place)
  float* dx;
  const float* dy;
  const float* y;
  GN_HD void operator()(index_t i) const { dx[i] = y[i] > 0.0f ? dy[i] : 0.0f; }
};

struct Uniform {  // y[i] = lo + (hi - lo) * U[0,1) from Philox (seed, step, stream)
  float* y;
  float lo, hi;
  std::uint64_t seed, step;
  std::uint32_t stream;
  GN_HD void operator()(index_t i) const { y[i] = lo + (hi - lo) * philox_uniform(seed, step, stream, i); }
};

// Reduction bodies: return the term for index i.
struct SumOf {
  const float* x;
  GN_HD float operator()(index_t i) const { return x[i]; }
};

struct SumOfSquares {
  const float* x;
  GN_HD float operator()(index_t i) const { return x[i] * x[i]; }
};

struct CountNonFinite {  // 1 for NaN or +-Inf (x - x is NaN exactly then)
  const float* x;
  GN_HD float operator()(index_t i) const { return (x[i] - x[i]) != 0.0f || x[i] != x[i] ? 1.0f : 0.0f; }
};

}  // namespace gn::fn
