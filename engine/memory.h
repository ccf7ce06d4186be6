// The engine's only door to raw memory. Host blocks are 64-byte aligned (AVX-512 friendly);
// device blocks come from one caching allocator (freed blocks are kept per size and reused,
// so a training step allocates nothing from the driver after the first). Layers never call
// cudaMalloc: they own memory through Tensor, which owns it through Storage.
#pragma once

#include <cstddef>
#include <memory>

#include "engine/device.h"

namespace gn {

// Owning, type-erased block of bytes on one device. Move-only (RAII).
class Storage {
 public:
  Storage(std::size_t bytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  std::size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

 private:
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
  Device device_;
};

// Raw byte copy between any two devices (host<->host, host<->device, device<->device).
// Synchronous with respect to the host when either side is the host.
void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, std::size_t bytes);

}  // namespace gn
