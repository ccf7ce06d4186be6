// The contract every layer follows (one layer per file pair: name.h + name.cpp (CPU reference)
// + name.cu (CUDA twin)), as Caffe's Layer: one signature for all, so one gradient checker
// (tests/gradcheck.h), one backend-ops table (tests/test_backend_ops.cpp) and one benchmark
// (bench/bench_layers.cpp) take any layer:
//
//   void declare(ParameterStore& store);
//   Shape output_shape(const Shape& x) const;
//   void forward(Context& ctx, ParameterStore& store, Tensor& y, const Tensor& x, Pass pass);
//   void backward(Context& ctx, ParameterStore& store, Tensor* dx, const Tensor& dy,
//                 const Tensor& x, const Tensor& y, Pass pass);
//
//  * A layer is a small struct built from its config. declare() registers its parameters in
//    the ParameterStore (each name written there and nowhere else) and keeps the returned
//    handles; forward / backward turn them into views at each call (O(1)), so the store may
//    move between devices. Layers without parameters declare nothing.
//  * Outputs first after the context and the store (llm.c style): forward writes y, backward
//    writes dx. Shapes in comments, (N, H, W, C) NHWC. Every input shape is checked with
//    check_shape() so a mistake names the layer and both shapes.
//  * backward gets forward's input x and output y (each layer uses what it needs) and the same
//    Pass as the forward it differentiates. It overwrites (never accumulates) the parameter
//    gradients in the store's gradient views and the input gradient into *dx; dx may be null
//    when the input needs no gradient (e.g. the model's first layer): then only the parameter
//    gradients are written.
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

// What one forward / backward pass needs besides tensors: Train or Infer (BatchNorm's
// statistics, dropout, what BiLSTM keeps) and the dropout key. There is no default mode
// (`Pass{}` does not compile), so an inference call cannot train by omission.
struct Pass {
  constexpr Pass(Mode m, RandomStep r = {}) : mode(m), rng(r) {}
  Mode mode;
  RandomStep rng;
};

}  // namespace gn
