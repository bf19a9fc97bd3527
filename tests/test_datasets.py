import numpy as np

import fastbp


def test_load_digits():
    X, y = fastbp.datasets.load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0 and X.max() == 1
    assert np.array_equal(np.unique(y), np.arange(10))
    assert np.bincount(y).min() >= 170  # every class well represented
    X64, _ = fastbp.datasets.load_digits(dtype=np.float64)
    assert X64.dtype == np.float64 and np.array_equal(X64, X)
