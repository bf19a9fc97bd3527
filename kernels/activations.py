"""Elementwise activations and their derivatives, selected by an integer code.

Derivatives are written in terms of the activation's *output* A, so hidden layers
keep only A (not Z) between the forward and the backward pass.
"""
import numpy as np
from numba import njit

from .config import JIT_OPTIONS

LINEAR, RELU, SIGMOID, TANH, LEAKY_RELU, SOFTMAX = 0, 1, 2, 3, 4, 5
LEAKY_RELU_SLOPE = 0.01


@njit(**JIT_OPTIONS)
def sigmoid(z):
    """Logistic function of one scalar, overflow-free for either sign."""
    if z >= 0:
        return 1.0 / (1.0 + np.exp(-z))
    e = np.exp(z)
    return e / (1.0 + e)


@njit(**JIT_OPTIONS)
def activate(Z, A, code):
    """A = f(Z) for Z, A of shape (m, n); softmax is row-wise. Z and A may be the same array."""
    m, n = Z.shape
    if code == LINEAR:
        for i in range(m):
            for j in range(n):
                A[i, j] = Z[i, j]
    elif code == RELU:
        for i in range(m):
            for j in range(n):
                z = Z[i, j]
                A[i, j] = z if z > 0 else 0.0
    elif code == LEAKY_RELU:
        for i in range(m):
            for j in range(n):
                z = Z[i, j]
                A[i, j] = z if z > 0 else LEAKY_RELU_SLOPE * z
    elif code == SIGMOID:
        for i in range(m):
            for j in range(n):
                A[i, j] = sigmoid(Z[i, j])
    elif code == TANH:
        for i in range(m):
            for j in range(n):
                A[i, j] = np.tanh(Z[i, j])
    elif code == SOFTMAX:
        for i in range(m):
            zmax = Z[i, 0]
            for j in range(1, n):
                zmax = max(zmax, Z[i, j])
            total = 0.0
            for j in range(n):
                e = np.exp(Z[i, j] - zmax)
                A[i, j] = e
                total += e
            inv = 1.0 / total
            for j in range(n):
                A[i, j] *= inv


@njit(**JIT_OPTIONS)
def scale_by_derivative(delta, A, code):
    """delta *= f'(z), with f'(z) computed from A = f(z); delta, A of shape (m, n). Not for softmax."""
    m, n = delta.shape
    if code == RELU:
        for i in range(m):
            for j in range(n):
                if A[i, j] <= 0:
                    delta[i, j] = 0.0
    elif code == LEAKY_RELU:
        # A has the sign of z because the slope is positive.
        for i in range(m):
            for j in range(n):
                if A[i, j] <= 0:
                    delta[i, j] *= LEAKY_RELU_SLOPE
    elif code == SIGMOID:
        for i in range(m):
            for j in range(n):
                a = A[i, j]
                delta[i, j] *= a * (1.0 - a)
    elif code == TANH:
        for i in range(m):
            for j in range(n):
                a = A[i, j]
                delta[i, j] *= 1.0 - a * a
