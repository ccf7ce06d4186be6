// libmpg123 (libsndfile's MP3 decoder) prints its own notes straight onto stderr ("Note:
// Illegal Audio-MPEG-Header 0x00000000 at offset 19996.", "Trying to resync...") and offers
// libsndfile no switch to stop it. While a DecoderNoiseFilter lives, file descriptor 2 writes
// into an anonymous memory file; when the last one in the process ends, stderr is restored and
// everything captured is written back except the decoder's lines. So a bad MP3 gives the one
// message GenreNet says about it, and what other threads wrote meanwhile (a server's request
// log) is delayed, never lost. Nested and concurrent filters share one capture.
#pragma once

#include <string>

namespace gn {

class DecoderNoiseFilter {
 public:
  DecoderNoiseFilter();
  ~DecoderNoiseFilter();
  DecoderNoiseFilter(const DecoderNoiseFilter&) = delete;
  DecoderNoiseFilter& operator=(const DecoderNoiseFilter&) = delete;
};

// The captured text without the decoder's lines (exposed for tests).
std::string without_decoder_noise(const std::string& text);

}  // namespace gn
