"""The deeplearning.ai "Deep Neural Network - Application" helpers that seed 002 adapts.

The course's own conventions: ``sigmoid``/``relu`` return ``(A, cache)``; caches are
``((A_prev, W, b), Z)``; ``L_model_backward`` keys are 'dA' + str(l - 1), 'dW' + str(l),
'db' + str(l). Implemented on :mod:`fastbp.compat.llayer`, so the math is shared.
"""
import numpy as np

from fastbp.compat import _columns as cols
from fastbp.compat import llayer
from fastbp.kernels import activations as act


def sigmoid(Z):
    """Returns (sigmoid(Z), Z)."""
    return cols.elementwise(Z, act.SIGMOID), Z


def relu(Z):
    """Returns (max(Z, 0), Z)."""
    return cols.elementwise(Z, act.RELU), Z


def sigmoid_backward(dA, cache):
    """dZ = dA * s * (1 - s), cache being Z."""
    return llayer.sigmoidBackward(dA, cache)


def relu_backward(dA, cache):
    """dZ = dA where Z > 0, else 0; cache being Z."""
    return llayer.reluBackward(dA, cache)


def load_data():
    """Read datasets/train_catvnoncat.h5 and datasets/test_catvnoncat.h5 (relative to the working folder).

    Returns (train_x_orig, train_y (1, m), test_x_orig, test_y (1, m), classes).
    """
    return llayer.read_cat_files("datasets/train_catvnoncat.h5", "datasets/test_catvnoncat.h5")


def initialize_parameters_deep(layer_dims):
    """np.random.seed(1); W_l = randn(n_l, n_{l-1}) / sqrt(n_{l-1}), b_l = zeros((n_l, 1))."""
    return llayer.iniPara(layer_dims)


def linear_forward(A, W, b):
    """Returns (Z, (A, W, b)) with Z = W @ A + b."""
    return cols.linear_forward(W, b, A), (A, W, b)


def linear_activation_forward(A_prev, W, b, activation):
    """Returns (A, ((A_prev, W, b), Z))."""
    A, ((W, A_prev, b), Z) = llayer.forwardLinearActivation(W, b, A_prev, activation)
    return A, ((A_prev, W, b), Z)


def L_model_forward(X, parameters):
    """[LINEAR->RELU]*(L-1) -> LINEAR->SIGMOID; returns (AL, caches)."""
    AL, caches = llayer.forwardModel(X, parameters)
    return AL, [_to_course_cache(cache) for cache in caches]


def compute_cost(AL, Y):
    """Binary cross-entropy -1/m * sum(Y log AL + (1 - Y) log(1 - AL)), a float."""
    AL, Y = np.asarray(AL, dtype=np.float64), np.asarray(Y, dtype=np.float64)
    if AL.shape != Y.shape:
        raise ValueError(f"AL has shape {AL.shape} but Y has {Y.shape}")
    m = Y.shape[1]
    cost = (1.0 / m) * (-np.dot(Y, np.log(AL).T) - np.dot(1 - Y, np.log(1 - AL).T))
    return np.squeeze(cost)


def linear_backward(dZ, cache):
    """Returns (dA_prev, dW, db) for cache (A_prev, W, b)."""
    A_prev, W, b = cache
    return cols.linear_backward(dZ, W, A_prev)


def linear_activation_backward(dA, cache, activation):
    """Returns (dA_prev, dW, db) for cache ((A_prev, W, b), Z)."""
    return llayer.linearActivationBackward(dA, _to_post_cache(cache), activation)


def L_model_backward(AL, Y, caches):
    """Gradients dict: 'dA' + str(l - 1), 'dW' + str(l), 'db' + str(l) for l = 1..L."""
    diffs = llayer.backwardModel(AL, Y, [_to_post_cache(cache) for cache in caches])
    grads = {}
    for l in range(1, len(caches) + 1):
        grads["dA" + str(l - 1)] = diffs["dA" + str(l)]
        grads["dW" + str(l)] = diffs["dW" + str(l)]
        grads["db" + str(l)] = diffs["db" + str(l)]
    return grads


def update_parameters(parameters, grads, learning_rate):
    """Gradient descent step on every W and b; returns parameters."""
    return llayer.updateParameters(parameters, grads, learning_rate)


def predict(X, y, parameters):
    """0/1 predictions (1, m) at threshold 0.5; prints "Accuracy: ..." as the course does."""
    m = X.shape[1]
    probas, caches = L_model_forward(X, parameters)
    p = (probas > 0.5).astype(np.float64).reshape(1, m)
    print("Accuracy: " + str(np.sum((p == y) / m)))
    return p


def _to_course_cache(cache):
    (W, A_prev, b), Z = cache
    return (A_prev, W, b), Z


def _to_post_cache(cache):
    (A_prev, W, b), Z = cache
    return (W, A_prev, b), Z
