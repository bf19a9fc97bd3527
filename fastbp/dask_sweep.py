"""Hyperparameter sweeps and cross-validation on Dask distributed: ``fastbp.sweep``.

The grid is expanded and every configuration checked in this process before anything is
submitted; the data go to the workers once; each (configuration, fold) is one task running
``fastbp.model_selection.fit_and_score`` with one BLAS thread, so a score does not depend on
where, or next to what, it was computed.
"""
import contextlib
import os
import uuid

import numpy as np

from fastbp import threads
from fastbp.model_selection import (FIT_KEYWORDS, NETWORK_KEYWORDS, H5Source, check_configurations, expand_grid,
                                    fit_and_score, kfold_indices, resolve_data, split_keywords)
from fastbp.network import Network
from fastbp.validation import check_int

DEFAULT_CV = 5


class SweepResult:
    """What ``sweep`` found.

    Attributes
    ----------
    best_params : dict
        The configuration with the highest mean score (the first one on ties).
    best_score : float
        Its mean score: accuracy for classifiers, R^2 for regression.
    best_network : Network
        With validation_data, the very network that was scored; with cross-validation,
        ``best_params`` trained again on all the training data.
    table : list of dict
        One row per configuration, in grid order: "params", "mean_score", "std_score",
        "scores" (one per fold, or one on validation_data), "fit_time" (mean seconds per fit)
        and "epochs" (mean epochs run, fewer than asked with early stopping).
    """

    def __init__(self, table, best_network):
        self.table = table
        best = max(range(len(table)), key=lambda i: (table[i]["mean_score"], -i))
        self.best_params = dict(table[best]["params"])
        self.best_score = table[best]["mean_score"]
        self.best_network = best_network

    def __repr__(self):
        return (f"SweepResult({len(self.table)} configurations, best_score={self.best_score:.4f}, "
                f"best_params={self.best_params})")

    def format_table(self):
        """The table as text, best configuration first."""
        rows = sorted(self.table, key=lambda row: -row["mean_score"])
        lines = [f"{'score':>8} {'std':>7} {'fit s':>7} {'epochs':>6}  params"]
        for row in rows:
            lines.append(f"{row['mean_score']:>8.4f} {row['std_score']:>7.4f} {row['fit_time']:>7.2f} "
                         f"{row['epochs']:>6.1f}  {_describe(row['params'])}")
        return "\n".join(lines)


def _describe(params):
    return ", ".join(f"{key}={value!r}" for key, value in params.items())


def sweep(X, y, grid, *, validation_data=None, cv=None, n_iter=None, epochs=10, seed=0, client=None,
          x_key="X", progress=True, **fixed):
    """Train every configuration of ``grid`` on a Dask cluster and score it.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_in), or path to an HDF5 file
        With a path, each worker reads the file itself (datasets ``x_key`` and ``y``).
    y : array-like of shape (n_samples, ...), or the targets' dataset name when X is a path
    grid : dict of str -> list
        Any Network keyword (layers, activation, output, loss, init, dtype, seed) or fit
        keyword (lr, batch_size, momentum, nesterov, l2, optimizer, shuffle, early_stopping,
        beta1, beta2, epsilon, ...) mapped to the values to try; every combination is tried.
    validation_data : (X_val, y_val) or None
        Score each configuration on this set; otherwise k-fold cross-validation.
    cv : int or None
        Folds of cross-validation (stratified for classifiers); None means 5 when there is
        no validation_data.
    n_iter : int or None
        Try this many configurations drawn at random (seeded) instead of all.
    epochs : int, default 10
    seed : int, default 0
        Seeds every network (unless "seed" is in the grid), the folds and the random subset.
    client : distributed.Client or None
        None starts a LocalCluster (one single-threaded worker thread per core, see
        ``local_cluster``) for this call and shuts it down afterwards, from a script with or
        without a ``__main__`` guard, a notebook or the REPL; pass ``Client("tcp://scheduler:8786")``
        to use a cluster.
    x_key : str, default "X"
        Features dataset name when X is an HDF5 path.
    progress : bool, default True
        A progress bar counting finished fits.
    **fixed
        Network and fit keywords shared by every configuration (``layers`` is required here
        or in the grid). With ``early_stopping``, each fit watches the set it is scored on
        (the held-out fold or validation_data), so its score is slightly optimistic.

    Returns
    -------
    SweepResult

    Raises
    ------
    ImportError
        Without Dask distributed (``pip install "fastbp[dask]"``).
    ValueError, TypeError
        For a bad grid, keyword, value or data, before anything is submitted.

    Examples
    --------
    >>> X, y = fastbp.datasets.load_digits()
    >>> result = fastbp.sweep(X, y, {"lr": [0.05, 0.2], "layers": [[64, 32, 10], [64, 64, 10]]},
    ...                       cv=3, epochs=20, batch_size=16)              # doctest: +SKIP
    >>> print(result.format_table())                                       # doctest: +SKIP
    """
    distributed = _import_distributed()
    data, X_all, y_all = _training_data(X, y, x_key)
    for key in fixed:
        if key not in NETWORK_KEYWORDS + FIT_KEYWORDS:
            raise TypeError(f"sweep got an unexpected keyword {key!r}; expected sweep's own arguments or a "
                            f"Network/fit keyword")
    epochs = check_int(epochs, "epochs", 0)
    seed = check_int(seed, "seed", 0)
    if n_iter is not None:
        n_iter = check_int(n_iter, "n_iter", 1)
    configs = expand_grid(grid, n_iter, seed)
    fixed = {"seed": seed, **fixed}
    check_configurations(configs, X_all, y_all, fixed, epochs)
    folds = _folds(configs[0], fixed, X_all, y_all, validation_data, cv, seed)

    # One BLAS thread for the whole sweep, set once here: thread workers in this process (the embedded
    # cluster) share the process-wide setting, and each fit's own nested limit then saves and restores
    # this same value, so one worker finishing cannot hand its neighbour more threads mid-fit.
    with threads.blas_threads(1), threads.default_threads(1), _client(distributed, client) as active:
        results, best_network = _run(distributed, active, data, configs, fixed, epochs, folds, validation_data,
                                     progress)
    table = [_row(config, results[c]) for c, config in enumerate(configs)]
    result = SweepResult(table, best_network)
    if best_network is None:  # cross-validated: train the best configuration on all the data
        result.best_network = _refit(X_all, y_all, result.best_params, fixed, epochs)
    return result


def _import_distributed():
    try:
        import distributed
    except ImportError as exc:
        raise ImportError('fastbp.sweep needs Dask distributed: pip install "fastbp[dask]"') from exc
    return distributed


def _training_data(X, y, x_key):
    """(what the workers get, X, y in this process)."""
    if isinstance(X, (str, os.PathLike)):
        if not isinstance(y, str):
            raise TypeError(f"with X an HDF5 path, y must name the targets dataset, got {y!r}")
        source = H5Source(X, x=x_key, y=y)
        X_all, y_all = resolve_data(source)
        return source, X_all, y_all
    X_all, y_all = np.asarray(X), np.asarray(y)
    return (X_all, y_all), X_all, y_all


def _folds(first, fixed, X, y, validation_data, cv, seed):
    """[(train, test)] index pairs; [(None, None)] when scoring on validation_data."""
    if validation_data is not None:
        if cv is not None:
            raise ValueError("give validation_data or cv, not both")
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise TypeError("validation_data must be a tuple (X_val, y_val)")
        Network(**split_keywords({**fixed, **first})[0])._data(
            *validation_data, names=("validation_data[0]", "validation_data[1]"))
        return [(None, None)]
    cv = DEFAULT_CV if cv is None else check_int(cv, "cv", 2)
    net = Network(**split_keywords({**fixed, **first})[0])
    return kfold_indices(y, cv, seed, stratified=net.loss_function == "cross_entropy")


def local_cluster(n_workers=None):
    """The LocalCluster ``sweep`` starts when given no client: ``n_workers`` (default: one per core this
    process may run on, ``threads.usable_cores()``) single-threaded workers as threads of this process,
    without the workers' statistical profiler (it samples every 10 ms: CPU the fits need on a small machine).

    Threads, not processes: the kernels release the GIL, so thread workers train in parallel, and
    they need no ``if __name__ == "__main__":`` guard (spawned worker processes re-run an unguarded
    script and fail to start). Measured here, 16 digits fits, best of 5, two rounds: 2 thread
    workers 0.20-0.21 s against 2 worker processes 0.23-0.32 s, 1 worker 0.36-0.37 s either way.
    ``sweep`` holds ``threads.blas_threads(1)`` and ``threads.default_threads(1)`` while it runs: the
    BLAS thread count is process-wide, and a score must not depend on a neighbour's fit.
    """
    import dask
    import distributed
    with dask.config.set({"distributed.worker.profile.enabled": False}):
        return distributed.LocalCluster(n_workers=n_workers or threads.usable_cores(), threads_per_worker=1,
                                        processes=False, dashboard_address=":0")


@contextlib.contextmanager
def _client(distributed, client):
    if client is not None:
        yield client
        return
    with local_cluster() as cluster, distributed.Client(cluster) as local:
        yield local


def _run(distributed, client, data, configs, fixed, epochs, folds, validation_data, progress):
    """Submit one task per (configuration, fold); returns results[config][fold]."""
    from tqdm.auto import tqdm  # 78 ms of import (asyncio, importlib.metadata) that ``import fastbp`` skips

    if not isinstance(data, H5Source):
        # The data travel to each worker once; hash=False gives this sweep its own key, so a
        # finished sweep releasing the same data cannot take it from a new one.
        [data] = client.scatter([data], broadcast=True, hash=False)
    if validation_data is not None:
        [validation_data] = client.scatter([tuple(np.asarray(a) for a in validation_data)], broadcast=True,
                                           hash=False)
    # Scored on validation_data, each fit is already the best network's final training: keep the
    # best one seen instead of training it again.
    keep_network = validation_data is not None
    token = uuid.uuid4().hex[:12]
    futures, where = [], {}
    for c, config in enumerate(configs):
        for f, (train, test) in enumerate(folds):
            futures.append(client.submit(fit_and_score, data, config, fixed, epochs, train, test, validation_data,
                                         keep_network, key=f"fastbp-fit-{token}-{c}-{f}"))
            where[futures[-1].key] = (c, f)
    results = [[None] * len(folds) for _ in configs]
    best = None
    # On this client's event loop: as_completed otherwise takes the default client's, which is another client's
    # when several are open in this process (the tests' cluster and the CLI's --scheduler client), and it then
    # gathers these futures from the wrong loop, which can hang (dask/distributed#4357); a CI run hung here once.
    finished = distributed.as_completed(futures, loop=client.loop, with_results=True)
    for future, result in tqdm(finished, total=len(futures), unit="fit", disable=not progress, desc="sweep"):
        c, f = where[future.key]
        network = result.pop("network", None)
        if network is not None and (best is None or (result["score"], -c) > (best[0], -best[1])):
            best = (result["score"], c, network)
        results[c][f] = result
    return results, (None if best is None else best[2])


def _row(config, fold_results):
    scores = [r["score"] for r in fold_results]
    return {"params": config, "mean_score": float(np.mean(scores)), "std_score": float(np.std(scores)),
            "scores": scores, "fit_time": float(np.mean([r["fit_time"] for r in fold_results])),
            "epochs": float(np.mean([r["epochs"] for r in fold_results]))}


def _refit(X, y, best_params, fixed, epochs):
    network_kwargs, fit_kwargs = split_keywords({**fixed, **best_params})
    fit_kwargs.pop("early_stopping", None)  # no held-out set is left: train the full epochs
    net = Network(**network_kwargs)
    net.fit(X, y, epochs=epochs, verbose=0, blas_threads=1, **fit_kwargs)
    return net
