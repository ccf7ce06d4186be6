// The CUDA half of Context: include only where the CUDA path is compiled.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include "engine/context.h"
#include "engine/cuda_check.h"

namespace gn {

struct CudaState {
  explicit CudaState(int device);
  ~CudaState();
  CudaState(const CudaState&) = delete;
  CudaState& operator=(const CudaState&) = delete;

  int device = 0;
  cudaStream_t stream = nullptr;
  // Handles are created on first use: a CPU-only run never touches cuDNN or cuBLAS.
  cudnnHandle_t cudnn();
  cublasHandle_t cublas();

 private:
  cudnnHandle_t cudnn_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
};

// Shorthand for layers: the stream / handles of a CUDA context.
inline cudaStream_t stream_of(Context& ctx) { return ctx.cuda().stream; }
inline cudnnHandle_t cudnn_of(Context& ctx) { return ctx.cuda().cudnn(); }
inline cublasHandle_t cublas_of(Context& ctx) { return ctx.cuda().cublas(); }

}  // namespace gn
