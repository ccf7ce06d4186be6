// Decoding (every bad-input case gives one clear error naming the file), mixdown and
// resampling, 16-bit scaling, the WAV writer, and the clip schemes.
#include <gtest/gtest.h>
#include <sndfile.h>

#include <cmath>
#include <fstream>

#include "data/audio.h"
#include "data/clips.h"
#include "engine/error.h"
#include "tests/support.h"

namespace gn {
namespace {

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Writes interleaved float frames with libsndfile in `format`; false when this libsndfile
// cannot write that format (e.g. MP3 without LAME).
bool write_sndfile(const std::string& path, const std::vector<float>& interleaved, int channels, int rate, int format) {
  SF_INFO info{};
  info.channels = channels;
  info.samplerate = rate;
  info.format = format;
  if (!sf_format_check(&info)) return false;
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  if (!f) return false;
  const sf_count_t frames = static_cast<sf_count_t>(interleaved.size() / channels);
  const bool ok = sf_writef_float(f, interleaved.data(), frames) == frames;
  sf_close(f);
  return ok;
}

// 16-bit files written from raw shorts round(x * 32768) (libsndfile's float writer scales by
// 32767 while its reader divides by 32768, so it would not round-trip exactly).
bool write_pcm16(const std::string& path, const std::vector<float>& mono, int rate, int format) {
  SF_INFO info{};
  info.channels = 1;
  info.samplerate = rate;
  info.format = format;
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  if (!f) return false;
  std::vector<short> s(mono.size());
  for (std::size_t i = 0; i < s.size(); ++i) s[i] = static_cast<short>(std::lround(mono[i] * 32768.0f));
  const bool ok = sf_writef_short(f, s.data(), static_cast<sf_count_t>(s.size())) == static_cast<sf_count_t>(s.size());
  sf_close(f);
  return ok;
}

// The message names the file and says what is wrong.
void expect_error(const std::string& path, const std::string& what) {
  try {
    decode_audio(path);
    ADD_FAILURE() << "decoding " << path << " did not fail";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(path), std::string::npos) << m;
    EXPECT_NE(m.find(what), std::string::npos) << m;
  }
}

std::vector<float> sine(double hz, double amp, double seconds, int rate) {
  std::vector<float> x(static_cast<std::size_t>(seconds * rate));
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(amp * std::sin(2 * M_PI * hz * i / rate));
  return x;
}

TEST(AudioDecode, BadInputsNameTheFile) {
  const std::string dir = test::temp_dir("audio_bad");
  expect_error(dir + "/missing.wav", "cannot open");
  write_bytes(dir + "/empty.wav", "");
  expect_error(dir + "/empty.wav", "empty");
  std::string text;
  for (int i = 0; i < 200; ++i) text += "this is not audio, just text. ";
  write_bytes(dir + "/text.wav", text);
  expect_error(dir + "/text.wav", "not an audio file");
  const std::string wav = encode_wav16(sine(440, 0.5, 2.0, 22050), 22050);
  write_bytes(dir + "/truncated.wav", wav.substr(0, wav.size() / 2));
  expect_error(dir + "/truncated.wav", "truncated");
  write_bytes(dir + "/header_only.wav", wav.substr(0, 30));
  expect_error(dir + "/header_only.wav", "not an audio file");
  std::string corrupt = wav;  // a valid RIFF header claiming an unknown codec
  corrupt[20] = 0x55;
  corrupt[21] = 0x7f;
  write_bytes(dir + "/codec.wav", corrupt);
  expect_error(dir + "/codec.wav", "codec.wav");
  EXPECT_THROW(decode_audio(dir), Error);  // a folder
  // The in-memory decoder (uploads) reports the upload's name.
  try {
    decode_audio_memory(text, "upload.mp3");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("upload.mp3"), std::string::npos) << e.what();
  }
  EXPECT_THROW(decode_audio_memory("", "empty-upload.wav"), Error);
  EXPECT_THROW(decode_audio_memory(wav.substr(0, wav.size() / 2), "half.wav"), Error);
}

TEST(AudioDecode, SixteenBitScalingIsXOver32768) {
  // Raw samples -32768, -1, 0, 1, 32767 must decode to exactly x / 32768 (librosa / soundfile).
  std::vector<float> x = {-1.0f, -1.0f / 32768, 0.0f, 1.0f / 32768, 32767.0f / 32768};
  x.resize(100, 0.25f);
  const std::string dir = test::temp_dir("audio_scale");
  const std::string wav = encode_wav16(x, 22050);
  // encode_wav16 writes round(x * 32768): check the raw bytes of the first samples.
  const auto raw = [&](int i) { return static_cast<std::int16_t>(static_cast<unsigned char>(wav[44 + 2 * i]) |
                                                                (static_cast<unsigned char>(wav[45 + 2 * i]) << 8)); };
  EXPECT_EQ(raw(0), -32768);
  EXPECT_EQ(raw(1), -1);
  EXPECT_EQ(raw(3), 1);
  EXPECT_EQ(raw(4), 32767);
  write_bytes(dir + "/s.wav", wav);
  const Audio a = decode_audio(dir + "/s.wav");
  ASSERT_EQ(a.samples.size(), x.size());
  for (std::size_t i = 0; i < x.size(); ++i) EXPECT_EQ(a.samples[i], x[i]) << i;
  EXPECT_EQ(a.source_rate, 22050);
  EXPECT_EQ(a.source_channels, 1);
  // Memory and file decoding agree.
  EXPECT_EQ(decode_audio_memory(wav, "s.wav").samples, a.samples);
  // The writer is deterministic and clips out-of-range values.
  EXPECT_EQ(encode_wav16(x, 22050), wav);
  const std::string clipped = encode_wav16({2.0f, -2.0f, NAN}, 22050);
  EXPECT_EQ(clipped.size(), 44u + 6u);
}

TEST(AudioDecode, StereoAt44100BecomesMono22050) {
  // Left 0.6 sin, right 0.2 sin at 1000 Hz: the mono mix is 0.4 sin at 1000 Hz.
  const int rate = 44100;
  const double seconds = 2.0;
  std::vector<float> stereo;
  for (std::size_t i = 0; i < static_cast<std::size_t>(seconds * rate); ++i) {
    const double s = std::sin(2 * M_PI * 1000.0 * i / rate);
    stereo.push_back(static_cast<float>(0.6 * s));
    stereo.push_back(static_cast<float>(0.2 * s));
  }
  const std::string dir = test::temp_dir("audio_resample");
  ASSERT_TRUE(write_sndfile(dir + "/st.wav", stereo, 2, rate, SF_FORMAT_WAV | SF_FORMAT_FLOAT));
  const Audio a = decode_audio(dir + "/st.wav");
  EXPECT_EQ(a.source_rate, 44100);
  EXPECT_EQ(a.source_channels, 2);
  EXPECT_EQ(a.sample_rate, 22050);
  EXPECT_NEAR(static_cast<double>(a.samples.size()), seconds * 22050, 2.0);
  // Amplitude and frequency from the middle second (away from the resampler's edges): least
  // squares fit of a sin + b cos at 1000 Hz, and the residual. SRC_SINC_BEST's pass-band
  // ripple and noise are ~1e-5, far below the 1e-3 bounds.
  double ss = 0, sc = 0, cc = 0, xs = 0, xc = 0;
  const int lo = 11025, hi = 33075;
  for (int i = lo; i < hi; ++i) {
    const double s = std::sin(2 * M_PI * 1000.0 * i / 22050), c = std::cos(2 * M_PI * 1000.0 * i / 22050);
    ss += s * s; sc += s * c; cc += c * c; xs += a.samples[i] * s; xc += a.samples[i] * c;
  }
  const double det = ss * cc - sc * sc;
  const double A = (xs * cc - xc * sc) / det, B = (xc * ss - xs * sc) / det;
  EXPECT_NEAR(std::hypot(A, B), 0.4, 1e-3);
  double resid = 0;
  for (int i = lo; i < hi; ++i) {
    const double fit = A * std::sin(2 * M_PI * 1000.0 * i / 22050) + B * std::cos(2 * M_PI * 1000.0 * i / 22050);
    resid = std::max(resid, std::fabs(a.samples[i] - fit));
  }
  EXPECT_LT(resid, 1e-3) << "not a clean 1000 Hz sine after resampling";
}

TEST(AudioDecode, FlacOggAndMp3) {
  const std::string dir = test::temp_dir("audio_formats");
  const std::vector<float> x = sine(440, 0.5, 1.0, 22050);
  const std::string wav = encode_wav16(x, 22050);
  write_bytes(dir + "/a.wav", wav);
  const Audio ref = decode_audio(dir + "/a.wav");
  // FLAC is lossless: the same 16-bit values.
  ASSERT_TRUE(write_pcm16(dir + "/a.flac", ref.samples, 22050, SF_FORMAT_FLAC | SF_FORMAT_PCM_16));
  EXPECT_EQ(decode_audio(dir + "/a.flac").samples, ref.samples);
  // AU (GTZAN's original format), 16-bit big-endian.
  ASSERT_TRUE(write_pcm16(dir + "/a.au", ref.samples, 22050, SF_FORMAT_AU | SF_FORMAT_PCM_16));
  EXPECT_EQ(decode_audio(dir + "/a.au").samples, ref.samples);
  // Lossy codecs: same length (+- codec padding) and close energy.
  auto rms = [](const std::vector<float>& v) {
    double s = 0;
    for (float f : v) s += double(f) * f;
    return std::sqrt(s / v.size());
  };
  if (write_sndfile(dir + "/a.ogg", ref.samples, 1, 22050, SF_FORMAT_OGG | SF_FORMAT_VORBIS)) {
    const Audio o = decode_audio(dir + "/a.ogg");
    EXPECT_NEAR(double(o.samples.size()), double(x.size()), 2048);
    EXPECT_NEAR(rms(o.samples), rms(ref.samples), 0.02);
  } else {
    std::printf("  (this libsndfile cannot write OGG; OGG decoding not exercised)\n");
  }
  // libsndfile >= 1.1 (Debian 12 ships 1.2) reads and, with LAME, writes MP3.
  if (write_sndfile(dir + "/a.mp3", ref.samples, 1, 22050, SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III)) {
    const Audio m = decode_audio(dir + "/a.mp3");
    EXPECT_NEAR(double(m.samples.size()), double(x.size()), 4096);
    EXPECT_NEAR(rms(m.samples), rms(ref.samples), 0.03);
  } else {
    std::printf("  (this libsndfile cannot write MP3; MP3 decoding not exercised)\n");
  }
}

TEST(Clips, ReferenceSchemeGives19ClipsFor30s) {
  // GTZAN's 30 s songs: 661794 samples -> window 66179, hop 33089, 19 full windows.
  const ClipLayout l = clip_layout(ClipScheme::reference(), 661794);
  EXPECT_EQ(l.length, 66179);
  EXPECT_EQ(l.hop, 33089);
  EXPECT_EQ(l.count, 19);
  EXPECT_EQ(clip_layout(ClipScheme::reference(), 668140).count, 19);  // disco.00003
  EXPECT_EQ(clip_layout(ClipScheme::reference(), 22050 * 30).count, 19);
  // Fixed 3 s at 50%: 30 s -> 19 clips; 10 s -> 5; 1 s song -> none.
  EXPECT_EQ(clip_layout(ClipScheme::fixed(3.0, 0.5), 22050 * 30).count, 19);
  EXPECT_EQ(clip_layout(ClipScheme::fixed(3.0, 0.5), 22050 * 10).count, 5);
  EXPECT_EQ(clip_layout(ClipScheme::fixed(3.0, 0.5), 22050).count, 0);
  EXPECT_EQ(clip_layout(ClipScheme::fixed(3.0, 0.0), 22050 * 30).count, 10);
  // extract_clips copies the right windows.
  std::vector<float> song(1000);
  for (int i = 0; i < 1000; ++i) song[i] = float(i);
  const Tensor c = extract_clips(song, ClipScheme::reference(), "x.wav");
  ASSERT_EQ(c.shape(), (Shape{19, 100}));
  EXPECT_EQ(c.at(0), 0.0f);
  EXPECT_EQ(c.at(100), 50.0f);       // clip 1 starts at the hop
  EXPECT_EQ(c.at(18 * 100 + 99), 999.0f);  // the last clip ends at the song's end
}

TEST(Clips, TooShortSongAndBadSchemes) {
  try {
    extract_clips(std::vector<float>(22050), ClipScheme::fixed(3.0, 0.5), "short.wav");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("short.wav"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("too short"), std::string::npos) << e.what();
  }
  EXPECT_THROW(extract_clips(std::vector<float>(5), ClipScheme::reference(), "tiny.wav"), Error);
  EXPECT_THROW(ClipScheme::fixed(0.0, 0.5).validate(), Error);
  EXPECT_THROW(ClipScheme::fixed(3.0, 1.0).validate(), Error);
  EXPECT_THROW(ClipScheme::from_json({{"kind", "random"}}), Error);
  EXPECT_THROW(ClipScheme::from_json({{"kind", "fixed"}}), Error);
  EXPECT_THROW(ClipScheme::from_json({{"kind", "fixed"}, {"seconds", -1.0}}), Error);
  EXPECT_EQ(ClipScheme::from_json(ClipScheme::reference().to_json()), ClipScheme::reference());
  EXPECT_EQ(ClipScheme::from_json(ClipScheme::fixed(2.5, 0.25).to_json()), ClipScheme::fixed(2.5, 0.25));
}

}  // namespace
}  // namespace gn
