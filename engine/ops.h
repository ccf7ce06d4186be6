// Small tensor operations every layer needs, each one functor from kernels/elementwise.h run
// by the launcher of the tensors' device. All tensors of one call must be on one device.
#pragma once

#include <cstdint>

#include "engine/context.h"
#include "engine/tensor.h"

namespace gn::ops {

void fill(Context& ctx, Tensor& y, float value);
void copy(Context& ctx, Tensor& y, const Tensor& x);                             // y = x (on ctx's stream)
void scale(Context& ctx, Tensor& y, const Tensor& x, float alpha);               // y = a x
void axpby(Context& ctx, Tensor& y, const Tensor& x, float alpha, float beta);   // y = a x + b y
void add(Context& ctx, Tensor& out, const Tensor& a, const Tensor& b);           // out = a + b
void relu(Context& ctx, Tensor& y, const Tensor& x);
// y ~ U[lo, hi) from Philox (seed, step, stream): identical on CPU and CUDA.
void uniform(Context& ctx, Tensor& y, float lo, float hi, std::uint64_t seed, std::uint64_t step,
             std::uint32_t stream);

double sum(Context& ctx, const Tensor& x);               // accumulated in double
double sum_of_squares(Context& ctx, const Tensor& x);
std::int64_t count_non_finite(Context& ctx, const Tensor& x);

// Throws naming `op` when the tensors are not all on ctx's device or differ in numel.
void check_same(const char* op, Context& ctx, const Tensor& a, const Tensor& b);

}  // namespace gn::ops

#if GENRENET_WITH_CUDA
// The CUDA twins, defined in engine/ops.cu.
namespace gn::cuda {
void fill(Context&, Tensor&, float);
void copy(Context&, Tensor&, const Tensor&);
void scale(Context&, Tensor&, const Tensor&, float);
void axpby(Context&, Tensor&, const Tensor&, float, float);
void add(Context&, Tensor&, const Tensor&, const Tensor&);
void relu(Context&, Tensor&, const Tensor&);
void uniform(Context&, Tensor&, float, float, std::uint64_t, std::uint64_t, std::uint32_t);
double sum(Context&, const Tensor&);
double sum_of_squares(Context&, const Tensor&);
std::int64_t count_non_finite(Context&, const Tensor&);
}  // namespace gn::cuda
#endif
