#include "engine/threads.h"

#include <unistd.h>

#include <cstdlib>

namespace gn {

void prefer_passive_openmp_wait(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;  // the user's choice (or already re-executed)
  if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0) return;
  execv("/proc/self/exe", argv);  // returns only on failure: carry on with the default policy
}

}  // namespace gn
