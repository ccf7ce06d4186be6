// Every layer of the RCNN at its real shape, batch 32, forward and backward, on the CPU and
// (registered only when a device answers) on CUDA; bench_cnn times whole CNN blocks and
// bench_bilstm the BiLSTM stack. The layers and their shapes come from op::rcnn_layer_ops
// (tests/op_descriptions.h), the descriptions tests/test_backend_ops.cpp checks:
//   cnn.conv{i}, cnn.bn{i}, cnn.pool{i}, cnn.dropout{i}, cnn.dropout, rnn.pool{k},
//   rnn.lstm{l}, rnn.dropout, head.dense           _fwd / _bwd (FLOP/s: GEMM layers' GEMMs)
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
#include "layers/model_config.h"
#include "layers/rcnn.h"
#include "layers/softmax_xent.h"
#include "tests/op_descriptions.h"
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

// One layer of the model, from the descriptions tests/test_backend_ops.cpp checks (the same
// builder, at the real shapes of the default ModelConfig, batch 32).
void layer(benchmark::State& state, Device dev, const op::Description& d, bool backward) {
  Context ctx(dev);
  op::Prepared p = d.prepare(ctx);
  p.forward();  // scratch buffers, cuDNN algorithm choice; backward needs a forward first
  auto once = [&] {
    if (backward)
      p.backward();
    else
      p.forward();
    ctx.synchronize();
  };
  once();
  for (auto _ : state) once();
  set_flops(state, backward ? p.backward_flops : p.forward_flops);
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
  for (const op::Description& d : op::rcnn_layer_ops(ModelConfig{}, kBatch))
    for (bool bwd : {false, true})
      reg(d.name + (bwd ? "_bwd" : "_fwd"), [=](benchmark::State& s) { layer(s, dev, d, bwd); });
  reg("softmax_xent", [=](benchmark::State& s) { softmax_xent(s, dev); });
  reg("adam", [=](benchmark::State& s) { adam(s, dev); });
}

}  // namespace

int main(int argc, char** argv) {
  return gn::bench::run_device_benchmarks(
      argc, argv, [](gn::Device d, const std::string& t) { register_all(d, t); });
}

