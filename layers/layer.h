// Conventions every layer follows (one layer per file pair: name.h + name.cpp (CPU reference)
// + name.cu (CUDA twin)):
//
//  * A layer is a small struct built from its config. It declares its parameters in a
//    ParameterStore (`declare`), and reads views of them by name at each call, so the store
//    may move between devices.
//  * forward(ctx, store, x, y, ...): outputs first after the context (llm.c style), shapes
//    in comments, (N, H, W, C) NHWC. Every input shape is checked with check_shape() so a
//    mistake names the layer and both shapes.
//  * backward(ctx, store, ..., dy, dx): writes (overwrites, never accumulates) the parameter
//    gradients into the store's gradient views and the input gradient into dx (dx may be
//    null when the input needs no gradient, e.g. the model's first layer).
//  * Which implementation runs is decided by the tensors' device (ctx.device()): the CPU
//    reference in name.cpp or the CUDA twin in name.cu. Elementwise math is written once as a
//    functor in kernels/*.h and run by both launchers.
#pragma once

#include <cstdint>

namespace gn {

enum class Mode { Train, Infer };

// What a stochastic layer needs to draw its randomness: Philox keyed by (seed, step, stream).
struct RandomStep {
  std::uint64_t seed = 0;
  std::uint64_t step = 0;
};

}  // namespace gn
