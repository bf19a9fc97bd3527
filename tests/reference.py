"""Plain NumPy reference of fastbp's math, written from the formulas (no fastbp imports).

Conventions (DESIGN.md): Z = A_prev @ W + b with samples in rows; cost = mean loss
+ l2 / (2 m) * sum ||W||^2; cross_entropy takes one-hot targets here.
"""
import numpy as np

LEAKY = 0.01


def activation(name, Z):
    if name == "linear":
        return Z.copy()
    if name == "relu":
        return np.maximum(Z, 0)
    if name == "leaky_relu":
        return np.where(Z > 0, Z, LEAKY * Z)
    if name == "sigmoid":
        return 1 / (1 + np.exp(-Z))
    if name == "tanh":
        return np.tanh(Z)
    if name == "softmax":
        E = np.exp(Z - Z.max(axis=1, keepdims=True))
        return E / E.sum(axis=1, keepdims=True)
    raise ValueError(name)


def derivative(name, Z):
    """f'(Z) elementwise (not softmax)."""
    if name == "linear":
        return np.ones_like(Z)
    if name == "relu":
        return (Z > 0).astype(Z.dtype)
    if name == "leaky_relu":
        return np.where(Z > 0, 1.0, LEAKY)
    if name == "sigmoid":
        s = 1 / (1 + np.exp(-Z))
        return s * (1 - s)
    if name == "tanh":
        return 1 - np.tanh(Z) ** 2
    raise ValueError(name)


def forward(Ws, bs, acts, X):
    """Returns the lists Zs and As (As[0] = X); acts holds one name per layer."""
    As, Zs = [X], []
    for W, b, name in zip(Ws, bs, acts):
        Z = As[-1] @ W + b
        Zs.append(Z)
        As.append(activation(name, Z))
    return Zs, As


def cost(Ws, bs, acts, loss, X, Y, l2=0.0):
    Zs, As = forward(Ws, bs, acts, X)
    A, m = As[-1], X.shape[0]
    if loss == "cross_entropy":
        data = -np.sum(Y * np.log(A)) / m
    elif loss == "binary_cross_entropy":
        data = -np.mean(Y * np.log(A) + (1 - Y) * np.log(1 - A))
    else:
        data = np.mean((A - Y) ** 2)
    return data + l2 / (2 * m) * sum(np.sum(W ** 2) for W in Ws)


def output_delta(name, loss, Z, Y):
    """dcost/dZ of the output layer for the mean cost over m samples."""
    m, n_out = Y.shape
    A = activation(name, Z)
    if loss == "cross_entropy":
        return (A - Y) / m
    if loss == "binary_cross_entropy":
        return (A - Y) / (m * n_out)
    return 2 * (A - Y) / (m * n_out) * derivative(name, Z)


def gradients(Ws, bs, acts, loss, X, Y, l2=0.0):
    """Backpropagation by the four equations: delta_L, delta_l, dW = A^T delta, db = sum delta."""
    Zs, As = forward(Ws, bs, acts, X)
    m = X.shape[0]
    delta = output_delta(acts[-1], loss, Zs[-1], Y)
    dWs, dbs = [None] * len(Ws), [None] * len(Ws)
    for l in range(len(Ws) - 1, -1, -1):
        dWs[l] = As[l].T @ delta + l2 / m * Ws[l]
        dbs[l] = delta.sum(axis=0)
        if l > 0:
            delta = (delta @ Ws[l].T) * derivative(acts[l - 1], Zs[l - 1])
    return dWs, dbs


def sgd_step(p, g, v, lr, momentum=0.0, nesterov=False):
    """PyTorch's SGD; returns new (p, v)."""
    if momentum == 0:
        return p - lr * g, v
    v = momentum * v + g
    step = g + momentum * v if nesterov else v
    return p - lr * step, v


def adam_step(p, g, m1, m2, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """Adam as PyTorch writes it; returns new (p, m1, m2)."""
    m1 = beta1 * m1 + (1 - beta1) * g
    m2 = beta2 * m2 + (1 - beta2) * g * g
    denom = np.sqrt(m2) / np.sqrt(1 - beta2 ** t) + eps
    return p - lr / (1 - beta1 ** t) * m1 / denom, m1, m2


def sklearn_sgd_step(p, g, v, lr, momentum=0.9, nesterov=True):
    """scikit-learn's SGD (learning rate inside the velocity); returns new (p, v)."""
    v = momentum * v - lr * g
    return p + (momentum * v - lr * g if nesterov else v), v


def sklearn_adam_step(p, g, m1, m2, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """scikit-learn's Adam (epsilon added to the uncorrected sqrt(m2)); returns new (p, m1, m2)."""
    m1 = beta1 * m1 + (1 - beta1) * g
    m2 = beta2 * m2 + (1 - beta2) * g * g
    step_size = lr * np.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
    return p - step_size * m1 / (np.sqrt(m2) + eps), m1, m2


def sklearn_loss(name, A, Y, w):
    """scikit-learn's sample-weighted MLP losses of output activations A against Y (n, n_out), weights w (n,)."""
    eps = np.finfo(A.dtype).eps
    P = np.clip(A, eps, 1 - eps)
    with np.errstate(divide="ignore", invalid="ignore"):
        if name == "log_loss":
            per_sample = -np.where(Y != 0, Y * np.log(P), 0).sum(axis=1)
        elif name == "binary_log_loss":
            per_sample = -(np.where(Y != 0, Y * np.log(P), 0) + np.where(Y != 1, (1 - Y) * np.log(1 - P), 0)).sum(axis=1)
        elif name == "half_squared_error":
            per_sample = 0.5 * ((Y - A) ** 2).mean(axis=1)
        else:  # half_poisson
            per_sample = (np.where(Y != 0, Y * np.log(Y / A), 0) - Y + A).sum(axis=1)
    return float(np.sum(w * per_sample) / np.sum(w))


def one_hot(labels, n):
    Y = np.zeros((len(labels), n))
    Y[np.arange(len(labels)), labels] = 1
    return Y
