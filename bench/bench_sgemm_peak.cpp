// This machine's single-precision GEMM peak through OpenBLAS, measured in the same run as the
// engine's benchmarks so GFLOP/s figures can be quoted as a share of it. Large square GEMMs
// (the best case) and the model's real small shapes (the LSTM's recurrent step at batch 32).
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <string>
#include <vector>

namespace {

void sgemm(benchmark::State& state) {
  const int m = static_cast<int>(state.range(0)), n = static_cast<int>(state.range(1)),
            k = static_cast<int>(state.range(2));
  std::vector<float> a(static_cast<std::size_t>(m) * k, 0.5f), b(static_cast<std::size_t>(k) * n, 0.25f),
      c(static_cast<std::size_t>(m) * n);
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f,
                c.data(), n);
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["FLOP/s"] = benchmark::Counter(2.0 * m * n * k, benchmark::Counter::kIsIterationInvariantRate);
}

// Peak: large square. Model shapes: LSTM recurrent step (32 x 128) @ (128 x 512), the input
// projection of a whole sequence (32*128 x 128) @ (128 x 512), conv2 im2col (per clip).
BENCHMARK(sgemm)->Args({1024, 1024, 1024})->Args({2048, 2048, 2048})->Args({32, 512, 128})
    ->Args({4096, 512, 128})->Args({4096, 512, 256})->Args({1024, 32, 144})->UseRealTime();

}  // namespace

// The OpenBLAS build (version, core, threading model) goes into the report's context, so a
// result file says which BLAS produced its peak.
int main(int argc, char** argv) {
  benchmark::AddCustomContext("openblas", openblas_get_config());
  benchmark::AddCustomContext("openblas_threads", std::to_string(openblas_get_num_threads()));
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
