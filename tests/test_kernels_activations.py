import numba
import numpy as np
import pytest
from numba import njit

import reference
from fastbp.kernels import activations as K

CODES = {"linear": K.LINEAR, "relu": K.RELU, "sigmoid": K.SIGMOID, "tanh": K.TANH,
         "leaky_relu": K.LEAKY_RELU, "softmax": K.SOFTMAX}


@pytest.mark.parametrize("shape", [(7, 5), (1, 10), (16, 10), (33, 3)])  # softmax: one row, and many in one flat pass
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", list(CODES))
def test_activate_matches_reference(name, dtype, shape, rng):
    Z = rng.normal(scale=3, size=shape).astype(dtype)
    A = Z.copy()
    K.activate(A, CODES[name])
    expected = reference.activation(name, Z.astype(np.float64))
    tol = 1e-12 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(A, expected, rtol=tol, atol=tol)


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
        A = Z.copy()
        with np.errstate(all="raise"):
            K.activate(A, code)
        assert np.isfinite(A).all()
    A = Z.copy()
    K.activate(A, K.SOFTMAX)
    np.testing.assert_allclose(A.sum(axis=1), 1, rtol=1e-6)
    assert A[0, 2] == 1 and A[0, 0] == 0


@njit
def _exp_each(x, out):
    for i in range(x.shape[0]):
        out[i] = K.exp_nonpositive(x[i])


@pytest.mark.parametrize("dtype,lowest", [(np.float64, 708.0), (np.float32, 87.0)])
def test_exp_nonpositive_is_within_two_ulp_in_its_arguments_precision(dtype, lowest):
    rng = np.random.default_rng(0)
    x = -np.concatenate([rng.uniform(0, lowest, 100_000), rng.uniform(0, 1, 100_000), rng.uniform(0, 1e-8, 1000),
                         [0.0, np.finfo(dtype).smallest_subnormal, 1e-30, np.log(2), lowest - 0.001]]).astype(dtype)
    out = np.empty_like(x)
    _exp_each(x, out)
    exact = np.exp(x.astype(np.float64))  # NumPy's float64 exp: within an ulp of float64, exact for float32
    assert np.all(np.abs(out - exact) <= 2 * np.spacing(np.exp(x)).astype(np.float64))
    tail = np.array([-lowest - 0.5, -745.2, -1e4, -np.inf], dtype=dtype)
    _exp_each(tail, tail_out := np.empty(4, dtype))
    assert np.array_equal(tail_out, np.zeros(4))  # below the normal range: 0, never NaN or garbage
    K.exp_nonpositive(dtype(-1.0))  # a float32 argument is computed and returned in float32
    kind = numba.from_dtype(dtype)
    assert [sig.return_type for sig in K.exp_nonpositive.nopython_signatures if sig.args == (kind,)] == [kind]


@njit
def _tanh_each(x, out):
    for i in range(x.shape[0]):
        out[i] = K.tanh(x[i])


# At most 6 ulp measured in float64 and 3.86 in float32, just above the series' range, where 1 - exp(-2|z|)
# cancels (1.3e-15 and 2.3e-7 relative).
@pytest.mark.parametrize("dtype,ulps", [(np.float64, 8), (np.float32, 4)])
def test_tanh_is_within_a_few_ulp_of_numpy_in_its_arguments_precision(dtype, ulps):
    rng = np.random.default_rng(1)
    tiny = np.finfo(dtype).smallest_subnormal
    magnitudes = np.concatenate([rng.uniform(0, 20, 100_000), rng.uniform(0, 0.2, 100_000),
                                 rng.uniform(0, 1e-6, 1000), [0.0, tiny, 1e-30, 0.125, np.nextafter(dtype(0.125), 0),
                                                              19.1, 40.0, 1e4, np.inf]]).astype(dtype)
    x = np.concatenate([magnitudes, -magnitudes])
    out = np.empty_like(x)
    _tanh_each(x, out)
    exact = np.tanh(x.astype(np.float64))
    assert np.all(np.abs(out - exact) <= ulps * np.spacing(np.abs(np.tanh(x))).astype(np.float64))
    nonzero = x != 0  # the sign of a zero result is not kept (fastmath "nsz")
    assert np.array_equal(np.signbit(out[nonzero]), np.signbit(exact[nonzero]))
    nan = np.array([np.nan], dtype=dtype)
    _tanh_each(nan, nan_out := np.empty(1, dtype))
    assert np.isnan(nan_out[0])  # a diverged network stays visibly diverged
