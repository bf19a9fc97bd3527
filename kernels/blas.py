"""The BLAS behind the kernels' matrix products: NumPy's own OpenBLAS, called by symbol.

Numba's ``np.dot`` calls the OpenBLAS bundled with SciPy. NumPy's wheel bundles its own,
usually newer, OpenBLAS with 64-bit integers (ILP64). Measured side by side on the
development machine, same call and flags, NumPy's 0.3.31 took 1.9 ms for the cat net's
weight-gradient product (12288x209 @ 209x20, float64) and SciPy's 0.3.30 took 3.6 ms.

So the kernels do not use ``np.dot``: :func:`gemm_at` emits a call to the symbols
``fastbp_dgemm_ilp64`` / ``fastbp_sgemm_ilp64`` (the Fortran ``?gemm`` interface with
64-bit integers). Importing this module binds them:

* to NumPy's OpenBLAS when it exports ILP64 ``?gemm`` (NumPy's PyPI wheels), or else to
  another loaded OpenBLAS that does;
* otherwise to compiled fallbacks that compute the product with Numba's ``np.dot``, so
  any NumPy build works, at the speed of SciPy's BLAS.

``gemm_at`` is inlined into its callers: compiled functions for the products were
five more compile units per dtype (one per operand layout), 0.7 s of a first compile
(mean of six alternating runs).

Cached machine code refers to the symbols by name, so it stays valid whichever library a
later process binds. ``BLAS_LIBRARY`` records the choice for reports.
"""
import ctypes
import os

import numpy as np
from llvmlite import binding as llvm
from llvmlite import ir
from numba import carray, cfunc, errors, njit, types
from numba.core import cgutils
from numba.extending import intrinsic
from numba.np.numpy_support import from_dtype
from threadpoolctl import ThreadpoolController

from .config import JIT_OPTIONS
from .views import vector

_BLAS_LETTER = {np.dtype(np.float64): "d", np.dtype(np.float32): "s"}
_SYMBOLS = {dtype: f"fastbp_{letter}gemm_ilp64" for dtype, letter in _BLAS_LETTER.items()}
# Affixes under which OpenBLAS builds export ILP64 Fortran BLAS: NumPy's scipy-openblas64, a plain openblas64_.
_ILP64_AFFIXES = (("scipy_", "_64_"), ("", "_64_"))
NO_TRANSPOSE, TRANSPOSE = ord("N"), ord("T")


def _find_ilp64_openblas():
    """(filepath, version, {dtype: ?gemm address}) of a loaded ILP64 OpenBLAS, NumPy's first; or None."""
    libraries = [lib for lib in ThreadpoolController().lib_controllers if lib.internal_api == "openblas"]
    for library in sorted(libraries, key=lambda lib: "numpy" not in lib.filepath):
        dll = ctypes.CDLL(library.filepath)  # already loaded: this returns the same handle
        for prefix, suffix in _ILP64_AFFIXES:
            names = {dtype: f"{prefix}{letter}gemm{suffix}" for dtype, letter in _BLAS_LETTER.items()}
            if all(hasattr(dll, name) for name in names.values()):
                addresses = {dtype: ctypes.cast(getattr(dll, name), ctypes.c_void_p).value
                             for dtype, name in names.items()}
                return library.filepath, library.version, addresses
    return None


def _gemm_signature(dtype):
    """Numba signature of Fortran ?gemm with 64-bit integers, every argument by pointer."""
    char, integer, real = types.CPointer(types.uint8), types.CPointer(types.int64), types.CPointer(dtype)
    return types.void(char, char, integer, integer, integer, real, real, integer, real, integer, real, real, integer)


def _numba_gemm(transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc):
    """Column-major C (m, n) = alpha op(A) op(B) + beta C through Numba's np.dot (the fallback).

    The kernels' own calls (alpha 1, beta 0, leading dimensions equal to the heights) go
    straight into C with no copy; any other call allocates the product and contiguous
    copies of its operands.
    """
    # Read column-major as row-major, each matrix is its transpose: C^T = op(B)^T op(A)^T.
    M, N, K = m[0], n[0], k[0]
    plain_A, plain_B = transa[0] == NO_TRANSPOSE, transb[0] == NO_TRANSPOSE
    if (alpha[0] == 1 and beta[0] == 0 and ldc[0] == M and lda[0] == (M if plain_A else K)
            and ldb[0] == (K if plain_B else N)):
        C_T = carray(C, (N, M))
        if plain_A:
            _dot_into(plain_B, B, N, K, carray(A, (K, M)), C_T)
        else:
            _dot_into(plain_B, B, N, K, carray(A, (M, K)).T, C_T)
        return
    if plain_A:
        opA_T = carray(A, (K, lda[0]))[:, :M]
    else:
        opA_T = carray(A, (M, lda[0]))[:, :K].T
    if plain_B:
        opB_T = carray(B, (N, ldb[0]))[:, :K]
    else:
        opB_T = carray(B, (K, ldb[0]))[:, :N].T
    product = np.dot(np.ascontiguousarray(opB_T), np.ascontiguousarray(opA_T))
    C_T = carray(C, (N, ldc[0]))[:, :M]
    if beta[0] == 0:  # BLAS semantics: C is not read, so NaN in it does not propagate
        C_T[:, :] = alpha[0] * product
    else:
        C_T[:, :] = alpha[0] * product + beta[0] * C_T


@njit(**JIT_OPTIONS)
def _dot_into(plain_B, B, N, K, opA_T, C_T):
    """C_T (N, M) = op(B)^T @ opA_T, op(B)^T read in place from B's tight column-major storage."""
    # A function of its own so that each operand layout (C, or F from .T) reaches np.dot with its
    # exact type: a C/F branch joined into one variable would type as 'A' and be copied.
    if plain_B:
        np.dot(carray(B, (N, K)), opA_T, C_T)
    else:
        np.dot(carray(B, (K, N)).T, opA_T, C_T)


def _bind():
    """Point the kernels' gemm symbols at an ILP64 OpenBLAS (NumPy's), or at the fallbacks; returns a description
    and the bound library's file (None for the fallbacks)."""
    found = _find_ilp64_openblas()
    if found is not None:
        filepath, version, addresses = found
        for dtype, symbol in _SYMBOLS.items():
            llvm.add_symbol(symbol, addresses[dtype])
        return f"OpenBLAS {version}, ILP64 ({os.path.basename(filepath)})", filepath
    import scipy.linalg.cython_blas  # noqa: F401  (loads the BLAS np.dot calls, so threadpoolctl can limit it)
    for dtype, symbol in _SYMBOLS.items():
        fallback = cfunc(_gemm_signature(from_dtype(dtype)), cache=True, nogil=True)(_numba_gemm)
        llvm.add_symbol(symbol, fallback.address)
    return "SciPy's BLAS through Numba's np.dot (no ILP64 OpenBLAS is loaded)", None


BLAS_LIBRARY, _BOUND_FILE = _bind()
OPENBLAS = _BOUND_FILE is not None  # bound to OpenBLAS itself, not to the np.dot fallbacks
# Bound to the OpenBLAS that NumPy's own np.dot calls (in numpy.libs/ of NumPy's wheels, as
# _find_ilp64_openblas prefers): a gemm call made here then gives np.dot's bits (fastbp.compat relies on it).
NUMPYS_OPENBLAS = OPENBLAS and "numpy" in _BOUND_FILE


@intrinsic
def _call_gemm(typingctx, transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc):
    """Fortran-order C (m, n) = alpha op(A) op(B) + beta C through the bound ?gemm; A, B, C are arrays whose
    memory the flags and leading dimensions describe (see ``gemm_at``)."""
    if not isinstance(C, types.Array) or C.dtype not in (types.float32, types.float64):
        raise errors.TypingError(f"gemm needs a float32 or float64 output, got {C}")
    dtype = C.dtype

    def codegen(context, builder, signature, args):
        int64, char = ir.IntType(64), ir.IntType(8)
        real = context.get_value_type(dtype)
        function_type = ir.FunctionType(ir.VoidType(), [a.as_pointer() for a in (
            char, char, int64, int64, int64, real, real, int64, real, int64, real, real, int64)])
        function = cgutils.get_or_insert_function(builder.module, function_type, _SYMBOLS[np.dtype(str(dtype))])

        def by_pointer(llvm_type, value):
            slot = cgutils.alloca_once(builder, llvm_type)
            builder.store(value, slot)
            return slot

        def integer(index):
            return by_pointer(int64, context.cast(builder, args[index], signature.args[index], types.int64))

        def flag(index):
            return by_pointer(char, builder.trunc(context.cast(builder, args[index], signature.args[index],
                                                               types.int64), char))

        def data(index):
            return context.make_array(signature.args[index])(context, builder, args[index]).data

        def scalar(index):  # rounded to C's dtype, as the optimizers round their coefficients
            return by_pointer(real, context.cast(builder, args[index], signature.args[index], dtype))

        builder.call(function, [
            flag(0), flag(1), integer(2), integer(3), integer(4), scalar(5), data(6), integer(7),
            data(8), integer(9), scalar(10), data(11), integer(12)])
        return context.get_dummy_value()

    return types.void(transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc), codegen


@njit(inline="always", **JIT_OPTIONS)
def gemm_at(trans_a, trans_b, m, n, k, alpha, A, a_offset, lda, B, b_offset, ldb, beta, C, c_offset, ldc):
    """Fortran-order C (m, n) = alpha op(A) op(B) + beta C on C-contiguous buffers read from flat element offsets.

    BLAS's own interface (flags NO_TRANSPOSE/TRANSPOSE, scalars, leading dimensions), for blocks of
    row-major matrices: a row-major (rows, cols) block at offset with row stride ld is a
    Fortran (cols, rows) matrix with leading dimension ld. With beta 0, C is only written (BLAS
    semantics: NaN in it does not propagate). The kernels' products pass alpha 1 and beta 0; the
    optimizers' folded gradient (:func:`.dense.folded_product`) passes others.
    """
    _call_gemm(trans_a, trans_b, m, n, k, alpha, vector(A, a_offset, 1), lda, vector(B, b_offset, 1), ldb, beta,
               vector(C, c_offset, 1), ldc)
