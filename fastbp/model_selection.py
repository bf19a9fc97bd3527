"""Model selection without a scheduler: grids of settings, (stratified) k-fold splits, and the one
fit-and-score task that ``fastbp.sweep`` sends to Dask workers.

Everything here is deterministic given its seed, so a task gives the same score in any process.
"""
import inspect
import itertools
import os
import time
from functools import lru_cache

import numpy as np

from fastbp import threads
from fastbp.network import Network
from fastbp.schedules import learning_rates

NETWORK_KEYWORDS = tuple(name for name in inspect.signature(Network.__init__).parameters if name != "self")
FIT_KEYWORDS = tuple(name for name in inspect.signature(Network.fit).parameters
                     if name not in ("self", "X", "y", "epochs", "validation_data", "verbose", "blas_threads"))


def expand_grid(grid, n_iter=None, seed=0):
    """The configurations of ``grid``: every combination, or a seeded random subset of ``n_iter``.

    Parameters
    ----------
    grid : dict of str -> sequence
        Each Network or fit keyword mapped to the values to try.
    n_iter : int or None
        Draw this many distinct combinations (all of them if there are fewer).
    seed : int

    Returns
    -------
    list of dict

    Raises
    ------
    TypeError, ValueError
        For a grid that is not a dict of non-empty lists, or an unknown keyword.
    """
    if not isinstance(grid, dict) or not grid:
        raise TypeError(f"grid must be a non-empty dict mapping keywords to lists of values, got {grid!r}")
    for key, values in grid.items():
        if key not in NETWORK_KEYWORDS + FIT_KEYWORDS:
            raise ValueError(f"grid keyword {key!r} is neither a Network nor a fit keyword; expected one of "
                             f"{', '.join(NETWORK_KEYWORDS + FIT_KEYWORDS)}")
        if isinstance(values, (str, bytes, dict)) or not hasattr(values, "__len__"):
            raise TypeError(f"grid[{key!r}] must be a list of values to try, got {values!r}")
        if len(values) == 0:
            raise ValueError(f"grid[{key!r}] is empty; give at least one value")
    keys = list(grid)
    combinations = list(itertools.product(*(grid[key] for key in keys)))
    if n_iter is not None and n_iter < len(combinations):
        chosen = np.random.default_rng(seed).choice(len(combinations), size=n_iter, replace=False)
        combinations = [combinations[i] for i in sorted(chosen)]
    return [dict(zip(keys, values)) for values in combinations]


def split_keywords(config):
    """(Network keywords, fit keywords) of one configuration."""
    network = {k: v for k, v in config.items() if k in NETWORK_KEYWORDS}
    fit = {k: v for k, v in config.items() if k not in NETWORK_KEYWORDS}
    return network, fit


def kfold_indices(y, k, seed=0, stratified=False):
    """``k`` (train, test) index pairs covering every sample once as test.

    Parameters
    ----------
    y : ndarray of shape (n_samples, ...)
    k : int >= 2
    seed : int
        Seeds the shuffle before splitting.
    stratified : bool
        Keep each class's share in every fold (y holds class labels): each class's
        shuffled samples are dealt to the folds in turn.

    Returns
    -------
    list of (ndarray, ndarray) of sample indices, sorted within each.
    """
    n = len(y)
    if not 2 <= k <= n:
        raise ValueError(f"cv must be an integer in [2, n_samples={n}], got {k}")
    rng = np.random.default_rng(seed)
    fold_of = np.empty(n, dtype=np.intp)
    if stratified:
        next_fold = 0
        for label in np.unique(y):
            members = rng.permutation(np.flatnonzero(y == label))
            fold_of[members] = (next_fold + np.arange(members.size)) % k
            next_fold = (next_fold + members.size) % k  # small classes do not all land in fold 0
    else:
        fold_of[rng.permutation(n)] = np.arange(n) % k
    return [(np.flatnonzero(fold_of != f), np.flatnonzero(fold_of == f)) for f in range(k)]


def check_configurations(configs, X, y, fixed, epochs):
    """Build each configuration's Network and check its fit settings and the data, training nothing.

    Raises the ValueError/TypeError of the first invalid configuration, naming it.
    """
    if "layers" not in {**fixed, **configs[0]}:
        raise ValueError("sweep needs layers, fixed (layers=[...]) or in the grid")
    checked = set()
    for config in configs:
        network_kwargs, fit_kwargs = split_keywords({**fixed, **config})
        try:
            net = Network(**network_kwargs)
            shape = (net.layers[0], net.layers[-1], net.loss_function, net.dtype)
            if shape not in checked:  # the data once per input width, output width, loss and dtype
                net._data(X, y)
                checked.add(shape)
            if fit_kwargs.get("early_stopping"):
                fit_kwargs["validation_data"] = (X[:2], y[:2])
            net.fit(X[:2], y[:2], epochs=0, verbose=0, **fit_kwargs)  # checks every setting, trains nothing
            if callable(fit_kwargs.get("lr")):
                learning_rates(fit_kwargs["lr"], epochs)  # a schedule's values, for every epoch
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"configuration {config}: {exc}") from None


@lru_cache(maxsize=2)
def _read_h5(path, mtime, x_key, y_key):
    from fastbp.datasets import load_h5
    return load_h5(path, x=x_key, y=y_key)


def resolve_data(data):
    """(X, y) from in-memory arrays, or from an HDF5 source read once per process."""
    if isinstance(data, H5Source):
        return _read_h5(data.path, os.path.getmtime(data.path), data.x, data.y)
    return data


class H5Source:
    """An HDF5 file each worker opens itself: ``path`` with datasets ``x`` and ``y``."""

    def __init__(self, path, x="X", y="y"):
        self.path, self.x, self.y = os.fspath(path), x, y

    def __repr__(self):
        return f"H5Source({self.path!r}, x={self.x!r}, y={self.y!r})"


def fit_and_score(data, config, fixed, epochs, train, test, validation=None, keep_network=False):
    """Train one configuration and score it; the task a sweep runs once per (configuration, fold).

    Parameters
    ----------
    data : (X, y) or H5Source
    config, fixed : dict
        The configuration's keywords, and the ones shared by every configuration.
    epochs : int
    train, test : ndarray of int or None
        Sample indices to fit and to score; None means all samples / score on ``validation``.
    validation : (X_val, y_val) or None
    keep_network : bool
        Also return the trained Network under "network".

    Returns
    -------
    dict with "score", "fit_time" (seconds) and "epochs" (epochs run).
    """
    X, y = resolve_data(data)
    network_kwargs, fit_kwargs = split_keywords({**fixed, **config})
    X_fit, y_fit = (X, y) if train is None else (X[train], y[train])
    X_score, y_score = validation if test is None else (X[test], y[test])
    if fit_kwargs.get("early_stopping"):
        fit_kwargs["validation_data"] = (X_score, y_score)
    # One BLAS thread for the fit and for the scoring: the other cores belong to other workers
    # (measured: scoring with 2 threads between fits left OpenBLAS spinning and doubled the
    # neighbouring worker's fit time), and a score must not depend on the machine's core count.
    with threads.default_threads(1):
        net = Network(**network_kwargs)
        start = time.perf_counter()
        history = net.fit(X_fit, y_fit, epochs=epochs, verbose=0, **fit_kwargs)
        fit_time = time.perf_counter() - start
        score = float(net.score(X_score, y_score))
    result = {"score": score, "fit_time": fit_time, "epochs": len(history.epoch)}
    if keep_network:
        result["network"] = net
    return result
