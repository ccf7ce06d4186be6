// The engine's ops as data (ggml's test-backend-ops style): each description names an op, the
// normalised error bound between its CUDA and CPU results, and how to set it up on a device
// (inputs and parameters drawn from fixed seeds on the host, so every device sees the same
// numbers). tests/test_backend_ops.cpp runs each one on the CPU and on CUDA;
// bench/bench_layers.cpp times the RCNN's layers from rcnn_layer_ops(), the same descriptions
// at the model's real shapes, so the shapes of every block are derived in one place.
//
// Any layer joins through the contract of layers/layer.h with one layer_op(...) line.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/context.h"
#include "engine/params.h"
#include "engine/tensor.h"
#include "layers/batchnorm.h"
#include "layers/bilstm.h"
#include "layers/conv2d.h"
#include "layers/dense.h"
#include "layers/dropout.h"
#include "layers/layer.h"
#include "layers/maxpool.h"
#include "layers/model_config.h"

namespace gn::op {

using Tensors = std::vector<Tensor>;

// One op set up on one device. forward / backward run it once (backward is empty for
// forward-only ops and must follow a forward); results() reads every output and gradient back
// to the host. Nominal FLOPs per call are for benchmarks (GEMM layers: their GEMMs; the others:
// one per element and operation of the formula).
struct Prepared {
  std::function<void()> forward, backward;
  std::function<Tensors()> results;
  double forward_flops = 0, backward_flops = 0;
};

struct Description {
  std::string name;
  double bound = 0.0;  // max |cuda - cpu| / max |cpu| over every result
  std::function<Prepared(Context&)> prepare;
};

// Deterministic values in [lo, hi) from (seed, index), computed on the host: no generator
// state, the same on every machine, then copied to `device`.
inline Tensor values(const Shape& shape, std::uint32_t seed, Device device, float lo = -1.0f, float hi = 1.0f) {
  Tensor t = Tensor::empty(shape);
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    std::uint64_t z = (static_cast<std::uint64_t>(seed) << 32) + static_cast<std::uint64_t>(i) + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;  // splitmix64
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    t.at(i) = lo + (hi - lo) * static_cast<float>(static_cast<double>(z >> 40) / 16777216.0);
  }
  return t.to(device);
}

// GEMM FLOPs of one forward call of a layer on input x (0 for layers that have none).
inline double gemm_flops(const Conv2D& c, const Shape& x) {
  const Shape y = c.output_shape(x);
  return 2.0 * static_cast<double>(y.numel()) * c.kernel_h * c.kernel_w * c.in_channels;
}
inline double gemm_flops(const Dense& d, const Shape& x) { return 2.0 * x[0] * d.in_features * d.out_features; }
inline double gemm_flops(const BiLSTM& l, const Shape& x) {
  // Two directions, each (In + U) x 4U per step and sample.
  return 2.0 * 2.0 * x[0] * x[1] * (l.input_size() + l.units()) * 4.0 * l.units();
}
template <class Layer>
double gemm_flops(const Layer&, const Shape&) {
  return 0.0;
}

// Any layer through layers/layer.h: forward (and, in Train mode, backward with dy from a fixed
// seed) on input x drawn from [x_lo, x_hi); results are y, dx (when input_gradient), every
// parameter gradient (Train) and the non-trainable buffers (BatchNorm's moving statistics).
// input_gradient = false runs backward with dx = nullptr, as the model does for its first
// layers.
// `make` builds a fresh layer for each preparation (layers keep per-call state).
template <class Make>
Description layer_op_from(std::string name, Make make, Shape x_shape, double bound, Pass pass = {Mode::Train},
                          bool input_gradient = true, float x_lo = -1.0f, float x_hi = 1.0f) {
  return {std::move(name), bound, [=](Context& ctx) {
            using Layer = decltype(make());
            struct State {
              Layer layer;
              ParameterStore store;
              Tensor x, y, dx, dy;
            };
            auto s = std::make_shared<State>(State{make(), {}, {}, {}, {}, {}});
            const Device dev = ctx.device();
            s->layer.declare(s->store);
            s->store.allocate(Device::cpu());
            if (s->store.num_params() > 0) s->store.params().copy_from(values(s->store.params().shape(), 1, Device::cpu(), -0.5f, 0.5f));
            if (s->store.num_buffers() > 0) s->store.buffers().copy_from(values(s->store.buffers().shape(), 4, Device::cpu(), 0.5f, 1.5f));
            s->store.to(dev);
            s->x = values(x_shape, 2, dev, x_lo, x_hi);
            s->y = Tensor::empty(s->layer.output_shape(x_shape), dev);
            s->dx = Tensor::empty(x_shape, dev);
            s->dy = values(s->y.shape(), 3, dev);
            Prepared p;
            Context* c = &ctx;
            p.forward = [s, c, pass] { s->layer.forward(*c, s->store, s->y, s->x, pass); };
            if (pass.mode == Mode::Train)
              p.backward = [s, c, pass, input_gradient] {
                s->layer.backward(*c, s->store, input_gradient ? &s->dx : nullptr, s->dy, s->x, s->y, pass);
              };
            const bool train = pass.mode == Mode::Train;
            p.results = [s, train, input_gradient] {
              Tensors r{s->y.to(Device::cpu())};
              if (train && input_gradient) r.push_back(s->dx.to(Device::cpu()));
              if (train && s->store.num_params() > 0) r.push_back(s->store.grads().to(Device::cpu()));
              if (s->store.num_buffers() > 0) r.push_back(s->store.buffers().to(Device::cpu()));
              return r;
            };
            const double gemm = gemm_flops(s->layer, x_shape);
            p.forward_flops = gemm > 0 ? gemm : static_cast<double>(x_shape.numel());
            // Backward: the weight-gradient GEMM, plus the data-gradient one when dx is wanted.
            p.backward_flops = gemm > 0 ? gemm * (input_gradient ? 2.0 : 1.0) : static_cast<double>(x_shape.numel());
            return p;
          }};
}

// The same for a copyable layer given by value.
template <class Layer>
Description layer_op(std::string name, Layer layer, Shape x_shape, double bound, Pass pass = {Mode::Train},
                     bool input_gradient = true, float x_lo = -1.0f, float x_hi = 1.0f) {
  return layer_op_from(std::move(name), [layer] { return layer; }, std::move(x_shape), bound, pass, input_gradient,
                       x_lo, x_hi);
}

// BiLSTM keeps its saved state behind a unique_ptr (move-only): built from its settings.
inline Description bilstm_op(std::string name, std::int64_t n, std::int64_t t, std::int64_t in, std::int64_t units,
                             bool sequences, double bound, Pass pass = {Mode::Train}, bool input_gradient = true) {
  const std::string layer_name = name;
  return layer_op_from(
      std::move(name), [=] { return BiLSTM(layer_name, in, units, sequences); }, Shape{n, t, in}, bound, pass,
      input_gradient);
}

// The error bounds of the model's layers, CUDA vs CPU, at test sizes (sums of at most ~10^3
// float32 terms per output). Derivations:
//  * Conv2D, BatchNorm, Dense: the devices differ only in summation order (cuDNN / cuBLAS
//    algorithms, FMA contraction). A sum of k terms of magnitude <= M in another order differs
//    by <= k * eps * M (eps = 6e-8): k <= 10^2 gives 6e-6 of the largest value; 1e-5.
//  * MaxPool, Dropout: they select or scale values with the same single float operation on both
//    devices (the same Philox mask for dropout): exact, bound 0.
//  * BiLSTM: each of T steps sums In + U terms and applies exp/tanh (CUDA's within 2 ulp of
//    libm's); errors carry through the recurrence, so the forward worst case is T (In + U + 2)
//    eps ~ 16 * 20 * 6e-8 = 2e-5 of the largest value; backward runs the chain twice and sums
//    N T terms per weight gradient: 1e-4 covers both (a wrong gate order gives errors of order 1).
constexpr double kSumOrderBound = 1e-5;
constexpr double kExactBound = 0.0;
constexpr double kRecurrentBound = 1e-4;

// Every layer of the RCNN of `config` at its real input shape for batch `n`, in model order:
// per CNN block Conv2D (+ReLU; no input gradient for block 1, as in the model), BatchNorm,
// [MaxPool 2x2], [Dropout]; the CNN's dropout after Flatten; the (1, 2) pools of the RNN branch;
// each BiLSTM; the RNN's dropout; the Dense head. The shapes come from the layers'
// output_shape(), block after block.
inline std::vector<Description> rcnn_layer_ops(const ModelConfig& config, std::int64_t n) {
  config.validate();
  std::vector<Description> ops;
  const Pass train{Mode::Train, RandomStep{7, 3}};
  Shape s = config.input_shape(n);
  int cin = 1;
  for (std::size_t i = 0; i < config.conv.size(); ++i) {
    const ConvBlock& b = config.conv[i];
    const std::string k = std::to_string(i + 1);
    const Conv2D conv("cnn.conv" + k, cin, b.filters, b.kernel, b.stride, Padding::Same, true);
    ops.push_back(layer_op(conv.name, conv, s, kSumOrderBound, train, /*input_gradient=*/i > 0));
    s = conv.output_shape(s);
    const BatchNorm bn("cnn.bn" + k, b.filters, config.bn_momentum, config.bn_epsilon);
    ops.push_back(layer_op(bn.name, bn, s, kSumOrderBound, train));
    if (b.pool) {
      const MaxPool2D pool("cnn.pool" + k, 2, 2);
      ops.push_back(layer_op(pool.name, pool, s, kExactBound, train));
      s = pool.output_shape(s);
    }
    if (b.dropout > 0) {
      const Dropout drop("cnn.dropout" + k, b.dropout, 100 + static_cast<std::uint32_t>(i));
      ops.push_back(layer_op(drop.name, drop, s, kExactBound, train));
    }
    cin = b.filters;
  }
  if (config.cnn_dropout > 0)
    ops.push_back(layer_op("cnn.dropout", Dropout("cnn.dropout", config.cnn_dropout, 200), Shape{n, s.numel() / n},
                           kExactBound, train));
  Shape r = config.input_shape(n);
  for (int p = 0; p < config.rnn_freq_pools; ++p) {
    const MaxPool2D pool("rnn.pool" + std::to_string(p + 1), 1, 2);
    ops.push_back(layer_op(pool.name, pool, r, kExactBound, train));
    r = pool.output_shape(r);
  }
  Shape seq{n, config.time_frames, config.rnn_input_size()};
  for (int l = 0; l < config.lstm_layers; ++l) {
    const bool sequences = l + 1 < config.lstm_layers;
    const BiLSTM lstm("rnn.lstm" + std::to_string(l + 1), seq[2], config.lstm_units, sequences);
    // The first BiLSTM's input is the spectrogram: the model asks for no input gradient.
    ops.push_back(bilstm_op(lstm.name(), n, seq[1], seq[2], config.lstm_units, sequences, kRecurrentBound, train,
                            /*input_gradient=*/l > 0));
    seq = lstm.output_shape(seq);
  }
  if (config.rnn_dropout > 0)
    ops.push_back(layer_op("rnn.dropout", Dropout("rnn.dropout", config.rnn_dropout, 300), seq, kExactBound, train));
  const Dense dense("head.dense", static_cast<int>(2 * config.lstm_units), config.classes);
  ops.push_back(layer_op(dense.name, dense, Shape{n, 2 * config.lstm_units}, kSumOrderBound, train));
  return ops;
}

}  // namespace gn::op
