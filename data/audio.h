// Audio in: any file libsndfile reads (WAV, AU, AIFF, FLAC, OGG/Vorbis, Opus, MP3 with
// libsndfile >= 1.1) decoded to float, mixed down to mono (mean of the channels) and resampled
// to 22050 Hz with libsamplerate. Integer PCM is scaled like librosa / soundfile: a 16-bit
// sample x becomes x / 32768, so decoded songs match the reference's numbers bit for bit.
//
// Every failure (missing, empty, truncated, corrupt or non-audio input) is one gn::Error whose
// message names the file.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace gn {

constexpr int kSampleRate = 22050;  // the rate every song is resampled to (librosa's default)

struct Audio {
  std::vector<float> samples;  // mono, kSampleRate Hz, nominally in [-1, 1]
  int sample_rate = kSampleRate;
  int source_rate = 0;       // the file's own rate
  int source_channels = 0;   // the file's own channel count
  std::string source;        // the file (or upload) name, for messages
  double header_seconds = -1;  // the length the file's header announced (-1: it announced none)
  std::vector<std::string> warnings;  // what the caller should show beside a result
  double seconds() const { return static_cast<double>(samples.size()) / sample_rate; }
};

// What one decode may cost. A few hundred KB of FLAC can announce hours of 384 kHz x 8
// channels: the source's size is checked from its header before anything is allocated, and
// again while decoding (headers can lie, or announce no length at all).
struct DecodeLimits {
  double max_seconds = 0;          // longest song accepted; 0: no limit
  std::int64_t max_samples = 0;    // source frames x channels accepted; 0: no limit
  std::function<bool()> cancelled; // asked between blocks; true stops decoding (gn::Error)

  static constexpr int kSamplesPerSecond = 48000 * 4;  // max_samples per second of max_seconds
  // `seconds` of song, and as many source samples as `seconds` of 48 kHz x 4 channels.
  static DecodeLimits for_seconds(double seconds) {
    return {seconds, static_cast<std::int64_t>(seconds * kSamplesPerSecond), nullptr};
  }
};

// Decodes a file, streaming: blocks of the source are mixed down and resampled as they are
// read, so memory holds only the mono 22050 Hz result, whatever the source's rate and channels.
// Reads to the end of the stream (not only as far as the header promised). Throws gn::Error
// naming `path` when it cannot, or when `limits` are exceeded.
Audio decode_audio(const std::string& path, const DecodeLimits& limits = {});
// Decodes an in-memory file (an upload); `name` is used in messages and to guess nothing else:
// the format is detected from the bytes.
Audio decode_audio_memory(const std::string& bytes, const std::string& name, const DecodeLimits& limits = {});
// Interleaved frames (frames x channels) at `rate` -> mono at kSampleRate. Mixdown is the mean
// of the channels; resampling uses libsamplerate's SRC_SINC_BEST_QUALITY converter.
std::vector<float> to_mono_22050(const std::vector<float>& interleaved, int channels, int rate,
                                 const std::string& source);

// A 16-bit PCM WAV file image of mono `samples` (clipped to [-1, 1), rounded to x * 32768).
// Used by `genrenet synth` and by tests. Deterministic: same samples, same bytes.
std::string encode_wav16(const std::vector<float>& samples, int sample_rate);

}  // namespace gn
