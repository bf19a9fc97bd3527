"""Kernel benchmarks over sizes and both dtypes. JIT warm-up happens in setup()."""
import numpy as np

from fastbp.kernels import activations as act
from fastbp.kernels import optimizers
from fastbp.kernels.dense import dense_forward, hidden_delta, weight_gradient

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
        self.hyper = np.zeros(optimizers.N_HYPER)
        self.hyper[optimizers.LR] = 1e-3
        self.hyper[optimizers.MOMENTUM] = 0.9 if optimizer == "momentum" else 0.0
        self.hyper[optimizers.BETA1], self.hyper[optimizers.BETA2] = 0.9, 0.999
        self.hyper[optimizers.EPSILON] = 1e-8
        self.code = optimizers.ADAM if optimizer == "adam" else optimizers.SGD
        self.time_update(n, dtype, optimizer)

    def time_update(self, n, dtype, optimizer):
        optimizers.apply_update(self.code, self.p, self.g, self.state, self.hyper, 1)
