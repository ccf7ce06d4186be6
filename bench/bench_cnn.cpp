// The RCNN's CNN-side layers at their real shapes, batch 32 (docs/design.md): each conv block's
// Conv2D (+ReLU), BatchNorm and MaxPool forward + backward, and the whole CNN branch, on the
// CPU and (registered only when a device answers) on CUDA. Conv FLOP/s counts the GEMMs.
//
//   build/<dir>/bin/bench_cnn [--benchmark_filter=CPU]
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "engine/context.h"
#include "engine/device.h"
#include "engine/params.h"
#include "engine/tensor.h"
#include "layers/batchnorm.h"
#include "layers/conv2d.h"
#include "layers/maxpool.h"

namespace {

using namespace gn;

constexpr std::int64_t kBatch = 32;

struct Block {
  int filters, kernel, stride;
  bool pool;
};
// ModelConfig's default CNN: input (32, 128, 513, 1).
constexpr Block kBlocks[] = {{16, 2, 2, true}, {32, 3, 2, true}, {64, 3, 2, true}, {128, 4, 1, true}, {64, 4, 1, false}};

Tensor filled(const Shape& s, Device d, float scale) {
  Tensor t = Tensor::empty(s);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.at(i) = scale * (static_cast<float>((i * 40503u) % 2001) / 1000.0f - 1.0f);
  return t.to(d);
}

struct Branch {
  std::vector<Conv2D> convs;
  std::vector<BatchNorm> bns;
  std::vector<MaxPool2D> pools;
  ParameterStore store;
  std::vector<Tensor> xs, conv_out, bn_out, d;  // activations and a gradient per stage

  Branch(Device dev, int first, int last) {
    Shape s{kBatch, 128, 513, 1};
    int cin = 1;
    for (int i = 0; i < 5; ++i) {
      const Block& b = kBlocks[i];
      const std::string n = std::to_string(i + 1);
      Conv2D conv("cnn.conv" + n, cin, b.filters, b.kernel, b.stride, Padding::Same, true);
      BatchNorm bn("cnn.bn" + n, b.filters);
      MaxPool2D pool("cnn.pool" + n, b.pool ? 2 : 1, b.pool ? 2 : 1);
      const Shape co = conv.output_shape(s);
      if (i >= first && i <= last) {
        conv.declare(store);
        bn.declare(store);
        convs.push_back(conv);
        bns.push_back(bn);
        pools.push_back(pool);
        xs.push_back(filled(s, dev, 1.0f));
        conv_out.push_back(Tensor::empty(co, dev));
        bn_out.push_back(Tensor::empty(co, dev));
        d.push_back(Tensor::empty(co, dev));
      }
      s = b.pool ? pool.output_shape(co) : co;
      cin = b.filters;
    }
    store.allocate(Device::cpu());
    for (std::int64_t i = 0; i < store.params().numel(); ++i)
      store.params().at(i) = 0.2f * static_cast<float>((i * 2654435761u) % 2001) / 1000.0f - 0.1f;
    store.to(dev);
  }

  // Each stage on its own input (the stages' real shapes; values need not chain).
  void step(Context& ctx, bool backward) {
    for (std::size_t i = 0; i < convs.size(); ++i) {
      convs[i].forward(ctx, store, conv_out[i], xs[i]);
      bns[i].forward(ctx, store, bn_out[i], conv_out[i], Mode::Train);
      Tensor pooled = Tensor();  // pooling forward + backward on the BN output
      const Shape ps = pools[i].output_shape(bn_out[i].shape());
      if (pools[i].pool_h > 1) {
        pooled = Tensor::empty(ps, ctx.device());
        pools[i].forward(ctx, pooled, bn_out[i]);
      }
      if (!backward) continue;
      if (pools[i].pool_h > 1) pools[i].backward(ctx, d[i], pooled, bn_out[i], pooled);
      bns[i].backward(ctx, store, &d[i], bn_out[i], conv_out[i]);
      Tensor dx = Tensor::empty(xs[i].shape(), ctx.device());
      convs[i].backward(ctx, store, i == 0 ? nullptr : &dx, d[i], xs[i], conv_out[i]);
    }
    ctx.synchronize();
  }
};

void run(benchmark::State& state, Device dev, int first, int last, bool backward) {
  Context ctx(dev);
  Branch b(dev, first, last);
  b.step(ctx, backward);  // warm-up: scratch buffers, cuDNN algorithm choice
  for (auto _ : state) b.step(ctx, backward);
  state.counters["clips/s"] = benchmark::Counter(static_cast<double>(kBatch), benchmark::Counter::kIsIterationInvariantRate);
}

// One block's ops one by one (block 1 has the largest activations: (32, 64, 257, 16)).
void run_op(benchmark::State& state, Device dev, int block, int op) {
  Context ctx(dev);
  Branch b(dev, block, block);
  b.step(ctx, true);
  Tensor pooled = Tensor::empty(b.pools[0].output_shape(b.bn_out[0].shape()), dev);
  b.pools[0].forward(ctx, pooled, b.bn_out[0]);
  for (auto _ : state) {
    switch (op) {
      case 0: b.convs[0].forward(ctx, b.store, b.conv_out[0], b.xs[0]); break;
      case 1: b.convs[0].backward(ctx, b.store, nullptr, b.d[0], b.xs[0], b.conv_out[0]); break;
      case 2: b.bns[0].forward(ctx, b.store, b.bn_out[0], b.conv_out[0], Mode::Train); break;
      case 3: b.bns[0].backward(ctx, b.store, &b.d[0], b.bn_out[0], b.conv_out[0]); break;
      case 4: b.pools[0].forward(ctx, pooled, b.bn_out[0]); break;
      case 5: b.pools[0].backward(ctx, b.d[0], pooled, b.bn_out[0], pooled); break;
    }
    ctx.synchronize();
  }
}

void register_all() {
  std::vector<Device> devices{Device::cpu()};
  if (probe_cuda().count > 0) devices.push_back(Device::cuda(0));
  for (Device dev : devices) {
    const std::string d = dev.is_cpu() ? "CPU" : "CUDA";
    for (int i = 0; i < 5; ++i)
      benchmark::RegisterBenchmark(("block" + std::to_string(i + 1) + "_fwd_bwd/" + d).c_str(),
                                   [=](benchmark::State& s) { run(s, dev, i, i, true); })
          ->Unit(benchmark::kMillisecond);
    const char* ops[] = {"conv_fwd", "conv_bwd", "bn_fwd", "bn_bwd", "pool_fwd", "pool_bwd"};
    for (int i = 0; i < 5; ++i)
      for (int op = 0; op < 6; ++op)
        if (kBlocks[i].pool || op < 4)
          benchmark::RegisterBenchmark(("block" + std::to_string(i + 1) + "_" + ops[op] + "/" + d).c_str(),
                                       [=](benchmark::State& s) { run_op(s, dev, i, op); })
              ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("cnn_branch_fwd/" + d).c_str(), [=](benchmark::State& s) { run(s, dev, 0, 4, false); })
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark(("cnn_branch_fwd_bwd/" + d).c_str(), [=](benchmark::State& s) { run(s, dev, 0, 4, true); })
        ->Unit(benchmark::kMillisecond);
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
