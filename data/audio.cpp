// Decoding with libsndfile (files and in-memory uploads through sf_open_virtual), mixdown to
// mono and resampling with libsamplerate.
//
// Resampler: SRC_SINC_BEST_QUALITY (97 dB SNR, 97% of the band kept). GTZAN is already
// 22050 Hz, so it never runs for the training data; it runs for user uploads (44.1 / 48 kHz
// MP3s), where the spectrogram reaches up to 11025 Hz and MEDIUM's 90% pass band would dim
// the top ~1.1 kHz (the last ~50 of 513 bins) that the model saw at full strength in
// training. Cost, measured for a 30 s 44.1 kHz song (after mixdown, one core): 0.59 s of CPU
// with BEST against 0.19 s with MEDIUM - comparable to a CPU prediction, paid once per upload.
#include "data/audio.h"

#include <samplerate.h>
#include <sndfile.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <string_view>

#include "engine/error.h"
#include "data/file_kind.h"

namespace gn {
namespace {

struct SndFileCloser {
  void operator()(SNDFILE* f) const { sf_close(f); }
};
using SndFilePtr = std::unique_ptr<SNDFILE, SndFileCloser>;

// A read-only in-memory file for sf_open_virtual.
struct MemoryFile {
  const std::string* bytes;
  sf_count_t pos = 0;
};
sf_count_t mem_length(void* user) { return static_cast<sf_count_t>(static_cast<MemoryFile*>(user)->bytes->size()); }
sf_count_t mem_seek(sf_count_t offset, int whence, void* user) {
  auto* m = static_cast<MemoryFile*>(user);
  const sf_count_t size = static_cast<sf_count_t>(m->bytes->size());
  sf_count_t p = whence == SEEK_SET ? offset : whence == SEEK_CUR ? m->pos + offset : size + offset;
  m->pos = std::clamp<sf_count_t>(p, 0, size);
  return m->pos;
}
sf_count_t mem_read(void* ptr, sf_count_t count, void* user) {
  auto* m = static_cast<MemoryFile*>(user);
  const sf_count_t size = static_cast<sf_count_t>(m->bytes->size());
  const sf_count_t n = std::max<sf_count_t>(0, std::min(count, size - m->pos));
  std::memcpy(ptr, m->bytes->data() + m->pos, static_cast<std::size_t>(n));
  m->pos += n;
  return n;
}
sf_count_t mem_write(const void*, sf_count_t, void*) { return 0; }
sf_count_t mem_tell(void* user) { return static_cast<MemoryFile*>(user)->pos; }

// Mixdown (mean of the channels, as librosa.to_mono) and resampling to kSampleRate, fed block
// by block; the result is the same as one pass over the whole song.
class MonoResampler {
 public:
  MonoResampler(int channels, int rate, std::string source)
      : channels_(channels), rate_(rate), source_(std::move(source)) {
    GN_REQUIRE(channels >= 1, source_, ": bad channel count ", channels);
    if (rate_ != kSampleRate) {
      int err = 0;
      state_ = src_new(SRC_SINC_BEST_QUALITY, 1, &err);
      GN_REQUIRE(state_ != nullptr, source_, ": cannot start the resampler (", src_strerror(err), ")");
    }
  }
  ~MonoResampler() {
    if (state_) src_delete(state_);
  }
  MonoResampler(const MonoResampler&) = delete;
  MonoResampler& operator=(const MonoResampler&) = delete;

  void push(const float* interleaved, std::size_t frames) {
    // The resampler flushes its tail only when end_of_input comes with the last real input, so
    // each block is held back until the next one shows it was not the last.
    if (state_ && !mono_.empty()) process(mono_.data(), mono_.size(), false);
    mono_.resize(frames);
    if (channels_ == 1) {
      std::copy(interleaved, interleaved + frames, mono_.begin());
    } else {
      for (std::size_t i = 0; i < frames; ++i) {
        double s = 0.0;
        for (int c = 0; c < channels_; ++c) s += interleaved[i * channels_ + c];
        mono_[i] = static_cast<float>(s / channels_);
      }
    }
    if (!state_) out_.insert(out_.end(), mono_.begin(), mono_.end());
  }
  std::vector<float> finish() {
    if (state_) process(mono_.data(), mono_.size(), true);
    return std::move(out_);
  }

 private:
  void process(const float* in, std::size_t frames, bool end) {
    const double ratio = static_cast<double>(kSampleRate) / rate_;
    std::vector<float> chunk(static_cast<std::size_t>(std::ceil((frames + 64) * ratio)) + 4096);
    for (;;) {
      SRC_DATA data{};
      data.data_in = in;
      data.input_frames = static_cast<long>(frames);
      data.data_out = chunk.data();
      data.output_frames = static_cast<long>(chunk.size());
      data.src_ratio = ratio;
      data.end_of_input = end ? 1 : 0;
      const int err = src_process(state_, &data);
      GN_REQUIRE(err == 0, source_, ": resampling ", rate_, " Hz -> ", kSampleRate, " Hz failed (",
                 src_strerror(err), ")");
      out_.insert(out_.end(), chunk.begin(), chunk.begin() + data.output_frames_gen);
      in += data.input_frames_used;
      frames -= static_cast<std::size_t>(data.input_frames_used);
      // Done when the input is used up and (at the end) the converter has nothing left.
      if (frames == 0 && (!end || data.output_frames_gen == 0)) break;
    }
  }
  int channels_, rate_;
  std::string source_;
  SRC_STATE* state_ = nullptr;
  std::vector<float> mono_, out_;
};

// libsndfile's frame count for a stream whose header gives no length (a FLAC written by a
// streaming encoder says 0 samples, which libsndfile reports as SF_COUNT_MAX).
bool length_unknown(const SF_INFO& info) { return info.frames >= (sf_count_t{1} << 50); }

std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", s);
  return buf;
}

// Decodes an open file to the end, block by block; `source` names it in errors.
Audio read_all(SNDFILE* file, const SF_INFO& info, const std::string& source, const DecodeLimits& limits) {
  GN_REQUIRE(info.channels >= 1 && info.channels <= 256, source, ": bad channel count ", info.channels);
  GN_REQUIRE(info.samplerate >= 1000 && info.samplerate <= 768000, source, ": bad sample rate ",
             info.samplerate, " Hz");
  const bool unknown = length_unknown(info);
  GN_REQUIRE(unknown || info.frames > 0, source, ": holds no audio samples");
  const auto too_long = [&](sf_count_t frames, const char* how) {
    const double seconds = static_cast<double>(frames) / info.samplerate;
    if (limits.max_seconds > 0 && seconds > limits.max_seconds)
      GN_FAIL(source, ": too long (", how, seconds_text(seconds), "; the limit is ", seconds_text(limits.max_seconds),
              ")");
    if (limits.max_samples > 0 && frames > limits.max_samples / info.channels)
      GN_FAIL(source, ": too much audio to decode (", how, frames, " frames x ", info.channels, " channels at ",
              info.samplerate, " Hz; the limit is ", limits.max_samples, " samples, ", seconds_text(limits.max_seconds),
              " of 48 kHz x 4 channels)");
  };
  // From the header, before anything is allocated.
  if (!unknown) too_long(info.frames, "its header announces ");
  // Integer PCM comes out as x / 2^(bits-1) (libsndfile's default normalisation), the same
  // scaling as soundfile / librosa: a 16-bit sample x becomes x / 32768 exactly.
  sf_command(file, SFC_SET_NORM_FLOAT, nullptr, SF_TRUE);
  constexpr sf_count_t kBlock = 1 << 15;  // frames per block: memory ~ kBlock x channels floats
  std::vector<float> block(static_cast<std::size_t>(kBlock) * info.channels);
  MonoResampler mono(info.channels, info.samplerate, source);
  sf_count_t done = 0;
  for (;;) {
    if (limits.cancelled && limits.cancelled()) GN_FAIL(source, ": decoding cancelled");
    const sf_count_t got = sf_readf_float(file, block.data(), kBlock);
    if (got <= 0) break;
    for (std::size_t i = 0; i < static_cast<std::size_t>(got) * info.channels; ++i)
      GN_REQUIRE(std::isfinite(block[i]), source, ": corrupt audio data (non-finite sample)");
    done += got;
    too_long(done, "decoding reached ");  // a header that lied or announced nothing
    mono.push(block.data(), static_cast<std::size_t>(got));
  }
  // MP3 carries no exact length (libsndfile estimates it from the first frames' bit rate), so
  // a difference there is not damage by itself: the decoded length is what counts, and a
  // shortfall is reported. For every other format a shortfall is truncation.
  const bool estimated_length = (info.format & SF_FORMAT_TYPEMASK) == SF_FORMAT_MPEG;
  Audio audio;
  if (sf_error(file) != SF_ERR_NO_ERROR) {
    // An MP3 damaged part-way is a stream of independent frames: what came before the damage is
    // sound audio, classified with a note; other formats are refused.
    GN_REQUIRE(estimated_length && done > 0, source, ": corrupt audio data (", sf_strerror(file), ")");
    audio.warnings.push_back("decoding stopped after " + seconds_text(static_cast<double>(done) / info.samplerate) +
                             " at damaged data (" + sf_strerror(file) + "); classified on that part");
  }
  GN_REQUIRE(done > 0, source, ": holds no audio samples", unknown ? " (its header gives no length either)" : "");
  audio.source = source;
  audio.source_rate = info.samplerate;
  audio.source_channels = info.channels;
  const double decoded = static_cast<double>(done) / info.samplerate;
  if (!unknown) audio.header_seconds = static_cast<double>(info.frames) / info.samplerate;
  if (!unknown && done < info.frames) {
    GN_REQUIRE(estimated_length, source, ": truncated (the header promises ", info.frames, " frames, only ", done,
               " could be read)");
    // Encoder padding makes a few frames' difference normal.
    if (info.frames - done > info.samplerate / 2)
      audio.warnings.push_back("only " + seconds_text(decoded) + " of the " + seconds_text(audio.header_seconds) +
                               " its header announces could be decoded (truncated or damaged MP3?)");
  }
  // An MP3 whose later frames use another bit rate runs past libsndfile's estimate; all of it is
  // decoded (not only the estimated part), and the difference is said.
  if (!unknown && estimated_length && done - info.frames > info.samplerate)
    audio.warnings.push_back("decoded " + seconds_text(decoded) + ", more than the " +
                             seconds_text(audio.header_seconds) + " its header estimated (the bit rate changes)");
  if (unknown)
    audio.warnings.push_back("its header gives no length; decoded " + seconds_text(decoded) + " to the end of the stream");
  audio.samples = mono.finish();
  return audio;
}

// libmpg123 (under libsndfile's MP3 support) prints its notes on damaged streams straight to
// stderr, without the file's name. While an MP3 is decoded, file descriptor 2 points at an
// anonymous memory file instead; afterwards the decoder's lines become one warning of the song,
// and any other line written meanwhile (a server's request log) is passed on to the real stderr.
// One capture at a time, process-wide (fd 2 is shared): MP3 decodes run one after another.
class DecoderMessages {
 public:
  explicit DecoderMessages(bool active) : lock_(mutex(), std::defer_lock) {
    if (!active) return;
    lock_.lock();
    std::fflush(stderr);
    saved_ = ::dup(2);
    memfd_ = ::memfd_create("genrenet-decoder-messages", MFD_CLOEXEC);
    if (saved_ < 0 || memfd_ < 0 || ::dup2(memfd_, 2) < 0) restore();
  }
  ~DecoderMessages() { restore(); }
  // Restores stderr; the decoder's lines (others are re-emitted), in order.
  std::vector<std::string> finish() {
    std::vector<std::string> decoder;
    if (memfd_ < 0) return decoder;
    std::fflush(stderr);
    std::string text;
    char buf[4096];
    ::lseek(memfd_, 0, SEEK_SET);
    for (ssize_t n; (n = ::read(memfd_, buf, sizeof buf)) > 0;) text.append(buf, static_cast<std::size_t>(n));
    restore();
    std::string others;
    for (std::size_t pos = 0; pos < text.size();) {
      std::size_t nl = text.find('\n', pos);
      if (nl == std::string::npos) nl = text.size();
      const std::string line = text.substr(pos, nl - pos);
      pos = nl + 1;
      const bool from_decoder = line.find("libmpg123") != std::string::npos || line.rfind("Note: ", 0) == 0 ||
                                line.rfind("Warning: ", 0) == 0 || line.rfind("Error: ", 0) == 0;
      if (from_decoder) decoder.push_back(line);
      else if (!line.empty()) others += line + "\n";
    }
    if (!others.empty()) (void)!::write(2, others.data(), others.size());
    return decoder;
  }

 private:
  static std::mutex& mutex() {
    static std::mutex m;
    return m;
  }
  void restore() {
    if (saved_ >= 0) {
      std::fflush(stderr);
      ::dup2(saved_, 2);
      ::close(saved_);
      saved_ = -1;
    }
    if (memfd_ >= 0) {
      ::close(memfd_);
      memfd_ = -1;
    }
    if (lock_.owns_lock()) lock_.unlock();
  }
  std::unique_lock<std::mutex> lock_;
  int saved_ = -1, memfd_ = -1;
};

// MP3 as libsndfile finds it: an ID3v2 tag or an MPEG audio frame sync at the start.
bool looks_like_mp3(std::string_view head) {
  if (head.size() >= 3 && head.substr(0, 3) == "ID3") return true;
  return head.size() >= 2 && static_cast<unsigned char>(head[0]) == 0xff &&
         (static_cast<unsigned char>(head[1]) & 0xe0) == 0xe0;
}

// Decodes with the MP3 decoder's messages captured (see DecoderMessages) and turned into a
// warning of the song.
template <typename Decode>
Audio with_decoder_messages(bool mp3, Decode decode) {
  DecoderMessages messages(mp3);
  Audio audio;
  std::vector<std::string> lines;
  try {
    audio = decode();
  } catch (...) {
    messages.finish();
    throw;
  }
  lines = messages.finish();
  if (!lines.empty())
    audio.warnings.push_back("the MP3 decoder reported " + std::to_string(lines.size()) + " problem" +
                             (lines.size() == 1 ? "" : "s") + " (first: " + lines.front() + ")");
  return audio;
}

// libsndfile accepts a WAV / AIFF whose data chunk claims more bytes than the file holds and
// reads what is there, noting "data : <claimed> (should be <actual>)" in its log. A song cut
// short by a failed copy must not pass for a short song, so a shortfall there is an error.
void reject_truncated(SNDFILE* file, const std::string& source) {
  char log[8192] = {0};
  sf_command(file, SFC_GET_LOG_INFO, log, sizeof(log) - 1);
  const std::string text(log);
  for (std::size_t pos = 0; (pos = text.find("\n", pos)) != std::string::npos;) {
    ++pos;
    const std::size_t end = text.find('\n', pos);
    const std::string line = text.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    long long claimed = 0, actual = 0;
    if ((line.rfind("data", 0) == 0 || line.rfind("SSND", 0) == 0) &&
        std::sscanf(line.c_str() + 4, " : %lld (should be %lld)", &claimed, &actual) == 2 &&
        actual < claimed) {
      GN_FAIL(source, ": truncated (its header promises ", claimed, " bytes of audio, the file holds ",
              actual, ")");
    }
  }
}

// One message for every file the decoder refuses, in the project's words: libsndfile's own
// ("File does not exist or is not a regular file (possibly a pipe?)" for a damaged MP3,
// "Format not recognised." for the same bytes uploaded) says nothing useful. `head` is the
// start of the bytes, to name what they are when that is recognisable.
std::string open_error(const std::string& source, const std::string& head) {
  const FileKind kind = sniff_file_kind(head);
  std::string what = kind == FileKind::Audio
                         ? "the file looks like audio but its data is damaged or in an unsupported encoding"
                     : kind == FileKind::Unknown ? "its bytes are none of these formats"
                                                 : "it is " + describe_file_kind(kind);
  return source + ": not an audio file GenreNet can read (WAV, AU, AIFF, FLAC, Ogg Vorbis/Opus or MP3): " + what;
}

}  // namespace

std::vector<float> to_mono_22050(const std::vector<float>& interleaved, int channels, int rate,
                                 const std::string& source) {
  GN_REQUIRE(channels >= 1, source, ": bad channel count ", channels);
  GN_REQUIRE(interleaved.size() % channels == 0, source, ": ", interleaved.size(),
             " samples do not divide into ", channels, " channels");
  MonoResampler mono(channels, rate, source);
  mono.push(interleaved.data(), interleaved.size() / channels);
  return mono.finish();
}

Audio decode_audio(const std::string& path, const DecodeLimits& limits) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0)
    GN_FAIL(path, ": cannot open (", std::strerror(errno), ")");
  GN_REQUIRE(S_ISREG(st.st_mode), path, ": not a regular file");
  GN_REQUIRE(st.st_size > 0, path, ": empty file (0 bytes)");
  char head[4] = {0};
  {
    std::ifstream in(path, std::ios::binary);
    in.read(head, sizeof head);
  }
  return with_decoder_messages(looks_like_mp3(std::string_view(head, sizeof head)), [&] {
    SF_INFO info{};
    SndFilePtr file(sf_open(path.c_str(), SFM_READ, &info));
    if (!file) GN_FAIL(open_error(path, read_file_head(path)));
    reject_truncated(file.get(), path);
    return read_all(file.get(), info, path, limits);
  });
}

namespace {
// An upload opened in place through libsndfile's virtual I/O; `mem` must outlive `file`.
struct OpenedMemoryFile {
  MemoryFile mem;
  SF_VIRTUAL_IO io{mem_length, mem_seek, mem_read, mem_write, mem_tell};
  SF_INFO info{};
  SndFilePtr file;
  OpenedMemoryFile(const std::string& bytes, const std::string& name) : mem{&bytes, 0} {
    GN_REQUIRE(!bytes.empty(), name, ": empty file (0 bytes)");
    file.reset(sf_open_virtual(&io, SFM_READ, &info, &mem));
    if (!file) GN_FAIL(open_error(name, bytes.substr(0, 4096)));
  }
};
}  // namespace

Audio decode_audio_memory(const std::string& bytes, const std::string& name, const DecodeLimits& limits) {
  return with_decoder_messages(looks_like_mp3(std::string_view(bytes).substr(0, 4)), [&] {
    OpenedMemoryFile f(bytes, name);
    reject_truncated(f.file.get(), name);
    return read_all(f.file.get(), f.info, name, limits);
  });
}

std::string encode_wav16(const std::vector<float>& samples, int sample_rate) {
  GN_REQUIRE(sample_rate > 0, "encode_wav16: bad sample rate ", sample_rate);
  const std::uint32_t data_bytes = static_cast<std::uint32_t>(samples.size() * 2);
  std::string out;
  out.reserve(44 + data_bytes);
  auto u32 = [&](std::uint32_t v) { for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff)); };
  auto u16 = [&](std::uint16_t v) { for (int i = 0; i < 2; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff)); };
  out += "RIFF";
  u32(36 + data_bytes);
  out += "WAVEfmt ";
  u32(16);
  u16(1);  // PCM
  u16(1);  // mono
  u32(static_cast<std::uint32_t>(sample_rate));
  u32(static_cast<std::uint32_t>(sample_rate) * 2);
  u16(2);
  u16(16);
  out += "data";
  u32(data_bytes);
  for (float x : samples) {
    // The inverse of decoding's x / 32768: round(x * 32768), clipped to the 16-bit range.
    const float v = std::isfinite(x) ? std::nearbyint(x * 32768.0f) : 0.0f;
    const int s = static_cast<int>(std::clamp(v, -32768.0f, 32767.0f));
    u16(static_cast<std::uint16_t>(static_cast<std::int16_t>(s)));
  }
  return out;
}

}  // namespace gn
