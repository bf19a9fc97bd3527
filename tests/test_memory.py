"""Repeated fit/predict calls do not grow the process (the 10,000-call soak is an asv benchmark)."""
import tracemalloc

import numpy as np

import fastbp


def test_repeated_fit_and_predict_do_not_leak():
    X, y = np.random.default_rng(0).normal(size=(32, 8)), np.arange(32) % 3
    net = fastbp.Network([8, 6, 3], seed=0)
    for _ in range(500):  # warm every cache first
        net.fit(X, y, epochs=1, verbose=0)
        net.predict(X)
    tracemalloc.start()
    try:
        for _ in range(1000):
            net.fit(X, y, epochs=1, verbose=0)
            net.predict(X)
        start = tracemalloc.get_traced_memory()[0]
        for _ in range(3000):
            net.fit(X, y, epochs=1, verbose=0)
            net.predict(X)
        growth = tracemalloc.get_traced_memory()[0] - start
    finally:
        tracemalloc.stop()
    assert growth < 16_384, f"{growth} bytes more after 3000 fit/predict calls"
