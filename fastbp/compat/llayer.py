"""Seed 002's L-layer function API (samples in columns), byte for byte.

Same names, arguments, cache structures and dictionary keys as the blog post:
caches are ``((W, A_prev, b), Z)`` per layer; ``backwardModel`` returns
``'dA' + str(l)``, ``'dW' + str(l)``, ``'db' + str(l)`` where, as in the post,
``'dA' + str(l)`` holds the gradient of the cost with respect to the *input* of
layer l (the activation A of layer l - 1, X for l = 1).

Every array returned holds the post's bytes: the products have np.dot's bits (see
``_columns.product``) and the elementwise steps are the post's NumPy expressions, in its order (its ``relu`` gives -0.0
for a negative z, NaN for -inf and NaN; its last delta divides by AL and 1 - AL). What this
module adds is checking: wrong shapes, keys and non-finite inputs raise a ValueError that
names the argument.
"""
import numpy as np

from fastbp.compat import _columns as cols


def sigmoid(z):
    """1 / (1 + exp(-z)) elementwise, for an array of any shape (float64)."""
    return 1 / (1 + np.exp(-cols.as_float_array(z, "z")))


def relu(z):
    """z where z > 0, else 0 * z (-0.0 for a negative z, as the post's ``np.array(z > 0) * z``)."""
    z = cols.as_float_array(z, "z")
    return np.array(z > 0) * z


def sigmoidBackward(dA, cacheA):
    """dZ = dA * (s * (1 - s)) with s = sigmoid(cacheA), cacheA being the layer's Z."""
    dA, cacheA = _same_shape(dA, cacheA)
    s = sigmoid(cacheA)
    return dA * (s * (1 - s))


def reluBackward(dA, cacheA):
    """dZ = a copy of dA, zeroed where Z <= 0 (cacheA is the layer's Z)."""
    dA, Z = _same_shape(dA, cacheA)
    dZ = np.array(dA, copy=True)
    dZ[Z <= 0] = 0
    return dZ


def _same_shape(dA, Z):
    dA, Z = cols.as_float_array(dA, "dA"), cols.as_float_array(Z, "cacheA")
    if dA.shape != Z.shape:
        raise ValueError(f"dA has shape {dA.shape} but the cached Z has shape {Z.shape}")
    return dA, Z


ACTIVATIONS = {"sigmoid": (sigmoid, sigmoidBackward), "relu": (relu, reluBackward)}


def _activation(name):
    """(forward, backward) functions of an activation name."""
    cols.check_activation(name)
    return ACTIVATIONS[name]


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
    forward, _ = _activation(activation)
    Z, cacheL = forwardLinear(W, b, A_prev)
    return forward(Z), (cacheL, Z)


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
    _, backward = _activation(activation)
    cacheL, cacheA = cache
    return linearBackward(backward(dA, cacheA), cacheL)


def backwardModel(AL, Y, caches):
    """Gradients of the binary cross-entropy cost; dict with 'dA', 'dW', 'db' + str(l) for l = 1..L.

    As in the post, the last layer's delta is dAL = -(Y / AL - (1 - Y) / (1 - AL)) through
    ``sigmoidBackward`` at the cached Z, so an AL of exactly 0 or 1 gives inf or NaN there, as it does
    in the post, and an AL that is not sigmoid(Z) gives the post's gradients for it.
    """
    L = len(caches)
    diffs = {}
    AL = cols.as_float_array(AL, "AL")
    Y = cols.as_float_array(Y, "Y")
    if Y.size != AL.size:
        raise ValueError(f"Y has {Y.size} values but AL has {AL.size}")
    if not np.isfinite(Y).all():
        raise ValueError("Y must be finite, but contains NaN or infinity")
    Y = Y.reshape(AL.shape)
    dAL = - (np.divide(Y, AL) - np.divide(1 - Y, 1 - AL))
    dA_prev, dW, db = linearActivationBackward(dAL, caches[L - 1], "sigmoid")
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
