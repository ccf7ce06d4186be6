// What this binary is: version, build flavour, and descriptions of the devices it sees.
#pragma once

#include <string>

namespace gn {
std::string version_string();       // "0.1.0"
std::string build_description();    // "CUDA path: yes (cuDNN 9.x), OpenBLAS 0.3.x, OpenMP threads 2"
std::string cpu_description();      // "2 OpenMP threads, OpenBLAS <config>"
std::string cuda_device_name(int ordinal);  // "NVIDIA H100 (sm_90, 80 GiB)"
}  // namespace gn
