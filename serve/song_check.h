// Songs the model has no business classifying. The reference model answers "hiphop 1.000" for
// silence, DC, a square wave and denormals alike: a confident number on garbage. A silent (or
// nearly silent) song is refused; a song whose spectrum is degenerate (DC only, one tone) is
// classified but carries a warning, shown beside the prediction in `predict`, `serve` and JSON.
#pragma once

#include <string>
#include <vector>

#include "data/audio.h"

namespace gn {

// Below this RMS (dB relative to full scale) a song counts as silent: -60 dBFS is the noise
// floor of a quiet room recording; music, even quiet classical, sits at -40 dBFS and above.
inline constexpr double kSilenceDbfs = -60.0;

// The song's RMS level in dBFS (-inf for digital silence).
double rms_dbfs(const std::vector<float>& samples);

// Throws gn::Error naming the song when its RMS is below kSilenceDbfs.
void refuse_silence(const Audio& song);

// Warnings about the song's spectrum, or none. Degenerate: 99% of the energy of the averaged
// power spectrum (2048-point Hann frames) lies in at most 1% of its 1025 bins, which holds for
// DC, a single tone, and nothing a microphone records from music.
std::vector<std::string> spectrum_warnings(const Audio& song);

}  // namespace gn
