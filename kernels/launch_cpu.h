// The CPU launchers: run a __host__ __device__ functor over an index range in an OpenMP loop.
// Their CUDA twins are in engine/launch_cuda.cuh (device code: kernels/launch_cuda.cuh); a functor written once runs on both.
#pragma once

#include <omp.h>

#include <vector>

#include "kernels/common.h"

namespace gn::cpu {

// f(i) for every i in [0, n).
template <class F>
void for_each(index_t n, F f) {
#pragma omp parallel for schedule(static) if (n > 4096)
  for (index_t i = 0; i < n; ++i) f(i);
}

// sum over i in [0, n) of f(i), accumulated in double. Each thread sums a fixed contiguous
// chunk and the partial sums are added in thread order, so the result depends only on n and
// the thread count, never on scheduling: training stays bit-reproducible.
template <class F>
double reduce_sum(index_t n, F f) {
  const int threads = n > 4096 ? omp_get_max_threads() : 1;
  std::vector<double> partial(threads, 0.0);
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num();
    const int nt = omp_get_num_threads();
    const index_t begin = n * t / nt, end = n * (t + 1) / nt;
    double s = 0.0;
    for (index_t i = begin; i < end; ++i) s += static_cast<double>(f(i));
    partial[t] = s;
  }
  double total = 0.0;
  for (double s : partial) total += s;
  return total;
}

}  // namespace gn::cpu
