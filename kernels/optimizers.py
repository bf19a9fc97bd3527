"""Optimizer updates, as one row update that every kernel shares.

``update_row`` applies one optimizer step to a contiguous run of parameters given their
gradient, reading and writing the parameters and the optimizer state once. The BLAS path
(:func:`.dense.backward_update`) runs it on each layer right after the layer's gradient, with
the L2 term folded in; the fused small-batch kernels (:mod:`.fused`) on each block of rows of W
right after computing its gradient, so W and the state are touched once per step. The flat
pass ``apply_update`` runs it over a whole buffer (the asv suite times the rules with it). A new
update rule is one more ``optimizer`` code in :mod:`.codes`: a branch in ``update_row`` and, if it
needs per-step scalars, in ``step_coefficients``.

Hyperparameters travel in one small float64 array ``hyper``, indexed by the constants
of :mod:`.codes`, so every kernel has one signature per parameter dtype. ``update_row`` rounds them to
the parameters' dtype after forming 1 - beta in float64 (1 - beta2 computed in float32 is off
by 5e-5). ``step_coefficients``
turns them into ``coeffs`` once per step (Adam's bias corrections need a power of the step
count: once per step, not once per row).
"""
import numpy as np
from numba import njit

from .codes import (ADAM, BETA1, BETA2, EPSILON, FOLDED_SGD, FOLDED_SKLEARN_SGD, L2, LR, MOMENTUM,  # noqa: F401
                    N_HYPER, NESTEROV, NO_UPDATE, SGD, SKLEARN_ADAM, SKLEARN_SGD)
from .config import BORROWING_OPTIONS, JIT_OPTIONS
from .views import view
# coeffs = hyper followed by the per-step scalars.
ADAM_STEP_SIZE, ADAM_INV_SQRT_BIAS2 = N_HYPER, N_HYPER + 1
N_COEFFS = N_HYPER + 2
# update_row's ``row`` for a flat run of parameters: an intp, like the row index of the per-row callers (a
# literal 0 compiled update_row a second time per dtype, about 1 s each).
FIRST_ROW = np.intp(0)


@njit(inline="always", **JIT_OPTIONS)
def step_coefficients(optimizer, hyper, step, coeffs):
    """coeffs (N_COEFFS,) for optimizer step number ``step`` >= 1: hyper, then Adam's bias-corrected scalars."""
    for k in range(N_HYPER):
        coeffs[k] = hyper[k]
    if optimizer == ADAM:
        coeffs[ADAM_STEP_SIZE] = hyper[LR] / (1.0 - hyper[BETA1] ** step)
        coeffs[ADAM_INV_SQRT_BIAS2] = 1.0 / np.sqrt(1.0 - hyper[BETA2] ** step)
    elif optimizer == SKLEARN_ADAM:
        # scikit-learn folds both bias corrections into the step size, in this order, and adds epsilon
        # to the uncorrected sqrt(v): ADAM's update with a factor 1 on sqrt(v).
        coeffs[ADAM_STEP_SIZE] = hyper[LR] * np.sqrt(1.0 - hyper[BETA2] ** step) / (1.0 - hyper[BETA1] ** step)
        coeffs[ADAM_INV_SQRT_BIAS2] = 1.0


@njit(**BORROWING_OPTIONS)
def update_row(optimizer, coeffs, params, state1, state2, row, grads, grad_row, grad_scale, l2):
    """One optimizer step on params[row] given the gradient grad_scale * grads[grad_row] + l2 * params[row];
    returns sum(params[row]**2) before the step (float64) when l2 > 0, else 0. params, state1, state2
    (rows, n), grads (.., n).

    ``grad_scale`` is 1 for a stored gradient (multiplying by 1 changes no bit). A batch of one sample
    has the outer product A_prev[0, i] * delta[0] as row i of dW: passed as (delta, 0, A_prev[0, i]),
    the update forms it without dW being written or read (see :mod:`.fused`).

    Folding the L2 term in here saves the gradient's separate pass over W and dW (read W, read and
    write dW): 3 us of a 25 us digits step at batch 16.
    Rows of 2-D arrays rather than 1-D row views: a view per row cost 70 ns here (reference
    counts), more than the update of a 32-wide row itself.
    SGD is PyTorch's: v = momentum*v + g; p -= lr*(g + momentum*v if nesterov else v), with
    state1 the velocity (untouched without momentum). Adam is Kingma & Ba in PyTorch's form,
    state1/state2 the moment estimates. NO_UPDATE changes nothing.
    SKLEARN_SGD is scikit-learn's: v = momentum*v - lr*g; p += momentum*v - lr*g if nesterov
    else v (the learning rate inside the velocity: a schedule's change of lr does not rescale
    the velocity). SKLEARN_ADAM: p -= step_size * m / (sqrt(v) + epsilon), epsilon added to the
    uncorrected sqrt(v). FOLDED_SGD and FOLDED_SKLEARN_SGD finish those two rules (without Nesterov) when
    state1 already holds the velocity's gradient part (``gradient_fold``): grads is not read.
    """
    n = params.shape[1]
    # The arithmetic runs in the parameters' dtype, as in PyTorch and scikit-learn, with 1 - beta
    # formed in float64 first (in float32, 1 - beta2 would be off by 5e-5). float32 Adam computed in
    # float64 was bound by the float64 sqrt and division: 1067 us per step of 535k parameters,
    # the same as float64 itself.
    real = params.dtype.type
    lr, momentum, decay, scale = real(coeffs[LR]), real(coeffs[MOMENTUM]), real(l2), real(grad_scale)
    beta1, beta2, epsilon = real(coeffs[BETA1]), real(coeffs[BETA2]), real(coeffs[EPSILON])
    one_minus_beta1, one_minus_beta2 = real(1.0 - coeffs[BETA1]), real(1.0 - coeffs[BETA2])
    step_size, inv_sqrt_bias2 = real(coeffs[ADAM_STEP_SIZE]), real(coeffs[ADAM_INV_SQRT_BIAS2])
    # The sum of squares, for the reported cost, in a pass of its own: as one more reduction in each of
    # the loops below it made this function's first compile 0.5 s slower per dtype (measured 1.36 s
    # against 0.8 s); it reads W once when L2 is on, and not at all when it is off.
    sum_sq = 0.0
    if l2 > 0:
        for k in range(n):
            sum_sq += params[row, k] * params[row, k]
    if optimizer == SGD:
        if momentum == 0:
            for k in range(n):
                p = params[row, k]
                params[row, k] = p - lr * (scale * grads[grad_row, k] + decay * p)
        elif coeffs[NESTEROV] != 0:
            for k in range(n):
                p = params[row, k]
                g = scale * grads[grad_row, k] + decay * p
                v = momentum * state1[row, k] + g
                state1[row, k] = v
                params[row, k] = p - lr * (g + momentum * v)
        else:
            for k in range(n):
                p = params[row, k]
                v = momentum * state1[row, k] + scale * grads[grad_row, k] + decay * p
                state1[row, k] = v
                params[row, k] = p - lr * v
    elif optimizer == ADAM or optimizer == SKLEARN_ADAM:
        for k in range(n):
            p = params[row, k]
            g = scale * grads[grad_row, k] + decay * p
            m = beta1 * state1[row, k] + one_minus_beta1 * g
            v = beta2 * state2[row, k] + one_minus_beta2 * g * g
            state1[row, k] = m
            state2[row, k] = v
            params[row, k] = p - step_size * m / (np.sqrt(v) * inv_sqrt_bias2 + epsilon)
    elif optimizer == FOLDED_SGD:  # state1 holds momentum * v + dW already (gradient_fold)
        for k in range(n):
            p = params[row, k]
            v = state1[row, k] + decay * p
            state1[row, k] = v
            params[row, k] = p - lr * v
    elif optimizer == FOLDED_SKLEARN_SGD:  # state1 holds momentum * v - lr * dW already
        for k in range(n):
            p = params[row, k]
            v = state1[row, k] - lr * (decay * p)
            state1[row, k] = v
            params[row, k] = p + v
    elif optimizer == SKLEARN_SGD:
        if coeffs[NESTEROV] != 0:
            for k in range(n):
                p = params[row, k]
                g = scale * grads[grad_row, k] + decay * p
                v = momentum * state1[row, k] - lr * g
                state1[row, k] = v
                params[row, k] = p + (momentum * v - lr * g)
        else:
            for k in range(n):
                p = params[row, k]
                v = momentum * state1[row, k] - lr * (scale * grads[grad_row, k] + decay * p)
                state1[row, k] = v
                params[row, k] = p + v
    return sum_sq


@njit(inline="always", **JIT_OPTIONS)
def gradient_fold(optimizer, coeffs):
    """(alpha, beta, rule): the product forming a weight gradient dW may instead add it to the velocity,
    state1 = alpha * dW + beta * state1, and ``update_row`` with optimizer ``rule`` then completes the step
    without dW. alpha is 0 (and rule the optimizer) when the optimizer needs dW itself: PyTorch's SGD without
    momentum, Nesterov, Adam, NO_UPDATE.

    SGD with momentum (PyTorch's rule) is v = momentum * v + dW + l2 * p, p -= lr * v: (1, momentum,
    FOLDED_SGD). SKLEARN_SGD is v = momentum * v - lr * (dW + l2 * p), p += v: (-lr, momentum,
    FOLDED_SKLEARN_SGD). See :func:`.dense.folded_product` for what it saves.
    """
    if coeffs[NESTEROV] == 0:
        if optimizer == SGD and coeffs[MOMENTUM] != 0:
            return 1.0, coeffs[MOMENTUM], FOLDED_SGD
        if optimizer == SKLEARN_SGD:
            return -coeffs[LR], coeffs[MOMENTUM], FOLDED_SKLEARN_SGD
    return 0.0, 0.0, optimizer


@njit(**BORROWING_OPTIONS)
def apply_update(optimizer, params, grads, state, coeffs):
    """One optimizer step over the flat buffers; ``state`` is (state1, state2), each (n_params,) like params
    (or empty when the optimizer keeps no state)."""
    n = params.shape[0]
    update_row(optimizer, coeffs, view(params, 0, 1, n), view(state[0], 0, 1, min(state[0].shape[0], n)),
               view(state[1], 0, 1, min(state[1].shape[0], n)), FIRST_ROW, view(grads, 0, 1, n), 0, 1.0, 0.0)
