"""Sweeps on Dask: 16 fits of the digits net on 1 and 2 worker processes (issue 7's scaling row)."""
import numpy as np

import fastbp

GRID = {"lr": [0.05, 0.1, 0.2, 0.4], "momentum": [0.0, 0.5, 0.8, 0.9]}


class Sweep:
    params = [1, 2]
    param_names = ["workers"]
    timeout = 600

    def setup(self, workers):
        try:
            import distributed
        except ImportError:
            raise NotImplementedError("Dask distributed is not installed")  # asv skips the benchmark

        from fastbp.dask_sweep import local_cluster
        self.cluster = local_cluster(workers)
        self.client = distributed.Client(self.cluster)
        self.X, self.y = fastbp.datasets.load_digits()
        self._sweep(1)  # workers import fastbp and load the cached kernels outside the measurement

    def teardown(self, workers):
        self.client.close()
        self.cluster.close()

    def _sweep(self, epochs):
        return fastbp.sweep(self.X[:1400], self.y[:1400], GRID, validation_data=(self.X[1400:], self.y[1400:]),
                            epochs=epochs, batch_size=16, layers=[64, 32, 10], activation="sigmoid",
                            client=self.client, progress=False)

    def time_16_fits_of_100_epochs(self, workers):
        self._sweep(100)

    def track_best_score(self, workers):
        return self._sweep(100).best_score
