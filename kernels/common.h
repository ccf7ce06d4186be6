// Shared by host and device code: the qualifiers that let one function body run in an OpenMP
// loop on the CPU and in a CUDA kernel on the GPU.
#pragma once

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define GN_HD __host__ __device__ __forceinline__
#define GN_DEVICE_CODE 1
#else
#define GN_HD inline
#endif

namespace gn {

using index_t = std::int64_t;

GN_HD float sigmoidf_(float x) { return 1.0f / (1.0f + expf(-x)); }

}  // namespace gn
