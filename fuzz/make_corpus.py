#!/usr/bin/env python3
"""Seed inputs for the loader fuzzers (small, so mutations stay fast):

  corpus/checkpoint/micro.safetensors   a valid GenreNet checkpoint of the smallest RCNN
                                        (input 2 x 4, one conv of 2 filters, one BiLSTM of 8)
  corpus/checkpoint/micro_checksum.safetensors  the same with the data checksum GenreNet writes
  corpus/keras_import/micro.bin         that RCNN built in tf_keras, framed for
                                        fuzz_keras_import: u32le len(model.json) | model.json |
                                        weights .h5 (save_weights, Keras HDF5 layout, name lists
                                        as fixed-length strings like Keras 2.4 wrote them)

Usage: python3 fuzz/make_corpus.py   (needs numpy, safetensors, tensorflow + tf-keras)
"""
import json
import os
import struct
import tempfile

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
from safetensors.numpy import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
UNITS, FILTERS, CLASSES = 8, 2, 10


def micro_checkpoint(path):
    rng = np.random.default_rng(0)
    t = lambda *shape: rng.uniform(-1, 1, shape).astype(np.float32)
    tensors = {
        "cnn.conv1.kernel": t(1, 1, 1, FILTERS), "cnn.conv1.bias": t(FILTERS),
        "cnn.bn1.gamma": t(FILTERS), "cnn.bn1.beta": t(FILTERS),
        "cnn.bn1.moving_mean": t(FILTERS), "cnn.bn1.moving_var": np.ones(FILTERS, np.float32),
        "head.dense.kernel": t(2 * UNITS, 2), "head.dense.bias": t(2),
    }
    for d in ("fwd", "bwd"):
        tensors[f"rnn.lstm1.{d}.kernel"] = t(1, 4 * UNITS)
        tensors[f"rnn.lstm1.{d}.recurrent_kernel"] = t(UNITS, 4 * UNITS)
        tensors[f"rnn.lstm1.{d}.bias"] = t(4 * UNITS)
    config = {"time_frames": 2, "freq_bins": 4,
              "conv": [{"filters": FILTERS, "kernel": 1, "stride": 1, "pool": False, "dropout": 0.0}],
              "cnn_dropout": 0.2, "rnn_freq_pools": 2, "lstm_units": UNITS, "lstm_layers": 1,
              "rnn_dropout": 0.5, "classes": 2, "bn_momentum": 0.99, "bn_epsilon": 0.001}
    metadata = {"format": "genrenet-checkpoint", "format_version": "1", "model_config": json.dumps(config),
                "labels": json.dumps(["a", "b"]), "frontend": json.dumps({"name": "seed"}),
                "clip_scheme": json.dumps({"kind": "reference"}), "training": json.dumps({"seed": 1})}
    save_file(tensors, path, metadata=metadata)
    # The checksum GenreNet writes: 64-bit FNV-1a of the data block (after the header).
    with open(path, "rb") as f:
        raw = f.read()
    h = 0xcbf29ce484222325
    for b in raw[8 + struct.unpack("<Q", raw[:8])[0]:]:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    metadata["data_fnv1a64"] = "%016x" % h
    save_file(tensors, path.replace(".safetensors", "_checksum.safetensors"), metadata=metadata)


def fixed_length_names(h5):
    """Newer h5py writes Keras's name lists as variable-length strings; Keras 2.4 (the published
    model) wrote fixed-length ones, the only kind the importer reads. Rewrite them that way."""
    import h5py
    with h5py.File(h5, "r+") as f:
        def fix(obj):
            for key in ("layer_names", "weight_names"):
                if key in obj.attrs and obj.attrs[key].dtype == object:
                    values = [v.encode() if isinstance(v, str) else v for v in obj.attrs[key]]
                    obj.attrs[key] = np.array(values, dtype=bytes) if values else np.array([], dtype=np.float64)
        fix(f)
        f.visititems(lambda name, obj: fix(obj) if isinstance(obj, h5py.Group) else None)


def micro_keras(path):
    import tf_keras as K
    L = K.layers
    x = L.Input((2, 4, 1))
    c = L.Conv2D(FILTERS, 1, strides=1, padding="same", activation="relu")(x)
    c = L.BatchNormalization()(c)
    c = L.Dropout(0.2)(L.Flatten()(c))
    r = L.MaxPooling2D((1, 2))(x)
    r = L.MaxPooling2D((1, 2))(r)
    r = L.Reshape((2, 1))(r)
    r = L.Bidirectional(L.LSTM(UNITS, return_sequences=False))(r)
    r = L.Dropout(0.5)(L.Flatten()(r))
    y = L.Dense(CLASSES, activation="softmax")(L.Add()([c, r]))
    model = K.Model(x, y)
    with tempfile.TemporaryDirectory() as tmp:
        h5 = os.path.join(tmp, "w.h5")
        model.save_weights(h5)
        fixed_length_names(h5)
        weights = open(h5, "rb").read()
    text = model.to_json().encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<I", len(text)) + text + weights)


if __name__ == "__main__":
    micro_checkpoint(os.path.join(HERE, "corpus", "checkpoint", "micro.safetensors"))
    micro_keras(os.path.join(HERE, "corpus", "keras_import", "micro.bin"))
    for d in ("checkpoint", "keras_import"):
        for n in os.listdir(os.path.join(HERE, "corpus", d)):
            print(d, n, os.path.getsize(os.path.join(HERE, "corpus", d, n)), "bytes")
