// The check macros name the call, the library's status string, the file and the line. The
// status strings come from the libraries themselves, so these run without a GPU.
#include <gtest/gtest.h>

#include <string>

#include "engine/error.h"
#include "tests/support.h"

#if GENRENET_WITH_CUDA
#include "engine/cuda_check.h"
#endif

namespace gn {
namespace {

std::string message_of(void (*f)()) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Require, ThrowsWithTheConcatenatedMessage) {
  const std::string m = message_of([] { GN_REQUIRE(1 + 1 == 3, "expected ", 3, " got ", 2); });
  EXPECT_EQ(m, "expected 3 got 2");
  EXPECT_NO_THROW(GN_REQUIRE(true, "never"));
}

#if GENRENET_WITH_CUDA
void expect_names(const std::string& m, const std::string& library, const std::string& call,
                  const std::string& status) {
  EXPECT_NE(m.find(library + " call failed"), std::string::npos) << m;
  EXPECT_NE(m.find(call), std::string::npos) << m;
  EXPECT_NE(m.find(status), std::string::npos) << m;
  EXPECT_NE(m.find("test_check_macros.cpp:"), std::string::npos) << m;
}

cudaError_t returns_oom() { return cudaErrorMemoryAllocation; }
cudnnStatus_t returns_bad_param() { return CUDNN_STATUS_BAD_PARAM; }
cublasStatus_t returns_not_initialized() { return CUBLAS_STATUS_NOT_INITIALIZED; }
cufftResult returns_invalid_size() { return CUFFT_INVALID_SIZE; }

TEST(CheckMacros, CudaRuntime) {
  expect_names(message_of([] { GN_CHECK_CUDA(returns_oom()); }), "CUDA", "returns_oom()",
               cudaGetErrorString(cudaErrorMemoryAllocation));
  EXPECT_NO_THROW(GN_CHECK_CUDA(cudaSuccess));
}
TEST(CheckMacros, CuDNN) {
  expect_names(message_of([] { GN_CHECK_CUDNN(returns_bad_param()); }), "cuDNN", "returns_bad_param()",
               "CUDNN_STATUS_BAD_PARAM");
}
TEST(CheckMacros, CuBLAS) {
  expect_names(message_of([] { GN_CHECK_CUBLAS(returns_not_initialized()); }), "cuBLAS",
               "returns_not_initialized()", "CUBLAS_STATUS_NOT_INITIALIZED");
}
TEST(CheckMacros, CuFFT) {
  expect_names(message_of([] { GN_CHECK_CUFFT(returns_invalid_size()); }), "cuFFT", "returns_invalid_size()",
               "CUFFT_INVALID_SIZE");
}
#else
TEST(CheckMacros, CudaPathNotBuilt) { GTEST_SKIP() << "this build has no CUDA path; the CUDA check macros are not compiled"; }
#endif

}  // namespace
}  // namespace gn
