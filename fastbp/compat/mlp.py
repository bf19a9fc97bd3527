"""Seed 001's ``MLP`` class (a 2-3-1 sigmoid network for XOR), trained by fastbp's compiled epochs.

``forward`` and the module's functions compute the seed's NumPy expressions, so they return its
bytes; ``backward`` and ``train`` run fastbp's epoch kernels and match the seed to round-off.
"""
import numpy as np

from fastbp.compat.llayer import sigmoid  # seed 001's sigmoid is seed 002's expression, 1 / (1 + np.exp(-x))
from fastbp.network import Network
from fastbp.streaming import epoch_orders
from fastbp.training import EpochRunner
from fastbp.validation import check_features, check_float, check_int


def deriv_sigmoid(x):
    """sigmoid(x) * (1 - sigmoid(x)) elementwise."""
    s = sigmoid(x)
    return s * (1 - s)


def mse_loss(y_true, y_pred):
    """mean((y_true - y_pred) ** 2)."""
    return np.mean((y_true - y_pred) ** 2)


class MLP:
    """One sigmoid hidden layer, sigmoid output, squared error, per-sample SGD (seed 001).

    ``weights`` {'h': (input_size, hidden_size), 'out': (hidden_size, output_size)} and
    ``bias`` {'h': (1, hidden_size), 'out': (1, output_size)} are views of a fastbp
    :class:`~fastbp.Network`'s parameters. Initial weights come from NumPy's global
    generator in the seed's order, so ``np.random.seed(k)`` first reproduces the seed.
    """

    def __init__(self, input_size=2, hidden_size=3, output_size=1):
        self._net = Network([input_size, hidden_size, output_size], activation="sigmoid", output="sigmoid",
                            loss="mse", dtype=np.float64)
        self._net.weights[0][...] = np.random.randn(input_size, hidden_size)
        self._net.weights[1][...] = np.random.randn(hidden_size, output_size)
        self.weights = {"h": self._net.weights[0], "out": self._net.weights[1]}
        self.bias = {"h": self._net.biases[0].reshape(1, -1), "out": self._net.biases[1].reshape(1, -1)}

    def _sync(self):
        # Users may assign new arrays to the dicts, as they could in the seed: copy them in.
        views = {"h": (self._net.weights[0], self._net.biases[0].reshape(1, -1)),
                 "out": (self._net.weights[1], self._net.biases[1].reshape(1, -1))}
        for key, (W, b) in views.items():
            for store, view in ((self.weights, W), (self.bias, b)):
                if store[key] is not view:
                    value = np.asarray(store[key], dtype=np.float64)
                    if value.shape != view.shape and value.size != view.size:
                        raise ValueError(f"{key} must have shape {view.shape}, got {value.shape}")
                    view[...] = value.reshape(view.shape)
                    store[key] = view

    def forward(self, x):
        """y_pred = sigmoid(sigmoid(x @ W_h + b_h) @ W_out + b_out); x (n, input_size) -> (n, output_size).

        Keeps ``z_h``, ``a_h`` and ``z_out`` on the object, as the seed does.
        """
        self._sync()
        x = check_features(x, self._net.layers[0], np.float64, "x")
        self.z_h = np.dot(x, self.weights["h"]) + self.bias["h"]
        self.a_h = sigmoid(self.z_h)
        self.z_out = np.dot(self.a_h, self.weights["out"]) + self.bias["out"]
        return sigmoid(self.z_out)

    def backward(self, x, y_true, y_pred, lr=0.1):
        """One gradient step on the batch (x, y_true) with the seed's summed gradient; returns mse_loss."""
        self._sync()
        x = check_features(x, self._net.layers[0], np.float64, "x")
        y = self._targets(y_true, x.shape[0], "y_true")
        if np.size(y_pred) != np.size(y_true):
            raise ValueError(f"y_pred must hold as many values as y_true {np.shape(y_true)}, got shape "
                             f"{np.shape(y_pred)}")
        loss = mse_loss(y_true, y_pred)  # with the seed's broadcasting, (k, 1) against (1, k) included
        self._sgd_epochs(x, y, 1, batch_size=x.shape[0], lr=lr)
        return loss

    def train(self, x_train, y_train, epochs=100, lr=0.1):
        """Per-sample SGD in data order; prints ``epoch:{epoch}, loss:{loss:.4f}`` every 10 epochs.

        ``loss`` is the last sample's squared error before its update, as in the seed.
        All epochs run in one compiled call, and the lines are printed after it. Returns self.
        """
        self._sync()
        epochs = check_int(epochs, "epochs", 0)
        x = check_features(x_train, self._net.layers[0], np.float64, "x_train")
        y = self._targets(y_train, x.shape[0], "y_train")
        last = self._sgd_epochs(x, y, epochs, batch_size=1, lr=lr)
        for epoch in range(0, epochs, 10):
            print(f"epoch:{epoch}, loss:{last[epoch]:.4f}")
        return self

    def _targets(self, y, n_samples, name):
        n_out = self._net.layers[-1]
        if np.size(y) != n_samples * n_out:
            raise ValueError(f"{name} must hold {n_out} value(s) per sample of x ({n_samples} samples), "
                             f"got shape {np.shape(y)}")
        return self._net._targets(np.reshape(y, (n_samples, n_out)), n_samples, name)

    def _sgd_epochs(self, x, y, epochs, batch_size, lr):
        # The seed's gradient is the sum over samples and outputs of 2 (a - y) sigma'(z); fastbp's
        # mse is the mean, so the same step takes lr * batch_size * n_outputs.
        lr = check_float(lr, "lr", 0, np.inf, low_open=True, high_open=True)
        step = lr * batch_size * self._net.layers[-1]
        runner = EpochRunner(self._net, batch_size, "sgd", step, flush_denormals=False)
        orders = epoch_orders(None, x.shape[0], epochs, shuffle=False)
        return runner.run(x, y, orders)[2]
