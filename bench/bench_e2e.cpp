// End-to-end benchmarks of the whole RCNN at its real shapes (docs/design.md):
//   train_step       one batch-32 training step: forward (Train), softmax cross-entropy,
//                    backward, Adam
//   infer_model      inference on the 19 clips of one 30 s song, model only (the PyTorch peer
//                    measures this: bench/peers/torch_rcnn.py)
//   infer_song/seed  one 30 s song end to end: cut 19 reference clips, `seed` front-end, model,
//                    softmax and the mean over clips (what `genrenet predict` does per song)
// on the CPU and, registered only when a device answers, on CUDA. FLOP/s counts the GEMMs of
// the convolutions (im2col) and of the BiLSTM (input projections + recurrences); backward
// counts twice the forward (data and weight gradients), a slight overcount for conv1, whose
// input needs no gradient.
//
//   build/<dir>/bin/bench_e2e [--benchmark_filter=CPU]
#include <benchmark/benchmark.h>

#include "bench/bench_main.h"

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "data/clips.h"
#include "engine/context.h"
#include "engine/device.h"
#include "engine/tensor.h"
#include "engine/threads.h"
#include "layers/conv2d.h"
#include "layers/frontend.h"
#include "layers/rcnn.h"
#include "layers/softmax_xent.h"
#include "train/adam.h"

namespace {

using namespace gn;

constexpr std::int64_t kBatch = 32;
constexpr std::int64_t kSongSamples = 661794;  // a 30 s GTZAN song at 22050 Hz: 19 reference clips

// GEMM FLOPs of one clip's forward pass through `c` (convs as im2col GEMMs, both BiLSTMs).
double forward_flops_per_clip(const ModelConfig& c) {
  double flops = 0;
  std::int64_t h = c.time_frames, w = c.freq_bins, cin = 1;
  for (const ConvBlock& b : c.conv) {
    const std::int64_t oh = (h + b.stride - 1) / b.stride, ow = (w + b.stride - 1) / b.stride;
    flops += 2.0 * oh * ow * b.kernel * b.kernel * cin * b.filters;
    h = b.pool ? oh / 2 : oh;
    w = b.pool ? ow / 2 : ow;
    cin = b.filters;
  }
  std::int64_t in = c.rnn_input_size();
  const double T = static_cast<double>(c.time_frames), U = c.lstm_units;
  for (int l = 0; l < c.lstm_layers; ++l) {
    flops += 2 * (2.0 * T * in * 4 * U + 2.0 * (T - 1) * U * 4 * U);  // two directions
    in = 2 * c.lstm_units;
  }
  flops += 2.0 * 2 * U * c.classes;
  return flops;
}

Tensor filled(const Shape& s, float scale, std::uint32_t salt) {
  Tensor t = Tensor::empty(s);
  for (std::int64_t i = 0; i < t.numel(); ++i)
    t.at(i) = scale * (static_cast<float>((static_cast<std::uint64_t>(i + salt) * 40503u) % 2001) / 1000.0f - 1.0f);
  return t;
}

void train_step(benchmark::State& state, Device dev) {
  const ModelConfig config;
  Context ctx(dev);
  RCNN model(config, dev);
  model.init(1);
  Adam adam(model.store().params(), AdamOptions{});
  const Tensor x = filled(config.input_shape(kBatch), 1.0f, 7).to(dev);
  Tensor onehot_host = Tensor::zeros(Shape{kBatch, config.classes});
  for (std::int64_t n = 0; n < kBatch; ++n) onehot_host.at(n * config.classes + n % config.classes) = 1.0f;
  const Tensor onehot = onehot_host.to(dev);
  Tensor probs = Tensor::empty(Shape{kBatch, config.classes}, dev);
  Tensor dlogits = Tensor::empty(Shape{kBatch, config.classes}, dev);
  std::uint64_t step = 0;
  auto once = [&] {
    const Tensor& logits = model.forward(ctx, x, Mode::Train, RandomStep{1, step++});
    benchmark::DoNotOptimize(softmax_cross_entropy(ctx, probs, dlogits, logits, onehot));
    model.backward(ctx, dlogits);
    adam.step(ctx, model.store().params(), model.store().grads());
    ctx.synchronize();
  };
  once();  // warm-up: every buffer allocated, caches warm
  for (auto _ : state) once();
  state.counters["FLOP/s"] = benchmark::Counter(3 * forward_flops_per_clip(config) * kBatch,
                                                benchmark::Counter::kIsIterationInvariantRate);
  state.counters["clips/s"] = benchmark::Counter(kBatch, benchmark::Counter::kIsIterationInvariantRate);
}

void infer_model(benchmark::State& state, Device dev) {
  const ModelConfig config;
  const std::int64_t clips = clip_layout(ClipScheme::reference(), kSongSamples).count;  // 19
  Context ctx(dev);
  RCNN model(config, dev);
  model.init(1);
  const Tensor x = filled(config.input_shape(clips), 1.0f, 3).to(dev);
  auto once = [&] {
    Tensor p = model.predict(ctx, x);
    ctx.synchronize();
    benchmark::DoNotOptimize(p.data());
  };
  once();
  for (auto _ : state) once();
  state.counters["FLOP/s"] =
      benchmark::Counter(forward_flops_per_clip(config) * clips, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["songs/s"] = benchmark::Counter(1, benchmark::Counter::kIsIterationInvariantRate);
}

void infer_song(benchmark::State& state, Device dev, const FrontendConfig& frontend, const ClipScheme& scheme) {
  const ModelConfig config;
  Context ctx(dev);
  RCNN model(config, dev);
  model.init(1);
  std::vector<float> song(kSongSamples);
  for (std::size_t i = 0; i < song.size(); ++i)  // a chord with a little noise, in [-0.5, 0.5]
    song[i] = 0.2f * std::sin(0.031f * i) + 0.2f * std::sin(0.0123f * i) +
              0.1f * (static_cast<float>((i * 40503u) % 2001) / 1000.0f - 1.0f);
  std::vector<float> mean(static_cast<std::size_t>(config.classes));
  Tensor spec;
  auto once = [&] {
    const Tensor clips = extract_clips(song, scheme, "bench").to(dev);
    if (!spec.defined() || spec.dim(0) != clips.dim(0)) spec = Tensor::empty(frontend.output_shape(clips.dim(0)), dev);
    compute_spectrograms(ctx, spec, clips, frontend);
    const Tensor p = model.predict(ctx, spec).to(Device::cpu());
    std::fill(mean.begin(), mean.end(), 0.0f);
    for (std::int64_t n = 0; n < p.dim(0); ++n)
      for (std::int64_t k = 0; k < config.classes; ++k) mean[k] += p.at(n * config.classes + k) / p.dim(0);
    benchmark::DoNotOptimize(mean.data());
  };
  once();
  for (auto _ : state) once();
  state.counters["songs/s"] = benchmark::Counter(1, benchmark::Counter::kIsIterationInvariantRate);
}

void register_all(Device dev, const std::string& tag) {
  benchmark::RegisterBenchmark(("train_step/" + tag).c_str(), [dev](benchmark::State& s) { train_step(s, dev); })
      ->Unit(benchmark::kMillisecond)->UseRealTime();
  benchmark::RegisterBenchmark(("infer_model/" + tag).c_str(), [dev](benchmark::State& s) { infer_model(s, dev); })
      ->Unit(benchmark::kMillisecond)->UseRealTime();
  benchmark::RegisterBenchmark(("infer_song/seed/" + tag).c_str(), [dev](benchmark::State& s) {
    infer_song(s, dev, FrontendConfig::seed(), ClipScheme::reference());
  })->Unit(benchmark::kMillisecond)->UseRealTime();
  benchmark::RegisterBenchmark(("infer_song/logstft/" + tag).c_str(), [dev](benchmark::State& s) {
    infer_song(s, dev, FrontendConfig::logstft(), ClipScheme::fixed());
  })->Unit(benchmark::kMillisecond)->UseRealTime();
}

}  // namespace

int main(int argc, char** argv) {
  return gn::bench::run_device_benchmarks(
      argc, argv, [](gn::Device d, const std::string& t) { register_all(d, t); });
}

