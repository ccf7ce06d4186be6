// Context: the device a run uses and, on CUDA, its stream, its lazily created cuDNN / cuBLAS
// handles and a reusable workspace. One per thread of work; not shared across threads.
#pragma once

#include <cstddef>
#include <iosfwd>
#include <memory>
#include <string>

#include "engine/device.h"
#include "engine/tensor.h"

namespace gn {

enum class DeviceRequest { Auto, CPU, CUDA };

// "auto" | "cpu" | "cuda" (also "cuda:N" for an ordinal); anything else is a clear error.
DeviceRequest parse_device_request(const std::string& text, int* ordinal = nullptr);

// Resolves a request into a device. Auto: CUDA when a device answers, otherwise the CPU, and
// one line on `log` saying why. CUDA without a device: gn::Error with the reason.
Device select_device(DeviceRequest request, int ordinal = 0, std::ostream* log = nullptr);

// Where one process of a job sits: its rank among the processes of its machine and their number
// (0 and 1 outside MPI). With GPUs, local rank r takes device r (NCCL needs one GPU per rank).
struct LocalRanks {
  int rank = 0;
  int count = 1;
};

// The whole device decision as a pure function of the request, the probe and the placement, so
// that every case (several ranks, more ranks than GPUs, no GPU) is testable on any machine.
// `ordinal` is N of an explicit cuda:N, or -1 when none was named. Errors are gn::Error with the
// reason: CUDA asked for and absent, cuda:N out of range, cuda:N for several ranks of a machine
// (they would share one GPU), more ranks on a machine than GPUs.
Device choose_device(DeviceRequest request, int ordinal, const CudaProbe& probe, LocalRanks local = {},
                     std::ostream* log = nullptr);

struct CudaState;  // stream + handles + workspace, defined in engine/cuda_context.h

class Context {
 public:
  explicit Context(Device device = Device::cpu());
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  Context(Context&&) noexcept;
  Context& operator=(Context&&) noexcept;

  Device device() const { return device_; }
  bool is_cuda() const { return device_.is_cuda(); }

  // CUDA resources (stream, cuDNN, cuBLAS, workspace); throws on a CPU context.
  CudaState& cuda();
  // Waits until all work queued on this context's stream is done (no-op on the CPU).
  void synchronize();

  // A scratch buffer of at least `bytes` on this context's device, reused between calls
  // (grown, never shrunk). Valid until the next workspace() call; not for long-lived data.
  void* workspace(std::size_t bytes);

 private:
  Device device_;
  std::unique_ptr<CudaState> cuda_;
  Tensor workspace_;
};

}  // namespace gn
