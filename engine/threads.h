// The CPU's thread policy. How idle OpenMP workers wait is set before main() runs, in
// engine/passive_openmp_wait.h (included by each executable's main file).
#pragma once

namespace gn {

// One thread pool on the CPU: OpenBLAS runs on the calling thread (1 thread) unless the user
// set OPENBLAS_NUM_THREADS. OpenBLAS's pthread build keeps its own workers, which yield-spin
// between calls; beside the engine's OpenMP loops that made 3 runnable threads on 2 cores.
// Measured with bench_e2e on the 2-core machine, back to back (3 rounds each, passive OpenMP
// waiting): training step 285-428 -> 229-238 ms, one song's inference 73-78 -> 56-57 ms, even
// though the convolutions' large GEMMs then use one core. Call it at the start of main().
void prefer_single_threaded_blas();

}  // namespace gn
