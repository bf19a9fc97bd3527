"""Seed 002's L-layer function API (samples in columns), on fastbp's kernels.

Same names, arguments, cache structures and dictionary keys as the blog post:
caches are ``((W, A_prev, b), Z)`` per layer; ``backwardModel`` returns
``'dA' + str(l)``, ``'dW' + str(l)``, ``'db' + str(l)`` where, as in the post,
``'dA' + str(l)`` holds the gradient of the cost with respect to the *input* of
layer l (the activation A of layer l - 1, X for l = 1).
"""
import numpy as np

from fastbp.compat import _columns as cols
from fastbp.kernels import activations as act


def sigmoid(z):
    """1 / (1 + exp(-z)) elementwise, for an array of any shape."""
    return cols.elementwise(z, act.SIGMOID)


def relu(z):
    """max(z, 0) elementwise, for an array of any shape."""
    return cols.elementwise(z, act.RELU)


def sigmoidBackward(dA, cacheA):
    """dZ = dA * s * (1 - s) with s = sigmoid(cacheA), cacheA being the layer's Z."""
    return cols.activation_backward(dA, cacheA, act.SIGMOID)


def reluBackward(dA, cacheA):
    """dZ = dA where Z > 0, else 0 (cacheA is the layer's Z)."""
    return cols.activation_backward(dA, cacheA, act.RELU)


def read_cat_files(train_path, test_path):
    """(train_x, train_y (1, m), test_x, test_y (1, m), classes) from the two HDF5 files of the cat data."""
    import h5py  # here, not at the top: see fastbp.streaming.is_h5_dataset
    with h5py.File(train_path, "r") as train_dataset:
        train_set_x_orig = np.array(train_dataset["train_set_x"][:])
        train_set_y_orig = np.array(train_dataset["train_set_y"][:])
    with h5py.File(test_path, "r") as test_dataset:
        test_set_x_orig = np.array(test_dataset["test_set_x"][:])
        test_set_y_orig = np.array(test_dataset["test_set_y"][:])
        classes = np.array(test_dataset["list_classes"][:])
    train_set_y_orig = train_set_y_orig.reshape((1, train_set_y_orig.shape[0]))
    test_set_y_orig = test_set_y_orig.reshape((1, test_set_y_orig.shape[0]))
    return train_set_x_orig, train_set_y_orig, test_set_x_orig, test_set_y_orig, classes


def loadData(dataDir):
    """Read ``dataDir/train.h5`` and ``dataDir/test.h5`` (keys train_set_x, train_set_y, test_set_x,
    test_set_y, list_classes); returns (train_x, train_y (1, m), test_x, test_y (1, m), classes)."""
    return read_cat_files(dataDir + "/train.h5", dataDir + "/test.h5")


def iniPara(laydims):
    """Seeds NumPy's global generator with 1, then W_l = randn(n_l, n_{l-1}) / sqrt(n_{l-1}), b_l = 0."""
    np.random.seed(1)
    parameters = {}
    for i in range(1, len(laydims)):
        parameters["W" + str(i)] = np.random.randn(laydims[i], laydims[i - 1]) / np.sqrt(laydims[i - 1])
        parameters["b" + str(i)] = np.zeros((laydims[i], 1))
    return parameters


def forwardLinear(W, b, A_prev):
    """Z = W @ A_prev + b (formula 1); returns (Z, (W, A_prev, b))."""
    Z = cols.linear_forward(W, b, A_prev)
    return Z, (W, A_prev, b)


def forwardLinearActivation(W, b, A_prev, activation):
    """A = activation(W @ A_prev + b) (formulas 1, 2); returns (A, ((W, A_prev, b), Z))."""
    code = cols.activation_code(activation)
    Z, cacheL = forwardLinear(W, b, A_prev)
    A = cols.elementwise(Z, code)
    return A, (cacheL, Z)


def forwardModel(X, parameters):
    """relu for layers 1..L-1, sigmoid for layer L; returns (AL, caches)."""
    layerdim = cols.check_parameters(parameters, np.shape(X)[0] if np.ndim(X) == 2 else None)
    caches = []
    A_prev = X
    for i in range(1, layerdim):
        A_prev, cache = forwardLinearActivation(parameters["W" + str(i)], parameters["b" + str(i)], A_prev, "relu")
        caches.append(cache)
    AL, cache = forwardLinearActivation(parameters["W" + str(layerdim)], parameters["b" + str(layerdim)],
                                        A_prev, "sigmoid")
    caches.append(cache)
    return AL, caches


def linearBackward(dZ, cache):
    """(dA_prev, dW, db) of a linear layer with cache (W, A_prev, b) (formulas 5, 6, 9)."""
    W, A_prev, b = cache
    return cols.linear_backward(dZ, W, A_prev)


def linearActivationBackward(dA, cache, activation):
    """(dA_prev, dW, db) through the activation, then the linear part; cache ((W, A_prev, b), Z)."""
    code = cols.activation_code(activation)
    cacheL, cacheA = cache
    dZ = cols.activation_backward(dA, cacheA, code)
    return linearBackward(dZ, cacheL)


def backwardModel(AL, Y, caches):
    """Gradients of the binary cross-entropy cost; dict with 'dA', 'dW', 'db' + str(l) for l = 1..L."""
    L = len(caches)
    diffs = {}
    # Fused sigmoid + cross-entropy: dZ_L = AL - Y, the post's dAL * sigma'(Z_L) without 0/0.
    dZ = cols.sigmoid_cross_entropy_dZ(AL, Y)
    dA_prev, dW, db = linearBackward(dZ, caches[L - 1][0])
    diffs["dA" + str(L)], diffs["dW" + str(L)], diffs["db" + str(L)] = dA_prev, dW, db
    for l in reversed(range(L - 1)):
        dA_prev, dW, db = linearActivationBackward(dA_prev, caches[l], "relu")
        diffs["dA" + str(l + 1)], diffs["dW" + str(l + 1)], diffs["db" + str(l + 1)] = dA_prev, dW, db
    return diffs


def updateParameters(parameters, diffs, lr):
    """W_l -= lr * dW_l, b_l -= lr * db_l (formulas 7, 8), as new arrays; returns parameters.

    The update is one memory-bound pass per array; NumPy's expression already runs at
    that speed and keeps the post's semantics (arrays held elsewhere are not modified).
    """
    L = cols.check_parameters(parameters)
    for l in range(1, L + 1):
        for p in ("W", "b"):
            key = p + str(l)
            if "d" + key not in diffs:
                raise ValueError(f"diffs has no 'd{key}'; expected the keys backwardModel returns")
            parameters[key] = parameters[key] - lr * diffs["d" + key]
    return parameters
