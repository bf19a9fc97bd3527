"""Michael Nielsen's ``network.py`` (Neural Networks and Deep Learning, ch. 1), on fastbp's kernels.

Samples are column vectors; ``training_data`` is a list of (x, y) pairs with x
(n_in, 1) and y (n_out, 1); ``test_data`` pairs carry integer labels. Initial
weights come from NumPy's global generator and shuffling from the ``random``
module, exactly as in the original, so seeded runs print the same lines.
"""
import random

import numpy as np

from fastbp.network import Network as FastNetwork
from fastbp.training import EpochRunner


class Network:
    """Sigmoid network with quadratic cost C = 1/2 ||a - y||^2, trained by mini-batch SGD.

    Parameters
    ----------
    sizes : list of int
        Layer widths, e.g. [784, 30, 10].

    Attributes
    ----------
    weights : list of ndarray (n_l, n_{l-1}), biases : list of ndarray (n_l, 1)
        Plain lists of arrays, as in the original: every method reads whatever they hold
        when it is called (reassigned lists, in-place edits, other shapes), and training
        stores new arrays in them, as the original's ``update_mini_batch`` does.
    """

    def __init__(self, sizes):
        self.num_layers = len(sizes)
        self.sizes = sizes
        self.biases = [np.random.randn(y, 1) for y in sizes[1:]]
        self.weights = [np.random.randn(y, x) for x, y in zip(sizes[:-1], sizes[1:])]
        self._net = None

    def _network(self):
        """The fastbp network that does the work, loaded with the current ``weights`` and ``biases``."""
        shapes = [np.shape(w) for w in self.weights]
        if (not shapes or any(len(s) != 2 for s in shapes) or len(self.biases) != len(shapes)
                or any(s[1] != prev[0] for s, prev in zip(shapes[1:], shapes))
                or any(np.size(b) != s[0] for b, s in zip(self.biases, shapes))):
            raise ValueError("weights must be a list of 2-D arrays (n_l, n_{l-1}) that chain, and biases a list "
                             f"of (n_l, 1) arrays to match; got weights {shapes} and biases "
                             f"{[np.shape(b) for b in self.biases]}")
        layers = (shapes[0][1],) + tuple(s[0] for s in shapes)
        if self._net is None or self._net.layers != layers:
            self._net = FastNetwork(list(layers), activation="sigmoid", output="sigmoid", loss="mse",
                                    dtype=np.float64)
        for l, (b, w) in enumerate(zip(self.biases, self.weights)):
            self._net.biases[l][...] = np.reshape(b, -1)
            self._net.weights[l][...] = np.transpose(w)
        return self._net

    def _publish(self):
        """New arrays in ``weights`` and ``biases`` after training, as the original rebinds them."""
        self.weights = [np.ascontiguousarray(W.T) for W in self._net.weights]
        self.biases = [b.reshape(-1, 1).copy() for b in self._net.biases]

    def _step_size(self, eta):
        # fastbp's mse is mean((a - y)^2) over outputs: its gradient is 2 / n_out times Nielsen's.
        return eta * self._net.layers[-1] / 2.0

    def feedforward(self, a):
        """Network output (n_out, 1) for a column input a (n_in, 1)."""
        return self._network().predict_proba(np.reshape(a, (1, -1))).reshape(-1, 1)

    def SGD(self, training_data, epochs, mini_batch_size, eta, test_data=None):
        """Mini-batch SGD; prints ``Epoch {j}: {correct} / {n}`` (or ``Epoch {j} complete``) per epoch.

        Shuffles ``training_data`` in place with ``random.shuffle`` as the original does.
        """
        if test_data:
            test_data = list(test_data)
            n_test = len(test_data)
        training_data = training_data if isinstance(training_data, list) else list(training_data)
        n = len(training_data)
        net = self._network()
        X, Y = self._stack(training_data)
        rows = {id(pair): k for k, pair in enumerate(training_data)}
        runner = EpochRunner(net, min(mini_batch_size, n), "sgd", self._step_size(eta), flush_denormals=False)
        for j in range(epochs):
            random.shuffle(training_data)
            order = np.array([rows[id(pair)] for pair in training_data], dtype=np.intp)[None, :]
            runner.run(X, Y, order, first_epoch=j)
            self._publish()
            if test_data:
                print("Epoch {0}: {1} / {2}".format(j, self._correct(net, test_data), n_test))
            else:
                print("Epoch {0} complete".format(j))

    def update_mini_batch(self, mini_batch, eta):
        """One gradient step with the mean gradient of the (x, y) pairs in mini_batch."""
        net = self._network()
        X, Y = self._stack(mini_batch)
        runner = EpochRunner(net, len(mini_batch), "sgd", self._step_size(eta), flush_denormals=False)
        runner.run(X, Y, np.arange(len(mini_batch), dtype=np.intp)[None, :])
        self._publish()

    def backprop(self, x, y):
        """(nabla_b, nabla_w) of the quadratic cost for one sample, shaped like biases and weights."""
        net = self._network()
        X, Y = self._stack([(x, y)])
        dW, db = net.gradients(X, Y)
        scale = net.layers[-1] / 2.0
        return [scale * b.reshape(-1, 1) for b in db], [scale * W.T for W in dW]

    def evaluate(self, test_data):
        """Number of test pairs (x, label) whose output's argmax equals the label."""
        return self._correct(self._network(), test_data)

    @staticmethod
    def _correct(net, test_data):
        X = np.stack([np.reshape(x, -1) for x, _ in test_data])
        labels = np.array([int(y) for _, y in test_data])
        return int(np.sum(net.predict_proba(X).argmax(axis=1) == labels))

    def cost_derivative(self, output_activations, y):
        """dC/da = a - y for the quadratic cost."""
        return output_activations - y

    def _stack(self, pairs):
        X = np.stack([np.reshape(x, -1) for x, _ in pairs]).astype(np.float64)
        Y = np.stack([np.reshape(y, -1) for _, y in pairs]).astype(np.float64)
        n_in, n_out = self._net.layers[0], self._net.layers[-1]
        if X.shape[1] != n_in or Y.shape[1] != n_out:
            raise ValueError(f"each x must have {n_in} values and each y {n_out}, "
                             f"got {X.shape[1]} and {Y.shape[1]}")
        if not (np.isfinite(X).all() and np.isfinite(Y).all()):
            raise ValueError("training_data must be finite, but contains NaN or infinity")
        return X, Y
