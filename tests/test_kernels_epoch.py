import numpy as np

import fastbp
from fastbp.kernels import epoch as K
from fastbp.training import EpochRunner


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
