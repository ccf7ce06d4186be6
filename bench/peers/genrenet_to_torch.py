#!/usr/bin/env python3
"""Loads a GenreNet checkpoint into the PyTorch RCNN of torch_rcnn.py (docs/checkpoint.md has the
layouts and the mapping). Needs numpy and torch; reads the safetensors file itself.

    python3 bench/peers/genrenet_to_torch.py CKPT SPECTROGRAMS.npy
prints the probabilities of each clip of a (clips, 128, 513, 1) float32 array of model inputs.
"""
import json
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def read_checkpoint(path):
    """({name: float32 array}, {metadata key: JSON-decoded value or text}) of a GenreNet checkpoint."""
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    body = data[8 + n:]
    tensors = {k: np.frombuffer(body[v["data_offsets"][0]:v["data_offsets"][1]], "<f4").reshape(v["shape"])
               for k, v in header.items() if v["dtype"] == "F32"}
    for key in ("model_config", "labels", "frontend", "clip_scheme"):
        if meta.get(key):
            meta[key] = json.loads(meta[key])
    return tensors, meta


def torch_state_dict(tensors, model):
    """GenreNet (Keras layouts) -> the state_dict of torch_rcnn.RCNN `model`."""
    import torch
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a))
    state = {}
    convs = [name for name, m in model.cnn.named_children() if type(m).__name__ == "SameConv"]
    norms = [name for name, m in model.cnn.named_children() if isinstance(m, torch.nn.BatchNorm2d)]
    for i, (conv, bn) in enumerate(zip(convs, norms), start=1):
        state[f"cnn.{conv}.conv.weight"] = t(tensors[f"cnn.conv{i}.kernel"].transpose(3, 2, 0, 1))  # HWIO -> OIHW
        state[f"cnn.{conv}.conv.bias"] = t(tensors[f"cnn.conv{i}.bias"])
        state[f"cnn.{bn}.weight"] = t(tensors[f"cnn.bn{i}.gamma"])
        state[f"cnn.{bn}.bias"] = t(tensors[f"cnn.bn{i}.beta"])
        state[f"cnn.{bn}.running_mean"] = t(tensors[f"cnn.bn{i}.moving_mean"])
        state[f"cnn.{bn}.running_var"] = t(tensors[f"cnn.bn{i}.moving_var"])
        state[f"cnn.{bn}.num_batches_tracked"] = torch.tensor(0)
    for layer in (1, 2):
        for direction, suffix in (("fwd", ""), ("bwd", "_reverse")):
            p = f"rnn.lstm{layer}.{direction}"
            # PyTorch's gate order i, f, g, o is Keras's i, f, c, o: only a transpose. Keras has one
            # bias; PyTorch adds two (b_ih + b_hh), so one takes it and the other is zero.
            state[f"lstm{layer}.weight_ih_l0{suffix}"] = t(tensors[p + ".kernel"].T)            # (4U, In)
            state[f"lstm{layer}.weight_hh_l0{suffix}"] = t(tensors[p + ".recurrent_kernel"].T)  # (4U, U)
            state[f"lstm{layer}.bias_ih_l0{suffix}"] = t(tensors[p + ".bias"])
            state[f"lstm{layer}.bias_hh_l0{suffix}"] = t(np.zeros_like(tensors[p + ".bias"]))
    state["dense.weight"] = t(tensors["head.dense.kernel"].T)  # (classes, 2U)
    state["dense.bias"] = t(tensors["head.dense.bias"])
    return state


def load_torch_model(checkpoint):
    """The torch_rcnn.RCNN in eval mode with the checkpoint's weights, and the metadata."""
    from torch_rcnn import RCNN
    tensors, meta = read_checkpoint(checkpoint)
    config = meta["model_config"]
    assert config["lstm_layers"] == 2 and len(config["conv"]) == 5, "torch_rcnn.py has the reference architecture only"
    model = RCNN(classes=config["classes"], units=config["lstm_units"])
    model.load_state_dict(torch_state_dict(tensors, model), strict=True)
    return model.eval(), meta


def predict(model, spectrograms):
    """(clips, T, F, 1) float32 model inputs -> (clips, classes) probabilities."""
    import torch
    with torch.no_grad():
        x = torch.from_numpy(np.ascontiguousarray(spectrograms.transpose(0, 3, 1, 2)))  # NHWC -> NCHW
        return torch.softmax(model(x), dim=1).numpy()


if __name__ == "__main__":
    model, meta = load_torch_model(sys.argv[1])
    probabilities = predict(model, np.load(sys.argv[2]))
    for row in probabilities:
        print(" ".join(f"{label} {p:.4f}" for label, p in zip(meta["labels"], row)))
