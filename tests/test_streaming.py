import copy
import subprocess
import sys
import tracemalloc

import h5py
import numpy as np
import pytest

import fastbp
from fastbp.streaming import chunk_order
from fastbp.training import EpochRunner


@pytest.fixture
def digits_file(tmp_path):
    X, y = fastbp.datasets.load_digits()
    path = tmp_path / "digits.h5"
    with h5py.File(path, "w") as f:
        f["X"] = X[:1000]
        f["y"] = y[:1000]
    return path, X[:1000], y[:1000]


def test_unshuffled_stream_equals_the_in_memory_fit(digits_file):
    path, X, y = digits_file
    memory = fastbp.Network([64, 16, 10], seed=1)
    memory.fit(X, y, epochs=3, batch_size=32, lr=0.1, momentum=0.9, shuffle=False, verbose=0)
    streamed = fastbp.Network([64, 16, 10], seed=1)
    with h5py.File(path, "r") as f:
        history = streamed.fit(f["X"], f["y"], epochs=3, batch_size=32, lr=0.1, momentum=0.9,
                               shuffle=False, chunk_size=96, verbose=0)
    assert np.array_equal(streamed._params, memory._params)
    assert history.accuracy == memory.history.accuracy
    assert history.loss == pytest.approx(memory.history.loss, rel=1e-12)  # summed chunk by chunk


def test_shuffled_stream_equals_in_memory_training_in_the_same_order(digits_file):
    path, X, y = digits_file
    streamed = fastbp.Network([64, 16, 10], seed=1)
    memory = streamed.copy()
    rng = copy.deepcopy(streamed._rng)
    with h5py.File(path, "r") as f:
        streamed.fit(f["X"], y, epochs=2, batch_size=25, lr=0.1, shuffle=True, chunk_size=200, verbose=0)

    runner = EpochRunner(memory, 25, "sgd", 0.1)
    Y = np.eye(10, dtype=np.float32)[y]
    for epoch in range(2):
        plan = chunk_order(rng, 1000, 200, shuffle=True)
        order = np.concatenate([start + inner for start, _, inner in plan])
        assert sorted(order) == list(range(1000)) and not np.array_equal(order, np.arange(1000))
        runner.run(X, Y, order[None, :])
    assert np.array_equal(streamed._params, memory._params)


def test_streaming_holds_one_chunk_in_memory(tmp_path):
    rng = np.random.default_rng(0)
    n, chunk = 40_000, 2_000  # 20 chunks of 0.5 MB; the file holds 10 MB of X
    path = tmp_path / "big.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("X", data=rng.normal(size=(n, 64)).astype(np.float32), chunks=(chunk, 64))
        f["y"] = rng.integers(0, 10, n)
    net = fastbp.Network([64, 16, 10], seed=0)
    with h5py.File(path, "r") as f:
        net.fit(f["X"], f["y"], epochs=1, batch_size=100, chunk_size=chunk, verbose=0)  # warm up
        tracemalloc.start()
        net.fit(f["X"], f["y"], epochs=2, batch_size=100, chunk_size=chunk, verbose=0)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    chunk_bytes = chunk * 64 * 4
    assert peak < 4 * chunk_bytes, f"peak {peak / 1e6:.1f} MB for {chunk_bytes / 1e6:.1f} MB chunks"


def test_a_bad_chunk_leaves_the_network_as_it_was(tmp_path):
    X, y = fastbp.datasets.load_digits()
    X = X[:500].copy()
    X[450, 3] = np.nan  # found only when the last chunk is read
    path = tmp_path / "bad.h5"
    with h5py.File(path, "w") as f:
        f["X"], f["y"] = X, y[:500]
    net = fastbp.Network([64, 10], seed=0)
    net.fit(X[:100], y[:100], epochs=1, momentum=0.9, verbose=0)
    before = net.copy()
    with h5py.File(path, "r") as f, pytest.raises(ValueError, match=r"X must be finite.*rows 400:500"):
        net.fit(f["X"], f["y"], epochs=1, batch_size=50, momentum=0.9, shuffle=False, chunk_size=100,
                verbose=0)
    assert np.array_equal(net._params, before._params)
    assert net.optimizer_state["step"] == before.optimizer_state["step"]
    assert np.array_equal(net.optimizer_state["state1"], before.optimizer_state["state1"])
    assert net._rng.bit_generator.state == before._rng.bit_generator.state
    assert net.history.epoch == [0] and len(net.history.loss) == 1


@pytest.mark.parametrize("shape,y_rows,error,word", [
    ((50, 3), 50, ValueError, r"X must be 2-D \(n_samples, 64\)"),
    ((50, 64), 49, ValueError, "y must have 50 rows"),
])
def test_bad_dataset_shapes_are_refused_before_training(tmp_path, shape, y_rows, error, word):
    path = tmp_path / "d.h5"
    with h5py.File(path, "w") as f:
        f["X"], f["y"] = np.zeros(shape), np.zeros(y_rows, dtype=int)
    net = fastbp.Network([64, 10], seed=0)
    with h5py.File(path, "r") as f, pytest.raises(error, match=word):
        net.fit(f["X"], f["y"], verbose=0)
    assert net.history is None


def test_load_h5_reads_named_datasets(digits_file):
    path, X, y = digits_file
    X2, y2 = fastbp.datasets.load_h5(path, x="X", y="y")
    assert np.array_equal(X2, X) and np.array_equal(y2, y)
    assert fastbp.datasets.load_h5(path, x="X", y=None, dtype=np.float64).dtype == np.float64


def test_load_h5_names_the_missing_key_and_what_exists(digits_file, tmp_path):
    path, _, _ = digits_file
    with pytest.raises(ValueError, match=r"no dataset named 'labels' \(y=\); the file has: X, y"):
        fastbp.datasets.load_h5(path, y="labels")
    with pytest.raises(FileNotFoundError):
        fastbp.datasets.load_h5(tmp_path / "none.h5")
    (tmp_path / "text.h5").write_text("1,2,3")
    with pytest.raises(ValueError, match="not a readable HDF5 file"):
        fastbp.datasets.load_h5(tmp_path / "text.h5")


def test_import_fastbp_leaves_h5py_unimported_and_fit_still_streams_its_datasets(tmp_path):
    # h5py is imported where a file is opened: it took 38-53 ms of import fastbp's 0.41-0.49 s.
    code = ("import sys, numpy as np, fastbp\n"
            "assert 'h5py' not in sys.modules\n"
            "import h5py\n"
            f"with h5py.File({str(tmp_path / 'd.h5')!r}, 'w') as f:\n"
            "    X = f.create_dataset('X', data=np.random.default_rng(0).random((40, 3)))\n"
            "    y = f.create_dataset('y', data=np.arange(40) % 2)\n"
            "    assert fastbp.streaming.is_h5_dataset(X)\n"
            "    fastbp.Network([3, 4, 2], seed=0).fit(X, y, epochs=1, chunk_size=16, verbose=0)\n")
    subprocess.run([sys.executable, "-c", code], check=True)
