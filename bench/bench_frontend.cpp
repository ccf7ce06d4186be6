// Front-end throughput on the CPU (KissFFT + OpenMP over clips) and, where a device answers,
// on CUDA (cuFFT): clips per second for `seed` (GTZAN reference clips of 66179 samples) and
// `logstft` (3 s clips), in batches of 32.
#include <benchmark/benchmark.h>

#include <random>

#include "engine/context.h"
#include "engine/passive_openmp_wait.h"  // the same OpenMP wait policy as genrenet
#include "layers/frontend.h"

namespace {

gn::Tensor random_clips(std::int64_t n, std::int64_t len) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-0.5f, 0.5f);
  std::vector<float> v(static_cast<std::size_t>(n * len));
  for (float& x : v) x = u(rng);
  return gn::Tensor::from_vector(gn::Shape{n, len}, v);
}

void run(benchmark::State& state, const gn::FrontendConfig& config, std::int64_t len, bool cuda) {
  if (cuda && gn::probe_cuda().count == 0) {
    state.SkipWithError("no CUDA device");
    return;
  }
  const gn::Device device = cuda ? gn::Device::cuda() : gn::Device::cpu();
  gn::Context ctx(device);
  const std::int64_t n = 32;
  const gn::Tensor clips = random_clips(n, len).to(device);
  gn::Tensor out = gn::Tensor::empty(config.output_shape(n), device);
  for (auto _ : state) {
    gn::compute_spectrograms(ctx, out, clips, config, false);
    ctx.synchronize();
  }
  state.SetItemsProcessed(state.iterations() * n);
}

void BM_SeedCpu(benchmark::State& s) { run(s, gn::FrontendConfig::seed(), 66179, false); }
void BM_LogStftCpu(benchmark::State& s) { run(s, gn::FrontendConfig::logstft(), 66150, false); }
void BM_SeedCuda(benchmark::State& s) { run(s, gn::FrontendConfig::seed(), 66179, true); }
void BM_LogStftCuda(benchmark::State& s) { run(s, gn::FrontendConfig::logstft(), 66150, true); }

}  // namespace

BENCHMARK(BM_SeedCpu)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_LogStftCpu)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SeedCuda)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_LogStftCuda)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_MAIN();
