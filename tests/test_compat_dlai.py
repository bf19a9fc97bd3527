import os

import h5py
import numpy as np
import pytest

import seeds_reference as seed
from fastbp.compat import dlai


def _close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_course_conventions_match_the_reference(rng):
    X = rng.uniform(size=(30, 11))
    Y = (rng.uniform(size=(1, 11)) > 0.5).astype(float)
    params, ref_params = dlai.initialize_parameters_deep([30, 6, 4, 1]), seed.iniPara([30, 6, 4, 1])
    AL, caches = dlai.L_model_forward(X, params)
    ref_AL, ref_caches = seed.forwardModel(X, ref_params)
    _close(AL, ref_AL)
    (A_prev, W, b), Z = caches[0]
    assert A_prev is X and W is params["W1"]
    assert dlai.compute_cost(AL, Y) == pytest.approx(
        -np.mean(Y * np.log(ref_AL) + (1 - Y) * np.log(1 - ref_AL)), rel=1e-12)
    grads = dlai.L_model_backward(AL, Y, caches)
    ref = seed.backwardModel(ref_AL, Y, ref_caches)
    assert set(grads) == {"dA0", "dA1", "dA2", "dW1", "dW2", "dW3", "db1", "db2", "db3"}
    for l in (1, 2, 3):
        _close(grads["dA" + str(l - 1)], ref["dA" + str(l)])
        _close(grads["dW" + str(l)], ref["dW" + str(l)])
    new = dlai.update_parameters(params, grads, 0.1)
    _close(new["W2"], ref_params["W2"] - 0.1 * ref["dW2"])


def test_pieces_return_the_course_tuples(rng):
    Z = rng.normal(size=(3, 4))
    A, cache = dlai.relu(Z)
    assert cache is Z and np.array_equal(A, np.maximum(Z, 0))
    A, cache = dlai.sigmoid(Z)
    _close(A, seed.sigmoid(Z))
    W, b, A_prev = rng.normal(size=(3, 5)), rng.normal(size=(3, 1)), rng.normal(size=(5, 4))
    Z, (c_A, c_W, c_b) = dlai.linear_forward(A_prev, W, b)
    assert c_A is A_prev and c_W is W and c_b is b
    A, cache = dlai.linear_activation_forward(A_prev, W, b, "sigmoid")
    dA_prev, dW, db = dlai.linear_activation_backward(np.ones_like(A), cache, "sigmoid")
    ref = seed.linearActivationBackward(np.ones_like(A), ((W, A_prev, b), cache[1]), "sigmoid")
    for got, want in zip((dA_prev, dW, db), ref):
        _close(got, want)
    _close(dlai.relu_backward(np.ones_like(Z), Z), seed.reluBackward(np.ones_like(Z), Z))


def test_predict_prints_accuracy(rng, capsys):
    X = rng.uniform(size=(8, 10))
    params = dlai.initialize_parameters_deep([8, 3, 1])
    p = dlai.predict(X, np.zeros((1, 10)), params)
    assert p.shape == (1, 10)
    assert capsys.readouterr().out.startswith("Accuracy: ")


def test_load_data_reads_the_course_files(tmp_path, rng, monkeypatch):
    os.makedirs(tmp_path / "datasets")
    with h5py.File(tmp_path / "datasets" / "train_catvnoncat.h5", "w") as f:
        f["train_set_x"], f["train_set_y"] = rng.integers(0, 255, (4, 2, 2, 3)), np.array([0, 1, 1, 0])
    with h5py.File(tmp_path / "datasets" / "test_catvnoncat.h5", "w") as f:
        f["test_set_x"], f["test_set_y"] = rng.integers(0, 255, (2, 2, 2, 3)), np.array([1, 0])
        f["list_classes"] = np.array([b"non-cat", b"cat"])
    monkeypatch.chdir(tmp_path)
    train_x, train_y, test_x, test_y, classes = dlai.load_data()
    assert train_x.shape == (4, 2, 2, 3) and train_y.shape == (1, 4) and test_y.shape == (1, 2)
