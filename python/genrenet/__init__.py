"""GenreNet from Python: the C++ engine of the `genrenet` command line, loaded as a module.

    import genrenet
    model = genrenet.load("runs/demo")                # a checkpoint file or a training run folder
    song = model.predict("song.wav")                  # or a list of paths / float32 arrays
    song.genre, song.probabilities, song.clip_probabilities
    S = genrenet.spectrogram(clip, 22050, frontend="seed")   # (128, 513) float32

Errors raise genrenet.GenreNetError (a RuntimeError) with the command line's messages; arrays of
the wrong dtype raise TypeError, of the wrong shape ValueError. Computation releases the GIL.
"""
import json
import os
from dataclasses import dataclass

import numpy as np

# The command line's OpenMP policy (idle workers sleep instead of spinning; engine/threads.h):
# libgomp reads it once, when the extension loads it below.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

from ._genrenet import GenreNetError, version as __version__
from . import _genrenet

__all__ = ["load", "Model", "Prediction", "spectrogram", "GenreNetError", "__version__"]


@dataclass
class Prediction:
    """One song: its genre is the argmax of the mean of its clips' probabilities."""
    source: str                     # file path, or "array i" for the i-th array given
    seconds: float                  # song length
    genre: str                      # label of the mean-probability argmax
    majority: str                   # label of the clips' majority vote
    probabilities: np.ndarray       # (classes,) mean of the clip probabilities, label order
    clip_probabilities: np.ndarray  # (clips, classes)
    clip_starts: np.ndarray         # (clips,) seconds
    clip_seconds: float             # length of one clip


class Model:
    """A checkpoint loaded once (see load())."""

    def __init__(self, path, device="auto"):
        self._model = _genrenet.Model(os.fspath(path), device)
        self.labels = list(self._model.labels)
        self.device = self._model.device
        self.checkpoint = self._model.checkpoint
        self.frontend = json.loads(self._model.frontend_json)
        self.clip_scheme = json.loads(self._model.clip_scheme_json)

    def predict(self, songs, sample_rate=22050, batch=32):
        """songs: a path or a mono float32 NumPy array (at `sample_rate`), or a list of them.
        Returns a Prediction, or a list of them for a list."""
        single = isinstance(songs, (str, os.PathLike, np.ndarray))
        items = [songs] if single else list(songs)
        items = [os.fspath(s) if isinstance(s, os.PathLike) else s for s in items]
        out = [Prediction(source, seconds, self.labels[genre], self.labels[majority], probs, clip_probs, starts,
                          clip_seconds)
               for source, seconds, genre, majority, probs, clip_probs, starts, clip_seconds
               in self._model.predict(items, sample_rate, batch)]
        return out[0] if single else out

    def __repr__(self):
        return f"genrenet.Model({self.checkpoint!r}, device={self.device!r}, labels={self.labels})"


def load(path, device="auto"):
    """Loads a checkpoint (.safetensors from `genrenet train`/`demo`/`import-keras`) or the
    best checkpoint of a training run folder. device: "auto", "cpu", "cuda" or "cuda:N"."""
    return Model(path, device)


def spectrogram(audio, sample_rate=22050, frontend="logstft"):
    """The front-end of one clip (samples,) -> (frames, bins) or of clips (clips, samples) ->
    (clips, frames, bins), float32, before any standardisation (per-bin statistics belong to a
    trained model: see Model.frontend). frontend: "seed" or "logstft". A C-contiguous float32
    input at 22050 Hz is read in place; the result is a NumPy array over the engine's buffer."""
    return _genrenet.spectrogram(audio, int(sample_rate), frontend)
