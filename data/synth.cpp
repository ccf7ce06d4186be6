// Synthetic GTZAN. Each song is built from events (drum hits, bass notes, chords, melody
// notes) placed on a 16-step grid per 4/4 bar, rendered additively into the song's buffer:
//
//   genre      tempo    drums (16 steps: kick / snare / hat)            harmony & timbre
//   blues      70-95    shuffle (swung 8ths), soft                       dominant-7th 12-bar, plucked guitar, hiss
//   classical  60-90    none                                             slow string pads with vibrato, wide dynamics
//   country    100-130  boom-chick: kick 1 & 3, snare 2 & 4              bright plucked (banjo) major chords, walking bass
//   disco      115-130  four on the floor, open hat on the off-beats     octave bass, bright synth stabs
//   hiphop     80-100   syncopated boomy kick, hard snare 2 & 4          deep long bass, sparse dark keys
//   jazz       110-180  swung ride pattern, brushes, no backbeat         walking bass, 7th/9th piano chords
//   metal      140-200  double kick 16ths, snare 2 & 4, crash            distorted power chords, loud, noisy
//   pop        100-125  kick 1 & 3, clap 2 & 4, 8th hats                 I-V-vi-IV pads, vibrato lead melody
//   reggae     70-90    one drop (kick + snare on 3), sparse hats        off-beat skank stabs, deep bass
//   rock       110-140  kick 1 & 3, snare 2 & 4, 8th hats                overdriven guitar chords, bass 8ths
//
// Every song draws its own tempo, key, chord voicing, instrument levels, brightness (a
// low-pass on the mix), noise level and loudness from ranges wide enough that classes
// overlap on average spectra. Randomness is Philox keyed by (seed, genre, index), so songs are
// the same on every machine and thread count.
#include "data/synth.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <cstdio>
#include <fstream>

#include "data/audio.h"
#include "data/progress.h"
#include "engine/error.h"
#include "kernels/philox.h"

namespace gn {
namespace {

constexpr double kTwoPi = 6.283185307179586;

// A stream of uniforms from Philox (seed, song, stream); a counter walks the stream.
class Rng {
 public:
  Rng(std::uint64_t seed, std::uint64_t song, std::uint32_t stream) : seed_(seed), song_(song), stream_(stream) {}
  double uniform() { return philox_uniform(seed_, song_, stream_, i_++); }
  double range(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  int below(int n) { return std::min(n - 1, static_cast<int>(uniform() * n)); }
  bool chance(double p) { return uniform() < p; }
  double normal() {  // Box-Muller
    const double u = std::max(uniform(), 1e-7), v = uniform();
    return std::sqrt(-2.0 * std::log(u)) * std::cos(kTwoPi * v);
  }

 private:
  std::uint64_t seed_, song_;
  std::uint32_t stream_;
  std::int64_t i_ = 0;
};

double midi_hz(double m) { return 440.0 * std::pow(2.0, (m - 69.0) / 12.0); }

struct Buffer {
  std::vector<float> x;
  int sr;
  std::int64_t at(double seconds) const { return static_cast<std::int64_t>(seconds * sr); }
};

// A harmonic tone: partial k has amplitude amps[k-1] and decays with time constant
// decay / (1 + damping (k - 1)) (plucked strings lose their upper partials first);
// attack ramps linearly; vibrato (Hz, depth in semitones) bends the pitch. Oscillators are
// rotated phasors (no sin per sample).
void add_tone(Buffer& b, double start, double dur, double hz, double amp, const std::vector<double>& amps,
              double attack, double decay, double damping = 0.0, double vib_hz = 0.0, double vib_depth = 0.0) {
  const std::int64_t s0 = std::max<std::int64_t>(0, b.at(start));
  const std::int64_t s1 = std::min<std::int64_t>(static_cast<std::int64_t>(b.x.size()), b.at(start + dur));
  if (s1 <= s0) return;
  const double release = std::min(0.03, dur * 0.3);
  for (std::size_t k = 1; k <= amps.size(); ++k) {
    const double f = hz * k;
    if (f >= 0.45 * b.sr || amps[k - 1] == 0.0) continue;
    const double tau = decay / (1.0 + damping * (k - 1));
    const double per_sample = std::exp(-1.0 / (tau * b.sr));
    double env = amp * amps[k - 1];
    double c = 1.0, s = 0.0;
    const double w = kTwoPi * f / b.sr;
    double cw = std::cos(w), sw = std::sin(w);
    for (std::int64_t i = s0; i < s1; ++i) {
      const double t = static_cast<double>(i - s0) / b.sr;
      double g = env;
      if (t < attack) g *= t / attack;
      const double left = dur - t;
      if (left < release) g *= left / release;
      if (vib_depth > 0.0 && ((i - s0) & 255) == 0) {  // update the rotation every 256 samples
        const double wv = w * std::pow(2.0, vib_depth / 12.0 * std::sin(kTwoPi * vib_hz * t));
        cw = std::cos(wv);
        sw = std::sin(wv);
      }
      b.x[i] += static_cast<float>(g * s);
      const double nc = c * cw - s * sw;
      s = c * sw + s * cw;
      c = nc;
      env *= per_sample;
    }
  }
}

// Kick: a sine sweeping from f0 down to f1 with an exponential decay.
void add_kick(Buffer& b, double start, double amp, double f0, double f1, double decay) {
  const std::int64_t s0 = b.at(start), n = b.at(decay * 5);
  double phase = 0.0;
  for (std::int64_t i = 0; i < n && s0 + i < static_cast<std::int64_t>(b.x.size()); ++i) {
    const double t = static_cast<double>(i) / b.sr;
    const double f = f1 + (f0 - f1) * std::exp(-t / 0.03);
    phase += kTwoPi * f / b.sr;
    b.x[s0 + i] += static_cast<float>(amp * std::exp(-t / decay) * std::sin(phase));
  }
}

// Noise burst through a one-pole filter: `bright` in (0, 1): 0 low-passed, 1 high-passed
// (hats, cymbals); plus an optional tone (snare body).
void add_noise_hit(Buffer& b, Rng& rng, double start, double amp, double decay, double bright,
                   double tone_hz = 0.0, double tone_amp = 0.0) {
  const std::int64_t s0 = b.at(start), n = b.at(decay * 5);
  double lp = 0.0, phase = 0.0;
  for (std::int64_t i = 0; i < n && s0 + i < static_cast<std::int64_t>(b.x.size()); ++i) {
    const double t = static_cast<double>(i) / b.sr;
    const double white = rng.uniform() * 2.0 - 1.0;
    lp += 0.25 * (white - lp);
    const double noise = bright * (white - lp) + (1.0 - bright) * lp;
    phase += kTwoPi * tone_hz / b.sr;
    const double e = std::exp(-t / decay);
    b.x[s0 + i] += static_cast<float>(amp * e * (noise + tone_amp * std::sin(phase)));
  }
}

std::vector<double> spectrum(int partials, double tilt, double odd_only = 0.0) {
  std::vector<double> a(partials);
  for (int k = 1; k <= partials; ++k) a[k - 1] = std::pow(k, -tilt) * ((k % 2 == 0) ? 1.0 - odd_only : 1.0);
  return a;
}

struct Genre {
  const char* name;
  double bpm_lo, bpm_hi;
  double swing;         // 0 straight .. 0.33 triplet shuffle
  const char* kick;     // 16 steps: 'x' hit, 'o' soft, '.' rest
  const char* snare;
  const char* hat;
  double drums;         // drum level (0 = none)
  double bright_lo, bright_hi;  // low-pass cutoff of the mix, Hz
  double noise_lo, noise_hi;    // noise floor level
};

// Index order = synth_genres() order.
const Genre kGenres[10] = {
    {"blues", 70, 95, 0.30, "x.....x.x.......", "....x.......x...", "x.x.x.x.x.x.x.x.", 0.5, 2500, 6000, 0.004, 0.02},
    {"classical", 60, 90, 0.0, "................", "................", "................", 0.0, 2000, 5000, 0.0005, 0.004},
    {"country", 100, 130, 0.0, "x.......x.......", "....x.......x...", "..x...x...x...x.", 0.6, 4000, 9000, 0.002, 0.01},
    {"disco", 115, 130, 0.0, "x...x...x...x...", "....x.......x...", "xxoxxxoxxxoxxxox", 0.8, 6000, 10500, 0.001, 0.008},
    {"hiphop", 80, 100, 0.12, "x......x..x.....", "....x.......x...", "x.x.x.x.x.x.x.xx", 0.9, 1800, 4500, 0.002, 0.01},
    {"jazz", 110, 180, 0.30, "x...............", "..............o.", "x...x.xx....x.xx", 0.35, 2500, 6500, 0.002, 0.01},
    {"metal", 140, 200, 0.0, "xxxxxxxxxxxxxxxx", "....x.......x...", "x.x.x.x.x.x.x.x.", 0.9, 7000, 10500, 0.02, 0.06},
    {"pop", 100, 125, 0.0, "x.......x.......", "....x.......x...", "x.x.x.x.x.x.x.x.", 0.7, 5000, 10000, 0.001, 0.006},
    {"reggae", 70, 90, 0.05, "........x.......", "........x.......", "..x...x...x...x.", 0.6, 3000, 7000, 0.002, 0.012},
    {"rock", 110, 140, 0.0, "x.......x.x.....", "....x.......x...", "x.x.x.x.x.x.x.x.", 0.8, 5000, 9500, 0.005, 0.02},
};

// Chord progressions (scale degrees in semitones from the key) per genre family.
const int kBlues[12] = {0, 0, 0, 0, 5, 5, 0, 0, 7, 5, 0, 7};
const int kPop[4] = {0, 7, 9, 5};
const int kRock[4] = {0, 5, 7, 5};
const int kJazz[4] = {2, 7, 0, 9};  // ii-V-I-vi

void render(Buffer& b, int genre, Rng& rng, Rng& noise_rng) {
  const Genre& g = kGenres[genre];
  const double bpm = rng.range(g.bpm_lo, g.bpm_hi);
  const double step = 60.0 / bpm / 4.0;
  const double bar = 16 * step;
  const double length = static_cast<double>(b.x.size()) / b.sr;
  const int key = 40 + rng.below(12);  // E2 .. D#3 for the bass
  const double drum_gain = g.drums * rng.range(0.6, 1.2);
  const double harm_gain = rng.range(0.5, 1.0);
  const double bass_gain = rng.range(0.4, 0.9);
  const double kick_hz = rng.range(45, 65), snare_hz = rng.range(160, 230);
  // Timbre varies per song: every instrument's partials roll off a little faster or slower.
  const double tilt_jitter = rng.range(-0.35, 0.35);
  auto spec = [&](int partials, double tilt) { return spectrum(partials, std::max(0.3, tilt + tilt_jitter)); };
  const bool minor = (genre == 4 || genre == 6) ? true : (genre == 1 || genre == 5) ? rng.chance(0.5) : false;
  const int third = minor ? 3 : 4;
  std::vector<float> guitar;  // distorted bus (metal, rock)
  Buffer dist{std::vector<float>(b.x.size(), 0.0f), b.sr};

  const int bars = static_cast<int>(std::ceil(length / bar));
  for (int n = 0; n < bars; ++n) {
    const double t0 = n * bar;
    // Step time with swing: odd 8th notes (steps 2, 6, 10, 14) are pushed late.
    auto at = [&](int s) { return t0 + s * step + ((s % 4 == 2) ? g.swing * 2 * step : 0.0); };
    int root = 0;
    switch (genre) {
      case 0: root = kBlues[n % 12]; break;
      case 5: root = kJazz[n % 4]; break;
      case 6: case 9: root = kRock[n % 4]; break;
      case 8: root = (n % 2) ? 5 : 0; break;
      case 1: root = kPop[(n / 2) % 4]; break;
      default: root = kPop[n % 4]; break;
    }
    // ---- drums
    if (drum_gain > 0.0) {
      for (int s = 0; s < 16; ++s) {
        const double v = rng.range(0.8, 1.0) * drum_gain;
        if (g.kick[s] != '.')
          add_kick(b, at(s), v * (g.kick[s] == 'x' ? 0.9 : 0.5), genre == 4 ? 110 : 150, kick_hz,
                   genre == 4 ? 0.25 : genre == 6 ? 0.05 : 0.1);
        if (g.snare[s] != '.') {
          if (genre == 7) add_noise_hit(b, noise_rng, at(s), v * 0.5, 0.05, 0.7);  // clap
          add_noise_hit(b, noise_rng, at(s), v * (g.snare[s] == 'x' ? 0.45 : 0.2), genre == 5 ? 0.12 : 0.08,
                        genre == 5 ? 0.3 : 0.5, snare_hz, 0.6);
        }
        if (g.hat[s] != '.') {
          const bool open = genre == 3 && s % 4 == 2;
          const double decay = genre == 5 ? 0.25 : open ? 0.12 : 0.025;  // jazz: ride cymbal
          add_noise_hit(b, noise_rng, at(s), v * (g.hat[s] == 'x' ? 0.18 : 0.1), decay, 0.95);
        }
      }
      if (genre == 6 || genre == 9) {
        if (n % 4 == 0) add_noise_hit(b, noise_rng, t0, drum_gain * 0.3, 0.6, 0.9);  // crash
      }
    }
    // ---- bass
    const double bass_root = key + root;
    switch (genre) {
      case 1:  // classical: cello line, long notes
        add_tone(b, t0, bar, midi_hz(bass_root), 0.25 * bass_gain, spec(6, 1.2), 0.15, 3.0, 0.1, 5.0, 0.1);
        break;
      case 3:  // disco: octave 8ths
        for (int s = 0; s < 16; s += 2)
          add_tone(b, at(s), step * 1.6, midi_hz(bass_root + ((s / 2) % 2 ? 12 : 0)), 0.35 * bass_gain,
                   spec(4, 1.5), 0.005, 0.2, 0.5);
        break;
      case 4:  // hiphop: long deep notes
        add_tone(b, at(0), bar * 0.45, midi_hz(bass_root - 12), 0.6 * bass_gain, spec(2, 2.0), 0.01, 0.8);
        add_tone(b, at(10), bar * 0.3, midi_hz(bass_root - 12), 0.5 * bass_gain, spec(2, 2.0), 0.01, 0.6);
        break;
      case 5: case 2:  // walking bass: quarter notes through chord tones
        for (int q = 0; q < 4; ++q) {
          const int walk[4] = {0, third, 7, (genre == 5) ? 10 : 12};
          add_tone(b, at(4 * q), step * 3.5, midi_hz(bass_root + walk[q]), 0.35 * bass_gain, spec(4, 1.3),
                   0.005, 0.4, 0.5);
        }
        break;
      case 8:  // reggae: deep, on 1 and the "and" of 2
        add_tone(b, at(0), step * 5, midi_hz(bass_root - 12), 0.6 * bass_gain, spec(3, 2.0), 0.01, 0.6);
        add_tone(b, at(6), step * 3, midi_hz(bass_root - 5), 0.5 * bass_gain, spec(3, 2.0), 0.01, 0.5);
        break;
      case 6: case 9:  // metal / rock: driving 8ths
        for (int s = 0; s < 16; s += 2)
          add_tone(b, at(s), step * 1.8, midi_hz(bass_root), 0.3 * bass_gain, spec(5, 1.0), 0.003, 0.3, 0.3);
        break;
      default:  // blues, pop: root and fifth halves
        add_tone(b, at(0), bar * 0.48, midi_hz(bass_root), 0.35 * bass_gain, spec(4, 1.4), 0.01, 0.6, 0.4);
        add_tone(b, at(8), bar * 0.48, midi_hz(bass_root + 7), 0.3 * bass_gain, spec(4, 1.4), 0.01, 0.6, 0.4);
        break;
    }
    // ---- harmony
    const double croot = key + 12 + root;
    std::vector<int> chord = {0, third, 7};
    if (genre == 0) chord = {0, 4, 7, 10};
    if (genre == 5) chord = {0, third, 7, 10, 14};
    if (genre == 6) chord = {0, 7, 12};  // power chord
    const double h = 0.12 * harm_gain;
    switch (genre) {
      case 0:  // blues: plucked chord on the beats, swung
        for (int s = 0; s < 16; s += 4)
          for (int c : chord) add_tone(b, at(s) + 0.012 * c, step * 3, midi_hz(croot + c), h, spec(12, 1.0), 0.003, 0.5, 0.35);
        break;
      case 1:  // classical: string pad, vibrato, melody above
        for (int c : chord)
          add_tone(b, t0, bar, midi_hz(croot + 12 + c), h * 0.8, spec(8, 1.1), 0.3, 4.0, 0.05, 5.5, 0.15);
        for (int q = 0; q < 4; ++q) {
          const int scale[7] = {0, 2, third, 5, 7, 9, 11};
          add_tone(b, t0 + q * 4 * step, step * 4, midi_hz(croot + 24 + scale[rng.below(7)]), h * 0.9, spec(6, 1.3),
                   0.08, 2.0, 0.05, 6.0, 0.2);
        }
        break;
      case 2:  // country: banjo rolls (16ths, bright plucks)
        for (int s = 0; s < 16; ++s) {
          const int c = chord[(s * 2 + n) % 3] + (s % 4 == 3 ? 12 : 0);
          add_tone(b, at(s), step * 1.5, midi_hz(croot + 12 + c), h * 0.8, spec(14, 0.7), 0.002, 0.15, 0.6);
        }
        break;
      case 3:  // disco: bright synth stabs on the off-beats, strings
        for (int s = 2; s < 16; s += 4)
          for (int c : chord) add_tone(b, at(s), step * 0.9, midi_hz(croot + 12 + c), h, spec(10, 0.8), 0.003, 0.1);
        for (int c : chord) add_tone(b, t0, bar, midi_hz(croot + 24 + c), h * 0.3, spec(6, 1.2), 0.2, 3.0, 0.0, 5.0, 0.1);
        break;
      case 4:  // hiphop: sparse dark keys
        if (n % 2 == 0)
          for (int c : chord) add_tone(b, at(0), bar * 0.9, midi_hz(croot + c), h * 0.7, spec(4, 2.0), 0.01, 1.0, 0.5);
        break;
      case 5:  // jazz: comping chords on syncopated spots, soft piano
        for (int s : {0, 6, 11})
          for (int c : chord) add_tone(b, at(s), step * 2.5, midi_hz(croot + c), h * 0.6, spec(8, 1.4), 0.004, 0.6, 0.4);
        break;
      case 6: case 9: {  // distorted power chords, 8ths (metal: 16ths palm mutes)
        const int every = genre == 6 ? 1 : 2;
        for (int s = 0; s < 16; s += every)
          for (int c : chord) add_tone(dist, at(s), step * every * 0.95, midi_hz(croot + c), 0.3, spec(8, 1.0), 0.002,
                                       genre == 6 ? 0.08 : 0.4);
        break;
      }
      case 7:  // pop: pad + vibrato lead
        for (int c : chord) add_tone(b, t0, bar, midi_hz(croot + 12 + c), h * 0.5, spec(6, 1.5), 0.05, 2.0);
        for (int q = 0; q < 8; ++q) {
          const int pent[5] = {0, 2, 4, 7, 9};
          add_tone(b, t0 + q * 2 * step, step * 2, midi_hz(croot + 24 + pent[rng.below(5)]), h * 0.9,
                   {1.0, 0.5, 0.35, 0.2, 0.1}, 0.02, 1.5, 0.0, 5.5, 0.3);
        }
        break;
      case 8:  // reggae: off-beat skank stabs
        for (int s = 2; s < 16; s += 4)
          for (int c : chord) add_tone(b, at(s), step * 0.7, midi_hz(croot + 12 + c), h * 1.2, spec(7, 1.0), 0.002, 0.06);
        break;
    }
  }
  if (genre == 6 || genre == 9) {
    // Overdrive: tanh saturation with a song-specific drive, a wall of harmonics.
    const double drive = genre == 6 ? rng.range(6.0, 12.0) : rng.range(2.0, 4.0);
    const double level = harm_gain * (genre == 6 ? 0.35 : 0.3);
    for (std::size_t i = 0; i < b.x.size(); ++i) b.x[i] += static_cast<float>(level * std::tanh(drive * dist.x[i]));
  }
  // Spectral balance: a song-specific "mastering" EQ - a one-pole low-pass whose cutoff
  // spreads well past the class's range, plus a random bass shelf - then the noise floor.
  // Classes lean bright or dark but overlap, so the average spectrum alone is a weak cue.
  const double cutoff = std::exp(rng.range(std::log(g.bright_lo * 0.5), std::log(std::min(10500.0, g.bright_hi * 1.6))));
  const double a = 1.0 - std::exp(-kTwoPi * cutoff / b.sr);
  const double bass_shelf = rng.range(-0.6, 1.2);
  const double ab = 1.0 - std::exp(-kTwoPi * 250.0 / b.sr);
  const double noise = std::exp(rng.range(std::log(g.noise_lo * 0.5), std::log(g.noise_hi * 2.0)));
  const double noise_colour = rng.range(0.0, 0.9);  // 0 white .. 0.9 strongly low-passed hiss
  // A three-band "mastering" EQ (crossovers at 300 Hz and 3 kHz), each band +-9 dB per song.
  const double g_low = std::pow(10.0, rng.range(-9.0, 9.0) / 20.0), g_mid = std::pow(10.0, rng.range(-6.0, 6.0) / 20.0),
               g_high = std::pow(10.0, rng.range(-9.0, 9.0) / 20.0);
  const double a300 = 1.0 - std::exp(-kTwoPi * 300.0 / b.sr), a3k = 1.0 - std::exp(-kTwoPi * 3000.0 / b.sr);
  double y = 0.0, low = 0.0, hiss = 0.0, lp300 = 0.0, lp3k = 0.0;
  for (std::size_t i = 0; i < b.x.size(); ++i) {
    y += a * (b.x[i] - y);
    low += ab * (y - low);
    const double shelved = y + bass_shelf * low;
    lp300 += a300 * (shelved - lp300);
    lp3k += a3k * (shelved - lp3k);
    const double eq = g_low * lp300 + g_mid * (lp3k - lp300) + g_high * (shelved - lp3k);
    hiss += (1.0 - noise_colour) * ((noise_rng.uniform() * 2.0 - 1.0) - hiss);
    b.x[i] = static_cast<float>(eq + noise * hiss);
  }
  // Loudness: peak-normalise to a song-specific level (classical quieter, metal hotter).
  float peak = 1e-6f;
  for (float v : b.x) peak = std::max(peak, std::fabs(v));
  const double target = genre == 1 ? rng.range(0.2, 0.6) : genre == 6 ? rng.range(0.8, 0.98) : rng.range(0.5, 0.95);
  const float gain = static_cast<float>(target / peak);
  for (float& v : b.x) v *= gain;
}

// Temporary name then rename, so a killed run never leaves a torn WAV. No fsync: the songs
// are regenerated bit for bit from the seed, and 1000 fsyncs would dominate the run time.
void write_song(const std::string& path, const std::string& bytes) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    GN_REQUIRE(out.good(), "synth: cannot write ", tmp);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  GN_REQUIRE(!ec, "synth: cannot rename ", tmp, " to ", path, " (", ec.message(), ")");
}

}  // namespace

const std::vector<std::string>& synth_genres() {
  static const std::vector<std::string> names = {"blues", "classical", "country", "disco", "hiphop",
                                                 "jazz",  "metal",     "pop",     "reggae", "rock"};
  return names;
}

std::vector<float> synth_song(int genre, int index, std::uint64_t seed, double seconds, int sample_rate) {
  GN_REQUIRE(genre >= 0 && genre < 10, "synth: genre ", genre, " out of range [0, 10)");
  GN_REQUIRE(index >= 0, "synth: negative song index ", index);
  GN_REQUIRE(std::isfinite(seconds) && seconds >= 1.0 && seconds <= 600.0, "synth: --seconds ", seconds,
             " must be in [1, 600]");
  GN_REQUIRE(sample_rate >= 8000 && sample_rate <= 192000, "synth: sample rate ", sample_rate, " out of range");
  Buffer b{std::vector<float>(static_cast<std::size_t>(std::llround(seconds * sample_rate)), 0.0f), sample_rate};
  // Song identity for Philox: (genre, index) in the step word; two streams so that the
  // musical choices do not shift when a noise burst's length changes.
  const std::uint64_t song = (static_cast<std::uint64_t>(genre) << 32) | static_cast<std::uint32_t>(index);
  Rng rng(seed, song, 0x5e1ec7u), noise(seed, song, 0x0015eu);
  render(b, genre, rng, noise);
  return b.x;
}

int write_synth_dataset(const SynthOptions& o) {
  namespace fs = std::filesystem;
  GN_REQUIRE(!o.out_dir.empty(), "synth: --out is required");
  GN_REQUIRE(o.songs_per_genre >= 1 && o.songs_per_genre <= 100000, "synth: --songs-per-genre ",
             o.songs_per_genre, " must be in [1, 100000]");
  (void)synth_song(0, 0, o.seed, o.seconds, o.sample_rate);  // validates the options up front
  std::error_code ec;
  for (const std::string& g : synth_genres()) {
    fs::create_directories(fs::path(o.out_dir) / g, ec);
    GN_REQUIRE(!ec && fs::is_directory(fs::path(o.out_dir) / g), "synth: cannot create ",
               (fs::path(o.out_dir) / g).string(), " (", ec.message(), ")");
  }
  const int total = 10 * o.songs_per_genre;
  ProgressBar bar("synth", total, "songs", o.progress ? stderr : nullptr);
  std::string error;
#pragma omp parallel for schedule(dynamic, 1)
  for (int i = 0; i < total; ++i) {
    const int genre = i % 10, index = i / 10;
    try {
      const std::vector<float> x = synth_song(genre, index, o.seed, o.seconds, o.sample_rate);
      char name[64];
      std::snprintf(name, sizeof(name), "%s.%05d.wav", synth_genres()[genre].c_str(), index);
      write_song((fs::path(o.out_dir) / synth_genres()[genre] / name).string(), encode_wav16(x, o.sample_rate));
    } catch (const std::exception& e) {
#pragma omp critical(synth_error)
      if (error.empty()) error = e.what();
    }
#pragma omp critical(synth_progress)
    bar.advance();
  }
  GN_REQUIRE(error.empty(), "synth: ", error);
  bar.finish();
  return total;
}

}  // namespace gn
