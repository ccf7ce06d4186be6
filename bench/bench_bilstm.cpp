// The RCNN's two Bidirectional LSTM layers at their real shapes, batch 32:
//   layer 1: (32, 128, 128) -> (32, 128, 256)   units 128, return sequences
//   layer 2: (32, 128, 256) -> (32, 256)        units 128, last state
// forward alone and forward + backward, on the CPU and (registered only when a device
// answers) on CUDA. FLOP/s counts the GEMMs only (the gate math is O(N T U), not O(N T U^2)).
//
//   build/<dir>/bin/bench_bilstm [--benchmark_filter=CPU]
#include <benchmark/benchmark.h>

#include "bench/bench_main.h"

#include <cstdint>
#include <string>

#include "engine/context.h"
#include "engine/device.h"
#include "engine/params.h"
#include "engine/tensor.h"
#include "layers/bilstm.h"

namespace {

using namespace gn;

constexpr std::int64_t kBatch = 32, kSteps = 128, kUnits = 128;

struct LayerShape {
  const char* name;
  std::int64_t input;
  bool sequences;
};
constexpr LayerShape kLayers[] = {{"layer1", 128, true}, {"layer2", 256, false}};

// GEMM FLOPs of one forward: per direction the input projection (N T x In x 4U) and T-1
// recurrent products (N x U x 4U). Backward does each twice (data and weight gradients).
double forward_flops(const LayerShape& l) {
  const double per_dir = 2.0 * kBatch * kSteps * l.input * 4 * kUnits + 2.0 * kBatch * (kSteps - 1) * kUnits * 4 * kUnits;
  return 2 * per_dir;
}

void run(benchmark::State& state, const LayerShape& l, Device device, bool with_backward) {
  Context ctx(device);
  BiLSTM layer(std::string("rnn.") + l.name, l.input, kUnits, l.sequences);
  ParameterStore store;
  layer.declare(store);
  store.allocate(Device::cpu());
  // Small deterministic weights keep the cell in its non-saturated (typical) regime.
  for (std::int64_t i = 0; i < store.params().numel(); ++i)
    store.params().at(i) = 0.1f * static_cast<float>((i * 2654435761u) % 2001) / 1000.0f - 0.1f;
  store.to(device);
  Tensor x_host = Tensor::empty(Shape{kBatch, kSteps, l.input});
  for (std::int64_t i = 0; i < x_host.numel(); ++i) x_host.at(i) = static_cast<float>((i * 40503u) % 2001) / 1000.0f - 1.0f;
  const Tensor x = x_host.to(device);
  Tensor y, dx;
  layer.forward(ctx, store, y, x, Pass{Mode::Train});
  Tensor dy_host = Tensor::empty(y.shape());
  for (std::int64_t i = 0; i < dy_host.numel(); ++i) dy_host.at(i) = 0.01f * static_cast<float>(i % 7);
  const Tensor dy = dy_host.to(device);
  for (auto _ : state) {
    const Pass pass{with_backward ? Mode::Train : Mode::Infer};
    layer.forward(ctx, store, y, x, pass);
    if (with_backward) layer.backward(ctx, store, &dx, dy, x, y, pass);
    ctx.synchronize();
  }
  state.counters["FLOP/s"] = benchmark::Counter(forward_flops(l) * (with_backward ? 3 : 1),
                                                benchmark::Counter::kIsIterationInvariantRate);
}

void register_all(Device device, const char* tag) {
  for (const LayerShape& l : kLayers) {
    for (bool backward : {false, true}) {
      const std::string name = std::string("BiLSTM/") + tag + "/" + l.name + (backward ? "/forward_backward" : "/forward");
      benchmark::RegisterBenchmark(name.c_str(), [l, device, backward](benchmark::State& s) { run(s, l, device, backward); })
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  return gn::bench::run_device_benchmarks(
      argc, argv, [](gn::Device d, const std::string& t) { register_all(d, t.c_str()); });
}

