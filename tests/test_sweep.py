"""fastbp.sweep on real Dask LocalClusters: exact scores, worker-count independence, worker loss."""
import os
import signal
import sys
import subprocess
import threading
import time

import h5py
import numpy as np
import pytest

import fastbp
from fastbp.model_selection import fit_and_score, kfold_indices

distributed = pytest.importorskip("distributed")

GRID = {"lr": [0.05, 0.3], "layers": [[64, 16, 10], [64, 32, 10]]}


@pytest.fixture(scope="module")
def digits():
    X, y = fastbp.datasets.load_digits()
    return X[:900], y[:900]


@pytest.fixture(scope="module")
def two_workers():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as client:
        yield client


def _expected_scores(X, y, grid_configs, folds, epochs, fixed):
    """The same fits, one by one in this process, through the public API."""
    scores = []
    for config in grid_configs:
        network = {k: v for k, v in {**fixed, **config}.items() if k in ("layers", "seed", "activation")}
        fit = {k: v for k, v in {**fixed, **config}.items() if k not in network}
        per_fold = []
        for train, test in folds:
            net = fastbp.Network(**network)
            net.fit(X[train], y[train], epochs=epochs, verbose=0, blas_threads=1, **fit)
            per_fold.append(net.score(X[test], y[test]))
        scores.append(per_fold)
    return scores


def test_scores_equal_the_same_fits_in_this_process_bit_for_bit(digits, two_workers):
    X, y = digits
    result = fastbp.sweep(X, y, GRID, cv=3, epochs=4, seed=5, batch_size=16, momentum=0.9, client=two_workers,
                          progress=False)
    folds = kfold_indices(y, 3, seed=5, stratified=True)
    configs = [row["params"] for row in result.table]
    assert configs == fastbp.model_selection.expand_grid(GRID)
    expected = _expected_scores(X, y, configs, folds, 4, {"seed": 5, "batch_size": 16, "momentum": 0.9})
    assert [row["scores"] for row in result.table] == expected
    best = int(np.argmax([np.mean(s) for s in expected]))
    assert result.best_params == configs[best] and result.best_score == np.mean(expected[best])
    assert all(row["epochs"] == 4 and row["fit_time"] > 0 for row in result.table)
    refit = fastbp.Network(configs[best]["layers"], seed=5)
    refit.fit(X, y, epochs=4, lr=configs[best]["lr"], batch_size=16, momentum=0.9, blas_threads=1, verbose=0)
    assert np.array_equal(result.best_network._params, refit._params)


def test_results_do_not_depend_on_the_number_of_workers(digits, two_workers):
    X, y = digits
    kwargs = dict(validation_data=(X[700:], y[700:]), epochs=3, batch_size=32, progress=False)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0") as one, \
            distributed.Client(one) as client:
        alone = fastbp.sweep(X[:700], y[:700], GRID, client=client, **kwargs)
    shared = fastbp.sweep(X[:700], y[:700], GRID, client=two_workers, **kwargs)
    assert [r["scores"] for r in alone.table] == [r["scores"] for r in shared.table]
    assert len(alone.table[0]["scores"]) == 1  # one score per configuration on validation_data
    # The best network is the one that was scored, identical to the same fit in this process.
    net = fastbp.Network(shared.best_params["layers"], seed=0)
    net.fit(X[:700], y[:700], epochs=3, batch_size=32, lr=shared.best_params["lr"], blas_threads=1, verbose=0)
    assert np.array_equal(shared.best_network._params, net._params)
    assert shared.best_network.score(X[700:], y[700:]) == shared.best_score


def test_a_worker_killed_mid_sweep_costs_retries_not_results(digits):
    X, y = digits
    grid = {"lr": [0.01, 0.02, 0.03, 0.04]}
    fixed = dict(layers=[64, 32, 10], batch_size=1)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster, distributed.Client(cluster) as client:
        pids = client.run(os.getpid)
        victim_address, victim_pid = sorted(pids.items())[0]
        killed_at = []

        def kill_when_busy():
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not client.processing().get(victim_address):
                time.sleep(0.02)
            time.sleep(0.1)  # inside a fit: each takes about 0.3 s here
            os.kill(victim_pid, signal.SIGKILL)
            killed_at.append(time.monotonic())

        killer = threading.Thread(target=kill_when_busy, daemon=True)
        killer.start()
        result = fastbp.sweep(X, y, grid, cv=2, epochs=200, client=client, progress=False, **fixed)
        finished_at = time.monotonic()
        killer.join()
        assert killed_at and killed_at[0] < finished_at  # the kill happened during the sweep
        assert victim_pid not in client.run(os.getpid).values()  # and the worker was replaced
    folds = kfold_indices(y, 2, seed=0, stratified=True)
    expected = [[fit_and_score((X, y), config, {"seed": 0, **fixed}, 200, train, test)["score"]
                 for train, test in folds] for config in fastbp.model_selection.expand_grid(grid)]
    assert [row["scores"] for row in result.table] == expected


class RefusingClient:
    """A client that fails the test if anything reaches it."""

    def __getattr__(self, name):
        raise AssertionError(f"client.{name} was used before the grid was checked")


@pytest.mark.parametrize("grid,fixed,error,words", [
    ({"lr": [0.1], "learning_rate": [1]}, {}, ValueError, "grid keyword 'learning_rate'"),
    ({"lr": []}, {}, ValueError, "is empty"),
    ({"lr": [0.1, -1.0]}, {}, ValueError, r"configuration \{'lr': -1.0\}: lr must be a finite number"),
    ({"activation": ["relu", "swish"]}, {}, ValueError, r"configuration \{'activation': 'swish'\}"),
    ({"layers": [[64, 10], [63, 10]]}, {}, ValueError, "X must have 63 features"),
    ({"lr": [0.1]}, {"layers": None}, TypeError, "layers must be a sequence"),
    ({"lr": [0.1]}, {"epoch": 3}, TypeError, "unexpected keyword 'epoch'"),
])
def test_bad_grids_are_refused_before_anything_is_submitted(digits, grid, fixed, error, words):
    X, y = digits
    fixed = {"layers": [64, 10], **fixed}
    with pytest.raises(error, match=words):
        fastbp.sweep(X, y, grid, cv=2, client=RefusingClient(), **fixed)


def test_without_distributed_the_error_says_how_to_install(digits, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError, match=r'pip install "fastbp\[dask\]"'):
        fastbp.sweep(*digits, {"lr": [0.1]}, layers=[64, 10])


def test_an_hdf5_path_is_read_by_each_worker(digits, two_workers, tmp_path):
    X, y = digits
    with h5py.File(tmp_path / "digits.h5", "w") as f:
        f["pixels"], f["label"] = X, y
    kwargs = dict(cv=2, epochs=2, layers=[64, 16, 10], client=two_workers, progress=False)
    from_file = fastbp.sweep(tmp_path / "digits.h5", "label", {"lr": [0.1, 0.2]}, x_key="pixels", **kwargs)
    from_memory = fastbp.sweep(X, y, {"lr": [0.1, 0.2]}, **kwargs)
    assert [r["scores"] for r in from_file.table] == [r["scores"] for r in from_memory.table]


def test_random_subset_and_early_stopping(digits, two_workers):
    X, y = digits
    grid = {"lr": [0.01, 0.1, 0.5, 1.0, 2.0], "momentum": [0.0, 0.9]}
    result = fastbp.sweep(X[:600], y[:600], grid, n_iter=3, validation_data=(X[600:], y[600:]), epochs=60,
                          early_stopping=2, layers=[64, 16, 10], client=two_workers, progress=False)
    assert [row["params"] for row in result.table] == fastbp.model_selection.expand_grid(grid, 3, 0)
    assert any(row["epochs"] < 60 for row in result.table)
    assert "score" in result.format_table().splitlines()[0]


def test_cli_sweep_on_a_scheduler_address(two_workers, capsys):
    from fastbp.cli import main
    address = two_workers.scheduler.address
    assert main(["sweep", "--grid", "lr=0.05,0.3", "--grid", "layers=64,16,10:64,32,10", "--cv", "2",
                 "--epochs", "2", "--scheduler", address]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split()[:2] == ["score", "std"] and len(lines) == 6
    scores = [float(line.split()[0]) for line in lines[1:5]]
    assert scores == sorted(scores, reverse=True) and lines[-1].startswith("best: {")


def test_a_second_client_gets_its_results_on_its_own_loop(digits, two_workers, monkeypatch):
    """Regression: as_completed took the default client's loop (here the fixture's) for the given client's
    futures, which can hang (dask/distributed#4357); the CLI's --scheduler test hung so once in CI."""
    loops = []
    as_completed = distributed.as_completed

    def spy(futures, loop=None, **kwargs):
        loops.append(loop)
        return as_completed(futures, loop=loop, **kwargs)

    monkeypatch.setattr(distributed, "as_completed", spy)
    X, y = digits
    kwargs = dict(cv=2, epochs=1, layers=[64, 16, 10], progress=False)
    second = distributed.Client(two_workers.scheduler.address)  # as the CLI makes it: not made current
    try:
        assert distributed.client.default_client() is not second
        result = fastbp.sweep(X, y, {"lr": [0.1, 0.2]}, client=second, **kwargs)
        assert loops == [second.loop]
    finally:
        second.close()
    expected = fastbp.sweep(X, y, {"lr": [0.1, 0.2]}, client=two_workers, **kwargs)
    assert [r["scores"] for r in result.table] == [r["scores"] for r in expected.table]


def test_cli_sweep_refuses_a_bad_grid_in_one_line(capsys):
    from fastbp.cli import main
    assert main(["sweep", "--grid", "learning_rate=0.1"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "grid keyword 'learning_rate'" in err[0]


def test_the_same_sweep_twice_on_one_client(digits, two_workers):
    """Regression: identical data scattered by two sweeps shared one key, and the first sweep's
    release could take it from the second ("lost dependencies")."""
    X, y = digits
    kwargs = dict(validation_data=(X[700:], y[700:]), epochs=1, layers=[64, 10], client=two_workers, progress=False)
    first = fastbp.sweep(X[:700], y[:700], {"lr": [0.1, 0.2]}, **kwargs)
    second = fastbp.sweep(X[:700], y[:700], {"lr": [0.1, 0.2]}, **kwargs)
    assert [r["scores"] for r in first.table] == [r["scores"] for r in second.table]


def _readme_sweep_example():
    """The README's first sweep example, up to its cluster part, as a user pastes it into a file."""
    readme = open(os.path.join(os.path.dirname(__file__), "..", "README.md")).read()
    block = readme.split("## More than one machine", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    return "import fastbp\n" + block.split("# On a cluster", 1)[0]


def test_the_readme_sweep_runs_as_an_unguarded_script(tmp_path):
    """No `if __name__ == "__main__":` guard: spawned worker processes used to re-run the script and fail."""
    script = tmp_path / "sweep.py"
    script.write_text(_readme_sweep_example() + "print('best', result.best_score)\n")
    assert not any(line.startswith("if __name__") for line in script.read_text().splitlines())
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=600,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "bootstrapping" not in done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["score", "std", "fit", "s", "epochs", "params"] and len(lines) == 12 + 2
    assert float(lines[-1].split()[1]) > 0.9


def test_the_embedded_cluster_scores_equal_the_same_fits_in_this_process(digits):
    """Thread workers share this process's BLAS: each fit still runs with one thread, so the scores are exact."""
    X, y = digits
    result = fastbp.sweep(X, y, GRID, cv=3, epochs=3, batch_size=32, seed=0, progress=False)
    folds = kfold_indices(y, 3, 0, stratified=True)
    configs = [dict(zip(GRID, values)) for values in [(0.05, [64, 16, 10]), (0.05, [64, 32, 10]),
                                                       (0.3, [64, 16, 10]), (0.3, [64, 32, 10])]]
    expected = _expected_scores(X, y, configs, folds, 3, {"seed": 0, "batch_size": 32})
    by_params = {repr(row["params"]): row["scores"] for row in result.table}
    for config, scores in zip(configs, expected):
        assert by_params[repr(config)] == scores
