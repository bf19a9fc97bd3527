"""Output layer: activation, loss and output delta fused in one pass over the logits.

Costs are means over the batch, so ``delta = dcost/dZ`` carries the 1/m factor.
Targets Y are always a float matrix (m, n_out); integer class labels are one-hot
encoded by the Python layer. Losses are accumulated in float64.
"""
import numpy as np
from numba import njit

from .activations import SIGMOID, SOFTMAX, activate, exp_nonpositive, exp_shifted_rows, scale_by_derivative
from .codes import (BINARY_CROSS_ENTROPY, BINARY_LOG_LOSS, CROSS_ENTROPY, HALF_POISSON,  # noqa: F401
                    HALF_SQUARED_ERROR, LOG_LOSS, MSE)
from .config import BORROWING_OPTIONS, JIT_OPTIONS


@njit(**BORROWING_OPTIONS)
def output_delta(Z, Y, out_code, loss_code, A, delta):
    """A = f(Z), delta = dcost/dZ; returns the summed per-sample loss (float64). Z, Y, A, delta (m, n_out).

    cross_entropy needs softmax and binary_cross_entropy needs sigmoid; both are
    computed from the logits Z, so no log(0) is ever taken.
    """
    m, n = Z.shape
    total = 0.0
    if loss_code == CROSS_ENTROPY:
        # Softmax and log-sum-exp from one set of exponentials.
        exp_shifted_rows(Z, A)
        for i in range(m):
            zmax = np.float64(Z[i, 0])
            for j in range(1, n):
                zmax = max(zmax, np.float64(Z[i, j]))
            sum_exp = 0.0
            for j in range(n):
                sum_exp += A[i, j]
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


@njit(**BORROWING_OPTIONS)
def weighted_output_delta(Z, Y, weights, out_code, loss_code, A, delta):
    """scikit-learn's MLP losses: A = f(Z), delta = w_i (A - Y) / sum(w); returns (loss, sum(w)).

    Z, Y, A, delta (m, n_out), weights (m, 1). The loss is scikit-learn's sample-weighted mean,
    computed as it computes it, from the probabilities clipped to [eps, 1 - eps] of their dtype
    rather than from the logits (the clipped value is what it reports):
    LOG_LOSS (softmax) -sum_j y log p; BINARY_LOG_LOSS (sigmoid) -sum_j [y log p + (1-y) log(1-p)];
    HALF_SQUARED_ERROR (linear) (A - Y)^2 / 2 averaged over the outputs too (while delta is not
    divided by n_out: scikit-learn's gradient); HALF_POISSON (exp) sum_j y log(y/A) - y + A.
    """
    m, n = Z.shape
    weight_sum = 0.0
    for i in range(m):
        weight_sum += weights[i, 0]
    for i in range(m):
        for j in range(n):
            A[i, j] = Z[i, j]
    activate(A, out_code)
    for i in range(m):
        scale = weights[i, 0] / weight_sum
        for j in range(n):
            delta[i, j] = (A[i, j] - Y[i, j]) * scale
    eps = np.finfo(A.dtype).eps
    total = 0.0
    for i in range(m):
        row = 0.0
        for j in range(n):
            a, y = np.float64(A[i, j]), np.float64(Y[i, j])
            if loss_code == HALF_SQUARED_ERROR:
                row += (y - a) * (y - a)
            elif loss_code == HALF_POISSON:
                row += (y * np.log(y / a) if y != 0 else 0.0) - y + a
            else:
                p = min(max(a, eps), 1.0 - eps)
                if y != 0:
                    row -= y * np.log(p)
                if loss_code == BINARY_LOG_LOSS and y != 1:
                    row -= (1.0 - y) * np.log(1.0 - p)
        total += weights[i, 0] * row
    total /= weight_sum
    if loss_code == HALF_SQUARED_ERROR:
        total *= 0.5 / n
    return total, weight_sum


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
