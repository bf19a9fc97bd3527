"""The kernels' on-disk cache follows their sources as one unit (kernels/cache.py)."""
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from fastbp.kernels import cache

COMPILE_ONE = ("import numpy as np\nfrom fastbp.kernels import activations, cache\n"
               "activations.activate(np.zeros((2, 2)), 1)\nprint(cache.cache_dir())\n")


def _run(code, cache_root):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_root)}
    return subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True)


def _cache_files(directory):
    return {path.name: path.stat().st_mtime_ns for path in directory.glob("*.nb[ic]")}


def test_a_stale_kernel_cache_is_dropped_before_any_kernel_loads(tmp_path):
    directory = pathlib.Path(_run(COMPILE_ONE, tmp_path).stdout.split()[-1])
    written = _cache_files(directory)
    assert any(name.startswith("activations.activate") for name in written)
    stamp = directory / cache.STAMP
    assert stamp.read_text() == cache.sources_digest()
    _run(COMPILE_ONE, tmp_path)  # same sources: the cache is kept and loaded, not rewritten
    assert _cache_files(directory) == written
    stamp.write_text("the digest of an older checkout")  # what a git pull into an editable install leaves
    _run("import fastbp.kernels.config", tmp_path)
    assert _cache_files(directory) == {}
    assert stamp.read_text() == cache.sources_digest()


def test_the_digest_covers_every_kernel_module(tmp_path, monkeypatch):
    copy = tmp_path / "kernels"
    shutil.copytree(cache.KERNEL_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(cache, "KERNEL_DIR", copy)
    before = cache.sources_digest()
    assert before == cache.sources_digest()
    losses = copy / "losses.py"
    losses.write_text(losses.read_text() + "\n# edited\n")
    assert cache.sources_digest() != before


# One call of the small-batch layer kernel, float64, on the pool, as asv's kernel benchmarks call it.
SMALL_BATCH_LAYER = (
    "import numpy as np\nfrom fastbp.kernels import fused, optimizers\nrng = np.random.default_rng(0)\n"
    "A, W, b, delta = rng.random((1, 600)), rng.random((600, 256)), rng.random(256), rng.random((1, 256))\n"
    "fused.backward_update_rows(A, delta, W, b, np.empty_like(W), np.empty_like(b), (np.zeros_like(W),) * 2,"
    " (np.zeros_like(b),) * 2, 0, np.empty((0, 600)), optimizers.SGD, np.full(optimizers.N_COEFFS, 0.1), 0.0,"
    " np.empty(fused.N_BLOCKS), True, {look_ahead})\n")

# Each entry point in a new process, all sharing one fresh cache, in an order where later processes load
# callees that earlier ones compiled: a Network fit (train_epochs), scikit-learn fits (train_epochs again, then
# loaded), and fits in blocks on the thread pool (train_epochs_blocks, scikit-learn's and a Network's). When
# scikit-learn's serial kernel (then train_weighted_epoch) also reached the parallel kernels, the third process
# crashed with a segmentation fault (exit status -11) loading it.
CROSS_PROCESS_STEPS = [
    "import numpy as np, fastbp\nX = np.random.default_rng(0).standard_normal((20, 64))\n"
    "fastbp.Network([64, 100, 10], dtype=np.float64, seed=0).fit(X, np.arange(20) % 10, epochs=1, verbose=0)\n",
    "import numpy as np\nfrom fastbp.sklearn import MLPClassifier\nX = np.random.default_rng(0).random((60, 64))\n"
    "MLPClassifier(max_iter=2, random_state=0).fit(X, np.arange(60) % 10)\n",
    "import numpy as np\nfrom fastbp.sklearn import MLPClassifier\nX = np.random.default_rng(0).random((60, 64))\n"
    "MLPClassifier(solver='sgd', batch_size=16, max_iter=2, random_state=0).fit(X, np.arange(60) % 10)\n",
    # scikit-learn's conventions in blocks: the same entry kernel (and signature) as the Network fit below
    "import numpy as np\nfrom fastbp.sklearn import MLPClassifier\nX = np.random.default_rng(0).random((64, 300))\n"
    "MLPClassifier((256,), batch_size=32, max_iter=2, random_state=0).fit(X, np.arange(64) % 10)\n",
    "import numpy as np, fastbp\nX = np.random.default_rng(0).standard_normal((64, 300))\n"
    "fastbp.Network([300, 256, 10], dtype=np.float64, seed=0).fit(X, np.arange(64) % 10, epochs=1, batch_size=32,"
    " blas_threads=2, verbose=0)\n",
    # The parallel layer kernels of that fit called directly, as asv's kernel benchmarks call them: each is its
    # own parallel region, entered from Python here and linked into train_epochs_blocks above.
    "import numpy as np\nfrom fastbp.kernels import dense_parallel, optimizers\nrng = np.random.default_rng(0)\n"
    "A, W, b, delta = rng.random((32, 300)), rng.random((300, 256)), rng.random(256), rng.random((32, 256))\n"
    "dense_parallel.dense_forward_parallel(A, W, b, 1, np.empty((32, 256)), 2, np.empty(32 * 256))\n"
    "dense_parallel.backward_update_parallel(A, delta, W, b, np.empty_like(W), np.empty_like(b),"
    " (np.zeros_like(W),) * 2, (np.zeros_like(b),) * 2, 0, np.empty((32, 300)), optimizers.SGD,"
    " np.full(optimizers.N_COEFFS, 0.1), 0.0, np.empty(2), 2)\n",
    # The small-batch layer kernel called directly (as asv does), with the next batch's product and without,
    # then a fit on the small-batch path with the look-ahead, whose entry kernel links the cached layer kernel.
    # With the look-ahead in a second kernel that also called the parallel _update_parallel, the third of
    # three such processes (look-ahead kernel, layer kernel, layer kernel) crashed (exit status -11).
    SMALL_BATCH_LAYER.format(look_ahead="(True, A, np.empty(fused.N_BLOCKS * 256), 1, np.empty((1, 256)))"),
    SMALL_BATCH_LAYER.format(look_ahead="fused.no_look_ahead(W)"),
    "import numpy as np, fastbp\nX = np.random.default_rng(0).standard_normal((6, 600))\n"
    "fastbp.Network([600, 256, 10], dtype=np.float64, seed=0).fit(X, np.arange(6) % 10, epochs=2, batch_size=1,"
    " blas_threads=2, verbose=0)\n",
]


def test_entry_points_compiled_in_different_processes_load_each_others_cache(tmp_path):
    pytest.importorskip("sklearn")
    for step in CROSS_PROCESS_STEPS + CROSS_PROCESS_STEPS[1:]:
        env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path), "PYTHONWARNINGS": "ignore"}
        result = subprocess.run([sys.executable, "-c", step], env=env, capture_output=True, text=True)
        assert result.returncode == 0, (step, result.returncode, result.stderr[-2000:])
