// Where a tensor lives. Layers never ask which device they run on: the tensors' device decides.
#pragma once

#include <string>

namespace gn {

enum class DeviceType { CPU, CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;  // CUDA ordinal; 0 for the CPU

  static Device cpu() { return {DeviceType::CPU, 0}; }
  static Device cuda(int ordinal = 0) { return {DeviceType::CUDA, ordinal}; }
  bool is_cpu() const { return type == DeviceType::CPU; }
  bool is_cuda() const { return type == DeviceType::CUDA; }
  bool operator==(const Device&) const = default;
  std::string str() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index); }
};


// Number of CUDA devices that answer, and if none, why (driver missing, no device, CPU-only
// build). Never throws, never hangs on a machine with the toolkit but no driver.
struct CudaProbe {
  int count = 0;
  std::string reason;  // empty when count > 0
};
CudaProbe probe_cuda();

}  // namespace gn
