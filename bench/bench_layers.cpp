// The RCNN's remaining layers at their real shapes, batch 32, forward and backward, on the CPU
// and (registered only when a device answers) on CUDA; bench_cnn covers Conv2D / BatchNorm /
// MaxPool per block and bench_bilstm the two BiLSTMs. Here:
//   conv{1..5}        Conv2D (+ReLU) forward, backward          FLOP/s: the im2col GEMMs
//   rnn_pool          MaxPool (1, 2) on the spectrogram (32, 128, 513, 1) and its backward
//   dropout           block 1's Dropout(0.2) on (32, 32, 128, 16), forward / backward
//   add, dense        the head: Add (32, 256) + Dense 256 -> 10, forward / backward
//   softmax_xent      softmax cross-entropy with its gradient (32, 10)
//   adam              one Adam update of every parameter of the model
// FLOP/s of the non-GEMM layers counts one FLOP per element per arithmetic operation of the
// formula (a nominal figure: these layers are memory bound; bytes moved matter more).
//
//   build/<dir>/bin/bench_layers [--benchmark_filter=CPU]
#include <benchmark/benchmark.h>

#include "bench/bench_main.h"

#include <string>

#include "engine/context.h"
#include "engine/device.h"
#include "engine/ops.h"
#include "engine/params.h"
#include "engine/tensor.h"
#include "engine/threads.h"
#include "layers/conv2d.h"
#include "layers/dense.h"
#include "layers/dropout.h"
#include "layers/maxpool.h"
#include "layers/model_config.h"
#include "layers/rcnn.h"
#include "layers/softmax_xent.h"
#include "train/adam.h"

namespace {

using namespace gn;

constexpr std::int64_t kBatch = 32;

Tensor filled(const Shape& s, Device d, float scale = 1.0f) {
  Tensor t = Tensor::empty(s);
  for (std::int64_t i = 0; i < t.numel(); ++i)
    t.at(i) = scale * (static_cast<float>((static_cast<std::uint64_t>(i) * 40503u) % 2001) / 1000.0f - 1.0f);
  return t.to(d);
}

void set_flops(benchmark::State& state, double flops) {
  state.counters["FLOP/s"] = benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate);
}

// Conv block i (0-based) of the default ModelConfig at its real input shape.
void conv(benchmark::State& state, Device dev, int block, bool backward) {
  const ModelConfig config;
  Shape s = config.input_shape(kBatch);
  int cin = 1;
  for (int i = 0; i < block; ++i) {
    const ConvBlock& b = config.conv[i];
    const Shape o = Conv2D("c", cin, b.filters, b.kernel, b.stride, Padding::Same, true).output_shape(s);
    s = b.pool ? Shape{o[0], o[1] / 2, o[2] / 2, o[3]} : o;
    cin = b.filters;
  }
  const ConvBlock& b = config.conv[block];
  Conv2D layer("cnn.conv" + std::to_string(block + 1), cin, b.filters, b.kernel, b.stride, Padding::Same, true);
  ParameterStore store;
  layer.declare(store);
  store.allocate(Device::cpu());
  store.params().copy_from(filled(store.params().shape(), Device::cpu(), 0.1f));
  store.to(dev);
  Context ctx(dev);
  const Tensor x = filled(s, dev);
  const Shape ys = layer.output_shape(s);
  Tensor y = Tensor::empty(ys, dev), dx = Tensor::empty(s, dev);
  const Tensor dy = filled(ys, dev, 0.01f);
  layer.forward(ctx, store, y, x);
  auto once = [&] {
    if (backward)
      layer.backward(ctx, store, block == 0 ? nullptr : &dx, dy, x, y);  // conv1's input needs no gradient
    else
      layer.forward(ctx, store, y, x);
    ctx.synchronize();
  };
  once();
  for (auto _ : state) once();
  const double gemm = 2.0 * ys[0] * ys[1] * ys[2] * b.kernel * b.kernel * cin * b.filters;
  set_flops(state, backward ? (block == 0 ? 1 : 2) * gemm : gemm);
}

void rnn_pool(benchmark::State& state, Device dev, bool backward) {
  Context ctx(dev);
  MaxPool2D pool("rnn.pool", 1, 2);
  const Tensor x = filled(ModelConfig{}.input_shape(kBatch), dev);
  Tensor y = Tensor::empty(pool.output_shape(x.shape()), dev), dx = Tensor::empty(x.shape(), dev);
  const Tensor dy = filled(y.shape(), dev, 0.01f);
  pool.forward(ctx, y, x);
  for (auto _ : state) {
    if (backward)
      pool.backward(ctx, dx, dy, x, y);
    else
      pool.forward(ctx, y, x);
    ctx.synchronize();
  }
  set_flops(state, static_cast<double>(x.numel()));  // one comparison per input element
}

void dropout(benchmark::State& state, Device dev, bool backward) {
  Context ctx(dev);
  Dropout layer("cnn.dropout1", 0.2f, 100);
  const Tensor x = filled(Shape{kBatch, 32, 128, 16}, dev);
  Tensor y = Tensor::empty(x.shape(), dev);
  std::uint64_t step = 0;
  for (auto _ : state) {
    if (backward)
      layer.backward(ctx, y, x, Mode::Train, RandomStep{1, step++});
    else
      layer.forward(ctx, y, x, Mode::Train, RandomStep{1, step++});
    ctx.synchronize();
  }
  set_flops(state, 2.0 * x.numel());  // compare + scale
}

void head(benchmark::State& state, Device dev, bool backward) {
  const ModelConfig config;
  const int in = 2 * config.lstm_units;
  Context ctx(dev);
  Dense dense("head.dense", in, config.classes);
  ParameterStore store;
  dense.declare(store);
  store.allocate(Device::cpu());
  store.params().copy_from(filled(store.params().shape(), Device::cpu(), 0.1f));
  store.to(dev);
  const Tensor a = filled(Shape{kBatch, in}, dev), b = filled(Shape{kBatch, in}, dev, 0.5f);
  Tensor sum = Tensor::empty(a.shape(), dev), logits = Tensor::empty(Shape{kBatch, config.classes}, dev);
  Tensor dsum = Tensor::empty(a.shape(), dev);
  const Tensor dlogits = filled(logits.shape(), dev, 0.01f);
  for (auto _ : state) {
    if (backward) {
      dense.backward(ctx, store, &dsum, dlogits, sum);
    } else {
      ops::add(ctx, sum, a, b);
      dense.forward(ctx, store, logits, sum);
    }
    ctx.synchronize();
  }
  // Dense: 2 N In Out per GEMM (backward: dx and dW); Add: one per element.
  const double gemm = 2.0 * kBatch * in * config.classes;
  set_flops(state, backward ? 2 * gemm : gemm + static_cast<double>(a.numel()));
}

void softmax_xent(benchmark::State& state, Device dev) {
  const int classes = ModelConfig{}.classes;
  Context ctx(dev);
  const Tensor logits = filled(Shape{kBatch, classes}, dev, 3.0f);
  Tensor onehot_host = Tensor::zeros(logits.shape());
  for (std::int64_t n = 0; n < kBatch; ++n) onehot_host.at(n * classes + n % classes) = 1.0f;
  const Tensor onehot = onehot_host.to(dev);
  Tensor probs = Tensor::empty(logits.shape(), dev), dlogits = Tensor::empty(logits.shape(), dev);
  for (auto _ : state) benchmark::DoNotOptimize(softmax_cross_entropy(ctx, probs, dlogits, logits, onehot));
  set_flops(state, 6.0 * logits.numel());  // max, sub, exp, sum, div, grad
}

void adam(benchmark::State& state, Device dev) {
  Context ctx(dev);
  RCNN model(ModelConfig{}, dev);
  Adam opt(model.store().params());
  model.store().grads().copy_from(filled(model.store().grads().shape(), dev, 0.01f));
  for (auto _ : state) {
    opt.step(ctx, model.store().params(), model.store().grads());
    ctx.synchronize();
  }
  set_flops(state, 12.0 * model.store().params().numel());  // two moments, sqrt, divide, update
}

void register_all(Device dev, const std::string& tag) {
  auto reg = [&](const std::string& name, auto fn) {
    benchmark::RegisterBenchmark((name + "/" + tag).c_str(), fn)->Unit(benchmark::kMillisecond)->UseRealTime();
  };
  for (int i = 0; i < static_cast<int>(ModelConfig{}.conv.size()); ++i)
    for (bool bwd : {false, true})
      reg("conv" + std::to_string(i + 1) + (bwd ? "_bwd" : "_fwd"), [=](benchmark::State& s) { conv(s, dev, i, bwd); });
  for (bool bwd : {false, true}) {
    const std::string d = bwd ? "_bwd" : "_fwd";
    reg("rnn_pool" + d, [=](benchmark::State& s) { rnn_pool(s, dev, bwd); });
    reg("dropout" + d, [=](benchmark::State& s) { dropout(s, dev, bwd); });
    reg("add_dense" + d, [=](benchmark::State& s) { head(s, dev, bwd); });
  }
  reg("softmax_xent", [=](benchmark::State& s) { softmax_xent(s, dev); });
  reg("adam", [=](benchmark::State& s) { adam(s, dev); });
}

}  // namespace

int main(int argc, char** argv) {
  return gn::bench::run_device_benchmarks(
      argc, argv, [](gn::Device d, const std::string& t) { register_all(d, t); });
}

