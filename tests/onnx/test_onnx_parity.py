#!/usr/bin/env python3
"""ONNX export parity: onnxruntime runs the models `genrenet export` writes on every clip of the
real songs, against `genrenet predict --json --clips` on the same songs.

Two models: the reference Keras model (`genrenet import-keras`, `seed` front-end, reference
clip scheme) and one trained here for one epoch on a small synthetic set (`logstft` front-end
with standardisation statistics, fixed 3 s clips). Both engines get the same input: the clips'
spectrograms are written by a tool that calls the functions `genrenet predict` calls, so the
comparison isolates the exported graph.

Bound on the per-clip max |dp| (probabilities in [0, 1]): BOUND = 5e-5. Both engines evaluate
the same float32 network (u = 2^-24 = 6e-8) with different summation orders and different
exp / tanh / sigmoid implementations. A float32 dot product of K terms carries a relative error
of order sqrt(K) u; the longest here has K = 4 x 4 x 128 = 2048 (the fourth Conv), so each
engine's logits are off by about 45 u relative, and the two engines' logits differ by at most
2 x 45 u x Z, with Z ~ 20 the spread of the logits on these songs (clip probabilities reach
1e-10 next to 0.99: ln ratio ~ 23). The LSTM does not amplify this (sigmoid / tanh slopes <= 1,
forget gates < 1). The softmax halves it: |dp_i| = p_i |dz_i - sum_j p_j dz_j| <= max|dz| / 2.
So |dp| <= 45 u Z ~ 5e-5. Measured: ~1.4e-6 (reference) and ~3e-7 (trained), 35x inside.
Mistakes the bound must catch (checked below, each must exceed 20 x the bound): the Keras gate
order i,f,c,o left unconverted in the LSTM, and the 'same' padding's odd extra pixel put before
instead of after.

The same comparison loads each checkpoint into the PyTorch RCNN of bench/peers
(bench/peers/genrenet_to_torch.py, the mapping of docs/checkpoint.md) and runs it on the same
inputs, within the same bound (PyTorch is one more float32 engine); skipped with a message
when torch cannot be imported.

Exit status 77 (a skip for CTest) when onnxruntime / numpy cannot be imported or ../shared is
absent. The mutation checks need the `onnx` package and are skipped with a message without it.
"""
import argparse
import glob
import json
import os
import shutil
import subprocess
import sys

BOUND = 5e-5
SKIP = 77


def skip(message):
    print(f"SKIP: {message}")
    sys.exit(SKIP)


try:
    import numpy as np
    import onnxruntime as ort
except ImportError as e:
    skip(f"onnxruntime/numpy cannot be imported ({e}); `pip install onnxruntime numpy` to run this test")


def run(cmd, **kw):
    result = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if result.returncode != 0:
        sys.exit(f"FAILED: {' '.join(cmd)}\n{result.stdout}\n{result.stderr}")
    return result.stdout


def predict_clips(genrenet, ckpt, songs):
    """{song file name: (clips, classes) array in label order} from `genrenet predict`."""
    out = run([genrenet, "predict", "--model", ckpt, "--device", "cpu", "--json", "--clips", *songs])
    result = {}
    for line in out.splitlines():
        song = json.loads(line)
        result[os.path.basename(song["file"])] = song
    return result


def onnx_clips(session, spectrogram_dir, song):
    x = np.load(os.path.join(spectrogram_dir, os.path.basename(song) + ".npy"))
    return session.run(["probabilities"], {"spectrogram": x})[0]


def max_dp(model_bytes, args, spectrogram_dir, predicted, labels, songs):
    """Per-clip max |dp| over every clip of every song; also checks the clip counts."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
    worst, clips = 0.0, 0
    for song in songs:
        p_onnx = onnx_clips(session, spectrogram_dir, song)
        cli = predicted[os.path.basename(song)]["clips"]
        assert len(cli) == p_onnx.shape[0], f"{song}: {len(cli)} clips from predict, {p_onnx.shape[0]} from ONNX"
        p_cli = np.array([[c["probabilities"][label] for label in labels] for c in cli])
        worst = max(worst, float(np.abs(p_onnx - p_cli).max()))
        clips += p_onnx.shape[0]
    return worst, clips


def check_model(name, ckpt, args, songs):
    work = os.path.join(args.work, name)
    os.makedirs(work, exist_ok=True)
    onnx_path = os.path.join(work, "model.onnx")
    run([args.genrenet, "export", "--model", ckpt, "--format", "onnx", "-o", onnx_path])
    run([args.spectrograms, ckpt, work, *songs])
    with open(onnx_path, "rb") as f:
        model_bytes = f.read()
    meta = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"]).get_modelmeta()
    labels = json.loads(meta.custom_metadata_map["genrenet.labels"])
    for key in ("genrenet.frontend", "genrenet.clip_scheme", "genrenet.model_config"):
        json.loads(meta.custom_metadata_map[key])  # present and valid JSON
    predicted = predict_clips(args.genrenet, ckpt, songs)
    worst, clips = max_dp(model_bytes, args, work, predicted, labels, songs)
    print(f"{name}: {clips} clips of {len(songs)} songs, per-clip max |dp| = {worst:.3g} (bound {BOUND:g})")
    assert worst <= BOUND, f"{name}: ONNX Runtime differs from genrenet predict by {worst:.3g} > {BOUND:g}"
    check_torch(name, ckpt, work, predicted, labels, songs)
    return model_bytes, work, predicted, labels


def check_torch(name, ckpt, spectrogram_dir, predicted, labels, songs):
    """The checkpoint loaded into bench/peers' PyTorch RCNN, on the same inputs."""
    try:
        import torch
    except (ImportError, OSError) as e:  # a torch wheel without its CUDA libraries raises on import
        print(f"{name}: PyTorch mapping check skipped: torch cannot be imported ({e})")
        return
    torch.set_num_threads(2)
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench", "peers"))
    import genrenet_to_torch
    model, meta = genrenet_to_torch.load_torch_model(ckpt)
    assert meta["labels"] == labels
    worst = 0.0
    for song in songs:
        x = np.load(os.path.join(spectrogram_dir, os.path.basename(song) + ".npy"))
        p_torch = genrenet_to_torch.predict(model, x)
        cli = predicted[os.path.basename(song)]["clips"]
        p_cli = np.array([[c["probabilities"][label] for label in labels] for c in cli])
        worst = max(worst, float(np.abs(p_torch - p_cli).max()))
    print(f"{name}: PyTorch RCNN (bench/peers) per-clip max |dp| = {worst:.3g} (bound {BOUND:g})")
    assert worst <= BOUND, f"{name}: PyTorch differs from genrenet predict by {worst:.3g} > {BOUND:g}"


def mutations(model_bytes):
    """(what, mutated model bytes) for the two mistakes the parity must catch."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load_from_string(model_bytes)
    inits = {t.name: t for t in model.graph.initializer}

    # 1. LSTM gates left in Keras order: ONNX blocks i,o,f,c hold Keras's i,f,c,o instead.
    gates = onnx.ModelProto()
    gates.CopyFrom(model)
    for t in gates.graph.initializer:
        if t.name.startswith("rnn.lstm") and t.name[-2:] in (".W", ".R", ".B"):
            a = numpy_helper.to_array(t)
            u4 = a.shape[1] if t.name.endswith((".W", ".R")) else a.shape[1] // 2
            u = u4 // 4
            i, o, f, c = (a[:, k * u:(k + 1) * u] for k in range(4))  # correct ONNX blocks
            wrong = np.concatenate([i, f, c, o], axis=1)  # Keras order, unconverted
            if t.name.endswith(".B"):
                wrong = np.concatenate([wrong, a[:, u4:]], axis=1)
            t.CopyFrom(numpy_helper.from_array(np.ascontiguousarray(wrong), t.name))

    # 2. Asymmetric 'same' padding mirrored: the odd extra pixel before instead of after.
    pads = onnx.ModelProto()
    pads.CopyFrom(model)
    mirrored = 0
    for node in pads.graph.node:
        if node.op_type == "Conv":
            for a in node.attribute:
                if a.name == "pads" and (a.ints[0] != a.ints[2] or a.ints[1] != a.ints[3]):
                    a.ints[:] = [a.ints[2], a.ints[3], a.ints[0], a.ints[1]]
                    mirrored += 1
    assert mirrored > 0, "no Conv with asymmetric padding: the padding mutation would test nothing"
    assert inits, "no initializers"
    return [("LSTM gates in Keras order", gates.SerializeToString()),
            (f"'same' padding mirrored in {mirrored} Conv(s)", pads.SerializeToString())]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--genrenet", required=True)
    parser.add_argument("--spectrograms", required=True, help="the clip_spectrograms test tool")
    parser.add_argument("--shared", required=True)
    parser.add_argument("--work", required=True)
    args = parser.parse_args()

    songs = sorted(glob.glob(os.path.join(args.shared, "seed", "gtzan-sample", "*.wav")))
    keras = [os.path.join(args.shared, "seed", f) for f in ("model.json", "model_weights.h5")]
    if not songs or not all(os.path.exists(f) for f in keras):
        skip(f"{args.shared}/seed (real songs and the Keras model) is absent")
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)

    # The reference model.
    reference = os.path.join(args.work, "reference.safetensors")
    run([args.genrenet, "import-keras", *keras, "-o", reference])
    ref_bytes, ref_work, ref_predicted, ref_labels = check_model("reference", reference, args, songs)

    # A model trained by GenreNet: one epoch of the reference architecture on a small synthetic set.
    synth = os.path.join(args.work, "synth")
    run([args.genrenet, "synth", "--out", synth, "--songs-per-genre", "5", "--seconds", "6", "--quiet"])
    run_dir = os.path.join(args.work, "run")
    run([args.genrenet, "train", "--data", synth, "--out", run_dir, "--epochs", "1", "--device", "cpu", "--quiet",
         "--cache", os.path.join(args.work, "cache")])
    check_model("trained", os.path.join(run_dir, "best.safetensors"), args, songs)

    # The parity must fail for the mistakes an exporter can make.
    try:
        mutated = mutations(ref_bytes)
    except ImportError as e:
        print(f"mutation checks skipped: the onnx package cannot be imported ({e})")
        return
    for what, model_bytes in mutated:
        worst, _ = max_dp(model_bytes, args, ref_work, ref_predicted, ref_labels, songs)
        print(f"mutation '{what}': per-clip max |dp| = {worst:.3g}")
        assert worst > 20 * BOUND, f"mutation '{what}' is not caught: max |dp| {worst:.3g} <= 20 x bound"
    print("OK")


if __name__ == "__main__":
    main()
