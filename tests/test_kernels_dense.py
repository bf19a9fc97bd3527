import numpy as np
import pytest

import reference
from fastbp.kernels import activations as K
from fastbp.kernels.dense import dense_forward, hidden_delta, weight_gradient

TOL = {np.float64: 1e-12, np.float32: 1e-5}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name,code", [("relu", K.RELU), ("sigmoid", K.SIGMOID), ("tanh", K.TANH),
                                       ("linear", K.LINEAR), ("leaky_relu", K.LEAKY_RELU),
                                       ("softmax", K.SOFTMAX)])
def test_dense_forward(name, code, dtype, rng):
    A_prev, W, b = rng.normal(size=(9, 6)), rng.normal(size=(6, 4)), rng.normal(size=4)
    out = np.empty((9, 4), dtype)
    dense_forward(A_prev.astype(dtype), W.astype(dtype), b.astype(dtype), code, out)
    expected = reference.activation(name, A_prev @ W + b)
    np.testing.assert_allclose(out, expected, rtol=TOL[dtype], atol=TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name,code", [("relu", K.RELU), ("sigmoid", K.SIGMOID), ("tanh", K.TANH)])
def test_hidden_delta(name, code, dtype, rng):
    delta, W, Z_prev = rng.normal(size=(5, 3)), rng.normal(size=(7, 3)), rng.normal(size=(5, 7))
    A_prev = reference.activation(name, Z_prev)
    out = np.empty((5, 7), dtype)
    hidden_delta(delta.astype(dtype), W.astype(dtype), A_prev.astype(dtype), code, out)
    expected = (delta @ W.T) * reference.derivative(name, Z_prev)
    np.testing.assert_allclose(out, expected, rtol=TOL[dtype], atol=TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("l2_over_m", [0.0, 0.3])
def test_weight_gradient(l2_over_m, dtype, rng):
    A_prev, delta, W = rng.normal(size=(8, 5)), rng.normal(size=(8, 3)), rng.normal(size=(5, 3))
    dW, db = np.empty((5, 3), dtype), np.empty(3, dtype)
    sum_sq = weight_gradient(A_prev.astype(dtype), delta.astype(dtype), W.astype(dtype),
                             l2_over_m, dW, db)
    np.testing.assert_allclose(dW, A_prev.T @ delta + l2_over_m * W, rtol=TOL[dtype], atol=TOL[dtype])
    np.testing.assert_allclose(db, delta.sum(axis=0), rtol=TOL[dtype], atol=TOL[dtype])
    assert sum_sq == pytest.approx(np.sum(W ** 2) if l2_over_m else 0.0, rel=TOL[dtype])


def test_operands_taken_transposed_and_one_row(rng):
    # A single-sample batch exercises the (1, n) GEMM paths used by per-sample SGD.
    A_prev, W, b = rng.normal(size=(1, 2)), rng.normal(size=(2, 3)), np.zeros(3)
    out = np.empty((1, 3))
    dense_forward(A_prev, W, b, K.SIGMOID, out)
    np.testing.assert_allclose(out, reference.activation("sigmoid", A_prev @ W), rtol=1e-12)
