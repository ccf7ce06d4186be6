#include "engine/threads.h"

#include <cblas.h>
#include <cstdlib>

namespace gn {

void prefer_single_threaded_blas() {
  if (std::getenv("OPENBLAS_NUM_THREADS") != nullptr) return;  // the user's choice
  openblas_set_num_threads(1);
}

}  // namespace gn
