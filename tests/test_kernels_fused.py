"""The small-batch kernels (fastbp.kernels.fused) against the NumPy reference, serial and on the thread pool."""
import numba
import numpy as np
import pytest

import fastbp
import reference
from layer_cases import (NAMES, OPTIMIZERS, TOL, assert_same_training, assert_updated, coefficients,
                         reference_training)
from layer_cases import layer as make_layer
from fastbp import threads, training
from fastbp.kernels import activations as K
from fastbp.kernels import fused
from fastbp.kernels import optimizers as O

# (m, fan_in, fan_out): one row, ragged fan_in (not a multiple of 4), a single output, rows updated one by
# one (one sample, at least ROW_UPDATE_COLUMNS outputs); then two layers over the pool's limits (2^20
# multiply-adds per batch with one sample, 3 * 2^18 with more), whose backward blocks run on the pool.
SHAPES = [(1, 5, 3), (2, 7, 1), (3, 13, 17), (4, 8, 33), (1, 300, 130), (4, 257, 129)]
POOL_SHAPES = [(1, 1030, 1021), (4, 520, 509)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("m,fan_in,fan_out", SHAPES)
@pytest.mark.parametrize("code", [K.RELU, K.SIGMOID, K.LINEAR, K.SOFTMAX])
def test_dense_forward_rows(m, fan_in, fan_out, code, dtype, rng):
    A_prev, W, b = rng.normal(size=(m, fan_in)), rng.normal(size=(fan_in, fan_out)), rng.normal(size=fan_out)
    out = np.full((m, fan_out), np.nan, dtype)
    fused.dense_forward_rows(A_prev.astype(dtype), W.astype(dtype), b.astype(dtype), code, out)
    expected = reference.activation("softmax" if code == K.SOFTMAX else NAMES[code], A_prev @ W + b)
    np.testing.assert_allclose(out, expected, rtol=TOL[dtype], atol=TOL[dtype])



def _run(layer, dtype, code_prev, optimizer, coeffs, l2_over_m, parallel, want_delta_prev=True):
    arrays = {k: np.array(v, dtype=dtype) for k, v in layer.items() if k != "Z_prev"}  # copies: updated in place
    m, fan_in = arrays["A_prev"].shape
    dW, db = np.empty_like(arrays["W"]), np.empty_like(arrays["b"])
    delta_prev = np.full((m if want_delta_prev else 0, fan_in), np.nan, dtype)
    sum_sq = fused.backward_update_rows(arrays["A_prev"], arrays["delta"], arrays["W"], arrays["b"], dW, db,
                                        (arrays["S1W"], arrays["S2W"]), (arrays["S1b"], arrays["S2b"]), code_prev,
                                        delta_prev, optimizer, coeffs, l2_over_m, np.empty(fused.N_BLOCKS), parallel,
                                        fused.no_look_ahead(arrays["W"]))
    return arrays, dW, db, delta_prev, sum_sq




@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("m,fan_in,fan_out", SHAPES + POOL_SHAPES)
@pytest.mark.parametrize("optimizer,options", OPTIMIZERS)
@pytest.mark.parametrize("parallel", [False, True])
def test_backward_update_rows_equals_the_unfused_reference(m, fan_in, fan_out, optimizer, options, parallel, dtype,
                                                           rng):
    code_prev, l2_over_m, step = K.TANH, 0.05, 3
    layer = make_layer(rng, m, fan_in, fan_out, code_prev)
    coeffs = coefficients(optimizer, step, 0.01, **options)
    arrays, dW, db, delta_prev, sum_sq = _run(layer, dtype, code_prev, optimizer, coeffs, l2_over_m, parallel)
    expected_dW = layer["A_prev"].T @ layer["delta"] + l2_over_m * layer["W"]
    expected_db = layer["delta"].sum(axis=0)
    tol = dict(rtol=TOL[dtype], atol=TOL[dtype] * 10)
    np.testing.assert_allclose(db, expected_db, **tol)
    np.testing.assert_allclose(delta_prev, (layer["delta"] @ layer["W"].T) * reference.derivative("tanh", layer["Z_prev"]),
                               **tol)
    assert sum_sq == pytest.approx(np.sum(layer["W"] ** 2), rel=TOL[dtype])
    assert_updated(arrays, layer, (expected_dW, expected_db), optimizer, options, step, 0.01, tol)


def test_the_first_layer_needs_no_hidden_delta(rng):
    layer = make_layer(rng, 2, 6, 5, K.LINEAR)
    arrays, _, _, delta_prev, sum_sq = _run(layer, np.float64, K.LINEAR, O.SGD, coefficients(O.SGD, 1, 0.1), 0.0,
                                            False, want_delta_prev=False)
    assert delta_prev.shape == (0, 6) and sum_sq == 0.0
    np.testing.assert_allclose(arrays["W"], layer["W"] - 0.1 * layer["A_prev"].T @ layer["delta"], rtol=1e-12)


@pytest.mark.parametrize("parallel", [False, True])
def test_one_sample_updates_long_rows_without_writing_the_gradient(parallel, rng):
    """With one sample the gradient rows are outer products formed inside the update: dW is left as it was."""
    m, fan_in, fan_out = 1, 16000, fused.ROW_UPDATE_COLUMNS + 3  # over 2^20 multiply-adds: blocks on the pool
    layer = make_layer(rng, m, fan_in, fan_out, K.RELU)
    arrays = {k: np.array(v) for k, v in layer.items() if k != "Z_prev"}
    dW, db, delta_prev = np.full((fan_in, fan_out), np.nan), np.empty(fan_out), np.empty((m, fan_in))
    coeffs = coefficients(O.SGD, 2, 0.01, momentum=0.9)
    sum_sq = fused.backward_update_rows(arrays["A_prev"], arrays["delta"], arrays["W"], arrays["b"], dW, db,
                                        (arrays["S1W"], arrays["S2W"]), (arrays["S1b"], arrays["S2b"]), K.RELU,
                                        delta_prev, O.SGD, coeffs, 0.05, np.empty(fused.N_BLOCKS), parallel,
                                        fused.no_look_ahead(arrays["W"]))
    assert np.isnan(dW).all()
    expected_dW = layer["A_prev"].T @ layer["delta"] + 0.05 * layer["W"]
    assert sum_sq == pytest.approx(np.sum(layer["W"] ** 2), rel=1e-12)
    assert_updated(arrays, layer, (expected_dW, layer["delta"].sum(axis=0)), O.SGD, dict(momentum=0.9), 2, 0.01,
                   dict(rtol=1e-12, atol=1e-12))


@pytest.mark.parametrize("m,fan_in,fan_out,pool", [
    (1, 300, 130, False), (1, 784, 512, False), (1, 1030, 1021, True),  # one sample: 2^20 multiply-adds
    (8, 300, 130, False), (4, 512, 256, False), (2, 784, 512, True), (4, 520, 509, True),  # more: 3 * 2^18
])
def test_the_thread_pool_takes_only_layers_above_its_limit(m, fan_in, fan_out, pool, rng):
    """Smaller layers stay in the calling thread even when the pool is allowed: at batch 1 a 300x128 layer's
    epoch ran 4.5x faster there. Only the pool's blocks write their partial sums beyond the first."""
    layer = make_layer(rng, m, fan_in, fan_out, K.RELU)
    arrays = {k: np.array(v) for k, v in layer.items() if k != "Z_prev"}
    sums = np.full(fused.N_BLOCKS, np.nan)
    fused.backward_update_rows(arrays["A_prev"], arrays["delta"], arrays["W"], arrays["b"], np.empty_like(arrays["W"]),
                               np.empty(fan_out), (arrays["S1W"], arrays["S2W"]), (arrays["S1b"], arrays["S2b"]),
                               K.RELU, np.empty((m, fan_in)), O.SGD, coefficients(O.SGD, 1, 0.01), 0.0, sums, True,
                               fused.no_look_ahead(arrays["W"]))
    assert np.isfinite(sums[1:]).all() == pool and np.isfinite(sums[0])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fan_in", [600, 603])
def test_serial_and_thread_pool_blocks_give_the_same_bits(fan_in, dtype, rng):
    """Each weight's arithmetic does not depend on the blocks: parallel and serial results are identical. 603
    inputs leave a last, partial group of rows (fan_in % ROW_GROUP) for the hidden delta's single-column loop."""
    layer = make_layer(rng, 3, fan_in, 600, K.RELU)  # over the pool's limit: blocks on the pool
    coeffs = coefficients(O.SGD, 1, 0.1, momentum=0.9)
    (serial, *serial_grads), (parallel, *parallel_grads) = (
        _run(layer, dtype, K.RELU, O.SGD, coeffs, 0.0, p)[:4] for p in (False, True))
    for key in serial:
        np.testing.assert_array_equal(parallel[key], serial[key])
    for got, want in zip(parallel_grads, serial_grads):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("m,m_next", [(1, 1), (3, 2), (4, 0)])
@pytest.mark.parametrize("parallel", [False, True])
def test_look_ahead_updates_the_same_bits_and_runs_the_next_forward_step(m, m_next, parallel, dtype, rng):
    """A first layer updated in blocks with the next batch's product (a look_ahead) gets the bits of the plain
    update, and A_next = relu(X_next @ W + b) with W and b updated, summed as dense_forward_rows_in_blocks sums
    it; with no next rows (a call's last step) only the update runs. 523 inputs: a ragged last block."""
    fan_in, fan_out = 523, 256
    layer = make_layer(rng, m, fan_in, fan_out, K.LINEAR)
    coeffs = coefficients(O.SGD, 2, 0.01, momentum=0.9)
    plain = _run(layer, dtype, K.LINEAR, O.SGD, coeffs, 0.05, parallel, want_delta_prev=False)[0]
    arrays = {k: np.array(v, dtype=dtype) for k, v in layer.items() if k != "Z_prev"}
    X_next = rng.normal(size=(m_next, fan_in)).astype(dtype)
    A_next = np.full((m_next, fan_out), np.nan, dtype)
    sums = np.empty(fused.N_BLOCKS)
    sum_sq = fused.backward_update_rows(arrays["A_prev"], arrays["delta"], arrays["W"], arrays["b"],
                                        np.empty_like(arrays["W"]), np.empty_like(arrays["b"]),
                                        (arrays["S1W"], arrays["S2W"]), (arrays["S1b"], arrays["S2b"]), K.LINEAR,
                                        np.empty((0, fan_in), dtype), O.SGD, coeffs, 0.05, sums, parallel,
                                        (True, X_next, np.empty(fused.N_BLOCKS * m_next * fan_out, dtype), K.RELU,
                                         A_next))
    for key in plain:
        np.testing.assert_array_equal(arrays[key], plain[key])
    assert sum_sq == pytest.approx(np.sum(layer["W"].astype(dtype).astype(np.float64) ** 2), rel=TOL[dtype])
    in_blocks = np.empty_like(A_next)
    fused.dense_forward_rows_in_blocks(X_next, arrays["W"], arrays["b"], K.RELU, in_blocks,
                                       np.empty(fused.N_BLOCKS * m_next * fan_out, dtype))
    np.testing.assert_array_equal(A_next, in_blocks)
    expected = reference.activation("relu", X_next.astype(np.float64) @ arrays["W"] + arrays["b"])
    np.testing.assert_allclose(A_next, expected, rtol=TOL[dtype], atol=TOL[dtype] * 10)


def _fit(n_threads, batch_size, dtype=np.float32, epochs=2, verbose=0, **fit):
    X = np.random.default_rng(1).normal(size=(40, 1100))
    y = np.arange(40) % 10
    net = fastbp.Network([1100, 1000, 10], dtype=dtype, seed=0)  # blocks on the pool at batch 1 and 3
    net.fit(X, y, epochs=epochs, batch_size=batch_size, lr=0.01, verbose=verbose, blas_threads=n_threads, **fit)
    return net


@pytest.mark.skipif(not threads.parallel_kernels(), reason="Numba's TBB threading layer is not available")
@pytest.mark.parametrize("batch_size", [1, 3])
def test_training_is_bit_identical_on_one_and_two_threads(batch_size):
    assert_same_training(_fit(1, batch_size, momentum=0.9), _fit(2, batch_size, momentum=0.9))


# A first layer under AHEAD_MIN_WEIGHTS, then one over it (its update also runs the next batch's first layer:
# fused.backward_update_rows' look_ahead), with a ragged fan_in (not a multiple of 4).
REFERENCE_NETS = [[300, 128, 10], [523, 256, 10]]


@pytest.mark.parametrize("layers", REFERENCE_NETS, ids=lambda layers: f"{layers[0]}x{layers[1]}")
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("batch_size", [1, 2, 3])
def test_fused_training_equals_the_reference_step_by_step(optimizer, batch_size, layers):
    """A net at batch 1 (rows updated one by one), 2 (a last batch of one row) and 3 trains on the fused path;
    the same steps in NumPy give the same weights."""
    assert (layers[0] * layers[1] >= fused.AHEAD_MIN_WEIGHTS) == (layers[0] > 500)
    X = np.random.default_rng(1).normal(size=(9, layers[0]))
    y = np.arange(9) % 10
    net = fastbp.Network(layers, activation="tanh", dtype=np.float64, seed=0)
    options = dict(momentum=0.9, nesterov=True) if optimizer == "sgd" else {}
    expected = reference_training(net, X, y, batch_size, optimizer, options)
    net.fit(X, y, epochs=1, batch_size=batch_size, lr=0.01, l2=0.1, optimizer=optimizer, shuffle=False, verbose=0,
            **options)
    for got, want in zip(net.weights + net.biases, expected):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("n_threads", [1, 2])
def test_epochs_in_one_call_or_one_per_call_give_the_same_bits(n_threads, monkeypatch):
    """Within a call each step's first layer is computed by the step before it (backward_update_rows' look_ahead), the
    first step's by dense_forward_rows_in_blocks: the same sums, so how epochs are split into calls (by time,
    fastbp.training) cannot change a bit. verbose=2 runs one epoch per call, verbose=0 all three in one."""
    monkeypatch.setattr(training, "CALL_SECONDS", 1e9)
    nets = [_fit(n_threads, 3, momentum=0.9, epochs=3, verbose=verbose) for verbose in (0, 2)]
    assert_same_training(*nets)


@pytest.mark.skipif(not threads.parallel_kernels(), reason="Numba's TBB threading layer is not available")
def test_the_thread_pool_is_numbas_tbb_layer():
    _fit(2, 1)
    assert numba.threading_layer() == "tbb"
