import numpy as np
import pytest

import reference
from fastbp.kernels import activations as K
from fastbp.kernels import losses as L

CASES = [("softmax", K.SOFTMAX, "cross_entropy", L.CROSS_ENTROPY),
         ("sigmoid", K.SIGMOID, "binary_cross_entropy", L.BINARY_CROSS_ENTROPY),
         ("sigmoid", K.SIGMOID, "mse", L.MSE), ("linear", K.LINEAR, "mse", L.MSE),
         ("tanh", K.TANH, "mse", L.MSE), ("relu", K.RELU, "mse", L.MSE)]


def _targets(rng, loss, m, n):
    if loss == "cross_entropy":
        return reference.one_hot(rng.integers(0, n, m), n)
    if loss == "binary_cross_entropy":
        return rng.integers(0, 2, size=(m, n)).astype(float)
    return rng.uniform(0, 1, size=(m, n))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("out_name,out_code,loss,loss_code", CASES)
def test_output_delta_matches_reference(out_name, out_code, loss, loss_code, dtype, rng):
    m, n = 6, 4
    Z, Y = rng.normal(size=(m, n)), _targets(rng, loss, m, n)
    A, delta = np.empty((m, n), dtype), np.empty((m, n), dtype)
    total = L.output_delta(Z.astype(dtype), Y.astype(dtype), out_code, loss_code, A, delta)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    # The cost of a one-layer identity network is the cost of logits Z.
    ref_cost = reference.cost([np.eye(n)], [np.zeros(n)], [out_name], loss, Z, Y)
    assert total / m == pytest.approx(ref_cost, rel=tol)
    np.testing.assert_allclose(delta, reference.output_delta(out_name, loss, Z, Y), rtol=tol, atol=tol)
    np.testing.assert_allclose(A, reference.activation(out_name, Z), rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cross_entropies_from_extreme_logits_stay_finite(dtype):
    Z = np.array([[1e4, -1e4], [-800.0, 800.0]], dtype=dtype)
    Y = np.array([[0.0, 1.0], [1.0, 0.0]], dtype=dtype)  # confidently wrong: huge but finite loss
    for out_code, loss_code in [(K.SOFTMAX, L.CROSS_ENTROPY), (K.SIGMOID, L.BINARY_CROSS_ENTROPY)]:
        A, delta = np.empty_like(Z), np.empty_like(Z)
        with np.errstate(all="raise"):
            total = L.output_delta(Z, Y, out_code, loss_code, A, delta)
        assert np.isfinite(total) and total > 100
        assert np.isfinite(delta).all()


def test_count_correct():
    A = np.array([[0.1, 0.9], [0.8, 0.2], [0.4, 0.6]])
    Y = np.array([[0.0, 1.0], [0.0, 1.0], [0.0, 1.0]])
    assert L.count_correct(A, Y, K.SOFTMAX) == 2
    assert L.count_correct(A, Y, K.SIGMOID) == 2  # rows 0 and 2 match on both outputs
    assert L.count_correct(A, Y, K.LINEAR) == 0
