import ctypes
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import cfunc
from numba.np.numpy_support import from_dtype
from threadpoolctl import threadpool_info

from fastbp.kernels import blas, dense

TOL = {np.float64: 1e-12, np.float32: 1e-5}


def stored(rng, shape, transposed, pad, dtype):
    """(op, buffer, ld): an operand op of the given shape, and the row-major buffer holding it (or its transpose,
    when ``transposed``) with ``pad`` unused elements after each row, so ld, the leading dimension, is the
    buffer's row length."""
    op = rng.normal(size=shape).astype(dtype)
    rows = op.T if transposed else op
    buffer = np.full((rows.shape[0], rows.shape[1] + pad), np.nan, dtype)
    buffer[:, :rows.shape[1]] = rows
    return op, buffer, buffer.shape[1]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("transposed_A", [False, True])
@pytest.mark.parametrize("transposed_B", [False, True])
@pytest.mark.parametrize("pad", [0, 3])  # 3: rows longer than the matrix, as the blocks of dense_parallel
@pytest.mark.parametrize("m,k,n", [(209, 300, 20), (1, 7, 5), (6, 1, 4), (5, 8, 1), (1, 1, 1)])
def test_gemm_at_matches_numpy_for_every_orientation_and_leading_dimension(m, k, n, transposed_A, transposed_B,
                                                                            pad, dtype, rng):
    op_A, A, lda = stored(rng, (m, k), transposed_A, pad, dtype)
    op_B, B, ldb = stored(rng, (k, n), transposed_B, pad, dtype)
    out = np.full((m, n + pad), np.nan, dtype)
    # To Fortran a row-major buffer is its transpose: out^T (n, m) = op(B)^T op(A)^T.
    flag = {False: blas.NO_TRANSPOSE, True: blas.TRANSPOSE}
    blas.gemm_at(flag[transposed_B], flag[transposed_A], n, m, k, 1.0, B, 0, ldb, A, 0, lda, 0.0, out, 0, n + pad)
    expected = op_A.astype(np.float64) @ op_B.astype(np.float64)
    np.testing.assert_allclose(out[:, :n], expected, rtol=TOL[dtype], atol=TOL[dtype] * np.sqrt(k))
    assert np.isnan(out[:, n:]).all()  # the padding belongs to someone else


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("alpha,beta", [(1.0, 0.5), (-0.01, 0.9), (2.0, 1.0), (-0.5, 0.0)])
def test_gemm_at_adds_the_scaled_product_to_the_scaled_output(alpha, beta, dtype, rng):
    """C = alpha op(A) op(B) + beta C, as the optimizers' folded gradient calls it (A transposed, as A_prev.T);
    beta 0 writes C without reading it."""
    m, k, n = 37, 19, 23
    op_A, A, lda = stored(rng, (m, k), True, 3, dtype)
    op_B, B, ldb = stored(rng, (k, n), False, 0, dtype)
    before = rng.normal(size=(m, n)).astype(dtype) if beta else np.full((m, n), np.nan, dtype)
    out = before.copy()
    blas.gemm_at(blas.NO_TRANSPOSE, blas.TRANSPOSE, n, m, k, alpha, B, 0, ldb, A, 0, lda, beta, out, 0, n)
    expected = alpha * (op_A.astype(np.float64) @ op_B.astype(np.float64))
    if beta:
        expected += beta * before.astype(np.float64)
    np.testing.assert_allclose(out, expected, rtol=TOL[dtype], atol=TOL[dtype] * np.sqrt(k))


@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 40), k=st.integers(1, 40), n=st.integers(1, 40),
       transposed_A=st.booleans(), transposed_B=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_matmul_property_against_numpy(m, k, n, transposed_A, transposed_B, seed):
    # Products up to dense.SMALL_PRODUCT multiply-adds are loops, the others BLAS calls: both, every orientation.
    rng = np.random.default_rng(seed)
    op_A, A, _ = stored(rng, (m, k), transposed_A, 0, np.float64)
    op_B, B, _ = stored(rng, (k, n), transposed_B, 0, np.float64)
    out = np.empty((m, n))
    flag = {False: dense.AS_STORED, True: dense.TRANSPOSED}
    dense.matmul(A, B, out, flag[transposed_A], flag[transposed_B])
    np.testing.assert_allclose(out, op_A @ op_B, rtol=1e-12, atol=1e-12 * k)


def test_bound_to_numpys_openblas_when_numpy_has_one():
    numpy_openblas = [info for info in threadpool_info()
                      if info["internal_api"] == "openblas" and "numpy" in info["filepath"]]
    if not numpy_openblas or "64_" not in os.path.basename(numpy_openblas[0]["filepath"]):
        pytest.skip("this NumPy has no ILP64 OpenBLAS")
    assert blas.BLAS_LIBRARY.startswith("OpenBLAS")
    assert os.path.basename(numpy_openblas[0]["filepath"]) in blas.BLAS_LIBRARY
    assert blas.NUMPYS_OPENBLAS  # what fastbp.compat needs for np.dot's bits from the kernels' gemm


def _call_fallback(dtype, transa, transb, A, B, C, alpha, beta, m, n, k, lda, ldb, ldc):
    """Run the np.dot fallback through its C ABI, exactly as the kernels would call it."""
    function = cfunc(blas._gemm_signature(from_dtype(np.dtype(dtype))))(blas._numba_gemm)
    real = np.ctypeslib.as_ctypes_type(dtype)
    integer = ctypes.c_int64

    def ref(ctype, value):
        return ctypes.byref(ctype(value))

    def data(array):
        return array.ctypes.data_as(ctypes.POINTER(real))

    function.ctypes(ref(ctypes.c_uint8, ord(transa)), ref(ctypes.c_uint8, ord(transb)),
                    ref(integer, m), ref(integer, n), ref(integer, k), ref(real, alpha), data(A),
                    ref(integer, lda), data(B), ref(integer, ldb), ref(real, beta), data(C), ref(integer, ldc))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("transa", ["N", "T"])
@pytest.mark.parametrize("transb", ["N", "T"])
@pytest.mark.parametrize("alpha,beta", [(1.0, 0.0), (2.0, 0.5)])
@pytest.mark.parametrize("pad", [0, 2])  # 0 with alpha 1, beta 0: the no-copy path the kernels' calls take
def test_fallback_follows_fortran_gemm(transa, transb, alpha, beta, pad, dtype, rng):
    # The fallback must honour the whole ?gemm contract (column-major, leading dimensions,
    # alpha, beta) since it replaces BLAS behind the same symbol.
    m, n, k = 4, 3, 5
    op_A = rng.normal(size=(m, k)).astype(dtype)
    op_B = rng.normal(size=(k, n)).astype(dtype)
    stored_A = op_A if transa == "N" else op_A.T
    stored_B = op_B if transb == "N" else op_B.T
    # Column-major storage with leading dimension rows + pad: Fortran's (rows, cols) is NumPy's F order.
    A = np.zeros((stored_A.shape[0] + pad, stored_A.shape[1]), dtype, order="F")
    A[:stored_A.shape[0]] = stored_A
    B = np.zeros((stored_B.shape[0] + pad, stored_B.shape[1]), dtype, order="F")
    B[:stored_B.shape[0]] = stored_B
    C_start = rng.normal(size=(m + pad, n)).astype(dtype)
    if beta == 0:
        C_start[:m] = np.nan  # beta = 0 means C is not read
    C = np.asfortranarray(C_start)
    _call_fallback(dtype, transa, transb, A, B, C, alpha, beta, m, n, k, A.shape[0], B.shape[0], C.shape[0])
    expected = alpha * (op_A.astype(np.float64) @ op_B) + (beta * C_start[:m] if beta else 0)
    np.testing.assert_allclose(C[:m], expected, rtol=TOL[dtype], atol=TOL[dtype])
    np.testing.assert_array_equal(C[m:], C_start[m:])  # rows past m belong to someone else


def test_kernels_fall_back_when_numpy_has_no_openblas(tmp_path):
    # With no OpenBLAS visible, the symbols go to the np.dot fallback and the kernels still agree with NumPy.
    script = textwrap.dedent("""
        import numpy as np
        import threadpoolctl

        class NoLibraries(threadpoolctl.ThreadpoolController):
            lib_controllers = []

            def __init__(self):
                pass

        threadpoolctl.ThreadpoolController = NoLibraries
        from fastbp.kernels import blas, dense
        from fastbp.kernels.dense import weight_gradient

        rng = np.random.default_rng(0)
        A, delta, W = rng.normal(size=(64, 100)), rng.normal(size=(64, 30)), rng.normal(size=(100, 30))
        dW, db = np.empty((100, 30)), np.empty(30)
        weight_gradient(A, delta, W, 0.0, dW, db)
        np.testing.assert_allclose(dW, A.T @ delta, rtol=1e-12, atol=1e-12)
        # Tiny products are plain loops with the fallbacks, the first term assigned.
        from fastbp.kernels.dense import AS_STORED, SMALL_PRODUCT, TRANSPOSED, matmul
        assert not blas.OPENBLAS and SMALL_PRODUCT > 0
        for m, k, n in ((1, 2, 3), (5, 3, 7), (4, 0, 3), (64, 1, 32)):
            a, b, out = rng.normal(size=(k, m)), rng.normal(size=(k, n)), np.full((m, n), np.nan)
            matmul(a, b, out, TRANSPOSED, AS_STORED)
            np.testing.assert_allclose(out, a.T @ b, rtol=1e-12, atol=1e-12)
        # Blocks pass leading dimensions and offsets (fastbp.kernels.dense_parallel): rows, columns, dW, delta.
        from fastbp.kernels import dense_parallel, optimizers
        # 64 >= 30 splits the output's rows, 8 < 30 the columns of W, or with room for partials its rows.
        for rows, partials in ((64, 0), (8, 0), (8, 2 * 8 * 30)):
            Z = np.empty((rows, 30))
            dense_parallel.dense_forward_parallel(A[:rows], W, np.zeros(30), 0, Z, 3, np.empty(partials))
            np.testing.assert_allclose(Z, A[:rows] @ W, rtol=1e-12, atol=1e-12)
        W_before, delta_prev = W.copy(), np.empty((64, 100))
        dense_parallel.backward_update_parallel(A, delta, W, np.zeros(30), dW, db, (np.zeros_like(W),) * 2,
                                                (np.zeros(30),) * 2, 0, delta_prev, optimizers.SGD,
                                                np.zeros(optimizers.N_COEFFS), 0.0, np.empty(3), 3)
        np.testing.assert_allclose(dW, A.T @ delta, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(delta_prev, delta @ W_before.T, rtol=1e-12, atol=1e-12)
        print(blas.BLAS_LIBRARY)
    """)
    environment = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    result = subprocess.run([sys.executable, "-c", script], env=environment, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("SciPy's BLAS through Numba's np.dot")
