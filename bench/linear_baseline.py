#!/usr/bin/env python3
"""How hard is a data set for a linear model? Multinomial logistic regression (NumPy only) on each
song's mean log-magnitude spectrum (STFT 1024 / hop 512, 513 bins, standardised per bin), scored
by 5-fold cross-validation stratified by genre, song level. For the synthetic set (`genrenet
synth`) the answer says whether the demo's task is learnable but not trivial.

  python3 bench/linear_baseline.py data/synth          (WAV songs, one sub-folder per genre)
"""
import argparse
import os
import sys
import wave

import numpy as np


def read_wav(path):
    with wave.open(path, "rb") as w:
        assert w.getsampwidth() == 2, f"{path}: only 16-bit PCM"
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
        return x.reshape(-1, w.getnchannels()).mean(axis=1)


def mean_log_spectrum(x, n_fft=1024, hop=512):
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft)[::hop] * np.hanning(n_fft)
    return np.log(np.abs(np.fft.rfft(frames, axis=1)) + 1e-6).mean(axis=0)


def fit(X, y, classes, l2, steps=2000, lr=0.5):
    """Softmax regression by full-batch gradient descent (convex: the optimum, not a tuned run)."""
    W = np.zeros((X.shape[1], classes))
    b = np.zeros(classes)
    Y = np.eye(classes)[y]
    for _ in range(steps):
        z = X @ W + b
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        g = (p - Y) / len(y)
        W -= lr * (X.T @ g + l2 * W)
        b -= lr * g.sum(axis=0)
    return W, b


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data")
    ap.add_argument("--folds", type=int, default=5)
    args = ap.parse_args()
    genres = sorted(d for d in os.listdir(args.data) if os.path.isdir(os.path.join(args.data, d)))
    if not genres:
        sys.exit(f"{args.data}: no genre folders")
    feats, labels, folds = [], [], []
    for k, g in enumerate(genres):
        songs = sorted(f for f in os.listdir(os.path.join(args.data, g)) if f.endswith(".wav"))
        for i, f in enumerate(songs):
            feats.append(mean_log_spectrum(read_wav(os.path.join(args.data, g, f))))
            labels.append(k)
            folds.append(i % args.folds)  # stratified: each fold holds 1/folds of every genre
    X, y, folds = np.array(feats), np.array(labels), np.array(folds)
    print(f"{len(y)} songs, {len(genres)} genres, {X.shape[1]} features (mean log spectrum)")
    for l2 in (1e-3, 1e-2, 1e-1):
        train_acc, test_acc = [], []
        for f in range(args.folds):
            tr, te = folds != f, folds == f
            mu, sd = X[tr].mean(axis=0), X[tr].std(axis=0) + 1e-6
            W, b = fit((X[tr] - mu) / sd, y[tr], len(genres), l2)
            train_acc.append(np.mean(np.argmax((X[tr] - mu) / sd @ W + b, axis=1) == y[tr]))
            test_acc.append(np.mean(np.argmax((X[te] - mu) / sd @ W + b, axis=1) == y[te]))
        print(f"L2 {l2:g}: train accuracy {100 * np.mean(train_acc):.1f}%, held-out song accuracy "
              f"{100 * np.mean(test_acc):.1f}% (+- {100 * np.std(test_acc):.1f} over {args.folds} folds)")


if __name__ == "__main__":
    main()
