// On-disk spectrogram cache: one file per (song, clip scheme, front-end) holding every clip's
// unnormalised (frames, bins) float32 spectrogram, memory-mapped read-only.
//
// The key hashes the song's path, size and modification time with the clip scheme and the
// front-end's cache_key(), so an edited song or a changed parameter never reuses stale data.
// Files are written to a temporary name, flushed and renamed, and carry a header (magic,
// version, key, shape) checked on open, so an interrupted write leaves either no file or a
// whole one. Pages are read on demand and can be dropped from the process (trim()), which
// keeps the resident set small whatever the data set's size.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace gn {

struct CacheKey {
  std::string text;   // human-readable: path | size | mtime | clips | frontend
  std::uint64_t hash = 0;  // FNV-1a 64 of text
  static CacheKey for_song(const std::string& song_path, const std::string& clip_key,
                           const std::string& frontend_key);
  std::string file_name() const;  // "<16 hex digits>.gnspec"
};

class SpectrogramCache {
 public:
  // Maps `path` when it exists and is a complete cache for `key`; returns nullptr otherwise
  // (missing, torn, other key, other version) so the caller recomputes it.
  static std::unique_ptr<SpectrogramCache> open(const std::string& path, const CacheKey& key);
  // Writes clips x frames x bins floats atomically, then maps the result.
  static std::unique_ptr<SpectrogramCache> write(const std::string& path, const CacheKey& key,
                                                 std::int64_t clips, std::int64_t frames,
                                                 std::int64_t bins, const float* data);
  ~SpectrogramCache();
  SpectrogramCache(const SpectrogramCache&) = delete;
  SpectrogramCache& operator=(const SpectrogramCache&) = delete;

  std::int64_t clips() const { return clips_; }
  std::int64_t frames() const { return frames_; }
  std::int64_t bins() const { return bins_; }
  const float* clip(std::int64_t i) const;  // (frames, bins)
  // Drops this mapping's pages from the process's resident set (they stay in the page cache).
  void trim() const;

 private:
  SpectrogramCache() = default;
  void* map_ = nullptr;
  std::size_t map_bytes_ = 0;
  const float* data_ = nullptr;
  std::int64_t clips_ = 0, frames_ = 0, bins_ = 0;
};

}  // namespace gn
