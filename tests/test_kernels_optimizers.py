import numpy as np
import pytest

import reference
from fastbp.kernels import optimizers as O

TOL = {np.float64: 1e-12, np.float32: 1e-5}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.5, False), (0.9, True)])
def test_sgd_two_steps(momentum, nesterov, dtype, rng):
    p, v = rng.normal(size=10), np.zeros(10)
    params, velocity = p.astype(dtype), v.astype(dtype)
    for _ in range(2):
        g = rng.normal(size=10)
        O.sgd_update(params, g.astype(dtype), velocity, 0.1, momentum, nesterov)
        p, v = reference.sgd_step(p, g, v, 0.1, momentum, nesterov)
    np.testing.assert_allclose(params, p, rtol=TOL[dtype], atol=TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_adam_three_steps(dtype, rng):
    p, m1, m2 = rng.normal(size=10), np.zeros(10), np.zeros(10)
    params, s1, s2 = p.astype(dtype), m1.astype(dtype), m2.astype(dtype)
    for t in (1, 2, 3):
        g = rng.normal(size=10)
        O.adam_update(params, g.astype(dtype), s1, s2, 0.01, 0.9, 0.999, 1e-8, t)
        p, m1, m2 = reference.adam_step(p, g, m1, m2, t, 0.01)
    np.testing.assert_allclose(params, p, rtol=TOL[dtype], atol=TOL[dtype])
    np.testing.assert_allclose(s2, m2, rtol=TOL[dtype], atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_no_update_leaves_parameters_and_state_alone(dtype, rng):
    params, grads = rng.normal(size=10).astype(dtype), rng.normal(size=10).astype(dtype)
    state = (rng.normal(size=10).astype(dtype), rng.normal(size=10).astype(dtype))
    before = [params.copy(), state[0].copy(), state[1].copy()]
    hyper = np.full(O.N_HYPER, 0.5)
    O.apply_update(O.NO_UPDATE, params, grads, state, hyper, 3)
    for after, kept in zip([params, *state], before):
        np.testing.assert_array_equal(after, kept)
