"""Soak: 10,000 fit/predict calls must not grow the process."""
import resource

import numpy as np

import fastbp


class Soak:
    timeout = 600

    def setup(self):
        self.X = np.random.default_rng(0).normal(size=(32, 8))
        self.y = np.arange(32) % 3
        self.net = fastbp.Network([8, 6, 3], seed=0)
        self._calls(500)

    def _calls(self, count):
        for _ in range(count):
            self.net.fit(self.X, self.y, epochs=1, verbose=0)
            self.net.predict(self.X)

    def track_max_rss_growth_over_10000_fit_predict(self):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux
        self._calls(10_000)
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before

    track_max_rss_growth_over_10000_fit_predict.unit = "kB"
