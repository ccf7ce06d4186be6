#include "data/spectrogram_cache.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "engine/error.h"
#include "engine/safetensors.h"

namespace gn {
namespace {

// File layout (little-endian, x86 and ARM alike):
//   0  char[8]  magic "GNSPEC01"          8  u64 key hash
//  16  i64 clips   24 i64 frames   32 i64 bins   40 u64 key text length
//  48  key text, zero-padded so the floats start at a multiple of 64 bytes
//      float32 data (clips, frames, bins), and nothing after it.
constexpr char kMagic[8] = {'G', 'N', 'S', 'P', 'E', 'C', '0', '1'};
constexpr std::size_t kFixedHeader = 48;

std::uint64_t fnv1a(const std::string& s) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::size_t data_offset(std::size_t key_len) { return (kFixedHeader + key_len + 63) / 64 * 64; }

template <class T>
void put(std::string& out, std::size_t at, T v) {
  std::memcpy(out.data() + at, &v, sizeof(T));
}
template <class T>
T get(const unsigned char* p, std::size_t at) {
  T v;
  std::memcpy(&v, p + at, sizeof(T));
  return v;
}

}  // namespace

CacheKey CacheKey::for_song(const std::string& song_path, const std::string& clip_key,
                            const std::string& frontend_key) {
  struct stat st{};
  if (::stat(song_path.c_str(), &st) != 0) GN_FAIL(song_path, ": cannot stat (", std::strerror(errno), ")");
  std::error_code ec;
  const std::string absolute = std::filesystem::absolute(song_path, ec).lexically_normal().string();
  CacheKey k;
  k.text = (ec ? song_path : absolute) + " | size " + std::to_string(st.st_size) + " | mtime " +
           std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) +
           " | clips " + clip_key + " | frontend " + frontend_key;
  k.hash = fnv1a(k.text);
  return k;
}

std::string CacheKey::file_name() const {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%016llx.gnspec", static_cast<unsigned long long>(hash));
  return buf;
}

std::unique_ptr<SpectrogramCache> SpectrogramCache::open(const std::string& path, const CacheKey& key) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return nullptr;
  struct stat st{};
  if (::fstat(fd, &st) != 0 || st.st_size < static_cast<off_t>(kFixedHeader)) {
    ::close(fd);
    return nullptr;
  }
  const std::size_t bytes = static_cast<std::size_t>(st.st_size);
  void* map = ::mmap(nullptr, bytes, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);  // the mapping keeps the file open
  if (map == MAP_FAILED) return nullptr;
  std::unique_ptr<SpectrogramCache> cache(new SpectrogramCache());
  cache->map_ = map;
  cache->map_bytes_ = bytes;
  const auto* p = static_cast<const unsigned char*>(map);
  // Anything unexpected means "not a valid cache for this key": the caller recomputes it.
  if (std::memcmp(p, kMagic, 8) != 0 || get<std::uint64_t>(p, 8) != key.hash) return nullptr;
  const auto clips = get<std::int64_t>(p, 16), frames = get<std::int64_t>(p, 24), bins = get<std::int64_t>(p, 32);
  const auto key_len = get<std::uint64_t>(p, 40);
  if (key_len != key.text.size() || kFixedHeader + key_len > bytes) return nullptr;
  if (std::memcmp(p + kFixedHeader, key.text.data(), key_len) != 0) return nullptr;
  if (clips < 1 || frames < 1 || bins < 1 || clips > (1 << 20) || frames > (1 << 20) || bins > (1 << 20))
    return nullptr;
  const std::size_t offset = data_offset(key_len);
  if (bytes != offset + static_cast<std::size_t>(clips * frames * bins) * sizeof(float)) return nullptr;
  cache->data_ = reinterpret_cast<const float*>(p + offset);
  cache->clips_ = clips;
  cache->frames_ = frames;
  cache->bins_ = bins;
  // Batches draw clips in shuffled order: read-ahead of neighbouring pages would be wasted.
  ::madvise(map, bytes, MADV_RANDOM);
  return cache;
}

std::unique_ptr<SpectrogramCache> SpectrogramCache::write(const std::string& path, const CacheKey& key,
                                                          std::int64_t clips, std::int64_t frames,
                                                          std::int64_t bins, const float* data) {
  GN_REQUIRE(clips >= 1 && frames >= 1 && bins >= 1, "spectrogram cache: bad shape (", clips, ", ",
             frames, ", ", bins, ") for ", path);
  const std::size_t offset = data_offset(key.text.size());
  const std::size_t payload = static_cast<std::size_t>(clips * frames * bins) * sizeof(float);
  std::string bytes(offset + payload, '\0');
  std::memcpy(bytes.data(), kMagic, 8);
  put<std::uint64_t>(bytes, 8, key.hash);
  put<std::int64_t>(bytes, 16, clips);
  put<std::int64_t>(bytes, 24, frames);
  put<std::int64_t>(bytes, 32, bins);
  put<std::uint64_t>(bytes, 40, key.text.size());
  std::memcpy(bytes.data() + kFixedHeader, key.text.data(), key.text.size());
  std::memcpy(bytes.data() + offset, data, payload);
  // Temporary file, fsync, rename: a run killed mid-write leaves no torn cache file.
  write_file_atomically(path, bytes);
  auto cache = open(path, key);
  GN_REQUIRE(cache != nullptr, "spectrogram cache: ", path, " could not be read back after writing");
  return cache;
}

SpectrogramCache::~SpectrogramCache() {
  if (map_ != nullptr) ::munmap(map_, map_bytes_);
}

const float* SpectrogramCache::clip(std::int64_t i) const {
  GN_REQUIRE(i >= 0 && i < clips_, "spectrogram cache: clip ", i, " out of range [0, ", clips_, ")");
  return data_ + i * frames_ * bins_;
}

void SpectrogramCache::trim() const {
  // For a read-only shared file mapping MADV_DONTNEED only unmaps the pages from this
  // process; the data stays in the page cache (or on disk) and faults back in when touched.
  if (map_ != nullptr) ::madvise(map_, map_bytes_, MADV_DONTNEED);
}

}  // namespace gn
