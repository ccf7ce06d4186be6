// The main() every device-typed benchmark program shares: the same thread policy as the
// genrenet binary (engine/threads.h), CPU cases always, CUDA cases only where a device answers.
#pragma once

#include <benchmark/benchmark.h>

#include <functional>
#include <string>

#include "engine/context.h"
#include "engine/passive_openmp_wait.h"
#include "engine/threads.h"

namespace gn::bench {

inline int run_device_benchmarks(int argc, char** argv,
                                 const std::function<void(Device, const std::string&)>& register_all) {
  prefer_single_threaded_blas();
  register_all(Device::cpu(), "CPU");
  if (probe_cuda().count > 0) register_all(Device::cuda(0), "CUDA");
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace gn::bench
