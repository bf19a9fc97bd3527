"""The deeplearning.ai "Deep Neural Network - Application" helper file (``dnn_app_utils_v3``), complete.

Same names, arguments, return values and printed lines as the course: ``sigmoid``/``relu``
return ``(A, cache)``; caches are ``((A_prev, W, b), Z)``; ``L_model_backward`` keys are
'dA' + str(l - 1), 'dW' + str(l), 'db' + str(l); ``two_layer_model`` and ``L_layer_model``
are the notebook's training loops and print its "Cost after iteration i: cost" lines.

Every number here is computed with the NumPy operations the course uses, in its order,
so the printed costs are byte-for-byte the course's. Measured before choosing this:
with the products on fastbp's kernels (another BLAS summation order, parameters 1e-16
apart), 3 of the 9 cost lines of an 801-iteration cat-shaped run differed in the last
digit, and the run was no faster (12.5 s against NumPy's 8.1 s, first compile included).
For speed on the same network use :class:`fastbp.Network` or seed 002's
:mod:`fastbp.compat.llayer` functions.
"""
import numpy as np

from fastbp.compat import _columns as cols
from fastbp.compat import llayer


def sigmoid(Z):
    """Returns (1 / (1 + exp(-Z)), Z)."""
    return 1 / (1 + np.exp(-Z)), Z


def relu(Z):
    """Returns (max(0, Z), Z)."""
    return np.maximum(0, Z), Z


def relu_backward(dA, cache):
    """dZ: a copy of dA, zero where the cached Z <= 0."""
    dZ = np.array(dA, copy=True)
    dZ[cache <= 0] = 0
    return dZ


def sigmoid_backward(dA, cache):
    """dZ = dA * s * (1 - s) with s = sigmoid of the cached Z."""
    s = 1 / (1 + np.exp(-cache))
    return dA * s * (1 - s)


def load_data():
    """Read datasets/train_catvnoncat.h5 and datasets/test_catvnoncat.h5 (relative to the working folder).

    Returns (train_x_orig, train_y (1, m), test_x_orig, test_y (1, m), classes).
    """
    return llayer.read_cat_files("datasets/train_catvnoncat.h5", "datasets/test_catvnoncat.h5")


def initialize_parameters(n_x, n_h, n_y):
    """Two-layer parameters: np.random.seed(1); W = randn * 0.01, b = zeros; dict W1, b1, W2, b2."""
    np.random.seed(1)
    W1 = np.random.randn(n_h, n_x) * 0.01
    b1 = np.zeros((n_h, 1))
    W2 = np.random.randn(n_y, n_h) * 0.01
    b2 = np.zeros((n_y, 1))
    return {"W1": W1, "b1": b1, "W2": W2, "b2": b2}


def initialize_parameters_deep(layer_dims):
    """np.random.seed(1); W_l = randn(n_l, n_{l-1}) / sqrt(n_{l-1}), b_l = zeros((n_l, 1))."""
    return llayer.iniPara(layer_dims)


def linear_forward(A, W, b):
    """Returns (Z, (A, W, b)) with Z = W @ A + b."""
    return W.dot(A) + b, (A, W, b)


def linear_activation_forward(A_prev, W, b, activation):
    """Returns (A, ((A_prev, W, b), Z)); activation is 'sigmoid' or 'relu'."""
    cols.check_activation(activation)
    Z, linear_cache = linear_forward(A_prev, W, b)
    A, activation_cache = sigmoid(Z) if activation == "sigmoid" else relu(Z)
    return A, (linear_cache, activation_cache)


def L_model_forward(X, parameters):
    """[LINEAR->RELU]*(L-1) -> LINEAR->SIGMOID; returns (AL, caches)."""
    L = cols.check_parameters(parameters, np.shape(X)[0] if np.ndim(X) == 2 else None)
    caches = []
    A = X
    for l in range(1, L):
        A, cache = linear_activation_forward(A, parameters["W" + str(l)], parameters["b" + str(l)], "relu")
        caches.append(cache)
    AL, cache = linear_activation_forward(A, parameters["W" + str(L)], parameters["b" + str(L)], "sigmoid")
    caches.append(cache)
    return AL, caches


def compute_cost(AL, Y):
    """Binary cross-entropy -1/m * (Y . log(AL) + (1 - Y) . log(1 - AL)) as a 0-d array, computed as the course does."""
    if np.shape(AL) != np.shape(Y):
        raise ValueError(f"AL has shape {np.shape(AL)} but Y has {np.shape(Y)}")
    m = Y.shape[1]
    cost = (1. / m) * (-np.dot(Y, np.log(AL).T) - np.dot(1 - Y, np.log(1 - AL).T))
    return np.squeeze(cost)


def linear_backward(dZ, cache):
    """Returns (dA_prev, dW, db) for cache (A_prev, W, b): dW = dZ @ A_prev.T / m, db = row sums / m."""
    A_prev, W, b = cache
    m = A_prev.shape[1]
    dW = 1. / m * np.dot(dZ, A_prev.T)
    db = 1. / m * np.sum(dZ, axis=1, keepdims=True)
    dA_prev = np.dot(W.T, dZ)
    return dA_prev, dW, db


def linear_activation_backward(dA, cache, activation):
    """Returns (dA_prev, dW, db) for cache ((A_prev, W, b), Z), through the activation's derivative."""
    cols.check_activation(activation)
    linear_cache, activation_cache = cache
    backward = sigmoid_backward if activation == "sigmoid" else relu_backward
    return linear_backward(backward(dA, activation_cache), linear_cache)


def L_model_backward(AL, Y, caches):
    """Gradients dict: 'dA' + str(l - 1), 'dW' + str(l), 'db' + str(l) for l = 1..L.

    The output layer starts from dAL = -(Y / AL - (1 - Y) / (1 - AL)) through the sigmoid
    derivative at the *cached* Z, as the course does (not AL - Y, which equals it only
    when AL is sigmoid(Z)).
    """
    grads = {}
    L = len(caches)
    Y = np.reshape(Y, np.shape(AL))
    dAL = -(np.divide(Y, AL) - np.divide(1 - Y, 1 - AL))
    grads["dA" + str(L - 1)], grads["dW" + str(L)], grads["db" + str(L)] = linear_activation_backward(
        dAL, caches[L - 1], "sigmoid")
    for l in reversed(range(L - 1)):
        dA_prev, dW, db = linear_activation_backward(grads["dA" + str(l + 1)], caches[l], "relu")
        grads["dA" + str(l)], grads["dW" + str(l + 1)], grads["db" + str(l + 1)] = dA_prev, dW, db
    return grads


def update_parameters(parameters, grads, learning_rate):
    """Gradient descent step on every W and b (new arrays, stored back into ``parameters``); returns it."""
    return llayer.updateParameters(parameters, grads, learning_rate)


def _report(costs, cost, i, num_iterations, print_cost):
    # The notebook's condition, precedence included: the last iteration prints even without print_cost.
    if print_cost and i % 100 == 0 or i == num_iterations - 1:
        print("Cost after iteration {}: {}".format(i, np.squeeze(cost)))
    if i % 100 == 0 or i == num_iterations:
        costs.append(cost)


def two_layer_model(X, Y, layers_dims, learning_rate=0.0075, num_iterations=3000, print_cost=False):
    """LINEAR->RELU->LINEAR->SIGMOID trained by gradient descent, as the Application notebook does.

    Parameters
    ----------
    X : ndarray of shape (n_x, m)
    Y : ndarray of shape (1, m), labels 0/1
    layers_dims : tuple (n_x, n_h, n_y)

    Returns
    -------
    (parameters, costs) : dict W1, b1, W2, b2, and the cost of every 100th iteration.
    """
    np.random.seed(1)
    grads = {}
    costs = []
    n_x, n_h, n_y = layers_dims
    parameters = initialize_parameters(n_x, n_h, n_y)
    for i in range(0, num_iterations):
        A1, cache1 = linear_activation_forward(X, parameters["W1"], parameters["b1"], "relu")
        A2, cache2 = linear_activation_forward(A1, parameters["W2"], parameters["b2"], "sigmoid")
        cost = compute_cost(A2, Y)
        dA2 = -(np.divide(Y, A2) - np.divide(1 - Y, 1 - A2))
        dA1, grads["dW2"], grads["db2"] = linear_activation_backward(dA2, cache2, "sigmoid")
        dA0, grads["dW1"], grads["db1"] = linear_activation_backward(dA1, cache1, "relu")
        parameters = update_parameters(parameters, grads, learning_rate)
        _report(costs, cost, i, num_iterations, print_cost)
    return parameters, costs


def L_layer_model(X, Y, layers_dims, learning_rate=0.0075, num_iterations=3000, print_cost=False):
    """[LINEAR->RELU]*(L-1)->LINEAR->SIGMOID trained by gradient descent, as the Application notebook does.

    Parameters
    ----------
    X : ndarray of shape (n_x, m)
    Y : ndarray of shape (1, m), labels 0/1
    layers_dims : list of int, [n_x, n_1, ..., 1]

    Returns
    -------
    (parameters, costs) : dict W1, b1, ..., and the cost of every 100th iteration.
    """
    np.random.seed(1)
    costs = []
    parameters = initialize_parameters_deep(layers_dims)
    for i in range(0, num_iterations):
        AL, caches = L_model_forward(X, parameters)
        cost = compute_cost(AL, Y)
        grads = L_model_backward(AL, Y, caches)
        parameters = update_parameters(parameters, grads, learning_rate)
        _report(costs, cost, i, num_iterations, print_cost)
    return parameters, costs


def predict(X, y, parameters):
    """0/1 predictions (1, m) at threshold 0.5; prints "Accuracy: ..." as the course does."""
    m = X.shape[1]
    probas, caches = L_model_forward(X, parameters)
    p = (probas > 0.5).astype(np.float64).reshape(1, m)
    print("Accuracy: " + str(np.sum((p == y) / m)))
    return p


def print_mislabeled_images(classes, X, y, p):
    """Plot the images (columns of X, 64x64x3) whose prediction p differs from the label y.

    Needs matplotlib (``pip install "fastbp[plot]"``); draws on the current figure as the
    course does, titled with the predicted and true class names.
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError('print_mislabeled_images needs matplotlib: pip install "fastbp[plot]"') from exc
    a = p + y
    mislabeled_indices = np.asarray(np.where(a == 1))
    plt.rcParams["figure.figsize"] = (40.0, 40.0)
    num_images = len(mislabeled_indices[0])
    for i in range(num_images):
        index = mislabeled_indices[1][i]
        plt.subplot(2, num_images, i + 1)
        plt.imshow(X[:, index].reshape(64, 64, 3), interpolation="nearest")
        plt.axis("off")
        plt.title("Prediction: " + classes[int(p[0, index])].decode("utf-8") + " \n Class: "
                  + classes[y[0, index]].decode("utf-8"))
