"""The Python module against the command line: same engine, same answers, same messages.

Environment (set by the CTest entry; defaults for a run from the repository root):
  GENRENET_BINARY      the genrenet executable (default build/cpu/bin/genrenet)
  GENRENET_SHARED_DIR  the folder with seed/ (the Keras model and the real songs; default ../shared)
Tests that need ../shared skip with a message when it is absent.
"""
import glob
import json
import os
import shutil
import subprocess
import threading
import time
import wave

import numpy as np
import pytest

import genrenet

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BINARY = os.environ.get("GENRENET_BINARY", os.path.join(REPO, "build", "cpu", "bin", "genrenet"))
SHARED = os.environ.get("GENRENET_SHARED_DIR", os.path.join(REPO, "..", "shared"))
SONGS = sorted(glob.glob(os.path.join(SHARED, "seed", "gtzan-sample", "*.wav")))

# The module and the command line run the same code with the same thread policy on the same
# inputs, so their probabilities agree to the last bit when clips are batched alike. A clip
# batched with other clips goes through differently blocked GEMMs: measured ~2e-10. The bound
# allows only such a different partitioning of float32 sums (a few ulps of values <= 1).
SAME_ENGINE = 1e-6

needs_shared = pytest.mark.skipif(not SONGS, reason=f"{SHARED}/seed (real songs, Keras model) is absent")
needs_binary = pytest.mark.skipif(not os.path.exists(BINARY), reason=f"{BINARY} is not built")


def cli(*args, check=True):
    result = subprocess.run([BINARY, *args], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"genrenet {' '.join(args)} failed:\n{result.stderr}")
    return result


@pytest.fixture(scope="session")
def reference(tmp_path_factory):
    """The reference Keras model imported by the command line."""
    if not SONGS or not os.path.exists(BINARY):
        pytest.skip("needs ../shared and the genrenet executable")
    path = str(tmp_path_factory.mktemp("models") / "reference.safetensors")
    cli("import-keras", os.path.join(SHARED, "seed", "model.json"), os.path.join(SHARED, "seed", "model_weights.h5"),
        "-o", path)
    return path


@pytest.fixture(scope="session")
def model(reference):
    return genrenet.load(reference, device="cpu")


@pytest.fixture(scope="session")
def predictions(model):
    """The module's predictions of every real song, computed once (prediction is the slow part)."""
    return model.predict(SONGS)


def read_wav16(path):
    """A 16-bit PCM mono WAV as float32 in [-1, 1) and its rate (the engine's decoding: x / 32768)."""
    with wave.open(path, "rb") as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1
        rate, frames = w.getframerate(), w.readframes(w.getnframes())
    return np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0, rate


@needs_shared
@needs_binary
def test_predict_matches_cli_on_real_songs(model, reference, predictions):
    ours = predictions
    lines = cli("predict", "--model", reference, "--device", "cpu", "--json", "--clips", *SONGS).stdout.splitlines()
    assert len(ours) == len(lines) == len(SONGS)
    for song, line in zip(ours, lines):
        theirs = json.loads(line)
        assert song.source == theirs["file"]
        assert song.genre == theirs["genre"]
        p_cli = np.array([theirs["probabilities"][label] for label in model.labels])
        assert np.abs(song.probabilities - p_cli).max() <= SAME_ENGINE
        clips_cli = np.array([[c["probabilities"][label] for label in model.labels] for c in theirs["clips"]])
        assert song.clip_probabilities.shape == clips_cli.shape == (19, 10)
        assert np.abs(song.clip_probabilities - clips_cli).max() <= SAME_ENGINE
        np.testing.assert_allclose(song.clip_starts, [c["start"] for c in theirs["clips"]])
    # The reference model gets every real song right (each file is named after its genre).
    assert [s.genre for s in ours] == [os.path.basename(p).split(".")[0] for p in SONGS]


@needs_shared
def test_array_input_matches_file_input(model, predictions):
    samples, rate = read_wav16(SONGS[-1])
    from_file = predictions[-1]
    from_array = model.predict(samples, sample_rate=rate)
    assert from_array.source == "array 0"
    assert np.abs(from_array.clip_probabilities - from_file.clip_probabilities).max() <= SAME_ENGINE


@needs_shared
def test_run_folder_and_labels(model, reference, tmp_path):
    shutil.copy(reference, tmp_path / "best.safetensors")
    folder_model = genrenet.load(tmp_path)
    assert folder_model.labels == model.labels == [
        "disco", "reggae", "pop", "metal", "jazz", "hiphop", "country", "rock", "classical", "blues"]
    assert folder_model.frontend["name"] == "seed" and folder_model.clip_scheme["kind"] == "reference"


@needs_binary
def test_bad_file_raises_the_cli_message(model, tmp_path):
    bad = tmp_path / "not_audio.wav"
    bad.write_bytes(b"this is not a WAV file at all" * 100)
    with pytest.raises(genrenet.GenreNetError) as raised:
        model.predict(str(bad))
    message = str(raised.value)
    assert "not_audio.wav" in message
    stderr = cli("predict", "--model", model.checkpoint, str(bad), check=False).stderr
    assert f"genrenet predict: error: {message}" in stderr  # the same words as the command line
    with pytest.raises(genrenet.GenreNetError, match="missing.wav"):
        model.predict(str(tmp_path / "missing.wav"))
    with pytest.raises(genrenet.GenreNetError, match="shorter than one clip"):
        model.predict(np.zeros(5, np.float32))
    with pytest.raises(genrenet.GenreNetError, match="best.safetensors"):
        genrenet.load(tmp_path)  # a folder that is not a run
    with pytest.raises(genrenet.GenreNetError):
        genrenet.load(bad)  # not a checkpoint


def test_wrong_dtype_and_shape_are_refused(model):
    clip = np.zeros(66150, np.float32)
    with pytest.raises(TypeError, match="float32.*float64"):
        genrenet.spectrogram(clip.astype(np.float64))
    with pytest.raises(TypeError, match="float32.*int16"):
        model.predict(np.zeros(66150, np.int16))
    with pytest.raises(ValueError, match=r"shape \(2, 3, 4\)"):
        genrenet.spectrogram(np.zeros((2, 3, 4), np.float32))
    with pytest.raises(ValueError, match=r"1-D mono.*\(66150, 2\)"):
        model.predict(np.zeros((66150, 2), np.float32))
    with pytest.raises(ValueError, match="C-contiguous"):
        genrenet.spectrogram(np.zeros((2, 66150), np.float32)[:, ::2])
    with pytest.raises(ValueError, match="empty"):
        genrenet.spectrogram(np.zeros(0, np.float32))
    with pytest.raises(TypeError, match="neither a file path nor a NumPy array"):
        model.predict([[0.0, 1.0]])
    with pytest.raises(genrenet.GenreNetError, match="unknown front-end"):
        genrenet.spectrogram(clip, frontend="mel")


def test_spectrogram_shapes_and_buffer():
    rng = np.random.default_rng(1)
    clips = rng.uniform(-0.5, 0.5, size=(3, 66150)).astype(np.float32)
    batch = genrenet.spectrogram(clips, 22050, frontend="seed")
    assert batch.shape == (3, 128, 513) and batch.dtype == np.float32
    assert not batch.flags.owndata  # a view of the engine's buffer, not a copy
    one = genrenet.spectrogram(clips[1], 22050, frontend="seed")
    np.testing.assert_array_equal(one, batch[1])  # clip by clip = batched
    logstft = genrenet.spectrogram(clips, 22050, frontend="logstft")
    assert logstft.shape == (3, 128, 513) and np.isfinite(logstft).all()


def read_safetensors(path):
    """{name: array} and the metadata of a float32 safetensors file (the format is 8 bytes of
    header length, a JSON header, the data)."""
    import struct
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    body = data[8 + n:]
    return {k: np.frombuffer(body[v["data_offsets"][0]:v["data_offsets"][1]], "<f4").reshape(v["shape"])
            for k, v in header.items()}, meta


@needs_shared
def test_seed_spectrogram_matches_numpy_librosa():
    """genrenet.spectrogram against the float64 NumPy/librosa transform of the fixtures, on the
    clip of each real song the fixture holds, within the suite's front-end bound (1e-4 of the
    image's maximum: float32 FFTs of 32700 then 1024 points are ~1e-6..1e-5 apart from float64)."""
    tensors, meta = read_safetensors(os.path.join(REPO, "tests", "fixtures", "frontend_seed.safetensors"))
    for name in meta["songs"].split(","):
        samples, rate = read_wav16(os.path.join(SHARED, "seed", "gtzan-sample", name + ".wav"))
        window = int(0.10 * len(samples))  # the reference clip scheme
        hop, clip = int(window * 0.5), int(meta[name + ".clip"])
        ours = genrenet.spectrogram(samples[clip * hop:clip * hop + window].copy(), rate, frontend="seed")
        want = tensors[name + ".image"]
        assert np.abs(ours - want).max() / np.abs(want).max() < 1e-4, name


@needs_shared
def test_two_threads_predict_at_once_with_the_gil_released(reference, predictions):
    models = [genrenet.load(reference, device="cpu") for _ in range(2)]
    songs = [SONGS[0], SONGS[-1]]
    expected = [predictions[0], predictions[-1]]
    results, errors = [None, None], []
    running = threading.Event()

    def work(i):
        try:
            running.set()
            results[i] = models[i].predict(songs[i])
        except Exception as e:  # surfaced below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    running.wait()
    # While both predict, this thread must keep running: with the GIL held by a prediction it
    # would stall for the whole call (hundreds of ms). Record the longest gap between ticks.
    ticks, longest, last = 0, 0.0, time.perf_counter()
    while any(t.is_alive() for t in threads):
        now = time.perf_counter()
        longest, last = max(longest, now - last), now
        ticks += 1
        time.sleep(0.001)
    elapsed = time.perf_counter() - start
    for t in threads:
        t.join()
    assert not errors, errors
    # `expected` came from one batch of all seven songs, so a clip's batch differs (GEMM blocking):
    # equal within SAME_ENGINE, not bit for bit.
    for got, want in zip(results, expected):
        assert np.abs(got.clip_probabilities - want.clip_probabilities).max() <= SAME_ENGINE
    assert ticks > 10 and longest < 0.5 * elapsed, f"main thread stalled {longest:.3f} s of {elapsed:.3f} s"

    # One model shared by two threads: calls are serialised inside, answers unchanged.
    shared, out = models[0], [None, None]
    threads = [threading.Thread(target=lambda i=i: out.__setitem__(i, shared.predict(songs[i]))) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got, want in zip(out, expected):
        assert np.abs(got.clip_probabilities - want.clip_probabilities).max() <= SAME_ENGINE
