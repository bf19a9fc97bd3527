"""The seeds' pure-NumPy code as users run it: the peers fastbp is compared against.

Kept apart from ``tests/`` (whose references must not depend on the package) so the
benchmark command and asv can time it; ``fastbp.compat`` replaces it.
"""
import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def deriv_sigmoid(x):
    return sigmoid(x) * (1 - sigmoid(x))


class MLP:
    """Seed 001's class (per-sample SGD, squared error)."""

    def __init__(self, input_size=2, hidden_size=3, output_size=1):
        self.weights = {"h": np.random.randn(input_size, hidden_size),
                        "out": np.random.randn(hidden_size, output_size)}
        self.bias = {"h": np.zeros((1, hidden_size)), "out": np.zeros((1, output_size))}

    def forward(self, x):
        self.z_h = np.dot(x, self.weights["h"]) + self.bias["h"]
        self.a_h = sigmoid(self.z_h)
        self.z_out = np.dot(self.a_h, self.weights["out"]) + self.bias["out"]
        return sigmoid(self.z_out)

    def backward(self, x, y_true, y_pred, lr=0.1):
        loss = np.mean((y_true - y_pred) ** 2)
        d_out = 2 * (y_pred - y_true) * deriv_sigmoid(self.z_out)
        d_h = np.dot(d_out, self.weights["out"].T) * deriv_sigmoid(self.z_h)
        self.weights["h"] -= lr * np.dot(x.T, d_h)
        self.bias["h"] -= lr * d_h.sum(axis=0)
        self.weights["out"] -= lr * np.dot(self.a_h.T, d_out)
        self.bias["out"] -= lr * d_out.sum(axis=0)
        return loss

    def train(self, x_train, y_train, epochs=100, lr=0.1):
        for epoch in range(epochs):
            for x, y in zip(x_train, y_train):
                x = np.reshape(x, (1, -1))
                y = np.reshape(y, (-1, 1))
                loss = self.backward(x, y, self.forward(x), lr=lr)
        return self


def l_layer_step(X, Y, parameters, lr):
    """One step of seed 002's forwardModel + backwardModel + updateParameters (relu..., sigmoid)."""
    L = len(parameters) // 2
    caches, A = [], X
    for l in range(1, L + 1):
        W, b = parameters["W" + str(l)], parameters["b" + str(l)]
        Z = np.dot(W, A) + b
        caches.append((W, A, Z))
        A = sigmoid(Z) if l == L else np.array(Z > 0) * Z
    m = X.shape[1]
    dA = -(np.divide(Y, A) - np.divide(1 - Y, 1 - A))
    for l in range(L, 0, -1):
        W, A_prev, Z = caches[l - 1]
        if l == L:
            s = sigmoid(Z)
            dZ = dA * (s * (1 - s))  # the post: diff = s*(1 - s); dZ = dA * diff
        else:
            dZ = np.array(dA, copy=True)
            dZ[Z <= 0] = 0
        dW = 1 / m * np.dot(dZ, A_prev.T)
        db = 1 / m * np.sum(dZ, axis=1, keepdims=True)
        dA = np.dot(W.T, dZ)
        parameters["W" + str(l)] = W - lr * dW
        parameters["b" + str(l)] = parameters["b" + str(l)] - lr * db
    return parameters


def minibatch_epoch(X, labels, Ws, bs, lr, batch_size, rng):
    """One epoch of mini-batch SGD for a relu/softmax network in NumPy (samples in rows)."""
    n = X.shape[0]
    order = rng.permutation(n)
    for start in range(0, n, batch_size):
        idx = order[start:start + batch_size]
        As = [X[idx]]
        for l, (W, b) in enumerate(zip(Ws, bs)):
            Z = As[-1] @ W + b
            if l < len(Ws) - 1:
                As.append(np.maximum(Z, 0))
            else:
                E = np.exp(Z - Z.max(axis=1, keepdims=True))
                As.append(E / E.sum(axis=1, keepdims=True))
        delta = As[-1]
        delta[np.arange(len(idx)), labels[idx]] -= 1
        delta /= len(idx)
        for l in range(len(Ws) - 1, -1, -1):
            dW, db = As[l].T @ delta, delta.sum(axis=0)
            if l > 0:
                delta = (delta @ Ws[l].T) * (As[l] > 0)
            Ws[l] -= lr * dW
            bs[l] -= lr * db
