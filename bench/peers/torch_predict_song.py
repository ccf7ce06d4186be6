#!/usr/bin/env python3
"""PyTorch peer of `genrenet predict` FILE..., process start included: import, then per song
decode (soundfile, x/32768), the reference clips (10% windows, 50% hop), the `seed` front-end
in NumPy/librosa, and the RCNN (bench/peers/torch_rcnn.py) on all clips. Weights are random:
only the time is compared. Run it under `time` next to `genrenet predict` on the same files;
the last line gives the in-process time after the imports and songs per second of the loop."""
import sys
import time

t0 = time.perf_counter()
import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from librosa_frontends import seed_frontend  # noqa: E402
from torch_rcnn import RCNN  # noqa: E402

torch.set_num_threads(2)
t1 = time.perf_counter()
model = RCNN().eval()
for path in sys.argv[1:]:
    audio, sr = sf.read(path, dtype="float32")
    window = int(0.10 * len(audio))
    hop = window // 2
    clips = [audio[s:s + window] for s in range(0, len(audio) - window + 1, hop)]
    x = torch.from_numpy(np.stack([seed_frontend(c) for c in clips]).astype(np.float32)).unsqueeze(1)
    with torch.no_grad():
        probs = torch.softmax(model(x), dim=1).mean(0)
    print(f"{path}: {len(clips)} clips, class {int(probs.argmax())}")
t2 = time.perf_counter()
n = len(sys.argv) - 1
print(f"imports {t1 - t0:.2f} s; {n} songs in {t2 - t1:.2f} s after the imports "
      f"({(t2 - t1) / n:.3f} s per song, {n / (t2 - t1):.2f} songs/s); {t2 - t0:.2f} s in all")
