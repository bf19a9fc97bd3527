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


@pytest.mark.parametrize("m,n", [(6, 4), (1, 10), (16, 10)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("out_name,out_code,loss,loss_code", CASES)
def test_output_delta_matches_reference(out_name, out_code, loss, loss_code, dtype, m, n, rng):
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


WEIGHTED_CASES = [("softmax", K.SOFTMAX, "log_loss", L.LOG_LOSS),
                  ("sigmoid", K.SIGMOID, "binary_log_loss", L.BINARY_LOG_LOSS),
                  ("linear", K.LINEAR, "half_squared_error", L.HALF_SQUARED_ERROR),
                  ("exp", K.EXP, "half_poisson", L.HALF_POISSON)]


def _weighted_targets(rng, loss, m, n):
    if loss == "log_loss":
        return reference.one_hot(rng.integers(0, n, m), n)
    if loss == "binary_log_loss":
        return rng.integers(0, 2, size=(m, n)).astype(float)
    if loss == "half_poisson":
        return rng.poisson(2.0, size=(m, n)).astype(float)  # zeros included: y log(y / a) is 0 there
    return rng.normal(size=(m, n))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("out_name,out_code,loss,loss_code", WEIGHTED_CASES)
@pytest.mark.parametrize("weighted", [False, True])
def test_weighted_output_delta_matches_reference(out_name, out_code, loss, loss_code, weighted, dtype, rng):
    m, n = 7, 3
    Z, Y = rng.normal(size=(m, n)), _weighted_targets(rng, loss, m, n)
    w = rng.uniform(0.1, 3.0, m) if weighted else np.ones(m)
    A, delta = np.empty((m, n), dtype), np.empty((m, n), dtype)
    total, weight_sum = L.weighted_output_delta(Z.astype(dtype), Y.astype(dtype), w.astype(dtype).reshape(m, 1),
                                                out_code, loss_code, A, delta)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    A_ref = np.exp(Z) if out_name == "exp" else reference.activation(out_name, Z)
    np.testing.assert_allclose(A, A_ref, rtol=tol, atol=tol)
    assert weight_sum == pytest.approx(w.sum(), rel=tol)
    assert total == pytest.approx(reference.sklearn_loss(loss, A_ref.astype(dtype), Y, w), rel=tol)
    np.testing.assert_allclose(delta, (A_ref - Y) * (w / w.sum())[:, None], rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_weighted_log_losses_clip_probabilities_as_sklearn(dtype):
    """A confidently wrong output costs -log(eps) of its dtype, as scikit-learn reports, not the logit."""
    Z = np.array([[800.0, -800.0]], dtype=dtype)
    Y = np.array([[0.0, 1.0]], dtype=dtype)
    A, delta = np.empty_like(Z), np.empty_like(Z)
    total, _ = L.weighted_output_delta(Z, Y, np.ones((1, 1), dtype), K.SOFTMAX, L.LOG_LOSS, A, delta)
    assert total == pytest.approx(-np.log(np.finfo(dtype).eps), rel=1e-6)
