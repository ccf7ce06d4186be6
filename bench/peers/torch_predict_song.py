#!/usr/bin/env python3
"""PyTorch peer of `genrenet predict` for one song, process start included: import, decode
(soundfile, x/32768), the reference clips (10% windows, 50% hop), the `seed` front-end in
NumPy/librosa, and the RCNN (bench/peers/torch_rcnn.py) on all clips. Weights are random:
only the time is compared. Run it under `time` next to `genrenet predict` on the same file."""
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
audio, sr = sf.read(sys.argv[1], dtype="float32")
window = int(0.10 * len(audio))
hop = window // 2
clips = [audio[s:s + window] for s in range(0, len(audio) - window + 1, hop)]
x = torch.from_numpy(np.stack([seed_frontend(c) for c in clips]).astype(np.float32)).unsqueeze(1)
model = RCNN().eval()
with torch.no_grad():
    probs = torch.softmax(model(x), dim=1).mean(0)
print(f"{sys.argv[1]}: {len(clips)} clips, class {int(probs.argmax())}, "
      f"{time.perf_counter() - t0:.2f} s after interpreter start")
