import gzip

import numpy as np
import pytest

import fastbp
from fastbp.datasets import load_idx, load_mnist
from idx_files import mnist_folder, write_idx


def test_load_digits():
    X, y = fastbp.datasets.load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0 and X.max() == 1
    assert np.array_equal(np.unique(y), np.arange(10))
    assert np.bincount(y).min() >= 170  # every class well represented
    X64, _ = fastbp.datasets.load_digits(dtype=np.float64)
    assert X64.dtype == np.float64 and np.array_equal(X64, X)


# ---- IDX files (MNIST's format), written here: nothing is downloaded ------------------------------------------

@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("dtype,code", [(np.uint8, 0x08), (np.int16, 0x0B), (np.int32, 0x0C), (np.float32, 0x0D),
                                        (np.float64, 0x0E)])
def test_load_idx_round_trips(tmp_path, rng, compress, dtype, code):
    array = (rng.uniform(0, 100, size=(3, 4, 5))).astype(dtype)
    got = load_idx(write_idx(tmp_path / "a-idx3", array, code, compress))
    assert got.dtype == np.dtype(dtype) and got.dtype.isnative and np.array_equal(got, array)


@pytest.mark.parametrize("compress", [False, True])
def test_load_mnist_reads_torchvisions_layout(tmp_path, rng, compress):
    sets = mnist_folder(tmp_path, rng, compress=compress)
    for folder in (tmp_path, tmp_path / "MNIST", tmp_path / "MNIST" / "raw"):
        for kind in ("train", "test"):
            X, y = load_mnist(folder, kind=kind)
            images, labels = sets[kind]
            assert X.dtype == np.float32 and X.shape == (len(images), 784) and y.dtype == np.int64
            assert np.array_equal(X, images.reshape(len(images), -1).astype(np.float32) / np.float32(255))
            assert np.array_equal(y, labels) and X.min() >= 0 and X.max() <= 1
    X64, _ = load_mnist(tmp_path, dtype=np.float64)
    assert X64.dtype == np.float64


def test_bad_idx_files_get_clear_errors(tmp_path, rng):
    good = write_idx(tmp_path / "good", rng.integers(0, 256, size=(4, 6), dtype=np.uint8))
    content = good.read_bytes()
    cases = {"truncated": (content[:-3], "truncated"), "too long": (content + b"\0", "longer than its header"),
             "foreign": (b"\x89PNG\r\n\x1a\n" + content, "not an IDX file"), "empty": (b"", "not an IDX file"),
             "short header": (content[:6], "truncated IDX header"),
             "bad gzip": (gzip.compress(content)[:-10], "damaged or truncated gzip")}
    for name, (data, words) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(ValueError, match=words) as info:
            load_idx(path)
        assert str(path) in str(info.value)
    with pytest.raises(FileNotFoundError):
        load_idx(tmp_path / "missing")


def test_load_mnist_refuses_what_it_cannot_use(tmp_path, rng):
    with pytest.raises(ValueError, match="no train-images-idx3-ubyte"):
        load_mnist(tmp_path)
    with pytest.raises(ValueError, match="kind must be 'train' or 'test'"):
        load_mnist(tmp_path, kind="validation")
    with pytest.raises(ValueError, match="must be a folder"):
        load_mnist(tmp_path / "nothing")
    with pytest.raises(ValueError, match="floating-point"):
        load_mnist(tmp_path, dtype=np.int32)
    raw = tmp_path / "raw"
    raw.mkdir()
    write_idx(raw / "train-images-idx3-ubyte", rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8))
    write_idx(raw / "train-labels-idx1-ubyte", rng.integers(0, 10, size=4, dtype=np.uint8))
    with pytest.raises(ValueError, match="not images"):
        load_mnist(tmp_path)


def test_two_data_sets_under_one_root_are_ambiguous(tmp_path, rng):
    mnist_folder(tmp_path, rng)
    (tmp_path / "MNIST").rename(tmp_path / "FashionMNIST")
    mnist_folder(tmp_path, rng)
    with pytest.raises(ValueError, match="more than one data set"):
        load_mnist(tmp_path)
    assert load_mnist(tmp_path / "FashionMNIST")[0].shape == (7, 784)


def test_the_readme_pytorch_section_runs_as_printed(tmp_path, rng):
    """README "From PyTorch (seed 003)": its code, unchanged, on IDX files under ../data."""
    import os
    import subprocess
    import sys
    readme = open(os.path.join(os.path.dirname(__file__), "..", "README.md")).read()
    code = readme.split("## From PyTorch (seed 003)", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    (tmp_path / "data").mkdir()
    mnist_folder(tmp_path / "data", rng, n_train=64, n_test=16, compress=True)
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "seed003.py").write_text(code)
    done = subprocess.run([sys.executable, "seed003.py"], cwd=tmp_path / "work", capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines()[-1].startswith("test accuracy: ")
