// The gradient all-reduce of data-parallel training at the reference model's size:
//   mpirun --allow-run-as-root -np 2 build/bin/bench_allreduce [repeats]
// Rank 0 prints the mean time of one in-place MPI_Allreduce (SUM) over the flat gradient buffer
// (P floats of the reference RCNN), and the bus bandwidth it implies (ring: 2 (n-1)/n x bytes).
// Without mpirun it is a world of one and says so.
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "engine/context.h"
#include "layers/model_config.h"
#include "layers/rcnn.h"
#include "train/distributed.h"

int main(int argc, char** argv) {
  gn::Communicator comm(0);  // no watchdog: a benchmark
  const int repeats = argc > 1 ? std::atoi(argv[1]) : 50;
  gn::RCNN model(gn::ModelConfig{});
  gn::Context ctx;
  gn::Tensor& grads = model.store().grads();
  const double bytes = 4.0 * static_cast<double>(grads.numel());
  if (!comm.distributed()) {
    std::printf("one process (no mpirun): nothing to all-reduce; %lld gradients = %.2f MB\n",
                static_cast<long long>(grads.numel()), bytes / 1e6);
    return 0;
  }
  for (int i = 0; i < 5; ++i) comm.allreduce_sum(ctx, grads, "warm-up");
  comm.barrier("start");
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < repeats; ++i) comm.allreduce_sum(ctx, grads, "all-reduce");
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / repeats;
  if (comm.is_root()) {
    const int n = comm.size();
    std::printf("%d ranks: all-reduce of %lld floats (%.2f MB): %.3f ms; bus bandwidth %.2f GB/s\n", n,
                static_cast<long long>(grads.numel()), bytes / 1e6, 1e3 * s, 2.0 * (n - 1) / n * bytes / s / 1e9);
  }
  return 0;
}
