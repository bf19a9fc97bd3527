"""The Network: parameters in one flat buffer, the public fit/predict/score API.

The methods that compute import :mod:`fastbp.training` (and with it Numba and the kernels) when first
called: building, copying, saving or loading a network needs no compiler. ``import fastbp`` took 608-1094 ms
with Numba loaded and 154-200 ms without (8 alternated fresh processes); a new process's first trained
epoch took as long as before (1.19-1.79 s against 1.19-1.47 s), since it loads Numba either way.
"""
import numpy as np

from fastbp import registry
from fastbp.schedules import learning_rates
from fastbp.streaming import InMemoryData, StreamedData, is_h5_dataset
from fastbp.validation import check_bool, check_choice, check_features, check_float, check_int, check_targets


class Network:
    """A fully connected network trained by backpropagation with compiled kernels.

    Parameters
    ----------
    layers : sequence of int
        Widths ``[n_in, h1, ..., n_out]``, at least two entries, each >= 1.
    activation : str or sequence of str, default "relu"
        Hidden activation, one name for all hidden layers or one per hidden layer:
        "relu", "sigmoid", "tanh", "linear", "leaky_relu" (slope 0.01).
    output : str, default "softmax"
        Output activation: "softmax", "sigmoid", "linear", "tanh", "relu".
    loss : str or None
        "cross_entropy" (softmax only), "binary_cross_entropy" (sigmoid only) or "mse".
        None picks cross_entropy for softmax, binary_cross_entropy for sigmoid, else mse.
    init : str or None
        Weight initialisation: "he" (randn * sqrt(2 / fan_in)), "xavier" (uniform,
        limit sqrt(6 / (fan_in + fan_out))), "normal" (randn * 0.01), "scaled_normal"
        (randn / sqrt(fan_in), as in the classic L-layer examples). None picks "he" for
        relu/leaky_relu layers and "xavier" for the others. Biases start at zero.
    dtype : {numpy.float32, numpy.float64}, default numpy.float32
        Precision of the parameters and of every computation.
    seed : int or None
        Seeds initialisation and shuffling; a seeded network trains bit-for-bit
        repeatably on the same machine.

    Attributes
    ----------
    weights : list of ndarray of shape (fan_in, fan_out)
        Views into the flat parameter buffer: ``Z = A @ W + b``.
    biases : list of ndarray of shape (fan_out,)
    history : History or None
        What the last ``fit`` recorded.

    Examples
    --------
    >>> import fastbp
    >>> X, y = fastbp.datasets.load_digits(return_X_y=True)
    >>> net = fastbp.Network([64, 32, 10], activation="relu", seed=0)
    >>> history = net.fit(X, y, epochs=20, batch_size=16, lr=0.1, verbose=0)
    >>> net.score(X, y) > 0.95
    True
    """

    def __init__(self, layers, activation="relu", output="softmax", loss=None, init=None,
                 dtype=np.float32, seed=None):
        sizes = _check_layers(layers)
        n_hidden = len(sizes) - 2
        if isinstance(activation, str):
            check_choice(activation, "activation", tuple(registry.HIDDEN_ACTIVATIONS))  # even with no hidden layer
            activation = (activation,) * n_hidden
        activation = tuple(activation)
        if len(activation) != n_hidden:
            raise ValueError(f"activation must be one name or {n_hidden} names (one per hidden layer), "
                             f"got {len(activation)}")
        for name in activation:
            check_choice(name, "activation", tuple(registry.HIDDEN_ACTIVATIONS))
        check_choice(output, "output", tuple(registry.OUTPUT_ACTIVATIONS))
        if loss is None:
            loss = registry.DEFAULT_LOSS.get(output, "mse")
        check_choice(loss, "loss", registry.ALLOWED_LOSSES[output])
        if init is not None:
            check_choice(init, "init", registry.INITS)
        if np.dtype(dtype) not in (np.float32, np.float64):
            raise TypeError(f"dtype must be numpy.float32 or numpy.float64, got {dtype!r}")
        if seed is not None:
            seed = check_int(seed, "seed", 0)

        self.layers = tuple(int(n) for n in sizes)
        self.activation = activation
        self.output = output
        self.loss_function = loss
        self.init = init
        self.dtype = np.dtype(dtype)
        self.seed = seed
        self.history = None
        self._sizes = np.array(sizes, dtype=np.intp)
        self._codes = np.array([registry.HIDDEN_ACTIVATIONS[a] for a in activation]
                               + [registry.OUTPUT_ACTIVATIONS[output]], dtype=np.intp)
        self._loss_code = registry.LOSSES[loss]
        self._rng = np.random.default_rng(seed)
        self._params = np.zeros(self.n_params, dtype=self.dtype)
        self._bind_views()
        self._initialize()
        self.optimizer_state = None

    # -- structure ---------------------------------------------------------------------------

    @property
    def n_params(self):
        """Number of trainable parameters (all weights and biases)."""
        s = self.layers
        return sum(s[i] * s[i + 1] + s[i + 1] for i in range(len(s) - 1))

    @property
    def is_classifier(self):
        """True when the loss is a cross-entropy (predict returns labels, score is accuracy)."""
        return self.loss_function in registry.CLASSIFIER_LOSSES

    def _bind_views(self):
        self.weights, self.biases = layer_views(self._params, self.layers)

    def _initialize(self):
        names = self.activation + (self.output,)
        for W, name in zip(self.weights, names):
            scheme = self.init or ("he" if name in ("relu", "leaky_relu") else "xavier")
            W[...] = _initial_weights(self._rng, W.shape, scheme)

    def __repr__(self):
        return (f"Network(layers={list(self.layers)}, activation={list(self.activation)!r}, "
                f"output={self.output!r}, loss={self.loss_function!r}, dtype={self.dtype.name})")

    # -- coercion shared by the public methods ----------------------------------------------------

    def _features(self, X, name="X"):
        return check_features(X, self.layers[0], self.dtype, name)

    def _targets(self, y, n_samples, name="y"):
        return check_targets(y, self.loss_function, self.layers[-1], n_samples, self.dtype, name)

    def _data(self, X, y, names=("X", "y")):
        X = self._features(X, names[0])
        return X, self._targets(y, X.shape[0], names[1])

    def _evaluate(self, X, Y):
        """(mean loss, accuracy or None) of coerced X, Y; no L2 term."""
        from fastbp import training

        no_outputs = np.empty((0, Y.shape[1]), dtype=self.dtype)
        total, correct = training.forward_pass(self, X, Y, no_outputs)
        accuracy = correct / X.shape[0] if self.is_classifier else None
        return total / X.shape[0], accuracy

    def _l2_penalty(self, l2, n_samples):
        if l2 == 0:
            return 0.0
        return l2 / (2 * n_samples) * sum(float(np.vdot(W, W)) for W in self.weights)

    # -- public API ---------------------------------------------------------------------------------

    def fit(self, X, y, epochs=10, batch_size=32, lr=None, momentum=0.0, nesterov=False, l2=0.0,
            optimizer="sgd", shuffle=True, validation_data=None, verbose=1, *, early_stopping=None,
            callbacks=(), beta1=0.9, beta2=0.999, epsilon=1e-8, chunk_size=None, blas_threads=None,
            flush_denormals=True):
        """Train by mini-batch backpropagation; returns the History of this call.

        Parameters
        ----------
        X : array-like or h5py.Dataset of shape (n_samples, n_in)
            An h5py dataset is streamed from disk ``chunk_size`` rows at a time, so a training
            set larger than memory trains in bounded memory.
        y : array-like or h5py.Dataset
            Integer labels (n_samples,) for cross_entropy; (n_samples,) or (n_samples, n_out)
            targets otherwise.
        epochs : int, default 10
            Passes over the data (0 trains nothing).
        batch_size : int, default 32
            Samples per update; the last batch of an epoch may be smaller.
        lr : float, callable or None
            Learning rate > 0; None means 0.01 for SGD and 0.001 for Adam. A callable
            ``lr(epoch) -> float`` (epoch counted from 0 in this call) is a schedule, such as
            ``fastbp.schedules.StepDecay`` or ``ExponentialDecay``; all its values are checked
            before training starts.
        momentum : float in [0, 1), default 0
            PyTorch-style momentum: v = momentum * v + g; W -= lr * v.
        nesterov : bool, default False
            Nesterov momentum (needs momentum > 0).
        l2 : float >= 0, default 0
            The cost gains l2 / (2 m) * sum ||W||^2 (m = batch size; biases not penalised).
        optimizer : {"sgd", "adam"}
        shuffle : bool, default True
            Reshuffle the samples every epoch with the network's seeded generator. Streamed
            data is shuffled by chunk order and within each chunk.
        validation_data : tuple (X_val, y_val) or None
            Scored after each epoch into ``val_loss`` (and ``val_accuracy``).
        verbose : {0, 1, 2}
            0 silent, 1 a tqdm progress bar over epochs with the latest metrics, 2 one line
            per epoch.
        early_stopping : int or None
            Patience: stop when ``val_loss`` has not improved for this many epochs, and keep
            the weights of the best epoch (needs validation_data).
        callbacks : sequence of callables
            Each is called as ``callback(epoch, logs)`` after every epoch, ``logs`` being that
            epoch's metrics dict; a true return value stops training.
        beta1, beta2, epsilon : float
            Adam's moment decay rates and denominator guard.
        chunk_size : int or None
            Rows read from disk at a time when X is an h5py dataset (rounded up to a
            multiple of batch_size); None reads about 32 MiB at a time.
        blas_threads : int or None
            Threads the training may use: BLAS's on the large-batch path, Numba's pool on the
            small-batch path (see README, "How the kernels work"); None means all the cores this
            process may run on (its CPU affinity: ``taskset``, a container's cpuset), or fewer where
            OPENBLAS_NUM_THREADS or OMP_NUM_THREADS asks (``fastbp.threads.default_thread_count``).
        flush_denormals : bool, default True
            Train with denormal (subnormal) numbers flushed to zero, as XLA (JAX on the CPU)
            always does. A denormal costs the CPU about a hundred cycles per operation, and the
            momentum velocities of weights whose gradient stays zero pass through them: at batch
            size 1 the flushed epoch was 1.8x faster. Values below 1.2e-38 (float32) or 2.2e-308
            (float64) become 0; False keeps IEEE arithmetic (``fastbp.compat`` does, to match
            NumPy byte for byte).

        Returns
        -------
        History
            Per-epoch ``loss`` (mean cost over the epoch's mini-batches, L2 included), ``lr``
            and, for classifiers, ``accuracy``; ``val_loss``/``val_accuracy`` with
            validation_data. ``stop_reason`` says why training ended early, if it did.

        Raises
        ------
        ValueError, TypeError
            For bad data or hyperparameters; the network is then left unchanged.
        FloatingPointError
            When the cost becomes non-finite; the last finite parameters are restored.

        Notes
        -----
        Optimizer state (momentum velocity, Adam moments) carries over to the next
        ``fit`` with the same optimizer, so calling fit twice, or fitting a network read
        back by ``fastbp.load``, continues training. Ctrl-C stops training after the
        compiled call under way (at most about a quarter of a second of work, or one
        epoch) and returns with the weights trained so far (``stop_reason="interrupted"``).
        """
        optimizer = check_choice(optimizer, "optimizer", tuple(registry.OPTIMIZERS))
        if lr is None:
            lr = 0.001 if optimizer == "adam" else 0.01
        epochs = check_int(epochs, "epochs", 0)
        settings = dict(
            epochs=epochs,
            batch_size=check_int(batch_size, "batch_size", 1),
            lrs=learning_rates(lr, epochs),
            momentum=check_float(momentum, "momentum", 0, 1, high_open=True),
            nesterov=check_bool(nesterov, "nesterov"),
            l2=check_float(l2, "l2", 0, np.inf, high_open=True),
            optimizer=optimizer,
            shuffle=check_bool(shuffle, "shuffle"),
            beta1=check_float(beta1, "beta1", 0, 1, high_open=True),
            beta2=check_float(beta2, "beta2", 0, 1, high_open=True),
            epsilon=check_float(epsilon, "epsilon", 0, np.inf, low_open=True, high_open=True),
            verbose=verbose,
            early_stopping=None if early_stopping is None else check_int(early_stopping, "early_stopping", 1),
            callbacks=_check_callbacks(callbacks),
            blas_threads=blas_threads,
            flush_denormals=check_bool(flush_denormals, "flush_denormals"),
        )
        if settings["nesterov"] and settings["momentum"] == 0:
            raise ValueError("nesterov=True needs momentum > 0, got momentum=0")
        if verbose not in (0, 1, 2) or isinstance(verbose, bool):
            raise ValueError(f"verbose must be 0, 1 or 2, got {verbose!r}")
        if blas_threads is not None:
            check_int(blas_threads, "blas_threads", 1)
        if chunk_size is not None:
            check_int(chunk_size, "chunk_size", 1)
        if settings["early_stopping"] and validation_data is None:
            raise ValueError("early_stopping needs validation_data to watch val_loss")
        validation = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise TypeError("validation_data must be a tuple (X_val, y_val)")
            validation = self._data(*validation_data, names=("validation_data[0]", "validation_data[1]"))
        if is_h5_dataset(X):
            data = StreamedData(self, X, y, chunk_size, settings["batch_size"], settings["shuffle"])
        else:
            data = InMemoryData(*self._data(X, y), settings["shuffle"])
        from fastbp import training

        self.history = training.fit_network(self, data, validation, settings)
        return self.history

    def predict_proba(self, X):
        """Output activations: class probabilities for softmax/sigmoid outputs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_in)

        Returns
        -------
        ndarray of shape (n_samples, n_out), the network's dtype
        """
        from fastbp import training

        X = self._features(X)
        out = np.empty((X.shape[0], self.layers[-1]), dtype=self.dtype)
        no_targets = np.empty((0, out.shape[1]), dtype=self.dtype)
        training.forward_pass(self, X, no_targets, out)
        return out

    def predict(self, X):
        """Predictions for X (n_samples, n_in).

        Returns
        -------
        ndarray
            Integer class labels (n_samples,) for softmax; 0/1 labels for sigmoid
            ((n_samples,) with one output, else (n_samples, n_out)); for mse, the outputs,
            (n_samples,) with one output, else (n_samples, n_out).
        """
        out = self.predict_proba(X)
        if self.loss_function == "cross_entropy":
            return out.argmax(axis=1)
        if self.loss_function == "binary_cross_entropy":
            out = (out > 0.5).astype(np.int64)
        return out[:, 0] if out.shape[1] == 1 else out

    def score(self, X, y):
        """Accuracy for classifiers (exact match of all outputs for sigmoid), R^2 for mse.

        R^2 is averaged uniformly over outputs, as scikit-learn's ``r2_score``.
        """
        X, Y = self._data(X, y)
        if self.is_classifier:
            return self._evaluate(X, Y)[1]
        pred = self.predict_proba(X).astype(np.float64)
        Y = Y.astype(np.float64)
        residual = ((Y - pred) ** 2).sum(axis=0)
        total = ((Y - Y.mean(axis=0)) ** 2).sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            r2 = np.where(total > 0, 1 - residual / np.where(total > 0, total, 1),
                          np.where(residual > 0, 0.0, 1.0))
        return float(r2.mean())

    def loss(self, X, y, l2=0.0):
        """Cost over (X, y): mean loss + l2 / (2 n) * sum ||W||^2 with n = len(X)."""
        l2 = check_float(l2, "l2", 0, np.inf, high_open=True)
        X, Y = self._data(X, y)
        return self._evaluate(X, Y)[0] + self._l2_penalty(l2, X.shape[0])

    def gradients(self, X, y, l2=0.0):
        """Gradients of ``loss(X, y, l2)`` with respect to every weight and bias, all of X as one batch.

        Returns
        -------
        (list of ndarray (fan_in, fan_out), list of ndarray (fan_out,))
            dW and db per layer, new arrays.
        """
        from fastbp import training

        l2 = check_float(l2, "l2", 0, np.inf, high_open=True)
        X, Y = self._data(X, y)
        return layer_views(training.batch_gradients(self, X, Y, l2), self.layers)

    def save(self, path):
        """Write the network to an HDF5 model file, atomically; read it back with ``fastbp.load``.

        The file holds the architecture, dtype, every layer's W and b, the optimizer state
        (so a later ``fit`` resumes momentum/Adam), the shuffling generator's state and the
        History, as plain data (layout in ``fastbp.io``). A failed save leaves any existing
        file at ``path`` intact.

        Parameters
        ----------
        path : str or path-like

        Examples
        --------
        >>> net.save("model.h5")                    # doctest: +SKIP
        >>> same = fastbp.load("model.h5")          # doctest: +SKIP
        """
        from fastbp.io import save
        save(self, path)

    def copy(self, dtype=None):
        """An independent copy (parameters, optimizer state, history), optionally cast to ``dtype``."""
        dtype = self.dtype if dtype is None else dtype
        clone = Network(self.layers, self.activation, self.output, self.loss_function, self.init,
                        dtype, self.seed)
        clone._params[...] = self._params
        clone._rng.bit_generator.state = self._rng.bit_generator.state
        if self.optimizer_state is not None:
            clone.optimizer_state = dict(self.optimizer_state)
            for key in ("state1", "state2"):
                clone.optimizer_state[key] = self.optimizer_state[key].astype(clone.dtype)
        clone.history = self.history
        return clone


def _check_callbacks(callbacks):
    if callable(callbacks) or isinstance(callbacks, (str, bytes)) or not hasattr(callbacks, "__iter__"):
        raise TypeError(f"callbacks must be a sequence of callables callback(epoch, logs), got {callbacks!r}")
    callbacks = tuple(callbacks)
    for k, callback in enumerate(callbacks):
        if not callable(callback):
            raise TypeError(f"callbacks[{k}] must be callable as callback(epoch, logs), got {callback!r}")
    return callbacks


def _check_layers(layers):
    if isinstance(layers, (str, bytes)) or not hasattr(layers, "__len__"):
        raise TypeError(f"layers must be a sequence of ints like [n_in, h1, ..., n_out], got {layers!r}")
    if len(layers) < 2:
        raise ValueError(f"layers must hold at least an input and an output width, got {list(layers)}")
    return [check_int(n, "layers[%d]" % i, 1) for i, n in enumerate(layers)]


def layer_views(flat, layers):
    weights, biases, offset = [], [], 0
    for fan_in, fan_out in zip(layers[:-1], layers[1:]):
        weights.append(flat[offset:offset + fan_in * fan_out].reshape(fan_in, fan_out))
        offset += fan_in * fan_out
        biases.append(flat[offset:offset + fan_out])
        offset += fan_out
    return weights, biases


def _initial_weights(rng, shape, scheme):
    fan_in, fan_out = shape
    if scheme == "xavier":
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, size=shape)
    scale = {"he": np.sqrt(2.0 / fan_in), "normal": 0.01, "scaled_normal": 1.0 / np.sqrt(fan_in)}[scheme]
    return rng.standard_normal(shape) * scale
