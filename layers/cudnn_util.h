// RAII owners for cuDNN descriptors, so a layer's CUDA twin never leaks one on an exception.
// Include only from .cu files (the CUDA path).
#pragma once

#include <cudnn.h>

#include <cstdint>
#include <string>

#include "engine/cuda_check.h"
#include "engine/error.h"

namespace gn::cudnn {

// Owner<T, create, destroy>: creates on construction, destroys on destruction, move-only.
template <class T, cudnnStatus_t (*Create)(T*), cudnnStatus_t (*Destroy)(T)>
class Owner {
 public:
  Owner() { GN_CHECK_CUDNN(Create(&h_)); }
  ~Owner() {
    if (h_) Destroy(h_);
  }
  Owner(const Owner&) = delete;
  Owner& operator=(const Owner&) = delete;
  Owner(Owner&& o) noexcept : h_(o.h_) { o.h_ = nullptr; }
  Owner& operator=(Owner&& o) noexcept {
    std::swap(h_, o.h_);
    return *this;
  }
  operator T() const { return h_; }  // NOLINT: passes straight into cuDNN calls
  T get() const { return h_; }

 private:
  T h_ = nullptr;
};

using TensorDesc = Owner<cudnnTensorDescriptor_t, cudnnCreateTensorDescriptor, cudnnDestroyTensorDescriptor>;
using FilterDesc = Owner<cudnnFilterDescriptor_t, cudnnCreateFilterDescriptor, cudnnDestroyFilterDescriptor>;
using ConvDesc = Owner<cudnnConvolutionDescriptor_t, cudnnCreateConvolutionDescriptor,
                       cudnnDestroyConvolutionDescriptor>;
using PoolDesc = Owner<cudnnPoolingDescriptor_t, cudnnCreatePoolingDescriptor, cudnnDestroyPoolingDescriptor>;
using RnnDesc = Owner<cudnnRNNDescriptor_t, cudnnCreateRNNDescriptor, cudnnDestroyRNNDescriptor>;
using RnnDataDesc = Owner<cudnnRNNDataDescriptor_t, cudnnCreateRNNDataDescriptor, cudnnDestroyRNNDataDescriptor>;
using DropoutDesc = Owner<cudnnDropoutDescriptor_t, cudnnCreateDropoutDescriptor, cudnnDestroyDropoutDescriptor>;

// A size for cuDNN's int arguments: throws naming `what` when v is below `min` or above INT_MAX.
inline int to_int(std::int64_t v, const std::string& what, std::int64_t min = 0) {
  GN_REQUIRE(v >= min && v <= 0x7fffffff, "cuDNN: ", what, " ", v, " does not fit cuDNN's int");
  return static_cast<int>(v);
}
// An NHWC float tensor descriptor (cuDNN takes the dims in N, C, H, W order whatever the format).
inline void set_nhwc(cudnnTensorDescriptor_t d, std::int64_t n, std::int64_t h, std::int64_t w, std::int64_t c) {
  GN_CHECK_CUDNN(cudnnSetTensor4dDescriptor(d, CUDNN_TENSOR_NHWC, CUDNN_DATA_FLOAT, to_int(n, "N"),
                                            to_int(c, "C"), to_int(h, "H"), to_int(w, "W")));
}

}  // namespace gn::cudnn
