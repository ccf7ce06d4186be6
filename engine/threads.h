// The CPU's thread policy. How idle OpenMP workers wait is set before main() runs, in
// engine/passive_openmp_wait.h (included by each executable's main file); the measurements
// behind both choices are in bench/results/profile-2026-11-25.md.
#pragma once

namespace gn {

// One thread pool on the CPU: OpenBLAS runs on the calling thread (1 thread) unless the user
// set OPENBLAS_NUM_THREADS. OpenBLAS's pthread build keeps its own workers, which yield-spin
// between calls; beside the engine's OpenMP loops they oversubscribe the cores, which cost more
// than the convolutions' large GEMMs gain from a second BLAS thread. Call it at the start of
// main().
void prefer_single_threaded_blas();

}  // namespace gn
