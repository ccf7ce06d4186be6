// Check macros for the CUDA runtime, cuDNN, cuBLAS and cuFFT. Each throws gn::Error naming the
// call, the library's status string, the file and the line. Include only where the CUDA path
// is compiled (GENRENET_WITH_CUDA).
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#include <cufft.h>

#include "engine/error.h"

namespace gn::detail {
const char* cublas_status_string(cublasStatus_t s);
const char* cufft_status_string(cufftResult s);
[[noreturn]] void throw_call_error(const char* library, const char* call, int code,
                                   const char* status, const char* file, int line);
}  // namespace gn::detail

#define GN_CHECK_CUDA(call)                                                                   \
  do {                                                                                        \
    const cudaError_t gn_status_ = (call);                                                    \
    if (gn_status_ != cudaSuccess)                                                            \
      ::gn::detail::throw_call_error("CUDA", #call, static_cast<int>(gn_status_),            \
                                     cudaGetErrorString(gn_status_), __FILE__, __LINE__);     \
  } while (0)

#define GN_CHECK_CUDNN(call)                                                                  \
  do {                                                                                        \
    const cudnnStatus_t gn_status_ = (call);                                                  \
    if (gn_status_ != CUDNN_STATUS_SUCCESS)                                                   \
      ::gn::detail::throw_call_error("cuDNN", #call, static_cast<int>(gn_status_),           \
                                     cudnnGetErrorString(gn_status_), __FILE__, __LINE__);    \
  } while (0)

#define GN_CHECK_CUBLAS(call)                                                                 \
  do {                                                                                        \
    const cublasStatus_t gn_status_ = (call);                                                 \
    if (gn_status_ != CUBLAS_STATUS_SUCCESS)                                                  \
      ::gn::detail::throw_call_error("cuBLAS", #call, static_cast<int>(gn_status_),          \
                                     ::gn::detail::cublas_status_string(gn_status_), __FILE__, \
                                     __LINE__);                                               \
  } while (0)

#define GN_CHECK_CUFFT(call)                                                                  \
  do {                                                                                        \
    const cufftResult gn_status_ = (call);                                                    \
    if (gn_status_ != CUFFT_SUCCESS)                                                          \
      ::gn::detail::throw_call_error("cuFFT", #call, static_cast<int>(gn_status_),           \
                                     ::gn::detail::cufft_status_string(gn_status_), __FILE__, \
                                     __LINE__);                                               \
  } while (0)
