// Idle OpenMP workers sleep instead of spinning, set up without re-executing the process.
//
// Why: with libgomp's default policy an idle worker spins for up to ~300k iterations after
// every parallel region, so while the main thread runs serial code the spinning worker takes
// half of a 2-core machine (a training step's profile had ~48% of its samples in libgomp's
// spin-wait; bench/results/profile-*.md). A passive policy (workers sleep on a futex at once)
// costs a few microseconds of wake-up per region, which the engine's regions do not notice.
//
// How: libgomp reads OMP_WAIT_POLICY once, in its library constructor, before main() runs --
// too late for setenv() in main() or in a constructor of the executable (the libraries an
// executable needs are initialised before it). Functions in the executable's .preinit_array
// run before every shared library's constructor (the ELF rules; glibc's loader calls them
// first), so this puts OMP_WAIT_POLICY=passive into the environment there, unless the user
// set a policy. glibc's start-up code then restores the original environment before main(),
// so the variable does not leak into child processes; libgomp has read it by then.
//
// Include this header in exactly one translation unit of an EXECUTABLE (the one holding
// main()): .preinit_array is not allowed in shared libraries, so it cannot live in the
// engine's libraries.
#pragma once

#include <cstdlib>

namespace gn::detail {
inline void set_passive_openmp_wait(int, char**, char**) {
  setenv("OMP_WAIT_POLICY", "passive", /*overwrite=*/0);  // the user's choice wins
}
}  // namespace gn::detail

__attribute__((section(".preinit_array"), used)) static void (*const gn_preinit_passive_openmp_wait)(
    int, char**, char**) = &gn::detail::set_passive_openmp_wait;
