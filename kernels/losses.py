"""Output layer: activation, loss and output delta fused in one pass over the logits.

Costs are means over the batch, so ``delta = dcost/dZ`` carries the 1/m factor.
Targets Y are always a float matrix (m, n_out); integer class labels are one-hot
encoded by the Python layer. Losses are accumulated in float64.
"""
import numpy as np
from numba import njit

from .activations import SIGMOID, SOFTMAX, activate, exp_nonpositive, scale_by_derivative
from .config import JIT_OPTIONS

CROSS_ENTROPY, BINARY_CROSS_ENTROPY, MSE = 0, 1, 2


@njit(**JIT_OPTIONS)
def output_delta(Z, Y, out_code, loss_code, A, delta):
    """A = f(Z), delta = dcost/dZ; returns the summed per-sample loss (float64). Z, Y, A, delta (m, n_out).

    cross_entropy needs softmax and binary_cross_entropy needs sigmoid; both are
    computed from the logits Z, so no log(0) is ever taken.
    """
    m, n = Z.shape
    total = 0.0
    if loss_code == CROSS_ENTROPY:
        # Softmax and log-sum-exp from one set of exponentials.
        for i in range(m):
            zmax = np.float64(Z[i, 0])
            for j in range(1, n):
                zmax = max(zmax, np.float64(Z[i, j]))
            sum_exp = 0.0
            for j in range(n):
                e = exp_nonpositive(Z[i, j] - zmax)
                A[i, j] = e
                sum_exp += e
            log_sum_exp = zmax + np.log(sum_exp)
            inv = 1.0 / sum_exp
            for j in range(n):
                y = Y[i, j]
                a = A[i, j] * inv
                A[i, j] = a
                total += y * (log_sum_exp - Z[i, j])
                delta[i, j] = (a - y) / m
        return total
    for i in range(m):
        for j in range(n):
            A[i, j] = Z[i, j]
    activate(A, out_code)
    if loss_code == BINARY_CROSS_ENTROPY:
        for i in range(m):
            for j in range(n):
                z = np.float64(Z[i, j])
                y = Y[i, j]
                total += max(z, 0.0) - z * y + np.log1p(exp_nonpositive(-abs(z)))
                delta[i, j] = (A[i, j] - y) / (m * n)
        total /= n
    else:
        for i in range(m):
            for j in range(n):
                diff = A[i, j] - Y[i, j]
                total += np.float64(diff) * diff
                delta[i, j] = 2.0 * diff / (m * n)
        total /= n
        scale_by_derivative(delta, A, out_code)
    return total


# Inlined into its two callers (train_epochs, evaluate): a compile unit of its own cost ~0.2 s of first compile.
@njit(inline="always", **JIT_OPTIONS)
def count_correct(A, Y, out_code):
    """Number of rows of A (m, n_out) whose prediction matches Y: argmax for softmax, all outputs > 0.5 for sigmoid."""
    m, n = A.shape
    correct = 0
    if out_code == SOFTMAX:
        for i in range(m):
            best = 0
            for j in range(1, n):
                if A[i, j] > A[i, best]:
                    best = j
            if Y[i, best] > 0.5:
                correct += 1
    elif out_code == SIGMOID:
        for i in range(m):
            hit = True
            for j in range(n):
                if (A[i, j] > 0.5) != (Y[i, j] > 0.5):
                    hit = False
            if hit:
                correct += 1
    return correct
