#include "engine/threads.h"

#include <cblas.h>
#include <unistd.h>

#include <cstdlib>

namespace gn {

void prefer_passive_openmp_wait(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;  // the user's choice (or already re-executed)
  if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0) return;
  execv("/proc/self/exe", argv);  // returns only on failure: carry on with the default policy
}

void prefer_single_threaded_blas() {
  if (std::getenv("OPENBLAS_NUM_THREADS") != nullptr) return;  // the user's choice
  openblas_set_num_threads(1);
}

}  // namespace gn
