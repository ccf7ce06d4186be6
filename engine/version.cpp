#include "engine/version.h"

#include <cblas.h>
#include <omp.h>

#include <sstream>

#if GENRENET_WITH_CUDA
#include "engine/cuda_check.h"
#endif

namespace gn {

std::string version_string() { return "0.1.0"; }

std::string build_description() {
  std::ostringstream os;
#if GENRENET_WITH_CUDA
  os << "CUDA path: built (CUDA runtime " << CUDART_VERSION / 1000 << "." << CUDART_VERSION % 1000 / 10
     << ", cuDNN " << CUDNN_MAJOR << "." << CUDNN_MINOR << ")";
#else
  os << "CUDA path: not built";
#endif
  os << ", " << openblas_get_config();
  return os.str();
}

std::string cpu_description() {
  std::ostringstream os;
  os << omp_get_max_threads() << " OpenMP threads";
  return os.str();
}

std::string cuda_device_name(int ordinal) {
#if GENRENET_WITH_CUDA
  char name[256] = {0};
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, ordinal) == cudaSuccess) {
    std::ostringstream os;
    os << prop.name << " (sm_" << prop.major << prop.minor << ", "
       << prop.totalGlobalMem / (1024 * 1024 * 1024) << " GiB)";
    return os.str();
  }
  (void)name;
#endif
  return "unknown";
}

}  // namespace gn
