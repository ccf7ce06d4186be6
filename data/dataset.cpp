#include "data/dataset.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>

#include <unistd.h>

#include "data/audio.h"
#include "data/progress.h"
#include "data/spectrogram_cache.h"
#include "engine/error.h"

namespace gn {
namespace fs = std::filesystem;

bool is_audio_file_name(const std::string& name) {
  const auto dot = name.rfind('.');
  if (dot == std::string::npos || dot == 0) return false;
  std::string ext = name.substr(dot + 1);
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static const std::set<std::string> known = {"wav", "au", "snd", "aiff", "aif", "flac",
                                              "ogg", "oga", "opus", "mp3"};
  return known.count(ext) > 0;
}

DatasetScan scan_dataset(const std::string& root, const std::vector<std::string>& labels) {
  std::error_code ec;
  GN_REQUIRE(fs::is_directory(root, ec), "data set ", root, ": not a folder");
  DatasetScan scan;
  scan.root = root;
  std::map<std::string, std::vector<std::string>> files;  // label -> sorted file names
  // Only on a terminal: a scan takes a moment even for GTZAN, not worth a log line.
  ProgressBar bar("scanning " + root, 0, "files", isatty(fileno(stderr)) ? stderr : nullptr);
  for (const auto& dir : fs::directory_iterator(root, ec)) {
    if (!dir.is_directory()) continue;
    const std::string label = dir.path().filename().string();
    if (label.empty() || label[0] == '.') continue;  // hidden folders (caches, VCS)
    std::vector<std::string>& names = files[label];
    for (const auto& f : fs::directory_iterator(dir.path(), ec)) {
      const std::string name = f.path().filename().string();
      if (f.is_regular_file() && name[0] != '.' && is_audio_file_name(name)) {
        names.push_back(name);
        bar.advance();
      }
    }
    std::sort(names.begin(), names.end());
  }
  GN_REQUIRE(!ec, "data set ", root, ": cannot list (", ec.message(), ")");
  bar.finish();
  if (labels.empty()) {
    for (const auto& [label, names] : files)
      if (!names.empty()) scan.labels.push_back(label);  // std::map: sorted order
  } else {
    std::set<std::string> seen;
    for (const std::string& label : labels) {
      GN_REQUIRE(seen.insert(label).second, "data set ", root, ": label '", label, "' listed twice");
      GN_REQUIRE(files.count(label) && !files[label].empty(), "data set ", root, ": label '", label,
                 "' has no folder with audio files (expected ", (fs::path(root) / label).string(), "/)");
    }
    scan.labels = labels;
  }
  GN_REQUIRE(!scan.labels.empty(), "data set ", root,
             ": no audio files found (expected one sub-folder per genre holding .wav/.au/.flac/.ogg/.mp3 files)");
  for (std::size_t l = 0; l < scan.labels.size(); ++l)
    for (const std::string& name : files[scan.labels[l]])
      scan.songs.push_back({(fs::path(root) / scan.labels[l] / name).string(), scan.labels[l] + "/" + name,
                            static_cast<int>(l)});
  std::sort(scan.songs.begin(), scan.songs.end(),
            [](const SongEntry& a, const SongEntry& b) { return a.relative < b.relative; });
  return scan;
}

namespace {
std::string default_cache_dir() {
  if (const char* d = std::getenv("GENRENET_CACHE_DIR"); d && *d) return d;
  if (const char* d = std::getenv("XDG_CACHE_HOME"); d && *d) return (fs::path(d) / "genrenet").string();
  if (const char* d = std::getenv("HOME"); d && *d) return (fs::path(d) / ".cache" / "genrenet").string();
  return ".genrenet-cache";
}

// Computes one song's spectrograms (N, frames, bins) on ctx's device, batch by batch, into host memory.
std::vector<float> song_spectrograms(Context& ctx, const Tensor& clips, const FrontendConfig& frontend,
                                     std::int64_t batch) {
  const std::int64_t n = clips.dim(0), len = clips.dim(1);
  const std::int64_t image = static_cast<std::int64_t>(frontend.frames) * frontend.bins();
  std::vector<float> out(static_cast<std::size_t>(n * image));
  for (std::int64_t b = 0; b < n; b += batch) {
    const std::int64_t m = std::min(batch, n - b);
    const Tensor in = clips.view(b * len, Shape{m, len}).to(ctx.device());
    Tensor spec = Tensor::empty(frontend.output_shape(m), ctx.device());
    compute_spectrograms(ctx, spec, in, frontend, /*normalize=*/false);
    Tensor host = Tensor::external(out.data() + b * image, spec.shape(), Device::cpu());
    host.copy_from(spec);
  }
  return out;
}
}  // namespace

Dataset::Dataset() = default;
Dataset::~Dataset() = default;
Dataset::Dataset(Dataset&&) noexcept = default;
Dataset& Dataset::operator=(Dataset&&) noexcept = default;

Dataset Dataset::build(Context& ctx, const DatasetScan& scan, const ClipScheme& clips,
                       const FrontendConfig& frontend, const DatasetOptions& options) {
  clips.validate();
  frontend.validate();
  GN_REQUIRE(options.batch_clips >= 1, "data set: batch_clips must be positive");
  std::ostream& log = options.log ? *options.log : std::cerr;
  const std::string cache_dir = options.cache_dir.empty() ? default_cache_dir() : options.cache_dir;
  std::error_code ec;
  fs::create_directories(cache_dir, ec);
  GN_REQUIRE(fs::is_directory(cache_dir), "spectrogram cache folder ", cache_dir, ": cannot create (",
             ec.message(), ")");

  Dataset d;
  d.labels_ = scan.labels;
  d.frames_ = frontend.frames;
  d.bins_ = frontend.bins();
  d.resident_limit_ = std::max<std::int64_t>(options.resident_limit_bytes, 1 << 20);
  const std::string clip_key = clips.to_json().dump();
  const std::string frontend_key = frontend.cache_key();
  std::int64_t computed = 0;
  ProgressBar bar("spectrograms (" + frontend.name + ")", static_cast<std::int64_t>(scan.songs.size()),
                  "songs", options.progress ? stderr : nullptr);
  for (const SongEntry& song : scan.songs) {
    // Undecodable, vanished or too-short songs are skipped, not fatal (GTZAN's jazz.00054).
    // Only reading the song is guarded: a failing front-end (a CUDA error) or a cache that
    // cannot be written is a problem with the machine and stops the run.
    std::unique_ptr<SpectrogramCache> cache;
    CacheKey key;
    std::string file;
    Tensor song_clips;
    try {
      key = CacheKey::for_song(song.path, clip_key, frontend_key);
      file = (fs::path(cache_dir) / key.file_name()).string();
      cache = SpectrogramCache::open(file, key);
      if (!cache) {
        const Audio audio = decode_audio(song.path);
        song_clips = extract_clips(audio.samples, clips, song.path);
      }
    } catch (const Error& e) {
      log << "warning: skipping " << song.relative << ": " << e.what() << "\n";
      d.skipped_.push_back(song.path + ": " + e.what());
      bar.advance(1, std::to_string(d.skipped_.size()) + " skipped");
      continue;
    }
    if (!cache) {
      const std::vector<float> spec = song_spectrograms(ctx, song_clips, frontend, options.batch_clips);
      cache = SpectrogramCache::write(file, key, song_clips.dim(0), d.frames_, d.bins_, spec.data());
      ++computed;
    }
    GN_REQUIRE(cache->frames() == d.frames_ && cache->bins() == d.bins_, "spectrogram cache for ",
               song.path, ": shape mismatch");
    const std::int64_t s = static_cast<std::int64_t>(d.songs_.size());
    d.songs_.push_back(song);
    d.song_first_.push_back(static_cast<std::int64_t>(d.clip_song_.size()));
    d.song_count_.push_back(cache->clips());
    for (std::int64_t c = 0; c < cache->clips(); ++c) d.clip_song_.push_back(s);
    d.caches_.push_back(std::move(cache));
    bar.advance(1, d.skipped_.empty() ? "" : std::to_string(d.skipped_.size()) + " skipped");
  }
  bar.finish(std::to_string(d.songs_.size()) + " songs, " + std::to_string(d.num_clips()) + " clips, " +
             std::to_string(computed) + " computed, " + std::to_string(d.songs_.size() - computed) +
             " from cache");
  if (!d.skipped_.empty())
    log << "warning: " << d.skipped_.size() << " of " << scan.songs.size()
        << " files could not be used and were skipped\n";
  GN_REQUIRE(!d.songs_.empty(), "data set ", scan.root, ": none of its ", scan.songs.size(),
             " audio files could be decoded");
  return d;
}

const float* Dataset::clip_data(std::int64_t clip) const {
  GN_REQUIRE(clip >= 0 && clip < num_clips(), "data set: clip ", clip, " out of range [0, ", num_clips(), ")");
  const std::int64_t s = clip_song_[clip];
  return caches_[s]->clip(clip - song_first_[s]);
}

void Dataset::gather(Tensor& x, std::vector<int>& labels, const std::vector<std::int64_t>& indices,
                     std::size_t begin, std::size_t count) const {
  GN_REQUIRE(begin + count <= indices.size(), "data set gather: range [", begin, ", ", begin + count,
             ") outside ", indices.size(), " indices");
  GN_REQUIRE(x.device().is_cpu(), "data set gather: x must be a CPU tensor");
  check_shape("data set gather", "x", x.shape(), Shape{static_cast<std::int64_t>(count), frames_, bins_, 1});
  labels.resize(count);
  const std::int64_t image = frames_ * bins_;
  for (std::size_t i = 0; i < count; ++i) {
    const std::int64_t clip = indices[begin + i];
    std::memcpy(x.data() + i * image, clip_data(clip), sizeof(float) * image);
    labels[i] = clip_label(clip);
  }
  // Keep the resident set small: every resident_limit bytes read, drop the mapped pages from
  // the process (they stay in the kernel's page cache), so RSS stays near that bound whatever
  // the data set's size: the full GTZAN's ~5 GB of spectrograms train in well under 4 GiB.
  bytes_since_trim_ += static_cast<std::int64_t>(count) * image * 4;
  if (bytes_since_trim_ > resident_limit_) {
    for (const auto& c : caches_) c->trim();
    bytes_since_trim_ = 0;
  }
}

void Dataset::fit_normalization(FrontendConfig& frontend, const std::vector<std::int64_t>& clips) const {
  if (frontend.name != "logstft") return;  // seed has no statistics
  GN_REQUIRE(!clips.empty(), "front-end statistics: the training split has no clips");
  BinStatistics stats(static_cast<int>(bins_));
  std::int64_t read = 0;
  for (std::int64_t clip : clips) {
    stats.add(clip_data(clip), frames_);
    if (++read % (resident_limit_ / (frames_ * bins_ * 4) + 1) == 0)
      for (const auto& c : caches_) c->trim();
  }
  stats.finish(frontend);
}

}  // namespace gn
