// Scratch tensors a layer keeps between calls (im2col buffers, batch statistics, ...): grown
// when a bigger shape arrives, never shrunk, so a training loop allocates nothing after its
// first step. RAII through Tensor; never raw cudaMalloc.
#pragma once

#include "engine/tensor.h"

namespace gn {

// A view of `shape` at the start of `scratch`, reallocating `scratch` on `device` first when it
// is on another device or too small. Contents are unspecified.
Tensor scratch_view(Tensor& scratch, const Shape& shape, Device device);

// `t` itself, (re)allocated as an owning tensor of exactly `shape` on `device` only when its
// shape or device differs, so steady-state steps allocate nothing. Contents are unspecified.
Tensor& ensure_tensor(Tensor& t, const Shape& shape, Device device);

}  // namespace gn
