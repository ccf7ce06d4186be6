// How the engine's OpenMP threads wait. With libgomp's default policy an idle worker spins for
// a while after every parallel region, so while the main thread runs serial code or an
// OpenBLAS call (whose own pthreads want the cores too), the spinning worker takes a core. A
// passive policy (workers sleep on a futex at once) costs a few microseconds of wake-up per
// region, which the engine's regions (tens of microseconds and up) do not notice. The
// measurements behind both choices below are in bench/results/profile-2026-11-25.md.
#pragma once

namespace gn {

// libgomp reads OMP_WAIT_POLICY once, when it is loaded, before main() runs. So when the user
// has not set it, this sets OMP_WAIT_POLICY=passive and re-executes the program (same argv,
// same pid) once; it returns normally when the policy is already set or the re-exec fails
// (the program then runs with the default policy: correct, only slower). Call it first thing
// in main(), before any thread is started.
void prefer_passive_openmp_wait(char** argv);

// One thread pool on the CPU: OpenBLAS runs on the calling thread (1 thread) unless the user
// set OPENBLAS_NUM_THREADS. OpenBLAS's pthread build keeps its own workers, which yield-spin
// between calls; beside the engine's OpenMP loops they oversubscribe the cores, which cost more
// than the convolutions' large GEMMs gain from a second BLAS thread. Call it at the start of
// main().
void prefer_single_threaded_blas();

}  // namespace gn
