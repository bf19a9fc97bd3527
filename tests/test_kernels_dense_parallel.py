"""The block-parallel layer kernels (fastbp.kernels.dense_parallel) against the NumPy reference and the serial kernels."""
import numpy as np
import pytest

import fastbp
import reference
from layer_cases import (NAMES, OPTIMIZERS, TOL, assert_gradient_or_folded, assert_same_training, assert_updated,
                         coefficients, reference_training, run_backward)
from layer_cases import layer as make_layer
from fastbp import threads
from fastbp.kernels import activations as K
from fastbp.kernels import dense, dense_parallel
from fastbp.kernels import optimizers as O

# (m, fan_in, fan_out): batch 1, tiny, skinny both ways, square, and ragged edges that are not multiples of
# ALIGN (so the last block is short, and with 5 blocks of 17 rows some blocks are empty).
# (37, 700, 20): a skinny layer in the micro-kernel (.microkernel) past its chunk and tile edges.
# (16, 300, 70): a few samples, so each block runs in groups of GROUP_ROWS rows of W, the last one short.
SHAPES = [(1, 40, 33), (3, 5, 2), (64, 17, 300), (100, 300, 3), (64, 64, 64), (33, 257, 129), (37, 700, 20),
          (16, 300, 70)]
BLOCKS = [1, 2, 5]


@pytest.mark.parametrize("length", [0, 1, 15, 16, 17, 100, 1000])
@pytest.mark.parametrize("n_blocks", [1, 2, 3, 8])
def test_blocks_cover_the_range_once_on_aligned_edges(length, n_blocks):
    ranges = [dense_parallel.block_range(block, n_blocks, length) for block in range(n_blocks)]
    assert ranges[0][0] == 0 and ranges[-1][1] == length
    for (start, stop), (next_start, _) in zip(ranges, ranges[1:]):
        assert start <= stop == next_start and stop % dense_parallel.ALIGN == 0


def test_the_few_samples_shape_runs_in_several_groups_the_last_one_short():
    """Keeps SHAPES' (16, 300, 70) a case of the grouped backward pass if its limits change."""
    assert 16 <= dense.GROUPED_MAX_BATCH and 300 > 2 * dense.GROUP_ROWS
    assert 300 % dense.GROUP_ROWS != 0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("m,fan_in,fan_out", SHAPES)
@pytest.mark.parametrize("code", [K.RELU, K.SIGMOID, K.TANH, K.LINEAR])
@pytest.mark.parametrize("n_blocks", BLOCKS)
@pytest.mark.parametrize("partials", ["none", "room"])
def test_dense_forward_parallel(partials, m, fan_in, fan_out, code, n_blocks, dtype, rng):
    """Layers wider than the batch split by the columns of W without room for partial products, by its rows
    with it (partial products summed; with 5 blocks of (64, 17, 300) some blocks have no rows of W)."""
    A_prev, W, b = rng.normal(size=(m, fan_in)), rng.normal(size=(fan_in, fan_out)), rng.normal(size=fan_out)
    out = np.full((m, fan_out), np.nan, dtype)
    scratch = np.full((n_blocks - 1) * m * fan_out if partials == "room" else 0, np.nan, dtype)
    dense_parallel.dense_forward_parallel(A_prev.astype(dtype), W.astype(dtype), b.astype(dtype), code, out,
                                          n_blocks, scratch)
    expected = reference.activation(NAMES[code], A_prev @ W + b)
    np.testing.assert_allclose(out, expected, rtol=TOL[dtype], atol=TOL[dtype] * np.sqrt(fan_in))


def test_the_row_split_fills_the_partials_it_is_given_and_is_the_same_every_call(rng):
    """The split by the rows of W writes n_blocks - 1 partial products and sums them in block order: the same
    bits on every call, whichever thread runs which block."""
    m, fan_in, fan_out, n_blocks = 8, 300, 70, 3
    A_prev, W, b = rng.normal(size=(m, fan_in)), rng.normal(size=(fan_in, fan_out)), rng.normal(size=fan_out)
    scratch = np.full((n_blocks - 1) * m * fan_out, np.nan)
    first = np.empty((m, fan_out))
    with threads.kernel_threads(2):
        dense_parallel.dense_forward_parallel(A_prev, W, b, K.LINEAR, first, n_blocks, scratch)
        assert not np.isnan(scratch).any()
        for _ in range(20):
            out = np.empty((m, fan_out))
            dense_parallel.dense_forward_parallel(A_prev, W, b, K.LINEAR, out, n_blocks, scratch)
            np.testing.assert_array_equal(out, first)
    np.testing.assert_allclose(first, A_prev @ W + b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("m,fan_in,fan_out", SHAPES)
@pytest.mark.parametrize("optimizer,options", OPTIMIZERS)
@pytest.mark.parametrize("n_blocks", BLOCKS)
def test_backward_update_parallel_equals_the_unfused_reference(m, fan_in, fan_out, optimizer, options, n_blocks,
                                                               dtype, rng):
    code_prev, l2_over_m, step = K.TANH, 0.05, 3
    layer = make_layer(rng, m, fan_in, fan_out, code_prev)
    coeffs = coefficients(optimizer, step, 0.01, **options)
    arrays, dW, db, delta_prev, sum_sq = run_backward(dense_parallel.backward_update_parallel, layer, dtype,
                                                      code_prev, optimizer, coeffs, l2_over_m, n_blocks)
    gradient_dW = layer["A_prev"].T @ layer["delta"]  # dW holds the gradient without the L2 term, as in dense
    expected_db = layer["delta"].sum(axis=0)
    tol = dict(rtol=TOL[dtype], atol=TOL[dtype] * 10 * np.sqrt(max(m, fan_out)))
    assert_gradient_or_folded(dW, gradient_dW, optimizer, options, dtype, (m, fan_in, fan_out), tol)
    np.testing.assert_allclose(db, expected_db, **tol)
    np.testing.assert_allclose(delta_prev, (layer["delta"] @ layer["W"].T) * reference.derivative("tanh", layer["Z_prev"]),
                               **tol)
    assert sum_sq == pytest.approx(np.sum(layer["W"] ** 2), rel=TOL[dtype])
    expected_dW = gradient_dW + l2_over_m * layer["W"]
    assert_updated(arrays, layer, (expected_dW, expected_db), optimizer, options, step, 0.01, tol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("optimizer,options", OPTIMIZERS)
def test_the_fused_update_equals_the_serial_kernels(optimizer, options, dtype, rng):
    """Blocks with their update fused give what dense.backward_update gives (products, then the layer's update)."""
    layer = make_layer(rng, 64, 300, 130, K.RELU)
    coeffs = coefficients(optimizer, 2, 0.01, **options)
    serial = run_backward(dense.backward_update, layer, dtype, K.RELU, optimizer, coeffs, 0.01)
    blocks = run_backward(dense_parallel.backward_update_parallel, layer, dtype, K.RELU, optimizer, coeffs, 0.01, 2)
    tol = dict(rtol=TOL[dtype], atol=TOL[dtype])
    for key in serial[0]:
        np.testing.assert_allclose(blocks[0][key], serial[0][key], **tol)
    for got, want in zip(blocks[1:4], serial[1:4]):  # dW both NaN where the gradient folds (equal_nan)
        np.testing.assert_allclose(got, want, **tol)
    assert blocks[4] == pytest.approx(serial[4], rel=TOL[dtype])


def test_the_first_layer_needs_no_hidden_delta(rng):
    layer = make_layer(rng, 2, 40, 5, K.LINEAR)
    _, dW, _, delta_prev, sum_sq = run_backward(dense_parallel.backward_update_parallel, layer, np.float64, K.LINEAR,
                                                O.SGD, coefficients(O.SGD, 1, 0.1), 0.0, 2, want_delta_prev=False)
    assert delta_prev.shape == (0, 40) and sum_sq == 0.0
    np.testing.assert_allclose(dW, layer["A_prev"].T @ layer["delta"], rtol=1e-12)


def _fit(n_threads, batch_size, dtype=np.float32, **fit):
    X = np.random.default_rng(1).normal(size=(96, 300))
    y = np.arange(96) % 10
    net = fastbp.Network([300, 256, 10], dtype=dtype, seed=0)
    net.fit(X, y, epochs=2, batch_size=batch_size, lr=0.01, verbose=0, blas_threads=n_threads, **fit)
    return net


@pytest.mark.skipif(not threads.parallel_kernels(), reason="Numba's TBB threading layer is not available")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_training_in_blocks_is_bit_identical_run_torun_backward(dtype):
    """Batches of 32 rows split the 300x256 layer into blocks on two threads; the same fit gives the same bits."""
    assert 32 <= dense_parallel.SPLIT_MAX_ROWS and 32 * 300 * 256 >= dense_parallel.PARALLEL_PRODUCT
    assert_same_training(_fit(2, 32, dtype, momentum=0.9, l2=0.01), _fit(2, 32, dtype, momentum=0.9, l2=0.01))


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_training_in_blocks_equals_the_reference_step_by_step(optimizer, n_threads):
    """A 300-256-10 net at batch 32 (in blocks on two threads, whole products on one) follows NumPy's steps."""
    X = np.random.default_rng(1).normal(size=(64, 300))
    y = np.arange(64) % 10
    net = fastbp.Network([300, 256, 10], activation="tanh", dtype=np.float64, seed=0)
    options = dict(momentum=0.9, nesterov=True) if optimizer == "sgd" else {}
    expected = reference_training(net, X, y, 32, optimizer, options)
    net.fit(X, y, epochs=1, batch_size=32, lr=0.01, l2=0.1, optimizer=optimizer, shuffle=False, verbose=0,
            blas_threads=n_threads, **options)
    for got, want in zip(net.weights + net.biases, expected):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_a_skinny_layer_trains_like_the_reference(dtype, n_threads):
    """A cat-shaped net (wide input, 20 units) at batch 40: its first layer in blocks through the micro-kernel."""
    assert 40 * 3000 * 20 >= dense_parallel.PARALLEL_PRODUCT and 20 * 8 <= dense_parallel.SKINNY_BYTES
    X = np.random.default_rng(1).normal(size=(80, 3000))
    y = np.arange(80) % 3
    net = fastbp.Network([3000, 20, 3], activation="tanh", dtype=dtype, seed=0)
    expected = reference_training(net, X, y, 40, "sgd", dict(momentum=0.9))
    net.fit(X, y, epochs=1, batch_size=40, lr=0.01, l2=0.1, momentum=0.9, shuffle=False, verbose=0,
            blas_threads=n_threads)
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-5)
    for got, want in zip(net.weights + net.biases, expected):
        np.testing.assert_allclose(got, want, **tol)


@pytest.mark.parametrize("layers,batch_size,expected", [
    ([64, 32, 10], 1, False),  # digits: every layer below PARALLEL_PRODUCT, so BLAS keeps the threads
    ([64, 32, 10], 128, False),
    ([64, 100, 10], 100, False),  # 640k multiply-adds per batch: the serial path measured 1.4-1.9x faster
    ([64, 100, 10], 200, True),  # 1.28M: the blocks 1.2x faster
    ([784, 512, 256, 10], 16, True),
    ([784, 512, 256, 10], dense_parallel.SPLIT_MAX_ROWS, True),
    ([784, 512, 256, 10], dense_parallel.SPLIT_MAX_ROWS + 1, False),  # one multi-threaded BLAS call wins
])
def test_which_fits_split_their_layers(layers, batch_size, expected):
    assert fastbp.training.split_layers(layers, batch_size) is expected
