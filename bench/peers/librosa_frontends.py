#!/usr/bin/env python3
"""NumPy/librosa peer of GenreNet's two front-ends, for side-by-side timings.

  seed    : per clip |FFT(clip, n=32700)|, then |STFT| (n_fft 1024, hop 256, periodic Hann,
            centred) of that magnitude sequence, raw reshape (513,128) -> (128,513)
  logstft : per 3 s clip, |STFT| (n_fft 1024, hop giving 128 frames), log, per-bin standardised
Prints one JSON object with clips per second for each (single process; NumPy's own threads).
"""
import argparse
import json
import time

import librosa
import numpy as np


def seed_frontend(clip):
    mag = np.abs(np.fft.fft(clip, n=32700))
    spec = np.abs(librosa.stft(mag, n_fft=1024, hop_length=256))
    return spec.reshape(128, 513)


def logstft_frontend(clip, hop, mean, std):
    spec = np.abs(librosa.stft(clip, n_fft=1024, hop_length=hop))[:, :128]
    return ((np.log(spec + 1e-6).T) - mean) / std


def rate(fn, clips, seconds=5.0):
    fn(clips[0])
    done, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn(clips[done % len(clips)])
        done += 1
    return done / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    sr = 22050
    seed_clips = [rng.standard_normal(66150).astype(np.float32) for _ in range(4)]  # 10% of 30 s
    n = 3 * sr
    hop = (n - 1) // 127  # 128 frames with centring
    log_clips = [rng.standard_normal(n).astype(np.float32) for _ in range(4)]
    mean, std = np.zeros(513, np.float32), np.ones(513, np.float32)
    print(json.dumps({
        "peer": "librosa " + librosa.__version__ + " / numpy " + np.__version__,
        "seed_clips_per_s": rate(seed_frontend, seed_clips, args.seconds),
        "logstft_clips_per_s": rate(lambda c: logstft_frontend(c, hop, mean, std), log_clips, args.seconds),
    }))


if __name__ == "__main__":
    main()
