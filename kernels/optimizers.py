"""Optimizer updates over the flat parameter buffer: one loop touches each parameter once per step.

``sgd_update`` and ``adam_update`` are inlined into ``apply_update``, their one caller
in the kernels: as separate functions each was one more compile unit per dtype.

Hyperparameters travel in one small float64 array ``hyper``, indexed by the
constants below, so every kernel has one signature per parameter dtype. They stay
float64 even for float32 parameters: 1 - beta2 rounded to float32 is off by 5e-5.
"""
import numpy as np
from numba import njit

from .config import JIT_OPTIONS

# NO_UPDATE leaves the parameters alone: a training step that only computes the gradients.
SGD, ADAM, NO_UPDATE = 0, 1, 2
LR, MOMENTUM, NESTEROV, L2, BETA1, BETA2, EPSILON = range(7)
N_HYPER = 7


@njit(inline="always", **JIT_OPTIONS)
def sgd_update(params, grads, velocity, lr, momentum, nesterov):
    """PyTorch-style SGD: v = momentum*v + g; p -= lr*(g + momentum*v if nesterov else v). All arrays (n_params,)."""
    n = params.shape[0]
    if momentum == 0:
        for k in range(n):
            params[k] -= lr * grads[k]
    elif nesterov:
        for k in range(n):
            v = momentum * velocity[k] + grads[k]
            velocity[k] = v
            params[k] -= lr * (grads[k] + momentum * v)
    else:
        for k in range(n):
            v = momentum * velocity[k] + grads[k]
            velocity[k] = v
            params[k] -= lr * v


@njit(inline="always", **JIT_OPTIONS)
def adam_update(params, grads, m1, m2, lr, beta1, beta2, epsilon, step):
    """Adam (Kingma & Ba, PyTorch's form) at step >= 1; m1, m2 are the moment estimates. All arrays (n_params,)."""
    step_size = lr / (1.0 - np.float64(beta1) ** step)
    inv_sqrt_bias2 = 1.0 / np.sqrt(1.0 - np.float64(beta2) ** step)
    n = params.shape[0]
    for k in range(n):
        g = grads[k]
        m = beta1 * m1[k] + (1.0 - beta1) * g
        v = beta2 * m2[k] + (1.0 - beta2) * g * g
        m1[k] = m
        m2[k] = v
        params[k] -= step_size * m / (np.sqrt(v) * inv_sqrt_bias2 + epsilon)


@njit(**JIT_OPTIONS)
def apply_update(optimizer, params, grads, state, hyper, step):
    """One optimizer step; ``state`` is (velocity or first moment, second moment), each (n_params,)."""
    if optimizer == ADAM:
        adam_update(params, grads, state[0], state[1], hyper[LR], hyper[BETA1], hyper[BETA2],
                    hyper[EPSILON], step)
    elif optimizer == SGD:
        sgd_update(params, grads, state[0], hyper[LR], hyper[MOMENTUM], hyper[NESTEROV] != 0)
