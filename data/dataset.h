// GTZAN-style data sets: a folder with one sub-folder per genre holding audio files.
//
//   scan_dataset   lists (song, label) entries; labels are the sub-folder names in sorted
//                  order unless a label list is given (e.g. the published weights' order).
//   Dataset::build decodes every song, cuts clips, runs the front-end and caches the
//                  (unnormalised) spectrograms on disk (data/spectrogram_cache.h), with a
//                  progress bar. Songs that fail to decode (GTZAN's corrupt jazz.00054) or are
//                  shorter than one clip are skipped with a warning and counted at the end.
//   Samples are (clip spectrogram, label, song); the spectrograms stay memory-mapped on
//   disk, so the full 1000-song GTZAN (~5 GB of spectrograms) trains in well under 4 GiB.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "data/clips.h"
#include "engine/context.h"
#include "engine/tensor.h"
#include "layers/frontend.h"

namespace gn {

struct SongEntry {
  std::string path;      // as found on disk
  std::string relative;  // "<genre>/<file>", relative to the data-set root (split lists use it)
  int label = -1;        // index into the labels
};

struct DatasetScan {
  std::string root;
  std::vector<std::string> labels;
  std::vector<SongEntry> songs;  // sorted by relative path
};

// Audio file extensions a scan picks up (lower-case compare): wav au snd aiff aif flac ogg oga
// opus mp3.
bool is_audio_file_name(const std::string& name);

// Lists `root`. With `labels` empty, every sub-folder holding audio is a label (sorted); with
// a label list, exactly those sub-folders are used (a missing one is an error naming it) and
// other sub-folders are ignored. Throws gn::Error when root is missing or holds no audio.
DatasetScan scan_dataset(const std::string& root, const std::vector<std::string>& labels = {});

struct DatasetOptions {
  // "" = $GENRENET_CACHE_DIR, else $XDG_CACHE_HOME/genrenet, else ~/.cache/genrenet, else
  // ./.genrenet-cache (never the data-set folder: it may be read-only).
  std::string cache_dir;
  bool progress = true;          // progress bar on stderr
  std::ostream* log = nullptr;   // warnings (skipped files, ...); nullptr = std::cerr
  std::int64_t batch_clips = 64; // clips per front-end call while caching
  // gather() drops the cache's mapped pages from the process after this many bytes read, so
  // the resident set stays near this bound however large the data set (pages stay in the
  // kernel's page cache, so re-reading them costs no disk I/O while memory allows).
  std::int64_t resident_limit_bytes = std::int64_t{256} << 20;
};

class SpectrogramCache;

// All clips of all usable songs of a scan, as cached spectrograms (unnormalised).
class Dataset {
 public:
  static Dataset build(Context& ctx, const DatasetScan& scan, const ClipScheme& clips,
                       const FrontendConfig& frontend, const DatasetOptions& options = {});
  Dataset();
  ~Dataset();
  Dataset(Dataset&&) noexcept;
  Dataset& operator=(Dataset&&) noexcept;

  const std::vector<std::string>& labels() const { return labels_; }
  const std::vector<SongEntry>& songs() const { return songs_; }  // usable songs only
  const std::vector<std::string>& skipped() const { return skipped_; }  // "<path>: <reason>"
  std::int64_t num_clips() const { return static_cast<std::int64_t>(clip_song_.size()); }
  std::int64_t frames() const { return frames_; }
  std::int64_t bins() const { return bins_; }
  int clip_label(std::int64_t clip) const { return songs_[clip_song_[clip]].label; }
  std::int64_t clip_song(std::int64_t clip) const { return clip_song_[clip]; }
  const std::vector<std::int64_t>& clip_songs() const { return clip_song_; }
  // Clips of song s are [song_first_clip(s), song_first_clip(s) + song_clip_count(s)).
  std::int64_t song_first_clip(std::int64_t song) const { return song_first_[song]; }
  std::int64_t song_clip_count(std::int64_t song) const { return song_count_[song]; }

  // The (frames, bins) spectrogram of one clip, read from the memory-mapped cache.
  const float* clip_data(std::int64_t clip) const;
  // x (count, frames, bins, 1) on the CPU <- clips indices[begin, begin + count); labels into
  // `labels` (resized). Unnormalised: call normalize_spectrograms afterwards (any device).
  // Not thread-safe (it counts bytes read to bound the resident set): one gathering thread.
  void gather(Tensor& x, std::vector<int>& labels, const std::vector<std::int64_t>& indices,
              std::size_t begin, std::size_t count) const;
  // Fits logstft's per-bin statistics on `clips` (the training split) into `frontend`.
  void fit_normalization(FrontendConfig& frontend, const std::vector<std::int64_t>& clips) const;

 private:
  std::vector<std::string> labels_;
  std::vector<SongEntry> songs_;
  std::vector<std::string> skipped_;
  std::vector<std::int64_t> clip_song_, song_first_, song_count_;
  std::int64_t frames_ = 0, bins_ = 0;
  std::vector<std::unique_ptr<SpectrogramCache>> caches_;  // one per usable song
  std::int64_t resident_limit_ = std::int64_t{256} << 20;
  mutable std::int64_t bytes_since_trim_ = 0;
};

}  // namespace gn
