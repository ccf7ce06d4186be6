// Keras's default initialisers, reproducible from a seed on any machine: values are drawn on
// the host from Philox (seed, step 0, stream) so the same seed gives the same model on CPU
// and GPU, and then copied to the parameter's device.
#pragma once

#include <cstdint>

#include "engine/tensor.h"

#include "engine/params.h"

namespace gn::init {

// Every tensor of an allocated store from its declared Init: tensor i draws from Philox stream
// 1000 + i, so a model's values depend only on the seed and the declaration order.
void declared(ParameterStore& store, std::uint64_t seed);

// U(-limit, limit) with limit = sqrt(6 / (fan_in + fan_out)); for a kernel of shape
// (KH, KW, Cin, Cout) or (In, Out): fan_in = prod(shape[:-1]) ... as Keras computes it:
// receptive field = prod(shape[:-2]), fan_in = rf * shape[-2], fan_out = rf * shape[-1].
void glorot_uniform(Tensor& w, std::uint64_t seed, std::uint32_t stream);

// Orthogonal (Keras Orthogonal(gain=1)) for a 2-D (rows, cols) matrix: a normal matrix of shape
// (max, min) is QR-factorised, Q's columns are sign-fixed by diag(R), and transposed when
// rows < cols, so the rows (or columns) of the result are orthonormal.
void orthogonal(Tensor& w, std::uint64_t seed, std::uint32_t stream);

void constant(Tensor& w, float value);

// Standard normal from Philox via Box-Muller (element i of stream `stream`).
double philox_normal(std::uint64_t seed, std::uint32_t stream, std::int64_t i);

}  // namespace gn::init
