import numpy as np
import pytest

import reference
from fastbp.kernels import activations as K

CODES = {"linear": K.LINEAR, "relu": K.RELU, "sigmoid": K.SIGMOID, "tanh": K.TANH,
         "leaky_relu": K.LEAKY_RELU, "softmax": K.SOFTMAX}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", list(CODES))
def test_activate_matches_reference(name, dtype, rng):
    Z = rng.normal(scale=3, size=(7, 5)).astype(dtype)
    A = np.empty_like(Z)
    K.activate(Z, A, CODES[name])
    expected = reference.activation(name, Z.astype(np.float64))
    tol = 1e-12 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(A, expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "leaky_relu", "linear"])
def test_activate_in_place(name, rng):
    Z = rng.normal(size=(4, 6))
    expected = reference.activation(name, Z)
    K.activate(Z, Z, CODES[name])
    np.testing.assert_allclose(Z, expected, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", ["linear", "relu", "sigmoid", "tanh", "leaky_relu"])
def test_derivative_from_output_matches_reference(name, dtype, rng):
    Z = rng.normal(scale=2, size=(6, 4))
    A = reference.activation(name, Z).astype(dtype)
    delta = rng.normal(size=Z.shape).astype(dtype)
    expected = delta.astype(np.float64) * reference.derivative(name, Z)
    K.scale_by_derivative(delta, A, CODES[name])
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(delta, expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sigmoid_and_softmax_never_overflow(dtype):
    Z = np.array([[-1e4, 0.0, 1e4], [-800.0, 800.0, 80.0]], dtype=dtype)
    for code in (K.SIGMOID, K.SOFTMAX, K.TANH):
        A = np.empty_like(Z)
        with np.errstate(all="raise"):
            K.activate(Z, A, code)
        assert np.isfinite(A).all()
    A = np.empty_like(Z)
    K.activate(Z, A, K.SOFTMAX)
    np.testing.assert_allclose(A.sum(axis=1), 1, rtol=1e-6)
    assert A[0, 2] == 1 and A[0, 0] == 0
