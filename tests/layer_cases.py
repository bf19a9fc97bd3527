"""Shared inputs and checks of the layer-kernel tests (test_kernels_dense, test_kernels_fused,
test_kernels_dense_parallel)."""
import numpy as np

import reference
from fastbp.kernels import activations as K
from fastbp.kernels import optimizers as O
from fastbp.kernels.dense import OPENBLAS, SMALL_PRODUCT
from fastbp.kernels.microkernel import SKINNY_BYTES

TOL = {np.float64: 1e-12, np.float32: 1e-5}
NAMES = {K.RELU: "relu", K.SIGMOID: "sigmoid", K.TANH: "tanh", K.LINEAR: "linear", K.LEAKY_RELU: "leaky_relu"}
OPTIMIZERS = [(O.SGD, dict(momentum=0.0)), (O.SGD, dict(momentum=0.9)), (O.SGD, dict(momentum=0.9, nesterov=True)),
              (O.ADAM, {})]


def layer(rng, m, fan_in, fan_out, code_prev):
    """One layer's float64 inputs: A_prev = f(Z_prev), delta, W, b and positive optimizer states."""
    Z_prev = rng.normal(size=(m, fan_in))
    return dict(A_prev=reference.activation(NAMES[code_prev], Z_prev), Z_prev=Z_prev,
                delta=rng.normal(size=(m, fan_out)), W=rng.normal(size=(fan_in, fan_out)), b=rng.normal(size=fan_out),
                S1W=rng.normal(size=(fan_in, fan_out)) ** 2, S2W=rng.normal(size=(fan_in, fan_out)) ** 2,
                S1b=rng.normal(size=fan_out) ** 2, S2b=rng.normal(size=fan_out) ** 2)


def coefficients(optimizer, step, lr, momentum=0.0, nesterov=False):
    """The kernels' per-step coefficients for ``optimizer`` at ``step`` (Adam's betas 0.9, 0.999, eps 1e-8)."""
    hyper = np.zeros(O.N_HYPER)
    hyper[[O.LR, O.MOMENTUM, O.NESTEROV, O.BETA1, O.BETA2, O.EPSILON]] = lr, momentum, nesterov, 0.9, 0.999, 1e-8
    coeffs = np.empty(O.N_COEFFS)
    O.step_coefficients(optimizer, hyper, step, coeffs)
    return coeffs


def reference_training(net, X, y, batch_size, optimizer, options, lr=0.01, l2=0.1):
    """The parameters NumPy's step-by-step reference reaches from ``net``'s initial ones in one epoch of
    unshuffled batches (tanh hidden layer, softmax cross-entropy); call before fitting ``net``."""
    Ws, bs = [w.copy() for w in net.weights], [b.copy() for b in net.biases]
    Y = reference.one_hot(y, net.layers[-1])
    state = [[np.zeros_like(p) for p in Ws + bs] for _ in range(2)]
    for step, start in enumerate(range(0, len(X), batch_size), start=1):
        rows = slice(start, start + batch_size)
        dWs, dbs = reference.gradients(Ws, bs, ["tanh", "softmax"], "cross_entropy", X[rows], Y[rows], l2=l2)
        params = Ws + bs
        for k, g in enumerate(dWs + dbs):
            if optimizer == "adam":
                params[k], state[0][k], state[1][k] = reference.adam_step(params[k], g, state[0][k], state[1][k],
                                                                          step, lr)
            else:
                params[k], state[0][k] = reference.sgd_step(params[k], g, state[0][k], lr, **options)
        Ws, bs = params[:len(Ws)], params[len(Ws):]
    return Ws + bs


def assert_same_training(first, second):
    """Two fitted networks hold the same bits: parameters, first optimizer state and loss history."""
    np.testing.assert_array_equal(first._params, second._params)
    np.testing.assert_array_equal(first.optimizer_state["state1"], second.optimizer_state["state1"])
    assert first.history.history["loss"] == second.history.history["loss"]


def assert_updated(arrays, layer, grads, optimizer, options, step, lr, tol):
    """arrays' W, b and optimizer states are ``layer``'s after one reference step with grads = (dW, db)."""
    for p, g, s1, s2 in (("W", grads[0], "S1W", "S2W"), ("b", grads[1], "S1b", "S2b")):
        if optimizer == O.ADAM:
            want, want_s1, want_s2 = reference.adam_step(layer[p], g, layer[s1], layer[s2], step, lr)
        else:
            want, want_s1 = reference.sgd_step(layer[p], g, layer[s1], lr, **options)
            want_s2 = layer[s2]
        np.testing.assert_allclose(arrays[p], want, **tol)
        np.testing.assert_allclose(arrays[s1], want_s1, **tol)
        np.testing.assert_allclose(arrays[s2], want_s2, **tol)


def assert_gradient_or_folded(dW, gradient_dW, optimizer, options, dtype, shape, tol):
    """dW holds the gradient, or is untouched (NaN) where the optimizer takes it into its velocity inside the
    product (dense.folded_product): SGD with momentum, no Nesterov, a BLAS-sized product, except float64
    skinny layers (the micro-kernel writes dW)."""
    m, fan_in, fan_out = shape
    skinny = dtype == np.float64 and fan_out * 8 <= SKINNY_BYTES
    folds = (optimizer == O.SGD and options.get("momentum", 0) != 0 and not options.get("nesterov", False)
             and OPENBLAS and m * fan_in * fan_out > SMALL_PRODUCT and not skinny)
    if folds:
        assert np.isnan(dW).all()
    else:
        np.testing.assert_allclose(dW, gradient_dW, **tol)


def run_backward(kernel, layer, dtype, code_prev, optimizer, coeffs, l2_over_m, n_blocks=None,
                 want_delta_prev=True):
    """Run one backward-and-update kernel on copies of ``layer``; n_blocks None runs the serial dense kernel."""
    arrays = {k: np.array(v, dtype=dtype) for k, v in layer.items() if k != "Z_prev"}  # copies: updated in place
    m, fan_in = arrays["A_prev"].shape
    dW, db = np.full_like(arrays["W"], np.nan), np.empty_like(arrays["b"])  # dW stays NaN when the gradient folds
    delta_prev = np.full((m if want_delta_prev else 0, fan_in), np.nan, dtype)
    args = (arrays["A_prev"], arrays["delta"], arrays["W"], arrays["b"], dW, db, (arrays["S1W"], arrays["S2W"]),
            (arrays["S1b"], arrays["S2b"]), code_prev, delta_prev, optimizer, coeffs, l2_over_m)
    if n_blocks is None:
        sum_sq = kernel(*args)
    else:
        sum_sq = kernel(*args, np.empty(n_blocks), n_blocks)
    return arrays, dW, db, delta_prev, sum_sq
