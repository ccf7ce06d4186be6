// How the engine's OpenMP threads wait. Measured on the 2-core build machine (bench/results/
// profile-*.md): with libgomp's default policy an idle worker spins for up to ~300k iterations
// after every parallel region, so while the main thread runs serial code or an OpenBLAS call
// (whose own pthreads want both cores), the spinning worker takes half the machine. In a
// training step that was ~48% of all CPU samples and made the step 1.3-1.7x slower on a busy
// machine. A passive policy (workers sleep on a futex at once) costs a few microseconds of
// wake-up per region, which the engine's regions (tens of microseconds and up) do not notice.
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
// between calls; beside the engine's OpenMP loops that made 3 runnable threads on 2 cores.
// Measured with bench_e2e on the 2-core machine, back to back (3 rounds each, passive OpenMP
// waiting): training step 285-428 -> 229-238 ms, one song's inference 73-78 -> 56-57 ms, even
// though the convolutions' large GEMMs then use one core. Call it at the start of main().
void prefer_single_threaded_blas();

}  // namespace gn
