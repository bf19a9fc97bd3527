"""Kernel benchmarks over sizes and both dtypes. JIT warm-up happens in setup()."""
import numpy as np

from fastbp.kernels import activations as act
from fastbp.kernels import optimizers
from fastbp.kernels import dense_parallel, fused
from fastbp.kernels.dense import backward_update, dense_forward, hidden_delta, weight_gradient

# batch x fan_in x fan_out; 209x12288x20 is the cat net's first layer, skinny products whose speed
# depends most on which BLAS the kernels call (see fastbp.kernels.blas).
SHAPES = ["1x2x3", "16x64x32", "64x784x512", "256x512x256", "209x12288x20"]
DTYPES = ["float32", "float64"]


def _arrays(shape, dtype):
    m, fan_in, fan_out = (int(v) for v in shape.split("x"))
    rng = np.random.default_rng(0)
    return (rng.normal(size=(m, fan_in)).astype(dtype), rng.normal(size=(fan_in, fan_out)).astype(dtype),
            rng.normal(size=fan_out).astype(dtype), rng.normal(size=(m, fan_out)).astype(dtype))


class DenseKernels:
    params = (SHAPES, DTYPES)
    param_names = ["batch x fan_in x fan_out", "dtype"]

    def setup(self, shape, dtype):
        self.A, self.W, self.b, self.delta = _arrays(shape, dtype)
        self.Z = np.empty_like(self.delta)
        self.A_prev_delta = np.empty_like(self.A)
        self.dW, self.db = np.empty_like(self.W), np.empty_like(self.b)
        self.time_dense_forward(shape, dtype)
        self.time_hidden_delta(shape, dtype)
        self.time_weight_gradient(shape, dtype)

    def time_dense_forward(self, shape, dtype):
        dense_forward(self.A, self.W, self.b, act.RELU, self.Z)

    def time_hidden_delta(self, shape, dtype):
        hidden_delta(self.delta, self.W, self.A, act.RELU, self.A_prev_delta)

    def time_weight_gradient(self, shape, dtype):
        weight_gradient(self.A, self.delta, self.W, 0.0, self.dW, self.db)


class Update:
    params = ([1_000, 535_818], DTYPES, ["sgd", "momentum", "adam"])
    param_names = ["n_params", "dtype", "optimizer"]

    def setup(self, n, dtype, optimizer):
        rng = np.random.default_rng(0)
        self.p, self.g = rng.normal(size=n).astype(dtype), rng.normal(size=n).astype(dtype)
        self.state = (np.zeros(n, dtype), np.zeros(n, dtype))
        self.code = optimizers.ADAM if optimizer == "adam" else optimizers.SGD
        self.coeffs = _coefficients(self.code, 0.9 if optimizer == "momentum" else 0.0)
        self.time_update(n, dtype, optimizer)

    def time_update(self, n, dtype, optimizer):
        optimizers.apply_update(self.code, self.p, self.g, self.state, self.coeffs)


def _coefficients(code, momentum):
    hyper = np.zeros(optimizers.N_HYPER)
    hyper[optimizers.LR] = 1e-3
    hyper[optimizers.MOMENTUM] = momentum
    hyper[optimizers.BETA1], hyper[optimizers.BETA2] = 0.9, 0.999
    hyper[optimizers.EPSILON] = 1e-8
    coeffs = np.empty(optimizers.N_COEFFS)
    optimizers.step_coefficients(code, hyper, 1, coeffs)
    return coeffs


def _layer_step_gflops(benchmark, shape, dtype, path, repeats=20):
    """GFLOP/s of ``benchmark.time_layer_step``: 6 * m * fan_in * fan_out flop (forward, backward, update)."""
    import time
    start = time.perf_counter()
    for _ in range(repeats):
        benchmark.time_layer_step(shape, dtype, path)
    seconds = (time.perf_counter() - start) / repeats
    return 6 * benchmark.A.shape[0] * benchmark.W.size / seconds / 1e9


class SmallBatchKernels:
    """The fused small-batch path (fastbp.kernels.fused) against the BLAS path's three kernels plus the update,
    on the MNIST-shaped first layer; track_ gives GFLOP/s of one layer step (forward + backward + update)."""
    params = (["1x784x512", "4x784x512", "4x512x256"], DTYPES, ["fused", "blas"])
    param_names = ["batch x fan_in x fan_out", "dtype", "path"]

    def setup(self, shape, dtype, path):
        self.A, self.W, self.b, self.delta = _arrays(shape, dtype)
        self.Z, self.A_prev_delta = np.empty_like(self.delta), np.empty_like(self.A)
        self.dW, self.db = np.empty_like(self.W), np.empty_like(self.b)
        self.state_W = (np.zeros_like(self.W), np.zeros_like(self.W))
        self.state_b = (np.zeros_like(self.b), np.zeros_like(self.b))
        self.coeffs = _coefficients(optimizers.SGD, 0.5)
        self.sums = np.empty(fused.N_BLOCKS)
        self.flat = (np.zeros(self.W.size, dtype), (np.zeros(self.W.size, dtype), np.zeros(self.W.size, dtype)))
        self.time_layer_step(shape, dtype, path)

    def time_layer_step(self, shape, dtype, path):
        if path == "fused":
            fused.dense_forward_rows(self.A, self.W, self.b, act.RELU, self.Z)
            fused.backward_update_rows(self.A, self.delta, self.W, self.b, self.dW, self.db, self.state_W,
                                       self.state_b, act.RELU, self.A_prev_delta, optimizers.SGD, self.coeffs, 0.0,
                                       self.sums, True, fused.no_look_ahead(self.W))
        else:
            dense_forward(self.A, self.W, self.b, act.RELU, self.Z)
            weight_gradient(self.A, self.delta, self.W, 0.0, self.dW, self.db)
            hidden_delta(self.delta, self.W, self.A, act.RELU, self.A_prev_delta)
            optimizers.apply_update(optimizers.SGD, self.W.reshape(-1), self.dW.reshape(-1), self.flat[1],
                                    self.coeffs)

    def track_gflops(self, shape, dtype, path):
        return _layer_step_gflops(self, shape, dtype, path)
    track_gflops.unit = "GFLOP/s"


class FirstLayerKernels:
    """The small-batch path's first layer: its update with the next batch's forward product fused in
    (fused.backward_update_rows with a look_ahead, two threads) against the forward pass then the update
    (dense_forward_rows, backward_update_rows); track_ gives GFLOP/s of 4 * m * fan_in * fan_out (forward,
    gradient, update; a first layer has no hidden delta)."""
    params = (["1x784x512", "4x784x512"], DTYPES, ["ahead", "fused"])
    param_names = ["batch x fan_in x fan_out", "dtype", "path"]

    def setup(self, shape, dtype, path):
        from fastbp import threads
        self.threads = threads.kernel_threads(2)
        self.threads.__enter__()
        self.A, self.W, self.b, self.delta = _arrays(shape, dtype)
        self.Z, self.no_delta_prev = np.empty_like(self.delta), np.empty((0, self.W.shape[0]), dtype)
        self.dW, self.db = np.empty_like(self.W), np.empty_like(self.b)
        self.state_W = (np.zeros_like(self.W), np.zeros_like(self.W))
        self.state_b = (np.zeros_like(self.b), np.zeros_like(self.b))
        self.coeffs = _coefficients(optimizers.SGD, 0.5)
        self.sums = np.empty(fused.N_BLOCKS)
        self.partial = np.empty(fused.N_BLOCKS * self.Z.size, dtype)
        self.time_layer_step(shape, dtype, path)

    def teardown(self, shape, dtype, path):
        self.threads.__exit__(None, None, None)

    def time_layer_step(self, shape, dtype, path):
        if path == "ahead":
            fused.backward_update_rows(self.A, self.delta, self.W, self.b, self.dW, self.db, self.state_W,
                                       self.state_b, act.LINEAR, self.no_delta_prev, optimizers.SGD, self.coeffs, 0.0,
                                       self.sums, True, (True, self.A, self.partial, act.RELU, self.Z))
        else:
            fused.dense_forward_rows(self.A, self.W, self.b, act.RELU, self.Z)
            fused.backward_update_rows(self.A, self.delta, self.W, self.b, self.dW, self.db, self.state_W,
                                       self.state_b, act.LINEAR, self.no_delta_prev, optimizers.SGD, self.coeffs, 0.0,
                                       self.sums, True, fused.no_look_ahead(self.W))

    def track_gflops(self, shape, dtype, path):
        return _layer_step_gflops(self, shape, dtype, path) * 4 / 6
    track_gflops.unit = "GFLOP/s"


class BlockKernels:
    """Layers in blocks on Numba's thread pool (fastbp.kernels.dense_parallel, single-threaded BLAS per block)
    against the whole products on multi-threaded BLAS (fastbp.kernels.dense); track_ gives GFLOP/s of one
    layer step (forward + backward + update), so a regression in either path shows."""
    params = (["16x784x512", "64x784x512", "256x512x256", "209x12288x20"], DTYPES, ["blocks", "blas"])
    param_names = ["batch x fan_in x fan_out", "dtype", "path"]

    def setup(self, shape, dtype, path):
        from fastbp import threads
        self.A, self.W, self.b, self.delta = _arrays(shape, dtype)
        self.W *= 0.01
        self.Z, self.A_prev_delta = np.empty_like(self.delta), np.empty_like(self.A)
        self.dW, self.db = np.empty_like(self.W), np.empty_like(self.b)
        self.state_W = (np.zeros_like(self.W), np.zeros_like(self.W))
        self.state_b = (np.zeros_like(self.b), np.zeros_like(self.b))
        self.coeffs = _coefficients(optimizers.SGD, 0.5)
        self.threads = threads.layer_threads(threads.default_thread_count(), split=path == "blocks")
        self.n_blocks = self.threads.__enter__()
        self.sums = np.empty(max(self.n_blocks, 1))
        # Room for the blocks' partial forward products, as training gives it (epoch.partials_length).
        self.partials = np.empty((dense_parallel.ROW_SPLIT_BLOCKS - 1) * self.Z.size, dtype)
        self.time_layer_step(shape, dtype, path)

    def teardown(self, shape, dtype, path):
        self.threads.__exit__(None, None, None)

    def time_layer_step(self, shape, dtype, path):
        if self.n_blocks > 1:
            dense_parallel.dense_forward_parallel(self.A, self.W, self.b, act.RELU, self.Z, self.n_blocks,
                                                  self.partials)
            dense_parallel.backward_update_parallel(self.A, self.delta, self.W, self.b, self.dW, self.db,
                                                    self.state_W, self.state_b, act.RELU, self.A_prev_delta,
                                                    optimizers.SGD, self.coeffs, 0.0, self.sums, self.n_blocks)
        else:
            dense_forward(self.A, self.W, self.b, act.RELU, self.Z)
            backward_update(self.A, self.delta, self.W, self.b, self.dW, self.db, self.state_W, self.state_b,
                            act.RELU, self.A_prev_delta, optimizers.SGD, self.coeffs, 0.0)

    def track_gflops(self, shape, dtype, path):
        return _layer_step_gflops(self, shape, dtype, path)
    track_gflops.unit = "GFLOP/s"
