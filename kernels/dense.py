"""Dense layer kernels: fused forward, hidden delta, and weight/bias gradient.

Shapes follow ``Z = A_prev @ W + b`` with samples in rows: A_prev (m, fan_in),
W (fan_in, fan_out), b (fan_out,), Z/A/delta (m, fan_out). The GEMMs go to the
BLAS bound in :mod:`.blas` (NumPy's OpenBLAS); the epilogues are fused loops.
"""
from numba import njit

from .activations import activate, scale_by_derivative
from .blas import gemm
from .config import JIT_OPTIONS
from .views import transpose


# m * k * n up to which plain loops replace a BLAS call (whose fixed cost dominates tiny products).
# Chosen, not yet tuned: asv DenseKernels times the 1x2x3 and 16x64x32 shapes on either side of it.
SMALL_PRODUCT = 4096


@njit(**JIT_OPTIONS)
def matmul(A, B, out):
    """out = A @ B; A (m, k), B (k, n), out (m, n). Tiny products run as loops: a BLAS call costs more."""
    m, k = A.shape
    n = B.shape[1]
    if m * k * n > SMALL_PRODUCT:
        gemm(A, B, out)
        return
    for i in range(m):
        for j in range(n):
            out[i, j] = 0.0
        for p in range(k):
            a = A[i, p]
            for j in range(n):
                out[i, j] += a * B[p, j]


@njit(**JIT_OPTIONS)
def dense_forward(A_prev, W, b, code, out):
    """out = f(A_prev @ W + b); A_prev (m, fan_in), W (fan_in, fan_out), b (fan_out,), out (m, fan_out)."""
    matmul(A_prev, W, out)
    m, n = out.shape
    for i in range(m):
        for j in range(n):
            out[i, j] += b[j]
    activate(out, code)


@njit(**JIT_OPTIONS)
def hidden_delta(delta, W, A_prev, code, out):
    """out = (delta @ W.T) * f'(A_prev); delta (m, fan_out), W (fan_in, fan_out), A_prev/out (m, fan_in)."""
    matmul(delta, transpose(W), out)
    scale_by_derivative(out, A_prev, code)


@njit(**JIT_OPTIONS)
def weight_gradient(A_prev, delta, W, l2_over_m, dW, db):
    """dW = A_prev.T @ delta + l2_over_m * W, db = column sums of delta; returns sum(W**2) if l2_over_m > 0 else 0.

    A_prev (m, fan_in), delta (m, fan_out), W/dW (fan_in, fan_out), db (fan_out,).
    """
    matmul(transpose(A_prev), delta, dW)
    m, n = delta.shape
    for j in range(n):
        db[j] = 0.0
    for i in range(m):
        for j in range(n):
            db[j] += delta[i, j]
    sum_sq = 0.0
    if l2_over_m > 0:
        fan_in = W.shape[0]
        for i in range(fan_in):
            for j in range(n):
                w = W[i, j]
                dW[i, j] += l2_over_m * w
                sum_sq += w * w
    return sum_sq
