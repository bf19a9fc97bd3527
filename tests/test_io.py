import os

import h5py
import numpy as np
import pytest
from conftest import OUTPUT_LOSS, make_targets

import fastbp
from fastbp import io


def _trained(rng, output, loss, dtype, optimizer, seed=3, layers=(5, 6, 4, 3)):
    net = fastbp.Network(list(layers), activation=["tanh", "relu"][:len(layers) - 2], output=output,
                         loss=loss, dtype=dtype, seed=seed)
    if optimizer is not None:
        X = rng.normal(size=(20, layers[0]))
        y = make_targets(rng, output, loss, 20, layers[-1])
        net.fit(X, y, epochs=2, batch_size=8, lr=0.05, verbose=0, **optimizer)
    return net


OPTIMIZERS = [None, dict(), dict(momentum=0.9, nesterov=True), dict(optimizer="adam")]


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("output,loss", OUTPUT_LOSS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip_is_exact(tmp_path, rng, dtype, output, loss, optimizer):
    net = _trained(rng, output, loss, dtype, optimizer)
    net.save(tmp_path / "model.h5")
    back = fastbp.load(tmp_path / "model.h5")
    assert repr(back) == repr(net) and back.seed == net.seed and back.dtype == net.dtype
    X = rng.normal(size=(7, 5))
    assert np.array_equal(back.predict_proba(X), net.predict_proba(X))
    for got, want in zip(back.weights + back.biases, net.weights + net.biases):
        assert got.dtype == want.dtype and np.array_equal(got, want)
    if optimizer is None:
        assert back.optimizer_state is None and back.history is None
    else:
        assert back.optimizer_state["optimizer"] == net.optimizer_state["optimizer"]
        assert back.optimizer_state["step"] == net.optimizer_state["step"] == 6
        for key in ("state1", "state2"):
            assert np.array_equal(back.optimizer_state[key], net.optimizer_state[key])
        assert back.history.history == net.history.history and back.history.epoch == net.history.epoch


@pytest.mark.parametrize("layers", [(4, 2), (4, 3, 3, 3, 2)])
def test_round_trip_of_other_depths_and_unseeded_networks(tmp_path, layers):
    net = fastbp.Network(list(layers), activation="sigmoid", init="normal", seed=None)
    net.save(tmp_path / "m.h5")
    back = fastbp.load(tmp_path / "m.h5")
    assert back.layers == net.layers and back.seed is None and back.init == "normal"
    assert np.array_equal(back._params, net._params)


@pytest.mark.parametrize("optimizer", [dict(momentum=0.9), dict(optimizer="adam", lr=0.01)])
def test_fit_resumes_from_a_loaded_model_exactly(tmp_path, optimizer):
    X, y = fastbp.datasets.load_digits()
    X, y = X[:300], y[:300]
    straight = fastbp.Network([64, 16, 10], seed=5)
    straight.fit(X, y, epochs=4, batch_size=32, verbose=0, **optimizer)

    first = fastbp.Network([64, 16, 10], seed=5)
    first.fit(X, y, epochs=2, batch_size=32, verbose=0, **optimizer)
    first.save(tmp_path / "half.h5")
    resumed = fastbp.load(tmp_path / "half.h5")
    resumed.fit(X, y, epochs=2, batch_size=32, verbose=0, **optimizer)
    assert np.array_equal(resumed._params, straight._params)


@pytest.mark.parametrize("failure", [OSError("disk full"), KeyboardInterrupt()])
def test_a_failed_or_interrupted_save_keeps_the_previous_file(tmp_path, monkeypatch, failure):
    path = tmp_path / "model.h5"
    old = fastbp.Network([3, 4, 2], seed=1)
    old.save(path)

    def broken(f, net):
        f.attrs["format"] = "half written"
        raise failure

    monkeypatch.setattr(io, "_write", broken)
    with pytest.raises(type(failure)):
        fastbp.Network([3, 4, 2], seed=2).save(path)
    assert os.listdir(tmp_path) == ["model.h5"]  # no temporary file left behind
    assert np.array_equal(fastbp.load(path)._params, old._params)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model file"):
        fastbp.load(tmp_path / "nothing.h5")


def test_truncated_file_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "model.h5"
    fastbp.Network([30, 20, 2], seed=0).save(path)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(fastbp.ModelFileError, match="model.h5"):
        fastbp.load(path)


def test_text_file_is_refused(tmp_path):
    path = tmp_path / "notes.h5"
    path.write_text("weights: 1 2 3\n")
    with pytest.raises(fastbp.ModelFileError, match="not a readable HDF5 file"):
        fastbp.load(path)


def test_foreign_hdf5_file_is_refused(tmp_path):
    path = tmp_path / "data.h5"
    with h5py.File(path, "w") as f:
        f["X"] = np.zeros((3, 2))
    with pytest.raises(fastbp.ModelFileError, match="not a fastbp model file"):
        fastbp.load(path)


def _edit(path, change):
    with h5py.File(path, "a") as f:
        change(f)


@pytest.mark.parametrize("change,message", [
    (lambda f: f.attrs.modify("format_version", 2), "newer than this fastbp reads"),
    (lambda f: f.attrs.modify("output", "os.system"), "invalid architecture.*output"),
    (lambda f: f.attrs.modify("dtype", "object"), "dtype must be float32 or float64"),
    (lambda f: f.attrs.modify("layers", np.array([3, 5, 2])), r"layers/0/W has shape \(3, 4\), expected \(3, 5\)"),
    (lambda f: f["layers/1/b"].__setitem__(0, np.nan), "NaN"),
    (lambda f: f.__delitem__("layers/1/W"), "missing dataset layers/1/W"),
    (lambda f: f["optimizer"].attrs.modify("name", "lbfgs"), "unknown optimizer"),
    (lambda f: f.attrs.__delitem__("loss"), "attribute 'loss' of / is missing"),
    (lambda f: f.attrs.__setitem__("output", "softmax"), "attribute 'output' of / is not numbers or fixed-length"),
    (lambda f: f.attrs.__setitem__("rng_state", np.zeros(4, np.uint64)), "rng_state must be 6 uint64 words"),
    (lambda f: f["history"].__setitem__("recall", np.zeros(1)), "unknown history metrics"),
])
def test_tampered_files_are_refused_clearly(tmp_path, change, message):
    path = tmp_path / "model.h5"
    net = fastbp.Network([3, 4, 2], seed=0)
    net.fit(np.ones((4, 3)), [0, 1, 0, 1], epochs=1, momentum=0.5, verbose=0)
    net.save(path)
    _edit(path, change)
    with pytest.raises(fastbp.ModelFileError, match=message) as caught:
        fastbp.load(path)
    assert "model.h5" in str(caught.value)


@pytest.fixture(scope="module")
def model_bytes(tmp_path_factory):
    net = fastbp.Network([6, 5, 3], seed=0)
    net.fit(np.random.default_rng(0).normal(size=(20, 6)), np.arange(20) % 3, epochs=2, momentum=0.9, verbose=0)
    path = tmp_path_factory.mktemp("model") / "model.h5"
    net.save(path)
    return net, path.read_bytes()


def test_a_flipped_weight_byte_is_caught_by_the_checksum(model_bytes, tmp_path):
    net, data = model_bytes
    offset = data.find(net.weights[0].tobytes())
    assert offset > 0
    damaged = bytearray(data)
    damaged[offset + 5] ^= 0x10
    (tmp_path / "m.h5").write_bytes(damaged)
    with pytest.raises(fastbp.ModelFileError, match="m.h5: damaged"):
        fastbp.load(tmp_path / "m.h5")


def test_fuzzed_model_files_give_clear_errors_or_the_exact_model(model_bytes, tmp_path):
    """Thousands of randomly mutated and truncated files: never a crash, never altered weights."""
    net, data = model_bytes
    rng = np.random.default_rng(2026)
    path = tmp_path / "fuzzed.h5"
    outcomes = {"refused": 0, "loaded intact": 0}
    for _ in range(2000):
        mutated = bytearray(data)
        for position in rng.integers(0, len(data), rng.integers(1, 8)):
            mutated[position] = rng.integers(256)
        if rng.random() < 0.1:
            mutated = mutated[:rng.integers(len(mutated))]
        path.write_bytes(mutated)
        try:
            loaded = fastbp.load(path)
        except fastbp.ModelFileError as exc:
            assert str(exc).startswith(str(path))
            outcomes["refused"] += 1
            continue
        assert np.array_equal(loaded._params, net._params)
        assert np.array_equal(loaded.optimizer_state["state1"], net.optimizer_state["state1"])
        outcomes["loaded intact"] += 1
    assert outcomes["refused"] > 1500, outcomes


def test_no_code_path_can_unpickle():
    """Model and data files are read as typed numbers and fixed-length text only."""
    import pathlib
    sources = pathlib.Path(fastbp.__file__).parent.rglob("*.py")
    for source in sources:
        text = source.read_text()
        for forbidden in ("import pickle", "allow_pickle=True", "np.load(", "marshal", "eval(", "exec("):
            assert forbidden not in text, f"{source.name} uses {forbidden}"
