"""The register-tile micro-kernel (fastbp.kernels.microkernel) against NumPy at every shape class and operand layout."""
import numpy as np
import pytest
from numba import njit

from fastbp.kernels import microkernel as MK
from fastbp.kernels.config import JIT_OPTIONS

TOL = {np.float64: 1e-12, np.float32: 1e-5}
# Not cached: a cached wrapper keeps the micro-kernel it was compiled with after the kernel changes.
OPTIONS = {**JIT_OPTIONS, "cache": False}
CHUNK = 8  # a short chunk of the inner dimension, so small k still crosses chunk edges


@njit(**OPTIONS)
def _rows_product(A, B, out, k_chunk):
    """out = A @ B with A read by rows, as the forward pass does."""
    m, k = A.shape
    n = B.shape[1]
    MK.skinny_product(m, n, k, A, 0, k, 1, B, 0, n, out, 0, out.strides[0] // out.itemsize, k_chunk)


@njit(**OPTIONS)
def _columns_product(A_wide, start, stop, B, out, k_chunk):
    """out[start:stop] = A_wide[:, start:stop].T @ B, as the weight gradient of a block of rows of W does."""
    m, width = A_wide.shape
    n = B.shape[1]
    MK.skinny_product(stop - start, n, m, A_wide, start, 1, width, B, 0, n, out, start * n, n, k_chunk)


def _lanes(dtype):
    return MK.VECTOR_BYTES // np.dtype(dtype).itemsize


def _cases(dtype):
    lanes, tile = _lanes(dtype), MK.TILE_ROWS
    widths = [1, 2, lanes - 1, lanes, lanes + 1, 2 * lanes, 2 * lanes + 3, 3 * lanes]  # masked edges of 1-3 vectors
    rows = [1, tile - 1, tile, tile + 1, 3 * tile + 5]
    inner = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 5]
    return [(m, k, n) for n in widths for m in rows for k in inner]


def _expected(A, B):
    return A.astype(np.float64) @ B.astype(np.float64)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_rows_product_equals_numpy_on_every_shape_class(dtype, rng):
    for m, k, n in _cases(dtype):
        A, B = rng.normal(size=(m, k)).astype(dtype), rng.normal(size=(k, n)).astype(dtype)
        out = np.full((m, n), np.nan, dtype)
        _rows_product(A, B, out, CHUNK)
        np.testing.assert_allclose(out, _expected(A, B), rtol=TOL[dtype], atol=TOL[dtype] * np.sqrt(k + 1),
                                   err_msg=str((m, k, n)))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_columns_product_equals_numpy_on_every_shape_class(dtype, rng):
    for m, k, n in _cases(dtype):
        # A block of k columns out of a wider matrix of m rows: the gradient's A^T is strided both ways.
        A_wide, D = rng.normal(size=(m, k + 7)).astype(dtype), rng.normal(size=(m, n)).astype(dtype)
        out = np.full((k + 7, n), np.nan, dtype)
        _columns_product(A_wide, 3, 3 + k, D, out, CHUNK)
        np.testing.assert_allclose(out[3:3 + k], _expected(A_wide[:, 3:3 + k].T, D), rtol=TOL[dtype],
                                   atol=TOL[dtype] * np.sqrt(m + 1), err_msg=str((m, k, n)))
        assert np.isnan(out[:3]).all() and np.isnan(out[3 + k:]).all()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_masked_edges_write_only_the_output_block(dtype, rng):
    """Columns past n in a wider output and rows past m are left as they were."""
    m, k, n = MK.TILE_ROWS + 3, 2 * CHUNK + 1, 2 * _lanes(dtype) + 5
    A, B = rng.normal(size=(m, k)).astype(dtype), rng.normal(size=(k, n)).astype(dtype)
    wide = np.full((m + 2, 3 * _lanes(dtype) + 9), 7.0, dtype)
    _rows_product(A, B, wide[:m, :n], CHUNK)  # a strided view: rows 3 * lanes + 9 apart
    assert np.all(wide[:m, n:] == 7.0) and np.all(wide[m:] == 7.0)
    np.testing.assert_allclose(wide[:m, :n], _expected(A, B), rtol=TOL[dtype], atol=10 * TOL[dtype])


@pytest.mark.parametrize("chunk", [1, 3, 256])
def test_the_sum_runs_in_order_whatever_the_chunk(chunk, rng):
    """Chunks accumulate in order along k: the bits equal a plain left-to-right float64 sum."""
    A, B = rng.normal(size=(MK.TILE_ROWS + 2, 50)), rng.normal(size=(50, 3))
    out = np.empty((A.shape[0], 3))
    _rows_product(A, B, out, chunk)
    expected = np.zeros_like(out)
    for p in range(50):
        expected += A[:, p:p + 1] * B[p]  # one multiply-add per step, like the tile's fused one up to rounding
    np.testing.assert_allclose(out, expected, rtol=1e-13, atol=1e-13)
