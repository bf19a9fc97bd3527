"""The command line as a newcomer runs it: a fresh folder, ``python -m fastbp ...``."""
import pathlib
import subprocess
import sys

import h5py
import numpy as np
import pytest

import fastbp
from fastbp.cli import confusion_matrix, main


def run(folder, *args):
    return subprocess.run([sys.executable, "-m", "fastbp", *args], cwd=folder, capture_output=True, text=True,
                          timeout=300)


def test_train_save_plot_info_evaluate_predict_end_to_end(tmp_path):
    result = run(tmp_path, "train", "--verbose", "0", "--epochs", "20", "--out", "model.h5", "--plot", "curve.png")
    assert result.returncode == 0, result.stderr
    accuracy = float(result.stdout.split("held-out accuracy:")[1].split()[0])
    assert accuracy >= 0.95
    assert (tmp_path / "curve.png").read_bytes()[:4] == b"\x89PNG"

    info = run(tmp_path, "info", "model.h5")
    assert info.returncode == 0, info.stderr
    assert "layers: [64, 64, 10]" in info.stdout and "optimizer: sgd" in info.stdout

    X, y = fastbp.datasets.load_digits()
    with h5py.File(tmp_path / "test.h5", "w") as f:
        f["pixels"], f["digit"] = X[:200], y[:200]
    evaluate = run(tmp_path, "evaluate", "model.h5", "--data", "test.h5", "--x", "pixels", "--y", "digit")
    assert evaluate.returncode == 0, evaluate.stderr
    net = fastbp.load(tmp_path / "model.h5")
    assert f"accuracy: {net.score(X[:200], y[:200]):.4f}" in evaluate.stdout
    table = evaluate.stdout.split("predicted class):\n")[1].strip().splitlines()
    counts = np.array([[int(c) for c in row.split(":")[1].split()] for row in table[1:]])
    assert counts.shape == (10, 10) and counts.sum() == 200
    assert np.array_equal(counts, confusion_matrix(y[:200], net.predict(X[:200]), 10))

    printed = run(tmp_path, "predict", "model.h5", "--data", "test.h5", "--x", "pixels")
    assert printed.returncode == 0, printed.stderr
    assert [int(v) for v in printed.stdout.split()] == list(net.predict(X[:200]))
    for out in ("preds.csv", "preds.h5"):
        assert run(tmp_path, "predict", "model.h5", "--data", "test.h5", "--x", "pixels", "--out", out).returncode == 0
    assert np.array_equal(np.loadtxt(tmp_path / "preds.csv", dtype=int), net.predict(X[:200]))
    with h5py.File(tmp_path / "preds.h5", "r") as f:
        assert np.array_equal(f["probabilities"][()], net.predict_proba(X[:200]))


def test_train_on_an_h5_file_with_other_keys(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5))
    with h5py.File(tmp_path / "blobs.h5", "w") as f:
        f["features"], f["labels"] = X, (X[:, 0] + X[:, 1] > 0).astype(float)
    assert main(["train", "--data", str(tmp_path / "blobs.h5"), "--x", "features", "--y", "labels",
                 "--layers", "5,8,2", "--epochs", "30", "--lr", "0.05", "--verbose", "0"]) == 0
    out = capsys.readouterr().out
    assert "blobs.h5 (300 samples)" in out and float(out.split("held-out accuracy:")[1].split()[0]) > 0.9


@pytest.mark.parametrize("argv,message", [
    (["train", "--epochs", "-1", "--verbose", "0"], "epochs must be an integer >= 0, got -1"),
    (["train", "--data", "missing.h5"], "no data file at 'missing.h5'"),
    (["info", "missing.h5"], "no model file at 'missing.h5'"),
    (["evaluate", "notes.txt"], "notes.txt: not a readable HDF5 file"),
    (["train", "--data", "data.h5", "--x", "pixels", "--verbose", "0"], "no dataset named 'pixels' (x=)"),
    (["train", "--data", "data.h5", "--layers", "3,4,2", "--verbose", "0"], "X must have 3 features"),
    (["evaluate", "model.h5", "--data", "data.h5"], "X must have 4 features (columns), got 64"),
    (["predict", "model.h5", "--data", "data.h5", "--x", "X", "--out", "p.txt"], "X must have 4 features"),
    (["train", "--holdout", "1.5", "--verbose", "0"], "--holdout must be a fraction in (0, 1)"),
])
def test_errors_are_one_clear_line_and_a_nonzero_exit(tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("hello")
    with h5py.File(tmp_path / "data.h5", "w") as f:
        f["X"], f["y"] = np.zeros((10, 64)), np.zeros(10, dtype=int)
    fastbp.Network([4, 3, 2], seed=0).save(tmp_path / "model.h5")
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("fastbp: error: ") and message in err[0], err


def test_predict_to_an_unknown_extension_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with h5py.File(tmp_path / "data.h5", "w") as f:
        f["X"] = np.zeros((3, 4))
    fastbp.Network([4, 3, 2], seed=0).save(tmp_path / "model.h5")
    assert main(["predict", "model.h5", "--data", "data.h5", "--out", "p.txt"]) == 1
    assert "--out must end in .h5 or .csv" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["train", "evaluate", "predict", "info", "bench"])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0 and "usage: fastbp " + command in capsys.readouterr().out


def test_the_installed_fastbp_command_runs(tmp_path):
    script = pathlib.Path(sys.executable).parent / "fastbp"
    if not script.exists():
        pytest.skip("fastbp is not installed as a console script in this environment")
    result = subprocess.run([str(script), "info", "--help"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0 and "usage: fastbp info" in result.stdout


def test_plot_without_matplotlib_fails_before_training(monkeypatch, capsys):
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a))
    assert main(["train", "--plot", "c.png", "--verbose", "0"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and 'pip install "fastbp[plot]"' in captured.err


def test_train_and_evaluate_on_an_mnist_idx_folder(tmp_path, rng, capsys):
    """torchvision's root folder (MNIST/raw/*-ubyte.gz) as --data: training images for train, test for evaluate."""
    from idx_files import mnist_folder
    sets = mnist_folder(tmp_path, rng, n_train=60, n_test=20, compress=True)
    assert main(["train", "--data", str(tmp_path), "--layers", "784,16,10", "--epochs", "2", "--verbose", "0",
                 "--out", str(tmp_path / "model.h5")]) == 0
    assert f"{tmp_path} (train, 60 samples)" in capsys.readouterr().out
    assert main(["evaluate", str(tmp_path / "model.h5"), "--data", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"{tmp_path} (test, 20 samples)" in out
    X, y = fastbp.datasets.load_mnist(tmp_path, kind="test")
    assert np.array_equal(y, sets["test"][1])
    assert f"accuracy: {fastbp.load(tmp_path / 'model.h5').score(X, y):.4f}" in out
    assert main(["train", "--data", str(tmp_path / "nothing-here"), "--verbose", "0"]) == 1
    assert main(["train", "--data", str(tmp_path / "MNIST" / "raw" / "t10k-images-idx3-ubyte.gz"),
                 "--verbose", "0"]) == 1
    assert "fastbp: error:" in capsys.readouterr().err


def test_the_first_run_says_once_that_the_kernels_compile(tmp_path):
    """A fresh install compiles for seconds inside the first epoch: the CLI says so once, on stderr; library
    use with verbose=0 stays silent; a second run loads the cache and says nothing."""
    import os
    from fastbp.training import COMPILE_NOTICE
    quiet = ("import fastbp; X, y = fastbp.datasets.load_digits(); "
             "fastbp.Network([64, 8, 10], seed=0).fit(X, y, epochs=1, verbose=0)")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache-library")}
    done = subprocess.run([sys.executable, "-c", quiet], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and COMPILE_NOTICE not in done.stderr + done.stdout
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "cache-cli")
    for expected in (1, 0):
        done = subprocess.run([sys.executable, "-m", "fastbp", "train", "--epochs", "2"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        assert done.stderr.count(COMPILE_NOTICE) == expected and COMPILE_NOTICE not in done.stdout
