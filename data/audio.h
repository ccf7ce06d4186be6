// Audio in: any file libsndfile reads (WAV, AU, AIFF, FLAC, OGG/Vorbis, Opus, MP3 with
// libsndfile >= 1.1) decoded to float, mixed down to mono (mean of the channels) and resampled
// to 22050 Hz with libsamplerate. Integer PCM is scaled like librosa / soundfile: a 16-bit
// sample x becomes x / 32768, so decoded songs match the reference's numbers bit for bit.
//
// Every failure (missing, empty, truncated, corrupt or non-audio input) is one gn::Error whose
// message names the file.
#pragma once

#include <cstdint>
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
  double seconds() const { return static_cast<double>(samples.size()) / sample_rate; }
};

// Decodes a file. Throws gn::Error naming `path` when it cannot.
Audio decode_audio(const std::string& path);
// Decodes an in-memory file (an upload); `name` is used in messages and to guess nothing else:
// the format is detected from the bytes.
Audio decode_audio_memory(const std::string& bytes, const std::string& name);
// The length in seconds an in-memory file announces in its header, read without decoding it,
// so a server can refuse an upload whose decoded samples would not fit its memory budget (a
// few MB of FLAC/MP3 can hold hours). Throws like decode_audio_memory on unreadable input.
double audio_memory_seconds(const std::string& bytes, const std::string& name);

// Interleaved frames (frames x channels) at `rate` -> mono at kSampleRate. Mixdown is the mean
// of the channels; resampling uses libsamplerate's SRC_SINC_BEST_QUALITY converter.
std::vector<float> to_mono_22050(const std::vector<float>& interleaved, int channels, int rate,
                                 const std::string& source);

// A 16-bit PCM WAV file image of mono `samples` (clipped to [-1, 1), rounded to x * 32768).
// Used by `genrenet synth` and by tests. Deterministic: same samples, same bytes.
std::string encode_wav16(const std::vector<float>& samples, int sample_rate);

}  // namespace gn
