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
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>

#include "engine/error.h"

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

// Reads every frame of an open file; `source` names it in errors.
Audio read_all(SNDFILE* file, const SF_INFO& info, const std::string& source) {
  GN_REQUIRE(info.channels >= 1 && info.channels <= 256, source, ": bad channel count ", info.channels);
  GN_REQUIRE(info.samplerate >= 1000 && info.samplerate <= 768000, source, ": bad sample rate ",
             info.samplerate, " Hz");
  GN_REQUIRE(info.frames > 0, source, ": holds no audio samples");
  GN_REQUIRE(info.frames < (sf_count_t{1} << 31) / info.channels, source, ": too long (",
             info.frames, " frames)");
  // Integer PCM comes out as x / 2^(bits-1) (libsndfile's default normalisation), the same
  // scaling as soundfile / librosa: a 16-bit sample x becomes x / 32768 exactly.
  sf_command(file, SFC_SET_NORM_FLOAT, nullptr, SF_TRUE);
  std::vector<float> interleaved(static_cast<std::size_t>(info.frames) * info.channels);
  sf_count_t done = 0;
  while (done < info.frames) {
    const sf_count_t got = sf_readf_float(file, interleaved.data() + done * info.channels, info.frames - done);
    if (got <= 0) break;
    done += got;
  }
  if (sf_error(file) != SF_ERR_NO_ERROR)
    GN_FAIL(source, ": corrupt audio data (", sf_strerror(file), ")");
  // MP3 carries no exact length (libsndfile estimates it from the first frames' bit rate), so
  // a shortfall there is the estimate, not damage; for every other format it is truncation.
  const bool estimated_length = (info.format & SF_FORMAT_TYPEMASK) == SF_FORMAT_MPEG;
  GN_REQUIRE(done == info.frames || (estimated_length && done > 0), source, ": truncated (the header promises ",
             info.frames, " frames, only ", done, " could be read)");
  interleaved.resize(static_cast<std::size_t>(done) * info.channels);
  for (float v : interleaved)
    GN_REQUIRE(std::isfinite(v), source, ": corrupt audio data (non-finite sample)");
  Audio audio;
  audio.source = source;
  audio.source_rate = info.samplerate;
  audio.source_channels = info.channels;
  audio.samples = to_mono_22050(interleaved, info.channels, info.samplerate, source);
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

std::string open_error(const std::string& source) {
  const char* why = sf_strerror(nullptr);
  return source + ": not an audio file GenreNet can read (" + (why ? why : "unknown format") + ")";
}

}  // namespace

std::vector<float> to_mono_22050(const std::vector<float>& interleaved, int channels, int rate,
                                 const std::string& source) {
  GN_REQUIRE(channels >= 1, source, ": bad channel count ", channels);
  GN_REQUIRE(interleaved.size() % channels == 0, source, ": ", interleaved.size(),
             " samples do not divide into ", channels, " channels");
  const std::size_t frames = interleaved.size() / channels;
  std::vector<float> mono(frames);
  if (channels == 1) {
    mono = interleaved;
  } else {
    // Mean of the channels, as librosa.to_mono.
    for (std::size_t i = 0; i < frames; ++i) {
      double s = 0.0;
      for (int c = 0; c < channels; ++c) s += interleaved[i * channels + c];
      mono[i] = static_cast<float>(s / channels);
    }
  }
  if (rate == kSampleRate || frames == 0) return mono;

  const double ratio = static_cast<double>(kSampleRate) / rate;
  std::vector<float> out(static_cast<std::size_t>(std::ceil(frames * ratio)) + 16);
  SRC_DATA data{};
  data.data_in = mono.data();
  data.input_frames = static_cast<long>(frames);
  data.data_out = out.data();
  data.output_frames = static_cast<long>(out.size());
  data.src_ratio = ratio;
  data.end_of_input = 1;
  const int err = src_simple(&data, SRC_SINC_BEST_QUALITY, 1);
  GN_REQUIRE(err == 0, source, ": resampling ", rate, " Hz -> ", kSampleRate, " Hz failed (",
             src_strerror(err), ")");
  out.resize(static_cast<std::size_t>(data.output_frames_gen));
  return out;
}

Audio decode_audio(const std::string& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0)
    GN_FAIL(path, ": cannot open (", std::strerror(errno), ")");
  GN_REQUIRE(S_ISREG(st.st_mode), path, ": not a regular file");
  GN_REQUIRE(st.st_size > 0, path, ": empty file (0 bytes)");
  SF_INFO info{};
  SndFilePtr file(sf_open(path.c_str(), SFM_READ, &info));
  if (!file) GN_FAIL(open_error(path));
  reject_truncated(file.get(), path);
  return read_all(file.get(), info, path);
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
    if (!file) GN_FAIL(open_error(name));
  }
};
}  // namespace

Audio decode_audio_memory(const std::string& bytes, const std::string& name) {
  OpenedMemoryFile f(bytes, name);
  reject_truncated(f.file.get(), name);
  return read_all(f.file.get(), f.info, name);
}

double audio_memory_seconds(const std::string& bytes, const std::string& name) {
  OpenedMemoryFile f(bytes, name);
  const SF_INFO& info = f.info;
  GN_REQUIRE(info.samplerate >= 1000 && info.samplerate <= 768000, name, ": bad sample rate ",
             info.samplerate, " Hz");
  return static_cast<double>(info.frames) / info.samplerate;
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
