#include "engine/context.h"

#include <ostream>

#include "engine/error.h"
#if GENRENET_WITH_CUDA
#include "engine/cuda_context.h"
#endif

namespace gn {

#if !GENRENET_WITH_CUDA
// A CPU-only build never creates one, but unique_ptr<CudaState> needs a complete type here.
struct CudaState {};
#endif

CudaProbe probe_cuda() {
#if GENRENET_WITH_CUDA
  int count = 0;  // cudaGetDeviceCount leaves it untouched on failure
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    (void)cudaGetLastError();  // clear the sticky-free error so later calls start clean
    return {0, std::string("CUDA is not usable: ") + cudaGetErrorString(status)};
  }
  if (count == 0) return {0, "no CUDA device found"};
  return {count, ""};
#else
  return {0, "this build of GenreNet has no CUDA path (built without nvcc/cuDNN)"};
#endif
}

DeviceRequest parse_device_request(const std::string& text, int* ordinal) {
  if (ordinal) *ordinal = 0;
  if (text == "auto") return DeviceRequest::Auto;
  if (text == "cpu") return DeviceRequest::CPU;
  if (text == "cuda") return DeviceRequest::CUDA;
  if (text.rfind("cuda:", 0) == 0) {
    const std::string n = text.substr(5);
    GN_REQUIRE(!n.empty() && n.find_first_not_of("0123456789") == std::string::npos && n.size() < 4,
               "invalid --device '", text, "': expected auto, cpu, cuda or cuda:N");
    if (ordinal) *ordinal = std::stoi(n);
    return DeviceRequest::CUDA;
  }
  GN_FAIL("invalid --device '", text, "': expected auto, cpu, cuda or cuda:N");
}

Device choose_device(DeviceRequest request, int ordinal, const CudaProbe& probe, LocalRanks local,
                     std::ostream* log) {
  GN_REQUIRE(local.count >= 1 && local.rank >= 0 && local.rank < local.count, "choose_device: local rank ",
             local.rank, " of ", local.count);
  if (request == DeviceRequest::CPU) return Device::cpu();
  if (request == DeviceRequest::CUDA) GN_REQUIRE(probe.count > 0, "--device cuda was requested but ", probe.reason);
  if (probe.count == 0) {
    // One plain line: the driver's own words ("CUDA driver version is insufficient...") mean
    // nothing to most users; `genrenet devices` prints them for those who need them.
    if (log) *log << "genrenet: no GPU found: using the CPU (`genrenet devices` gives the details)\n";
    return Device::cpu();
  }
  if (ordinal >= 0) {
    GN_REQUIRE(ordinal < probe.count, "--device cuda:", ordinal, " was requested but only ", probe.count,
               " CUDA device(s) exist");
    GN_REQUIRE(local.count == 1, "--device cuda:", ordinal, " names one GPU for all ", local.count,
               " ranks of this machine; use --device cuda (rank r takes GPU r)");
    return Device::cuda(ordinal);
  }
  GN_REQUIRE(local.count <= probe.count, local.count, " ranks run on this machine but only ", probe.count,
             " CUDA device(s) exist: one GPU per rank; start at most ", probe.count,
             " ranks per machine, or train with --device cpu");
  return Device::cuda(local.rank);
}

Device select_device(DeviceRequest request, int ordinal, std::ostream* log) {
  return choose_device(request, request == DeviceRequest::CUDA ? ordinal : -1, probe_cuda(), {}, log);
}

Context::Context(Device device) : device_(device) {
  if (device.is_cuda()) {
#if GENRENET_WITH_CUDA
    cuda_ = std::make_unique<CudaState>(device.index);
#else
    GN_FAIL("cannot use ", device.str(), ": this build of GenreNet has no CUDA path");
#endif
  }
}

Context::~Context() = default;
Context::Context(Context&&) noexcept = default;
Context& Context::operator=(Context&&) noexcept = default;

CudaState& Context::cuda() {
  GN_REQUIRE(cuda_ != nullptr, "CUDA resources requested from a ", device_.str(), " context");
#if GENRENET_WITH_CUDA
  // The current device is per thread: a Context built on one thread and used on another (serve's
  // workers) must not launch on, or lazily create its cuDNN / cuBLAS handles and cuFFT plans on,
  // that thread's device 0. cudaGetDevice is a thread-local read; cudaSetDevice only on a change.
  int current = -1;
  GN_CHECK_CUDA(cudaGetDevice(&current));
  if (current != cuda_->device) GN_CHECK_CUDA(cudaSetDevice(cuda_->device));
#endif
  return *cuda_;
}

void Context::synchronize() {
#if GENRENET_WITH_CUDA
  if (cuda_) GN_CHECK_CUDA(cudaStreamSynchronize(cuda_->stream));
#endif
}

void* Context::workspace(std::size_t bytes) {
  const std::int64_t floats = static_cast<std::int64_t>((bytes + sizeof(float) - 1) / sizeof(float));
  if (workspace_.numel() < floats || !workspace_.defined())
    workspace_ = Tensor::empty(Shape{floats > 0 ? floats : 1}, device_);
  return workspace_.data();
}

#if GENRENET_WITH_CUDA
CudaState::CudaState(int device_index) : device(device_index) {
  GN_CHECK_CUDA(cudaSetDevice(device));
  // A blocking stream: it synchronises with the legacy default stream that copy_bytes uses,
  // so a host read after a kernel always sees the kernel's result.
  GN_CHECK_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamDefault));
}

CudaState::~CudaState() {
  cudaSetDevice(device);  // destroyed on any thread: the handles belong to this device
  if (stream) cudaStreamSynchronize(stream);
  if (cublas_) cublasDestroy(cublas_);
  if (cudnn_) cudnnDestroy(cudnn_);
  if (stream) cudaStreamDestroy(stream);
}

cudnnHandle_t CudaState::cudnn() {
  if (!cudnn_) {
    GN_CHECK_CUDNN(cudnnCreate(&cudnn_));
    GN_CHECK_CUDNN(cudnnSetStream(cudnn_, stream));
  }
  return cudnn_;
}

cublasHandle_t CudaState::cublas() {
  if (!cublas_) {
    GN_CHECK_CUBLAS(cublasCreate(&cublas_));
    GN_CHECK_CUBLAS(cublasSetStream(cublas_, stream));
    // Strict FP32 (no TF32 tensor-core shortcuts), so GPU results track the CPU reference.
    GN_CHECK_CUBLAS(cublasSetMathMode(cublas_, CUBLAS_DEFAULT_MATH));
  }
  return cublas_;
}
#endif

}  // namespace gn
