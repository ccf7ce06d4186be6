#!/usr/bin/env python3
"""PyTorch peer of GenreNet's RCNN, for side-by-side timings (bench/compare.sh).

The same network as the reference Keras model (docs/design.md): same shapes, TF "same" padding
(extra pixel bottom/right), BatchNorm eps 1e-3 / momentum 0.01 (Keras 0.99), BiLSTM 128 x2,
Dense 10, Adam (eps 1e-7), batch 32, and the same thread count as GenreNet. It measures:
  * train_step_ms: forward + backward + Adam on a batch of 32 clips (128 x 513)
  * infer_song_ms: inference on the 19 clips of one 30 s song (front-end excluded)
Prints one JSON object.
"""
import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class SameConv(nn.Module):
    """Conv2d with TensorFlow's "same" padding: pad top/left floor(total/2), rest bottom/right."""

    def __init__(self, cin, cout, k, s):
        super().__init__()
        self.k, self.s = k, s
        self.conv = nn.Conv2d(cin, cout, k, s)

    def forward(self, x):
        ih, iw = x.shape[-2:]
        ph = max((math.ceil(ih / self.s) - 1) * self.s + self.k - ih, 0)
        pw = max((math.ceil(iw / self.s) - 1) * self.s + self.k - iw, 0)
        x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))
        return self.conv(x)


class RCNN(nn.Module):
    def __init__(self, classes=10, units=128):
        super().__init__()
        spec = [(1, 16, 2, 2, True, 0.2), (16, 32, 3, 2, True, 0.0), (32, 64, 3, 2, True, 0.2),
                (64, 128, 4, 1, True, 0.0), (128, 64, 4, 1, False, 0.0)]
        layers = []
        for cin, cout, k, s, pool, drop in spec:
            layers += [SameConv(cin, cout, k, s), nn.ReLU(), nn.BatchNorm2d(cout, eps=1e-3, momentum=0.01)]
            if pool:
                layers.append(nn.MaxPool2d(2))
            if drop:
                layers.append(nn.Dropout(drop))
        self.cnn = nn.Sequential(*layers)
        self.cnn_drop = nn.Dropout(0.2)
        self.lstm1 = nn.LSTM(128, units, batch_first=True, bidirectional=True)
        self.lstm2 = nn.LSTM(2 * units, units, batch_first=True, bidirectional=True)
        self.rnn_drop = nn.Dropout(0.5)
        self.dense = nn.Linear(2 * units, classes)

    def forward(self, x):  # x: (N, 1, 128, 513) NCHW
        c = self.cnn(x)                                   # (N, 64, 1, 4)
        c = self.cnn_drop(c.permute(0, 2, 3, 1).flatten(1))  # NHWC flatten order, 256
        r = F.max_pool2d(F.max_pool2d(x, (1, 2)), (1, 2)).squeeze(1)  # (N, 128, 128)
        r, _ = self.lstm1(r)
        _, (h, _) = self.lstm2(r)                         # h: (2, N, units)
        r = self.rnn_drop(torch.cat([h[0], h[1]], dim=1))
        return self.dense(c + r)


def timed(fn, repeats):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return 1000 * times[len(times) // 2]  # median, ms


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = RCNN()
    opt = torch.optim.Adam(model.parameters(), lr=0.005, eps=1e-7)
    x = torch.randn(args.batch, 1, 128, 513)
    y = torch.randint(0, 10, (args.batch,))

    def train_step():
        model.train()
        opt.zero_grad(set_to_none=False)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    song = torch.randn(19, 1, 128, 513)

    def infer_song():
        model.eval()
        with torch.no_grad():
            F.softmax(model(song), dim=1).mean(0)

    result = {
        "peer": "pytorch",
        "torch_version": torch.__version__,
        "threads": args.threads,
        "batch": args.batch,
        "train_step_ms": timed(train_step, args.repeats),
        "infer_song_ms": timed(infer_song, args.repeats),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
