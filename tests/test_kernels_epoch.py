import os
import subprocess
import sys

import numpy as np
import pytest

import fastbp
from fastbp.kernels import epoch as K
from fastbp.training import EpochRunner, allocate_work


def test_batch_rows_views_consecutive_rows_and_gathers_others():
    X = np.arange(20.0).reshape(5, 4)
    buffer = np.zeros(40)
    rows = K.batch_rows(X, np.array([0, 1, 2, 3, 4]), 1, 3, buffer)
    np.testing.assert_array_equal(rows, X[1:4])
    assert not buffer.any()  # a view, nothing copied
    rows = K.batch_rows(X, np.array([4, 0, 3, 1, 2]), 1, 3, buffer)
    np.testing.assert_array_equal(rows, X[[0, 3, 1]])
    rows = K.batch_rows(X, np.array([3, 4, 0, 1, 2]), 0, 3, buffer)  # runs past the end: gathered
    np.testing.assert_array_equal(rows, X[[3, 4, 0]])


def test_shuffled_order_equals_training_on_permuted_data(rng):
    X, y = rng.normal(size=(13, 4)), rng.integers(0, 3, 13)
    perm = rng.permutation(13)
    results = []
    for data, order in ((X, perm), (X[perm], np.arange(13))):
        net = fastbp.Network([4, 5, 3], dtype=np.float64, seed=0)
        Xc, Y = net._data(data, y if data is X else y[perm])
        EpochRunner(net, 4, "sgd", 0.1, momentum=0.9).run(Xc, Y, order[None, :].astype(np.intp))
        results.append(net._params.copy())
    np.testing.assert_array_equal(results[0], results[1])


def test_evaluate_predicts_and_scores_in_one_pass_over_chunks(rng):
    # Network.predict_proba and score each use one half of this kernel; both at once, over
    # several chunks (the last one partial), must give the same as each alone.
    X, y = rng.normal(size=(11, 4)), rng.integers(0, 3, 11)
    net = fastbp.Network([4, 5, 3], dtype=np.float64, seed=0)
    Xc, Y = net._data(X, y)
    work = allocate_work(net.layers, 4, net.dtype, gather=False)
    out = np.full((11, 3), np.nan)
    total, correct = K.evaluate(Xc, Y, net._params, net._sizes, net._codes, net._loss_code, 4, work, out)
    np.testing.assert_allclose(out, net.predict_proba(X), rtol=1e-12)
    assert total / 11 == pytest.approx(net.loss(X, y), rel=1e-12)
    assert correct == np.sum(out.argmax(axis=1) == y)
    no_rows = np.empty((0, 3))
    assert K.evaluate(Xc, no_rows, net._params, net._sizes, net._codes, net._loss_code, 4, work,
                      no_rows) == (0.0, 0)


PATH_SCRIPT = """
import numpy as np
import fastbp
from fastbp.kernels import dense, dense_parallel, fused, losses, optimizers
layers, batch_size = {layers}, 4
fastbp.Network(layers, seed=0, dtype=np.float64).fit(np.random.default_rng(0).normal(size=(16, layers[0])),
                                                     np.arange(16) % 3, epochs=1, batch_size=batch_size, verbose=0)
kernels = {{'dense_forward': dense.dense_forward, 'dense_forward_rows': fused.dense_forward_rows,
           'dense_forward_parallel': dense_parallel.dense_forward_parallel,
           'weighted_output_delta': losses.weighted_output_delta}}
print(sorted(name for name, kernel in kernels.items() if kernel.signatures))
print(len(optimizers.update_row.signatures), len(dense.matmul.signatures))
"""


@pytest.mark.parametrize("layers, compiled", [
    ([8, 6, 3], ["dense_forward", "weighted_output_delta"]),  # train_epochs: both conventions, no other path
    ([200, 200, 3], ["dense_forward_rows"]),  # train_epochs_rows: its row loops only
])
def test_each_training_kernel_compiles_only_its_own_path(tmp_path, layers, compiled):
    # The path flags are constants of each kernel (epoch._training_kernel): the other paths' code, and with the row
    # loops scikit-learn's conventions, never reach the compiler. A fresh cache, so that the fit compiles.
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", PATH_SCRIPT.format(layers=layers)], env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    kernel_names, versions = result.stdout.split("\n")[-3:-1]
    update_row_versions, matmul_versions = map(int, versions.split())
    assert kernel_names == str(compiled)
    assert update_row_versions == 1  # its callers all pass the same argument types (optimizers.FIRST_ROW)
    # One for every orientation (dense.AS_STORED/TRANSPOSED); the row loops make no BLAS-path product.
    assert matmul_versions == (0 if "dense_forward_rows" in compiled else 1)
