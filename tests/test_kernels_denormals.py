"""The floating-point mode intrinsics (kernels/denormals.py): flush to zero, and restore the caller's mode."""
import numpy as np
import pytest
from numba import njit

from fastbp.kernels.denormals import FLUSH_TO_ZERO, X86, enter_training_mode, fp_mode, set_fp_mode

pytestmark = pytest.mark.skipif(not X86, reason="the mode is the x86 MXCSR; elsewhere it is IEEE throughout")

TINY = {np.float32: np.float32(2e-38), np.float64: 4e-308}  # normal numbers whose half is denormal


@njit
def _halve(x, flush):
    """x / 2 computed in training mode; returns it with the mode during and after."""
    previous = enter_training_mode(flush)
    during = fp_mode()
    half = x * x.dtype.type(0.5)
    set_fp_mode(previous)
    return half, during, fp_mode()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_training_mode_flushes_denormal_results_to_zero_and_restores_the_mode(dtype):
    x = np.full(3, TINY[dtype], dtype)
    before = _halve(x, False)[2]
    half, during, after = _halve(x, True)
    assert np.all(half == 0)
    assert during & FLUSH_TO_ZERO == FLUSH_TO_ZERO
    assert after == before and after & FLUSH_TO_ZERO == 0
    assert np.all(x * dtype(0.5) > 0)  # and NumPy, in this thread, is IEEE again


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ieee_mode_keeps_denormals(dtype):
    half, during, _ = _halve(np.full(3, TINY[dtype], dtype), False)
    assert np.all(half == TINY[dtype] / 2) and np.all(half > 0)
    assert during & FLUSH_TO_ZERO == 0


def test_set_fp_mode_returns_the_previous_mode():
    @njit
    def swap_twice():
        original = fp_mode()
        first = set_fp_mode(original | FLUSH_TO_ZERO)
        second = set_fp_mode(original)
        return original, first, second

    original, first, second = swap_twice()
    assert first == original and second == original | FLUSH_TO_ZERO
