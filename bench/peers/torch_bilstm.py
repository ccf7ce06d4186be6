#!/usr/bin/env python3
"""PyTorch peer of bench/bench_bilstm.cpp: nn.LSTM(bidirectional=True, batch_first=True) at
the RCNN's two BiLSTM shapes (batch 32, T 128, units 128; inputs 128 then 256), forward and
forward + backward, same thread count as GenreNet (default 2). With --genrenet PATH it first
runs GenreNet's bench_bilstm binary (CPU cases) so both are measured back to back in one run,
and prints a table with the ratios. The two are alternated for --rounds rounds and each case
reports its fastest time: on a shared machine the minimum is the number least disturbed by
other processes, and both sides get the same treatment.

  python3 bench/peers/torch_bilstm.py --genrenet build/<dir>/bin/bench_bilstm
"""
import argparse
import json
import subprocess
import time

import torch

B, T, U = 32, 128, 128
LAYERS = [("layer1", 128, True), ("layer2", 256, False)]


def time_torch(in_size, sequences, backward, repeats):
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(in_size, U, batch_first=True, bidirectional=True)
    x = torch.randn(B, T, in_size, requires_grad=backward)

    def step():
        if backward:
            lstm.zero_grad(set_to_none=True)
            y, (h, _) = lstm(x)
            out = y if sequences else torch.cat([y[:, -1, :U], y[:, 0, U:]], dim=1)
            out.backward(torch.ones_like(out) * 0.01)
        else:
            with torch.no_grad():
                y, _ = lstm(x)

    for _ in range(2):
        step()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return 1000 * min(times)  # ms


def time_genrenet(binary, repeats):
    out = subprocess.run([binary, "--benchmark_filter=CPU", "--benchmark_format=json",
                          f"--benchmark_repetitions={repeats}"],
                         check=True, capture_output=True, text=True).stdout
    result = {}
    for b in json.loads(out)["benchmarks"]:
        if b.get("run_type") == "iteration":
            # "BiLSTM/CPU/layer1/forward_backward/real_time" -> (layer1, forward_backward)
            parts = b["run_name"].split("/")
            key = (parts[2], parts[3])
            result[key] = min(result.get(key, float("inf")), b["real_time"])
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--genrenet", help="path to GenreNet's bench_bilstm binary")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    ours, theirs = {}, {}
    for _ in range(args.rounds):
        if args.genrenet:
            for key, ms in time_genrenet(args.genrenet, args.repeats).items():
                ours[key] = min(ours.get(key, float("inf")), ms)
        for name, in_size, seq in LAYERS:
            for mode, backward in (("forward", False), ("forward_backward", True)):
                ms = time_torch(in_size, seq, backward, args.repeats)
                theirs[(name, mode)] = min(theirs.get((name, mode), float("inf")), ms)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {B}, T {T}, units {U}; "
          f"fastest of {args.rounds} rounds x {args.repeats} runs, ms")
    print(f"{'case':34s} {'PyTorch':>9s} {'GenreNet':>9s} {'speed-up':>9s}")
    for name, in_size, seq in LAYERS:
        for mode, backward in (("forward", False), ("forward_backward", True)):
            t = theirs[(name, mode)]
            g = ours.get((name, mode))
            gs = f"{g:9.1f} {t / g:8.2f}x" if g else f"{'-':>9s} {'-':>9s}"
            print(f"{name + ' ' + mode:34s} {t:9.1f} {gs}")


if __name__ == "__main__":
    main()
