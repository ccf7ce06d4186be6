#include "engine/memory.h"

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <new>

#include "engine/error.h"
#if GENRENET_WITH_CUDA
#include "engine/cuda_check.h"
#endif

namespace gn {
namespace {

constexpr std::size_t kHostAlignment = 64;

std::size_t round_up(std::size_t n, std::size_t to) { return (n + to - 1) / to * to; }

#if GENRENET_WITH_CUDA
// Caching allocator: blocks rounded to 512 bytes (or 2 MiB above 1 MiB) and kept in a
// per-(device, size) free list when released. One mutex: allocation is not on a hot path once
// the caches are warm.
class DeviceCache {
 public:
  void* allocate(std::size_t bytes, int device) {
    const std::size_t size = rounded(bytes);
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = free_.find({device, size});
    if (it != free_.end()) {
      void* p = it->second;
      free_.erase(it);
      return p;
    }
    int previous = 0;
    GN_CHECK_CUDA(cudaGetDevice(&previous));
    GN_CHECK_CUDA(cudaSetDevice(device));
    void* p = nullptr;
    cudaError_t status = cudaMalloc(&p, size);
    if (status == cudaErrorMemoryAllocation) {  // give the cache back and try once more
      (void)cudaGetLastError();
      release_locked();
      status = cudaMalloc(&p, size);
    }
    cudaSetDevice(previous);
    GN_CHECK_CUDA(status);
    return p;
  }
  void release(void* p, std::size_t bytes, int device) {
    const std::size_t size = rounded(bytes);
    std::lock_guard<std::mutex> lock(mutex_);
    free_.insert({{device, size}, p});
  }

 private:
  static std::size_t rounded(std::size_t bytes) {
    return bytes < (1u << 20) ? round_up(bytes == 0 ? 1 : bytes, 512) : round_up(bytes, 2u << 20);
  }
  void release_locked() {
    for (auto& entry : free_) cudaFree(entry.second);
    free_.clear();
  }
  std::mutex mutex_;
  std::multimap<std::pair<int, std::size_t>, void*> free_;
};

DeviceCache& device_cache() {
  static DeviceCache* cache = new DeviceCache;  // leaked on purpose: outlives static tensors
  return *cache;
}
#endif

}  // namespace

Storage::Storage(std::size_t bytes, Device device) : bytes_(bytes), device_(device) {
  if (device.is_cpu()) {
    data_ = std::aligned_alloc(kHostAlignment, round_up(bytes == 0 ? 1 : bytes, kHostAlignment));
    if (!data_) throw std::bad_alloc();
    return;
  }
#if GENRENET_WITH_CUDA
  data_ = device_cache().allocate(bytes, device.index);
#else
  GN_FAIL("cannot allocate on ", device.str(), ": this build of GenreNet has no CUDA path");
#endif
}

Storage::~Storage() {
  if (device_.is_cpu()) {
    std::free(data_);
    return;
  }
#if GENRENET_WITH_CUDA
  device_cache().release(data_, bytes_, device_.index);
#endif
}

void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, std::size_t bytes) {
  if (bytes == 0) return;
  if (dst_device.is_cpu() && src_device.is_cpu()) {
    std::memcpy(dst, src, bytes);
    return;
  }
#if GENRENET_WITH_CUDA
  GN_CHECK_CUDA(cudaMemcpy(dst, src, bytes, cudaMemcpyDefault));
#else
  GN_FAIL("cannot copy between ", src_device.str(), " and ", dst_device.str(),
          ": this build of GenreNet has no CUDA path");
#endif
}

}  // namespace gn
