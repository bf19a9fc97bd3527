import numpy as np
import pytest

import reference
from fastbp.kernels import optimizers as O

TOL = {np.float64: 1e-12, np.float32: 1e-5}


def _coeffs(optimizer, step, lr, momentum=0.0, nesterov=False, beta1=0.9, beta2=0.999, epsilon=1e-8):
    hyper = np.zeros(O.N_HYPER)
    hyper[[O.LR, O.MOMENTUM, O.NESTEROV, O.BETA1, O.BETA2, O.EPSILON]] = lr, momentum, nesterov, beta1, beta2, epsilon
    coeffs = np.empty(O.N_COEFFS)
    O.step_coefficients(optimizer, hyper, step, coeffs)
    return coeffs


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.5, False), (0.9, True)])
def test_sgd_two_steps(momentum, nesterov, dtype, rng):
    p, v = rng.normal(size=10), np.zeros(10)
    params, velocity, unused = p.astype(dtype), v.astype(dtype), np.zeros(10, dtype)
    for step in (1, 2):
        g = rng.normal(size=10)
        O.apply_update(O.SGD, params, g.astype(dtype), (velocity, unused), _coeffs(O.SGD, step, 0.1, momentum, nesterov))
        p, v = reference.sgd_step(p, g, v, 0.1, momentum, nesterov)
    np.testing.assert_allclose(params, p, rtol=TOL[dtype], atol=TOL[dtype])
    assert not unused.any()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_adam_three_steps(dtype, rng):
    p, m1, m2 = rng.normal(size=10), np.zeros(10), np.zeros(10)
    params, s1, s2 = p.astype(dtype), m1.astype(dtype), m2.astype(dtype)
    for t in (1, 2, 3):
        g = rng.normal(size=10)
        O.apply_update(O.ADAM, params, g.astype(dtype), (s1, s2), _coeffs(O.ADAM, t, 0.01))
        p, m1, m2 = reference.adam_step(p, g, m1, m2, t, 0.01)
    np.testing.assert_allclose(params, p, rtol=TOL[dtype], atol=TOL[dtype])
    np.testing.assert_allclose(s2, m2, rtol=TOL[dtype], atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_no_update_leaves_parameters_and_state_alone(dtype, rng):
    params, grads = rng.normal(size=10).astype(dtype), rng.normal(size=10).astype(dtype)
    state = (rng.normal(size=10).astype(dtype), rng.normal(size=10).astype(dtype))
    before = [params.copy(), state[0].copy(), state[1].copy()]
    O.apply_update(O.NO_UPDATE, params, grads, state, np.full(O.N_COEFFS, 0.5))
    for after, kept in zip([params, *state], before):
        np.testing.assert_array_equal(after, kept)


def test_stateless_sgd_accepts_empty_state(rng):
    """The gradient-only and plain-SGD callers may pass optimizer state with no elements."""
    params, grads = rng.normal(size=7), rng.normal(size=7)
    expected = params - 0.1 * grads
    O.apply_update(O.SGD, params, grads, (np.zeros(0), np.zeros(0)), _coeffs(O.SGD, 1, 0.1))
    np.testing.assert_allclose(params, expected, rtol=1e-15)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.0, True), (0.5, False), (0.9, True)])
def test_sklearn_sgd_two_steps(momentum, nesterov, dtype, rng):
    p, v = rng.normal(size=10), np.zeros(10)
    params, velocity = p.astype(dtype), v.astype(dtype)
    for step, lr in ((1, 0.1), (2, 0.05)):  # a schedule's new rate does not rescale the velocity
        g = rng.normal(size=10)
        O.apply_update(O.SKLEARN_SGD, params, g.astype(dtype), (velocity, np.zeros(0, dtype)),
                       _coeffs(O.SKLEARN_SGD, step, lr, momentum, nesterov))
        p, v = reference.sklearn_sgd_step(p, g, v, lr, momentum, nesterov)
    np.testing.assert_allclose(params, p, rtol=TOL[dtype], atol=TOL[dtype])
    np.testing.assert_allclose(velocity, v, rtol=TOL[dtype], atol=TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sklearn_adam_three_steps(dtype, rng):
    p, m1, m2 = rng.normal(size=10), np.zeros(10), np.zeros(10)
    params, s1, s2 = p.astype(dtype), m1.astype(dtype), m2.astype(dtype)
    for t in (1, 2, 3):
        g = rng.normal(size=10)
        O.apply_update(O.SKLEARN_ADAM, params, g.astype(dtype), (s1, s2), _coeffs(O.SKLEARN_ADAM, t, 0.01, epsilon=1e-3))
        p, m1, m2 = reference.sklearn_adam_step(p, g, m1, m2, t, 0.01, eps=1e-3)
    np.testing.assert_allclose(params, p, rtol=TOL[dtype], atol=TOL[dtype])
    np.testing.assert_allclose(s1, m1, rtol=TOL[dtype], atol=1e-12)


def test_sklearn_adam_differs_from_pytorch_adam(rng):
    """The two Adam forms place epsilon differently: with a large epsilon their steps differ."""
    g = rng.normal(size=10)
    steps = []
    for optimizer in (O.ADAM, O.SKLEARN_ADAM):
        params = np.zeros(10)
        O.apply_update(optimizer, params, g, (np.zeros(10), np.zeros(10)), _coeffs(optimizer, 1, 0.01, epsilon=0.1))
        steps.append(params)
    assert np.abs(steps[0] - steps[1]).max() > 1e-4


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("optimizer", [O.SGD, O.ADAM, O.SKLEARN_SGD, O.SKLEARN_ADAM])
def test_update_row_folds_l2_and_returns_the_sum_of_squares(optimizer, dtype, rng):
    """update_row(..., l2) is the step on grads + l2 * params, and returns sum(params**2) before it."""
    p, g = rng.normal(size=(1, 12)).astype(dtype), rng.normal(size=(1, 12)).astype(dtype)
    coeffs = _coeffs(optimizer, 1, 0.05, momentum=0.7, nesterov=True)
    folded, unfolded = p.copy(), p.copy()
    states = [(np.zeros_like(p), np.zeros_like(p)) for _ in range(2)]
    sum_sq = O.update_row(optimizer, coeffs, folded, *states[0], 0, g, 0, 1.0, 0.25)
    O.update_row(optimizer, coeffs, unfolded, *states[1], 0, g + dtype(0.25) * p, 0, 1.0, 0.0)
    np.testing.assert_allclose(folded, unfolded, rtol=TOL[dtype], atol=TOL[dtype])
    np.testing.assert_allclose(states[0][0], states[1][0], rtol=TOL[dtype], atol=TOL[dtype])
    assert sum_sq == pytest.approx(float(np.sum(p.astype(float) ** 2)), rel=TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("optimizer", [O.SGD, O.ADAM, O.SKLEARN_SGD, O.SKLEARN_ADAM])
def test_update_row_scales_a_gradient_row_taken_from_another_array(optimizer, dtype, rng):
    """update_row(.., delta, r, a, ..) steps params[row] on a * delta[r]: batch 1's outer-product gradient row."""
    p, delta = rng.normal(size=(3, 12)).astype(dtype), rng.normal(size=(2, 12)).astype(dtype)
    coeffs = _coeffs(optimizer, 2, 0.05, momentum=0.7, nesterov=True)
    scaled, stored = p.copy(), p.copy()
    states = [(np.full_like(p, 0.1), np.full_like(p, 0.2)) for _ in range(2)]
    a = dtype(-1.5)
    O.update_row(optimizer, coeffs, scaled, *states[0], 2, delta, 1, a, 0.25)
    O.update_row(optimizer, coeffs, stored, *states[1], 2, a * delta[1:], 0, 1.0, 0.25)
    np.testing.assert_allclose(scaled, stored, rtol=TOL[dtype], atol=TOL[dtype])
    np.testing.assert_array_equal(scaled[:2], p[:2])  # only row 2 moves
    for got, want in zip(states[0], states[1]):
        np.testing.assert_allclose(got, want, rtol=TOL[dtype], atol=TOL[dtype])


@pytest.mark.parametrize("optimizer,momentum,nesterov,rule", [
    (O.SGD, 0.9, False, O.FOLDED_SGD), (O.SKLEARN_SGD, 0.9, False, O.FOLDED_SKLEARN_SGD),
    (O.SKLEARN_SGD, 0.0, False, O.FOLDED_SKLEARN_SGD), (O.SGD, 0.0, False, None), (O.SGD, 0.9, True, None),
    (O.SKLEARN_SGD, 0.9, True, None), (O.ADAM, 0.0, False, None), (O.SKLEARN_ADAM, 0.0, False, None),
    (O.NO_UPDATE, 0.9, False, None)])
def test_which_optimizers_fold_the_gradient_into_the_velocity(optimizer, momentum, nesterov, rule):
    """PyTorch's SGD with momentum and scikit-learn's SGD (its velocity holds -lr * dW even without momentum),
    neither with Nesterov."""
    alpha, beta, got = O.gradient_fold(optimizer, _coeffs(optimizer, 1, 0.1, momentum, nesterov))
    if rule is None:
        assert (alpha, beta, got) == (0.0, 0.0, optimizer)
    else:
        assert (alpha, beta, got) == ((1.0 if optimizer == O.SGD else -0.1), momentum, rule)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("l2", [0.0, 0.3])
@pytest.mark.parametrize("optimizer,momentum", [(O.SGD, 0.5), (O.SGD, 0.9), (O.SKLEARN_SGD, 0.9),
                                                (O.SKLEARN_SGD, 0.0)])
def test_a_folded_step_equals_the_step_from_the_gradient(optimizer, momentum, l2, dtype, rng):
    """state1 = alpha * dW + beta * state1 (what the product writes), then the folded rule: the step from dW."""
    W, v, dW = rng.normal(size=(5, 8)), rng.normal(size=(5, 8)), rng.normal(size=(5, 8))
    for step in (1, 2):
        coeffs = _coeffs(optimizer, step, 0.1, momentum)
        alpha, beta, rule = O.gradient_fold(optimizer, coeffs)
        Wf, vf = W.astype(dtype), (alpha * dW + beta * v).astype(dtype)
        Wu, vu, unused = W.astype(dtype), v.astype(dtype), np.zeros((5, 8), dtype)
        no_gradient = np.full((0, 8), np.nan, dtype)  # the folded rules read no gradient
        folded = [O.update_row(rule, coeffs, Wf, vf, unused, np.intp(r), no_gradient, 0, 1.0, l2) for r in range(5)]
        unfolded = [O.update_row(optimizer, coeffs, Wu, vu, unused, np.intp(r), dW.astype(dtype), r, 1.0, l2)
                    for r in range(5)]
        np.testing.assert_allclose(Wf, Wu, rtol=TOL[dtype], atol=TOL[dtype])
        np.testing.assert_allclose(vf, vu, rtol=TOL[dtype], atol=TOL[dtype])
        assert folded == pytest.approx(unfolded, rel=TOL[dtype]) and (sum(folded) > 0) is (l2 > 0)
        assert not unused.any()
        W, v, dW = Wu.astype(np.float64), vu.astype(np.float64), rng.normal(size=(5, 8))
