"""Threads, processes and compiled signatures: fits stay exact and the kernels never recompile."""
import multiprocessing
import threading

import h5py
import numpy as np
import pytest
from numba.core.registry import CPUDispatcher

import fastbp
from fastbp.kernels import activations, dense, epoch, fused, losses, optimizers

KERNEL_MODULES = (activations, dense, epoch, fused, losses, optimizers)


def _dispatchers():
    return {f"{module.__name__}.{name}": item for module in KERNEL_MODULES
            for name, item in vars(module).items() if isinstance(item, CPUDispatcher)}


def _digits(n=400):
    X, y = fastbp.datasets.load_digits()
    return X[:n], y[:n]


def _fit(seed, X, y, **kwargs):
    net = fastbp.Network([64, 24, 10], seed=seed)
    net.fit(X, y, epochs=3, batch_size=16, lr=0.1, momentum=0.9, verbose=0, **kwargs)
    return net._params.copy()


def test_every_kernel_releases_the_gil_and_is_cached():
    dispatchers = _dispatchers()
    assert len(dispatchers) > 20
    for name, dispatcher in dispatchers.items():
        assert dispatcher.targetoptions.get("nogil") is True, name
        assert dispatcher._cache.__class__.__name__ == "FunctionCache", name  # cache=True


def test_two_networks_in_two_threads_equal_the_same_fits_in_turn():
    X, y = _digits()
    sequential = [_fit(seed, X, y) for seed in (1, 2)]
    results = {}
    workers = [threading.Thread(target=lambda s=seed: results.__setitem__(s, _fit(s, X, y))) for seed in (1, 2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert np.array_equal(results[1], sequential[0]) and np.array_equal(results[2], sequential[1])


def test_many_threads_sharing_one_kernel_set():
    X, y = _digits(200)
    expected = _fit(0, X, y)
    results = []
    workers = [threading.Thread(target=lambda: results.append(_fit(0, X, y))) for _ in range(6)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(results) == 6 and all(np.array_equal(r, expected) for r in results)


def _fit_in_child(queue):
    X, y = _digits()
    queue.put(_fit(3, X, y))


def _fit_small_batches(seed):
    """Batch 1 on a net with a large layer: the fused kernels, their blocks on Numba's thread pool."""
    X = np.random.default_rng(seed).normal(size=(60, 300))
    net = fastbp.Network([300, 128, 10], seed=seed)
    net.fit(X, np.arange(60) % 10, epochs=2, batch_size=1, lr=0.01, momentum=0.9, verbose=0)
    return net._params.copy()


def _fit_small_batches_in_child(queue):
    queue.put(_fit_small_batches(3))


def test_thread_pool_kernels_in_several_python_threads_at_once():
    """Concurrent launches from Python threads (the workqueue layer aborts on them)."""
    sequential = [_fit_small_batches(seed) for seed in (1, 2, 3)]
    results = {}
    workers = [threading.Thread(target=lambda s=seed: results.__setitem__(s, _fit_small_batches(s)))
               for seed in (1, 2, 3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert all(np.array_equal(results[seed], sequential[seed - 1]) for seed in (1, 2, 3))


def _result_of_forked_child(target, timeout):
    """What ``target(queue)`` puts on the queue in a forked child, and the child's exit code."""
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=target, args=(queue,))
    child.start()
    got = queue.get(timeout=timeout)
    child.join(timeout=60)
    return got, child.exitcode


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="no fork on this platform")
def test_thread_pool_kernels_inside_a_forked_worker_process():
    """The parent has launched the thread pool before forking (GNU OpenMP's layer kills such a child)."""
    expected = _fit_small_batches(3)
    got, exitcode = _result_of_forked_child(_fit_small_batches_in_child, 300)
    assert exitcode == 0 and np.array_equal(got, expected)


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="no fork on this platform")
def test_a_fit_inside_a_forked_worker_process():
    X, y = _digits()
    expected = _fit(3, X, y)  # the parent has used BLAS and the kernels before forking
    got, exitcode = _result_of_forked_child(_fit_in_child, 120)
    assert exitcode == 0 and np.array_equal(got, expected)


def _every_entry_point(dtype, X, y, tmp_path):
    net = fastbp.Network([64, 8, 10], dtype=dtype, seed=0)
    net.fit(X, y, epochs=2, batch_size=7, verbose=0)
    net.fit(X, y, epochs=1, batch_size=500, shuffle=False, optimizer="adam", l2=0.1, verbose=0,
            validation_data=(X[:9], y[:9]))
    net.predict(X), net.score(X, y), net.loss(X, y, l2=0.5), net.gradients(X, y)
    with h5py.File(tmp_path / f"data-{np.dtype(dtype).name}.h5", "w") as f:
        f["X"], f["y"] = X, y
    with h5py.File(tmp_path / f"data-{np.dtype(dtype).name}.h5", "r") as f:
        net.fit(f["X"], f["y"], epochs=1, chunk_size=50, verbose=0)
    return net


def _unaligned(array):
    """A copy of ``array`` whose data start one byte past an aligned address (as Dask may deliver it)."""
    raw = np.zeros(array.nbytes + 1, dtype=np.uint8)
    out = np.frombuffer(raw.data, dtype=array.dtype, count=array.size, offset=1).reshape(array.shape)
    out[...] = array
    assert not out.flags.aligned
    return out


def _read_only(array):
    """A read-only copy of ``array``, as joblib's memory-mapped arrays reach worker processes."""
    out = np.array(array)
    out.flags.writeable = False
    return out


def test_compiled_signatures_do_not_grow_with_varied_inputs(tmp_path):
    X, y = _digits(120)
    nets = [_every_entry_point(dtype, X, y, tmp_path) for dtype in (np.float32, np.float64)]
    before = {name: len(d.signatures) for name, d in _dispatchers().items()}
    varied = [
        (X.astype(np.float64), y), (X.tolist(), y.tolist()), ((X * 16).astype(np.int64), y.astype(np.float32)),
        (np.asfortranarray(X), y), (X[::2], y[::2]), (X.astype(X.dtype.newbyteorder(">")), y),
        (X > 0.5, y.astype(np.uint8)), (X[:1], y[:1]), (_unaligned(X), _unaligned(y)),
        (_read_only(X), _read_only(y)), (_read_only(X.astype(np.float64)), y),
    ]
    for net in nets:
        for Xv, yv in varied:
            for batch_size in (1, 5, 1000):
                net.fit(Xv, yv, epochs=1, batch_size=batch_size, verbose=0)
            net.fit(Xv, yv, epochs=2, momentum=0.5, nesterov=True, shuffle=False, verbose=0)
            net.predict_proba(Xv), net.score(Xv, yv), net.loss(Xv, yv), net.gradients(Xv, yv)
        _every_entry_point(net.dtype, X, y, tmp_path)
    after = {name: len(d.signatures) for name, d in _dispatchers().items()}
    assert after == before
    # What the Python layer calls: one compiled signature per dtype, whatever the user passed.
    for name in ("train_epochs", "evaluate"):
        assert after[f"fastbp.kernels.epoch.{name}"] == 2, name
