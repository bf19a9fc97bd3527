"""Drop-in replacements for scikit-learn's ``MLPClassifier`` and ``MLPRegressor`` on fastbp's kernels.

Change one import and keep everything else::

    from fastbp.sklearn import MLPClassifier   # was: from sklearn.neural_network import MLPClassifier

The estimators subclass scikit-learn's own, so parameters, their validation, the random
streams (initialisation, shuffling, the early-stopping split), labels, warnings, errors,
``partial_fit``, pickling and every meta-estimator behave as scikit-learn's of the installed
version. What runs on fastbp's compiled kernels is the numerics:

- each epoch of ``sgd`` and ``adam`` is one compiled call (:func:`fastbp.kernels.epoch.train_epochs`,
  or ``train_epochs_blocks`` with the large layers of batches of up to 256 rows in blocks on Numba's
  thread pool, as ``fastbp.Network`` trains them) with scikit-learn's losses, sample weights, L2 term
  and update rules (``SKLEARN_SGD``, ``SKLEARN_ADAM`` in :mod:`fastbp.kernels.optimizers`); the
  per-epoch logic between calls (learning-rate schedules, ``tol`` and ``n_iter_no_change``, validation
  scores, messages) is scikit-learn's own;
- ``lbfgs`` is scikit-learn's call of SciPy's L-BFGS-B, with the loss and gradient from the same kernel;
- predictions run :func:`fastbp.kernels.epoch.evaluate`.

Results equal scikit-learn's up to floating-point reordering. Sparse input is densified a few
batches at a time (never as a whole) for training; sparse ``lbfgs`` and sparse predictions
keep scikit-learn's own sparse products.
"""
import contextlib
import warnings

import numpy as np
import scipy.sparse

try:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier as _SklearnMLPClassifier
    from sklearn.neural_network import MLPRegressor as _SklearnMLPRegressor
    from sklearn.neural_network._stochastic_optimizers import AdamOptimizer, SGDOptimizer
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as error:  # pragma: no cover - exercised in a subprocess test
    raise ImportError("fastbp.sklearn needs scikit-learn: pip install 'fastbp[sklearn]' "
                      "(or pip install scikit-learn)") from error

from fastbp import threads
from fastbp.kernels import activations, losses, optimizers
from fastbp.kernels import epoch as kernels
from fastbp.network import Network, layer_views
from fastbp.training import PREDICT_CHUNK, allocate_work, split_layers
from fastbp.validation import kernel_view

__all__ = ["MLPClassifier", "MLPRegressor"]

_ACTIVATION_CODES = {"identity": activations.LINEAR, "logistic": activations.SIGMOID, "tanh": activations.TANH,
                     "relu": activations.RELU, "softmax": activations.SOFTMAX, "exp": activations.EXP}
_LOSS_CODES = {"softmax": losses.LOG_LOSS, "logistic": losses.BINARY_LOG_LOSS,
               "identity": losses.HALF_SQUARED_ERROR, "exp": losses.HALF_POISSON}
# fastbp.Network's names for scikit-learn's activations (to_network).
_NETWORK_ACTIVATIONS = {"identity": "linear", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu",
                        "softmax": "softmax"}
_NETWORK_LOSSES = {"softmax": "cross_entropy", "logistic": "binary_cross_entropy", "identity": "mse"}
# Sparse training data is densified this many bytes of rows at a time (whole batches, at least one).
SPARSE_CHUNK_BYTES = 8 << 20


class _KernelMLP:
    """The numerics of scikit-learn's MLP estimators, on fastbp's kernels (mixed in before scikit-learn's class)."""

    # -- the network as the kernels see it ----------------------------------------------------------

    def _layer_units(self):
        return [self.coefs_[0].shape[0]] + [W.shape[1] for W in self.coefs_]

    def _kernel_layout(self):
        """(sizes, codes, loss code) of the fitted or initialised network."""
        units = self._layer_units()
        hidden = [_ACTIVATION_CODES[self.activation]] * (len(units) - 2)
        codes = np.array(hidden + [_ACTIVATION_CODES[self.out_activation_]], dtype=np.intp)
        return np.array(units, dtype=np.intp), codes, _LOSS_CODES[self.out_activation_]

    def _bind_flat_params(self, dtype):
        """Copy coefs_ and intercepts_ into one flat buffer (fastbp's layout) and make them views of it."""
        flat = _flatten(self.coefs_, self.intercepts_, dtype)
        self.coefs_, self.intercepts_ = layer_views(flat, self._layer_units())
        return flat

    # -- stochastic solvers: one compiled call per epoch ---------------------------------------------

    def _fit_stochastic(self, X, y, sample_weight, activations, deltas, coef_grads, intercept_grads, layer_units,
                        incremental):
        dtype = X.dtype
        params = self._bind_flat_params(dtype)
        if not incremental or not hasattr(self, "_optimizer"):
            self._optimizer = self._new_optimizer()
        state = _OptimizerState(self._optimizer, self._layer_units(), dtype)

        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        X_train, y_train, w_train, X_val, y_val, w_val = self._split(X, y, sample_weight)
        n_samples = X_train.shape[0]
        batch_size = self._batch_size(n_samples)
        epoch = _EpochData(X_train, y_train, w_train, batch_size, dtype)
        hyper = self._hyper()
        code = optimizers.SKLEARN_ADAM if self.solver == "adam" else optimizers.SKLEARN_SGD
        sizes, codes, loss_code = self._kernel_layout()
        split = not epoch.sparse and split_layers(sizes, batch_size)
        work = allocate_work(sizes, batch_size, dtype, partials=split)
        sample_idx = np.arange(n_samples, dtype=int)
        try:
            self.n_iter_ = 0
            for _ in range(self.max_iter):
                if self.shuffle:
                    sample_idx = _shuffled(sample_idx, self._random_state)
                hyper[optimizers.LR] = self._epoch_learning_rate()
                with _epoch_threads(split) as n_blocks:
                    total = epoch.run(sample_idx, params, sizes, codes, loss_code, code, hyper, state, work, n_blocks)
                state.finish_epoch()
                if self._end_epoch(total / n_samples, n_samples, X_val, y_val, w_val) or incremental:
                    break
                if self.n_iter_ == self.max_iter:
                    warnings.warn("Stochastic Optimizer: Maximum iterations (%d) reached and the optimization "
                                  "hasn't converged yet." % self.max_iter, ConvergenceWarning)
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.")
        if self.early_stopping:
            self.coefs_ = self._best_coefs
            self.intercepts_ = self._best_intercepts

    def _end_epoch(self, loss, n_samples, X_val, y_val, w_val):
        """scikit-learn's bookkeeping after an epoch of mean loss ``loss``; True when training stops."""
        self.n_iter_ += 1
        self.loss_ = np.float64(loss)  # float64 for float32 data too, as scikit-learn's
        self.t_ += n_samples
        self.loss_curve_.append(self.loss_)
        if self.verbose:
            print("Iteration %d, loss = %.8f" % (self.n_iter_, self.loss_))
        self._update_no_improvement_count(self.early_stopping, X_val, y_val, w_val)
        self._optimizer.iteration_ends(self.t_)
        if self._no_improvement_count > self.n_iter_no_change:
            if self._optimizer.trigger_stopping(self._no_improvement_message(), self.verbose):
                return True
            self._no_improvement_count = 0
        return False

    def _new_optimizer(self):
        params = self.coefs_ + self.intercepts_
        if self.solver == "sgd":
            return SGDOptimizer(params, self.learning_rate_init, self.learning_rate, self.momentum,
                                self.nesterovs_momentum, self.power_t)
        return AdamOptimizer(params, self.learning_rate_init, self.beta_1, self.beta_2, self.epsilon)

    def _epoch_learning_rate(self):
        """The learning rate the kernel takes: scikit-learn's Adam rescales its initial rate at every step
        (and keeps the last rescaled one in ``learning_rate``); SGD's schedules set ``learning_rate`` per epoch."""
        if isinstance(self._optimizer, AdamOptimizer):
            return self._optimizer.learning_rate_init
        return self._optimizer.learning_rate

    def _hyper(self):
        hyper = np.zeros(optimizers.N_HYPER)
        hyper[optimizers.MOMENTUM] = self.momentum
        hyper[optimizers.NESTEROV] = self.nesterovs_momentum
        hyper[optimizers.L2] = self.alpha
        hyper[optimizers.BETA1] = self.beta_1
        hyper[optimizers.BETA2] = self.beta_2
        hyper[optimizers.EPSILON] = self.epsilon
        return hyper

    def _split(self, X, y, sample_weight):
        """(X_train, y_train, w_train, X_val, y_val, w_val): scikit-learn's early-stopping split, or all of it
        for training."""
        if not self.early_stopping:
            return X, y, sample_weight, None, None, None
        # Not stratified for multilabel targets, as scikit-learn.
        stratify = y if self._is_classifier() and self.n_outputs_ == 1 else None
        arrays = (X, y) if sample_weight is None else (X, y, sample_weight)
        parts = train_test_split(*arrays, random_state=self._random_state, test_size=self.validation_fraction,
                                 stratify=stratify)
        X_train, X_val, y_train, y_val = parts[:4]
        w_train, w_val = parts[4:] if sample_weight is not None else (None, None)
        if X_val.shape[0] < 2:
            raise ValueError("The validation set is too small. Increase 'validation_fraction' or the size of "
                             "your dataset.")
        if self._is_classifier():
            y_val = self._label_binarizer.inverse_transform(y_val)
        return X_train, y_train, w_train, X_val, y_val, w_val

    def _batch_size(self, n_samples):
        if self.batch_size == "auto":
            return min(200, n_samples)
        if self.batch_size > n_samples:
            warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going to be clipped")
        return int(np.clip(self.batch_size, 1, n_samples))

    def _no_improvement_message(self):
        if self.early_stopping:
            return ("Validation score did not improve more than tol=%f for %d consecutive epochs."
                    % (self.tol, self.n_iter_no_change))
        return ("Training loss did not improve more than tol=%f for %d consecutive epochs."
                % (self.tol, self.n_iter_no_change))

    def _is_classifier(self):
        return isinstance(self, _SklearnMLPClassifier)

    # -- lbfgs: scikit-learn's driver, fastbp's loss and gradient ---------------------------------------

    def _backprop(self, X, y, sample_weight, activations, deltas, coef_grads, intercept_grads):
        # scikit-learn's hook for the loss and gradient of all samples (its L-BFGS objective): one batch of
        # the epoch kernel in sample order, with no update, fills coef_grads and intercept_grads.
        if scipy.sparse.issparse(X):
            return super()._backprop(X, y, sample_weight, activations, deltas, coef_grads, intercept_grads)
        dtype = X.dtype
        params = _flatten(self.coefs_, self.intercepts_, dtype)
        sizes, codes, loss_code = self._kernel_layout()
        n = X.shape[0]
        grads = np.empty_like(params)
        no_moments = np.zeros(0, dtype)
        hyper = self._hyper()
        total = np.zeros(1)
        with _blas_threads():
            kernels.train_epochs(
                _kernel_array(X, dtype), _targets(y, dtype), np.arange(n, dtype=np.intp).reshape(1, n), n, params,
                sizes, codes, loss_code, optimizers.NO_UPDATE, hyper, (grads, no_moments, no_moments), 0,
                allocate_work(sizes, n, dtype, gather=False), total, np.zeros(1, np.int64), np.zeros(1),
                _weights(sample_weight, n, dtype), np.empty((n, 1), dtype), False, 1)
        dW, db = layer_views(grads, self._layer_units())
        for layer in range(len(dW)):
            coef_grads[layer] = dW[layer]
            intercept_grads[layer] = db[layer]
        return total[0] / n, coef_grads, intercept_grads

    # -- prediction ----------------------------------------------------------------------------------------

    def _forward_pass_fast(self, X, check_input=True):
        if check_input:
            X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False)
        dtype = np.result_type(X.dtype, self.coefs_[0].dtype)
        if scipy.sparse.issparse(X) or dtype not in (np.float32, np.float64):
            return super()._forward_pass_fast(X, check_input=False)
        X = _kernel_array(X, dtype)
        params = _flatten(self.coefs_, self.intercepts_, dtype)
        sizes, codes, _ = self._kernel_layout()
        out = np.empty((X.shape[0], sizes[-1]), dtype=dtype)
        capacity = max(1, min(X.shape[0], PREDICT_CHUNK))
        with _blas_threads():
            kernels.evaluate(X, np.empty((0, sizes[-1]), dtype), params, sizes, codes, losses.MSE, capacity,
                             allocate_work(sizes, capacity, dtype, gather=False), out)
        return out

    # -- beyond scikit-learn -----------------------------------------------------------------------------

    def to_network(self):
        """The fitted model as a :class:`fastbp.Network` (HDF5 save, the CLI, gradient checks).

        Returns
        -------
        Network
            Same layers, activations and parameters (copied), in the estimator's dtype. Its
            ``predict`` returns class indices into ``classes_`` (softmax) or 0/1 indicators.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before ``fit``.
        ValueError
            For ``loss="poisson"``, whose exp output fastbp.Network does not have.
        """
        check_is_fitted(self)
        if self.out_activation_ not in _NETWORK_LOSSES:
            raise ValueError(f"to_network: the {self.out_activation_!r} output (loss={self.loss!r}) has no "
                             f"fastbp.Network equivalent; expected loss='squared_error'")
        dtype = self.coefs_[0].dtype
        net = Network(self._layer_units(), activation=_NETWORK_ACTIVATIONS[self.activation],
                      output=_NETWORK_ACTIVATIONS[self.out_activation_], loss=_NETWORK_LOSSES[self.out_activation_],
                      dtype=dtype)
        net._params[...] = _flatten(self.coefs_, self.intercepts_, dtype)
        return net


class MLPClassifier(_KernelMLP, _SklearnMLPClassifier):
    """scikit-learn's ``MLPClassifier`` trained on fastbp's compiled kernels.

    Parameters, attributes and methods are those of
    :class:`sklearn.neural_network.MLPClassifier` of the installed scikit-learn, with its
    defaults; a fit gives its model up to floating-point reordering. float32 input trains in
    float32. ``to_network()`` returns the fitted model as a :class:`fastbp.Network`.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from fastbp.sklearn import MLPClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = MLPClassifier(hidden_layer_sizes=(32,), max_iter=50, random_state=0).fit(X / 16, y)
    >>> clf.score(X / 16, y) > 0.95
    True
    """


class MLPRegressor(_KernelMLP, _SklearnMLPRegressor):
    """scikit-learn's ``MLPRegressor`` trained on fastbp's compiled kernels.

    Parameters, attributes and methods are those of
    :class:`sklearn.neural_network.MLPRegressor` of the installed scikit-learn (``loss`` in
    {"squared_error", "poisson"}), with its defaults; a fit gives its model up to floating-point
    reordering. float32 input trains in float32. ``to_network()`` returns the fitted model as a
    :class:`fastbp.Network` (squared error only).
    """


class _OptimizerState:
    """scikit-learn's optimizer state in flat buffers the kernels update: its lists become views of them.

    The optimizer object stays scikit-learn's (its schedules and stopping rule run between
    epochs); its velocities (SGD) or moments (Adam) are copied into fastbp's layout once per fit
    call and the kernels' updates show through the views. Adam's step count follows the kernel's.
    """

    def __init__(self, optimizer, layer_units, dtype):
        self.optimizer = optimizer
        n_layers = len(layer_units) - 1
        names = ("velocities",) if isinstance(optimizer, SGDOptimizer) else ("ms", "vs")
        buffers = []
        for name in names:
            arrays = getattr(optimizer, name)
            flat = _flatten(arrays[:n_layers], arrays[n_layers:], dtype)
            W, b = layer_views(flat, layer_units)
            setattr(optimizer, name, W + b)
            buffers.append(flat)
        self.state1 = buffers[0]
        self.state2 = buffers[1] if len(buffers) > 1 else np.zeros(0, dtype)
        self.grads = np.empty_like(self.state1)

    @property
    def step(self):
        return getattr(self.optimizer, "t", 0)

    @step.setter
    def step(self, value):
        if isinstance(self.optimizer, AdamOptimizer):
            self.optimizer.t = value

    def finish_epoch(self):
        """Leave Adam's ``learning_rate`` as scikit-learn's last step leaves it."""
        opt = self.optimizer
        if isinstance(opt, AdamOptimizer) and opt.t > 0:
            opt.learning_rate = opt.learning_rate_init * np.sqrt(1 - opt.beta_2 ** opt.t) / (1 - opt.beta_1 ** opt.t)

    def buffers(self):
        return self.grads, self.state1, self.state2


class _EpochData:
    """Training rows in the kernels' form: dense rows as they are, sparse rows densified a few batches at a time."""

    def __init__(self, X, y, sample_weight, batch_size, dtype):
        self.sparse = scipy.sparse.issparse(X)
        self.X = X.tocsr() if self.sparse else _kernel_array(X, X.dtype)
        self.Y = _targets(y, dtype)
        self.weights = _weights(sample_weight, X.shape[0], dtype)
        self.batch_size = batch_size
        self.batch_weights = np.empty((batch_size, 1), dtype)
        row_bytes = max(1, X.shape[1] * dtype.itemsize)
        self.chunk = batch_size * max(1, SPARSE_CHUNK_BYTES // (row_bytes * batch_size))

    def run(self, sample_idx, params, sizes, codes, loss_code, optimizer, hyper, state, work, n_blocks=1):
        """One epoch in the order sample_idx; returns the sum over batches of batch loss * batch rows.

        ``n_blocks`` > 1 (dense rows only) runs the large layers in that many blocks on Numba's pool.
        """
        arguments = (params, sizes, codes, loss_code, optimizer, hyper, state, work)
        if not self.sparse:
            return self._epoch(self.X, self.Y, self.weights, np.asarray(sample_idx, np.intp), *arguments, n_blocks)
        total = 0.0
        for start in range(0, len(sample_idx), self.chunk):
            rows = sample_idx[start:start + self.chunk]
            total += self._epoch(self.X[rows].toarray(), self.Y[rows], self.weights[rows],
                                 np.arange(len(rows), dtype=np.intp), *arguments, 1)
        return total

    def _epoch(self, X, Y, weights, order, params, sizes, codes, loss_code, optimizer, hyper, state, work, n_blocks):
        """The epoch kernel in scikit-learn's conventions (sample weights given) over rows ``order`` of X."""
        cost = np.zeros(1)
        arguments = (X, Y, order.reshape(1, -1), self.batch_size, params, sizes, codes, loss_code, optimizer, hyper,
                     state.buffers(), state.step, work, cost, np.zeros(1, np.int64), np.zeros(1), weights,
                     self.batch_weights, False)
        if n_blocks > 1:
            state.step, _ = kernels.train_epochs_blocks(*arguments, n_blocks)
        else:
            state.step, _ = kernels.train_epochs(*arguments, 1)
        return cost[0]


def _shuffled(sample_idx, random_state):
    """``sklearn.utils.shuffle(sample_idx, random_state=random_state)``: the same draws and result, without its
    input validation, which cost 0.3 ms per epoch here (11% of a digits fit at batch 16)."""
    indices = np.arange(len(sample_idx))
    random_state.shuffle(indices)
    return sample_idx[indices]


def _flatten(coefs, intercepts, dtype):
    """[W0, b0, W1, b1, ...] as one flat array of ``dtype`` (fastbp's parameter layout)."""
    parts = []
    for W, b in zip(coefs, intercepts):
        parts += [np.ravel(W), np.ravel(b)]
    return np.concatenate(parts).astype(dtype, copy=False)


def _kernel_array(a, dtype):
    """``a`` as the kernels take it: C-contiguous, aligned and typed writeable, copied only when it must be
    (a read-only input, such as joblib's memory-mapped arrays, is viewed, not copied: see ``kernel_view``)."""
    return kernel_view(np.require(a, dtype=dtype, requirements=["C", "A"]))


def _targets(y, dtype):
    """Targets as a C-contiguous (n, n_outputs) array of the parameters' dtype."""
    y = np.asarray(y)
    return _kernel_array(y.reshape(len(y), -1), dtype)


def _weights(sample_weight, n, dtype):
    """Sample weights as (n, 1); ones (the same arithmetic as none) when not given."""
    if sample_weight is None:
        return np.ones((n, 1), dtype)
    return _kernel_array(np.asarray(sample_weight).reshape(n, 1), dtype)


def _blas_threads():
    """BLAS as the process has it (scikit-learn's convention: joblib's workers set their own limits), or
    fastbp's ``default_threads`` when a block sets it (sweeps)."""
    if threads._default_threads is None:
        return contextlib.nullcontext()
    return threads.blas_threads(None)


@contextlib.contextmanager
def _epoch_threads(split):
    """Context for one training epoch; yields the number of blocks to split large layers into (1: none).

    As many threads as ``_blas_threads`` would give BLAS; with ``split`` (see ``fastbp.training.split_layers``)
    and more than one, they go to Numba's pool and each BLAS call inside a block gets one (one pool in the
    hot path, as in ``fastbp.Network``'s fits).
    """
    count = (threads._default_threads or threads.blas_limit()) if split else 1
    if count > 1:
        with threads.layer_threads(count, True) as n_blocks:
            yield n_blocks
    else:
        with _blas_threads():
            yield 1
