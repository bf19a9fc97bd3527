"""End-to-end rows of the performance issue (fastbp side; peers run in ``python -m fastbp bench``)."""
import contextlib
import io

import numpy as np

import fastbp
import fastbp.compat as compat


class Digits:
    params = [1, 16]
    param_names = ["batch_size"]

    def setup(self, batch_size):
        self.X, self.y = fastbp.datasets.load_digits()
        self.net = fastbp.Network([64, 32, 10], activation="sigmoid", seed=0)
        self.net.fit(self.X, self.y, epochs=1, batch_size=batch_size, verbose=0)

    def time_epoch(self, batch_size):
        self.net.fit(self.X, self.y, epochs=1, batch_size=batch_size, lr=0.1, verbose=0)

    def peakmem_fit(self, batch_size):
        self.net.fit(self.X, self.y, epochs=1, batch_size=batch_size, lr=0.1, verbose=0)

    def track_loss_after_5_epochs(self, batch_size):
        net = fastbp.Network([64, 32, 10], activation="sigmoid", seed=0)
        return net.fit(self.X, self.y, epochs=5, batch_size=batch_size, lr=0.1, verbose=0).loss[-1]


class MnistShaped:
    """784-512-256-10 relu/softmax float32, SGD momentum 0.5 (seed 003's net), synthetic data."""
    params = [1, 64, 1024]
    param_names = ["batch_size"]
    timeout = 300

    def setup(self, batch_size):
        rng = np.random.default_rng(0)
        n = 60000 if batch_size > 1 else 4096
        self.X = rng.normal(size=(n, 784)).astype(np.float32)
        self.y = rng.integers(0, 10, n)
        self.net = fastbp.Network([784, 512, 256, 10], seed=0)
        self.net.fit(self.X[:256], self.y[:256], epochs=1, batch_size=batch_size, verbose=0)

    def time_epoch(self, batch_size):
        self.net.fit(self.X, self.y, epochs=1, batch_size=batch_size, lr=0.01, momentum=0.5, verbose=0)

    def peakmem_epoch(self, batch_size):
        self.net.fit(self.X, self.y, epochs=1, batch_size=batch_size, lr=0.01, momentum=0.5, verbose=0)


class Cat:
    """[12288, 20, 7, 5, 1] relu/sigmoid BCE float64, full batch of 209 (seed 002's net)."""

    def setup(self):
        rng = np.random.default_rng(0)
        self.X = rng.uniform(size=(12288, 209))
        self.Y = (rng.uniform(size=(1, 209)) > 0.5).astype(np.float64)
        self.params = compat.iniPara([12288, 20, 7, 5, 1])
        self.net = fastbp.Network([12288, 20, 7, 5, 1], output="sigmoid", init="scaled_normal",
                                  dtype=np.float64, seed=0)
        self.Xr = np.ascontiguousarray(self.X.T)
        self.time_compat_step()
        self.time_network_10_steps()

    def time_compat_step(self):
        AL, caches = compat.forwardModel(self.X, self.params)
        compat.updateParameters(self.params, compat.backwardModel(AL, self.Y, caches), 0.0075)

    def time_network_10_steps(self):
        self.net.fit(self.Xr, self.Y.ravel(), epochs=10, batch_size=209, lr=0.0075, shuffle=False, verbose=0)


class Xor:
    def setup(self):
        self.x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
        self.y = np.array([[0], [1], [1], [0]])
        self.time_train_1000_epochs()

    def time_train_1000_epochs(self):
        with contextlib.redirect_stdout(io.StringIO()):
            compat.MLP().train(self.x, self.y, 1000, 0.1)


class StreamedFromDisk:
    """A 51 MB on-disk training set streamed in 2 MB chunks: peak memory should follow the chunk, not the file.

    The file is written once, chunk by chunk, in ``setup_cache`` (its own process), so the
    peak memory measured here is the fit's and not the writer's.
    """
    timeout = 300
    rows, chunk = 200_000, 8192

    def setup_cache(self):
        import h5py
        rng = np.random.default_rng(0)
        with h5py.File("train.h5", "w") as f:
            X = f.create_dataset("X", shape=(self.rows, 64), dtype=np.float32, chunks=(self.chunk, 64))
            for start in range(0, self.rows, self.chunk):
                stop = min(start + self.chunk, self.rows)
                X[start:stop] = rng.normal(size=(stop - start, 64))
            f["y"] = rng.integers(0, 10, self.rows)
        return "train.h5"

    def setup(self, path):
        self.net = fastbp.Network([64, 32, 10], seed=0)
        self.net.fit(np.zeros((2, 64)), [0, 1], epochs=1, verbose=0)  # compile outside the measurement

    def _fit_streamed(self, path):
        import h5py
        with h5py.File(path, "r") as f:
            self.net.fit(f["X"], f["y"], epochs=1, batch_size=64, chunk_size=self.chunk, verbose=0)

    def time_epoch_streamed(self, path):
        self._fit_streamed(path)

    def peakmem_epoch_streamed(self, path):
        self._fit_streamed(path)

    def peakmem_epoch_in_memory(self, path):
        X, y = fastbp.datasets.load_h5(path)
        self.net.fit(X, y, epochs=1, batch_size=64, verbose=0)
