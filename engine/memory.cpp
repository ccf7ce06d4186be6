#include "engine/memory.h"

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <vector>

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
//
// Streams: a block is released when its Tensor dies, while kernels queued before may still read
// or write it, on whichever stream used it (each Context has its own; serve, bench and tests can
// hold several). So every released block carries an event recorded on the legacy default stream
// at release time. Every GenreNet stream is a blocking stream (Context creates them with
// cudaStreamDefault), and the legacy default stream orders after all work queued before on the
// device's blocking streams, so that event completes only once every kernel queued before the
// release, on any stream, is done. A block is handed out again only after its event completed;
// until then a fresh block is allocated (and when memory runs out, the device is synchronised,
// which completes every event).
class DeviceCache {
 public:
  void* allocate(std::size_t bytes, int device) {
    const std::size_t size = rounded(bytes);
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto [it, end] = free_.equal_range({device, size}); it != end; ++it) {
      const cudaError_t done = cudaEventQuery(it->second.released);
      if (done == cudaErrorNotReady) {
        (void)cudaGetLastError();  // "not ready" is an answer, not an error to keep
        continue;
      }
      GN_CHECK_CUDA(done);
      void* p = it->second.ptr;
      spare_events_.push_back({device, it->second.released});
      free_.erase(it);
      return p;
    }
    DeviceScope scope(device);
    void* p = nullptr;
    cudaError_t status = cudaMalloc(&p, size);
    if (status == cudaErrorMemoryAllocation) {  // give the cache back and try once more
      (void)cudaGetLastError();
      release_locked();
      status = cudaMalloc(&p, size);
    }
    GN_CHECK_CUDA(status);
    return p;
  }
  void release(void* p, std::size_t bytes, int device) {
    const std::size_t size = rounded(bytes);
    std::lock_guard<std::mutex> lock(mutex_);
    DeviceScope scope(device);  // the event must belong to the block's device
    cudaEvent_t released = nullptr;
    if (!spare_event(device, &released) && cudaEventCreateWithFlags(&released, cudaEventDisableTiming) != cudaSuccess) {
      (void)cudaGetLastError();  // no event (driver failing at exit): give the block back to CUDA
      cudaFree(p);
      return;
    }
    cudaEventRecord(released, cudaStreamLegacy);
    free_.insert({{device, size}, Block{p, released}});
  }

 private:
  struct Block {
    void* ptr;
    cudaEvent_t released;  // completes when all work queued before the release is done
  };
  // Sets the calling thread's device for a scope and restores the previous one.
  struct DeviceScope {
    explicit DeviceScope(int device) {
      GN_CHECK_CUDA(cudaGetDevice(&previous));
      if (previous != device) GN_CHECK_CUDA(cudaSetDevice(device));
      changed = previous != device;
    }
    ~DeviceScope() {
      if (changed) cudaSetDevice(previous);
    }
    int previous = 0;
    bool changed = false;
  };
  static std::size_t rounded(std::size_t bytes) {
    return bytes < (1u << 20) ? round_up(bytes == 0 ? 1 : bytes, 512) : round_up(bytes, 2u << 20);
  }
  // A spare event of `device` (events belong to the device current when they were created).
  bool spare_event(int device, cudaEvent_t* out) {
    for (std::size_t i = 0; i < spare_events_.size(); ++i) {
      auto& [d, e] = spare_events_[i];
      if (d != device) continue;
      *out = e;
      spare_events_[i] = spare_events_.back();
      spare_events_.pop_back();
      return true;
    }
    return false;
  }
  void release_locked() {
    cudaDeviceSynchronize();  // every block's last use is done (this device; others below)
    for (auto& entry : free_) {
      cudaEventSynchronize(entry.second.released);
      cudaFree(entry.second.ptr);
      cudaEventDestroy(entry.second.released);
    }
    free_.clear();
  }
  std::mutex mutex_;
  std::multimap<std::pair<int, std::size_t>, Block> free_;
  std::vector<std::pair<int, cudaEvent_t>> spare_events_;  // (device, event) ready for reuse
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
