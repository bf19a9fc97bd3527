import numpy as np
import pytest

import reference
from layer_cases import OPTIMIZERS, assert_gradient_or_folded, assert_updated, coefficients, run_backward
from layer_cases import layer as make_layer
from fastbp.kernels import activations as K
from fastbp.kernels.dense import AS_STORED, TRANSPOSED, dense_forward, hidden_delta, matmul, weight_gradient

TOL = {np.float64: 1e-12, np.float32: 1e-5}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name,code", [("relu", K.RELU), ("sigmoid", K.SIGMOID), ("tanh", K.TANH),
                                       ("linear", K.LINEAR), ("leaky_relu", K.LEAKY_RELU),
                                       ("softmax", K.SOFTMAX)])
def test_dense_forward(name, code, dtype, rng):
    A_prev, W, b = rng.normal(size=(9, 6)), rng.normal(size=(6, 4)), rng.normal(size=4)
    out = np.empty((9, 4), dtype)
    dense_forward(A_prev.astype(dtype), W.astype(dtype), b.astype(dtype), code, out)
    expected = reference.activation(name, A_prev @ W + b)
    np.testing.assert_allclose(out, expected, rtol=TOL[dtype], atol=TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name,code", [("relu", K.RELU), ("sigmoid", K.SIGMOID), ("tanh", K.TANH)])
def test_hidden_delta(name, code, dtype, rng):
    delta, W, Z_prev = rng.normal(size=(5, 3)), rng.normal(size=(7, 3)), rng.normal(size=(5, 7))
    A_prev = reference.activation(name, Z_prev)
    out = np.empty((5, 7), dtype)
    hidden_delta(delta.astype(dtype), W.astype(dtype), A_prev.astype(dtype), code, out)
    expected = (delta @ W.T) * reference.derivative(name, Z_prev)
    np.testing.assert_allclose(out, expected, rtol=TOL[dtype], atol=TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("l2_over_m", [0.0, 0.3])
def test_weight_gradient(l2_over_m, dtype, rng):
    A_prev, delta, W = rng.normal(size=(8, 5)), rng.normal(size=(8, 3)), rng.normal(size=(5, 3))
    dW, db = np.empty((5, 3), dtype), np.empty(3, dtype)
    sum_sq = weight_gradient(A_prev.astype(dtype), delta.astype(dtype), W.astype(dtype),
                             l2_over_m, dW, db)
    np.testing.assert_allclose(dW, A_prev.T @ delta + l2_over_m * W, rtol=TOL[dtype], atol=TOL[dtype])
    np.testing.assert_allclose(db, delta.sum(axis=0), rtol=TOL[dtype], atol=TOL[dtype])
    assert sum_sq == pytest.approx(np.sum(W ** 2) if l2_over_m else 0.0, rel=TOL[dtype])


def test_operands_taken_transposed_and_one_row(rng):
    # A single-sample batch exercises the (1, n) GEMM paths used by per-sample SGD.
    A_prev, W, b = rng.normal(size=(1, 2)), rng.normal(size=(2, 3)), np.zeros(3)
    out = np.empty((1, 3))
    dense_forward(A_prev, W, b, K.SIGMOID, out)
    np.testing.assert_allclose(out, reference.activation("sigmoid", A_prev @ W), rtol=1e-12)


def _coeffs(optimizer, lr=0.1, momentum=0.9, nesterov=True):
    from fastbp.kernels import optimizers as O
    hyper = np.zeros(O.N_HYPER)
    hyper[[O.LR, O.MOMENTUM, O.NESTEROV, O.BETA1, O.BETA2, O.EPSILON]] = lr, momentum, nesterov, 0.9, 0.999, 1e-8
    coeffs = np.empty(O.N_COEFFS)
    O.step_coefficients(optimizer, hyper, 1, coeffs)
    return coeffs


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("l2_over_m", [0.0, 0.3])
@pytest.mark.parametrize("shape", [(1, 2, 3), (8, 5, 3), (16, 64, 100), (3, 70, 33)], ids=str)
@pytest.mark.parametrize("nesterov", [True, False])
def test_backward_update_equals_gradient_then_update(nesterov, shape, l2_over_m, dtype, rng):
    """The layer's fused step equals the unfused one: gradients with L2, hidden delta, then SGD/Nesterov.
    Without Nesterov the gradient goes into the velocity inside the product, dW untouched (folded_product)."""
    from fastbp.kernels import blas
    from fastbp.kernels import optimizers as O
    from fastbp.kernels.dense import SMALL_PRODUCT, backward_update
    m, fan_in, fan_out = shape
    A_prev = np.abs(rng.normal(size=(m, fan_in)))  # relu outputs
    delta, W, b = rng.normal(size=(m, fan_out)), rng.normal(size=(fan_in, fan_out)), rng.normal(size=fan_out)
    vW, vb = rng.normal(size=W.shape), rng.normal(size=b.shape)
    cast = lambda *arrays: [a.astype(dtype) for a in arrays]  # noqa: E731
    Wk, bk, vWk, vbk = cast(W, b, vW, vb)
    dW, db, delta_prev = np.full_like(Wk, np.nan), np.empty_like(bk), np.empty((m, fan_in), dtype)
    sum_sq = backward_update(*cast(A_prev, delta), Wk, bk, dW, db, (vWk, np.zeros(0, dtype)), (vbk, np.zeros(0, dtype)),
                             K.RELU, delta_prev, O.SKLEARN_SGD, _coeffs(O.SKLEARN_SGD, nesterov=nesterov), l2_over_m)
    gW, gb = A_prev.T @ delta + l2_over_m * W, delta.sum(axis=0)
    W_ref, vW_ref = reference.sklearn_sgd_step(W, gW, vW, 0.1, nesterov=nesterov)
    b_ref, vb_ref = reference.sklearn_sgd_step(b, gb, vb, 0.1, nesterov=nesterov)
    folds = not nesterov and blas.OPENBLAS and m * fan_in * fan_out > SMALL_PRODUCT
    assert np.isnan(dW).all() == folds
    if not folds:
        np.testing.assert_allclose(dW, A_prev.T @ delta, rtol=TOL[dtype], atol=TOL[dtype])
    tol = 10 * TOL[dtype]
    np.testing.assert_allclose(delta_prev, (delta @ W.T) * (A_prev > 0), rtol=tol, atol=tol)
    np.testing.assert_allclose(Wk, W_ref, rtol=tol, atol=tol)
    np.testing.assert_allclose(vWk, vW_ref, rtol=tol, atol=tol)
    np.testing.assert_allclose(bk, b_ref, rtol=tol, atol=tol)
    np.testing.assert_allclose(vbk, vb_ref, rtol=tol, atol=tol)
    assert sum_sq == pytest.approx(np.sum(W ** 2) if l2_over_m else 0.0, rel=tol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("l2_over_m", [0.0, 0.3])
@pytest.mark.parametrize("fan_in,fan_out", [(1, 1), (2, 3), (64, 32), (70, 33), (300, 17)], ids=str)
@pytest.mark.parametrize("first_layer", [False, True])
def test_plain_sgd_of_one_sample_updates_in_the_gradient_pass(first_layer, fan_in, fan_out, l2_over_m, dtype, rng):
    """Plain SGD with one sample forms the outer-product gradient inside the update (sgd_outer_update): W, b,
    the hidden delta and the L2 sum equal gradient-then-update; dW is neither written nor needed."""
    from fastbp.kernels import optimizers as O
    from fastbp.kernels.dense import backward_update
    A_prev = np.abs(rng.normal(size=(1, fan_in)))  # relu outputs
    delta, W, b = rng.normal(size=(1, fan_out)), rng.normal(size=(fan_in, fan_out)), rng.normal(size=fan_out)
    Wk, bk = W.astype(dtype), b.astype(dtype)
    dW, db, empty = np.full_like(Wk, np.nan), np.empty_like(bk), np.zeros(0, dtype)
    delta_prev = np.full((0 if first_layer else 1, fan_in), np.nan, dtype)
    coeffs = _coeffs(O.SGD, momentum=0.0, nesterov=False)
    sum_sq = backward_update(A_prev.astype(dtype), delta.astype(dtype), Wk, bk, dW, db, (empty, empty),
                             (empty, empty), K.RELU, delta_prev, O.SGD, coeffs, l2_over_m)
    W_ref, _ = reference.sgd_step(W, A_prev.T @ delta + l2_over_m * W, None, 0.1)
    b_ref, _ = reference.sgd_step(b, delta[0], None, 0.1)
    tol = 10 * TOL[dtype]
    assert np.isnan(dW).all()
    np.testing.assert_allclose(Wk, W_ref, rtol=tol, atol=tol)
    np.testing.assert_allclose(bk, b_ref, rtol=tol, atol=tol)
    np.testing.assert_allclose(db, delta[0], rtol=tol, atol=tol)
    if not first_layer:
        np.testing.assert_allclose(delta_prev, (delta @ W.T) * (A_prev > 0), rtol=tol, atol=tol)
    assert sum_sq == pytest.approx(np.sum(W ** 2) if l2_over_m else 0.0, rel=tol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_backward_update_without_update_keeps_gradients_with_l2(dtype, rng):
    from fastbp.kernels import optimizers as O
    from fastbp.kernels.dense import backward_update
    A_prev, delta, W = rng.normal(size=(6, 4)), rng.normal(size=(6, 3)), rng.normal(size=(4, 3))
    A_prev, delta, W = A_prev.astype(dtype), delta.astype(dtype), W.astype(dtype)
    b, dW, db, no_rows = np.zeros(3, dtype), np.empty((4, 3), dtype), np.empty(3, dtype), np.empty((0, 4), dtype)
    W_before, empty = W.copy(), np.zeros(0, dtype)
    sum_sq = backward_update(A_prev, delta, W, b, dW, db, (empty, empty), (empty, empty), K.LINEAR, no_rows,
                             O.NO_UPDATE, np.zeros(O.N_COEFFS), 0.5)
    np.testing.assert_array_equal(W, W_before)
    np.testing.assert_allclose(dW, A_prev.T @ delta + 0.5 * W, rtol=TOL[dtype], atol=TOL[dtype])
    assert sum_sq == pytest.approx(float(np.sum(W.astype(float) ** 2)), rel=TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (1, 64, 32), (64, 1, 32), (5, 3, 7), (4, 0, 3), (3, 7, 0),
                                   (40, 10, 10), (33, 33, 33)])
@pytest.mark.parametrize("transposed", [False, True])
def test_matmul_equals_numpy_from_empty_to_blas_sizes(m, k, n, transposed, dtype, rng):
    # Empty products are loops everywhere; the others are BLAS calls (loops for the tiny ones with the np.dot
    # fallbacks, tested in test_kernels_blas).
    A = rng.normal(size=(k, m)).astype(dtype) if transposed else rng.normal(size=(m, k)).astype(dtype)
    B = rng.normal(size=(n, k)).astype(dtype) if transposed else rng.normal(size=(k, n)).astype(dtype)
    out = np.full((m, n), np.nan, dtype)
    flag = TRANSPOSED if transposed else AS_STORED
    matmul(A, B, out, flag, flag)
    op_A, op_B = (A.T, B.T) if transposed else (A, B)
    np.testing.assert_allclose(out, op_A.astype(np.float64) @ op_B, rtol=TOL[dtype], atol=TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("k,n", [(10, 32), (1, 100), (100, 1), (2, 64), (33, 65), (512, 784)])
@pytest.mark.parametrize("a_transposed", [False, True])
def test_one_row_times_a_transposed_matrix_equals_numpy(k, n, a_transposed, dtype, rng):
    # One output row with B transposed (the hidden delta at batch 1) is its own BLAS call; op(A) is a row of k
    # either way. NaN in out must not propagate (out is only written).
    op_A, op_B = rng.normal(size=(1, k)), rng.normal(size=(k, n))
    A = np.ascontiguousarray(op_A.T if a_transposed else op_A, dtype=dtype)
    B = np.ascontiguousarray(op_B.T, dtype=dtype)
    out = np.full((1, n), np.nan, dtype)
    matmul(A, B, out, TRANSPOSED if a_transposed else AS_STORED, TRANSPOSED)
    np.testing.assert_allclose(out, op_A.astype(dtype).astype(np.float64) @ op_B.astype(dtype),
                               rtol=TOL[dtype], atol=TOL[dtype] * np.sqrt(k))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fan_in,fan_out", [(32, 10), (64, 1), (5, 40)])
def test_hidden_delta_of_one_sample(fan_in, fan_out, dtype, rng):
    delta, W, Z_prev = rng.normal(size=(1, fan_out)), rng.normal(size=(fan_in, fan_out)), rng.normal(size=(1, fan_in))
    A_prev = reference.activation("sigmoid", Z_prev)
    out = np.full((1, fan_in), np.nan, dtype)
    hidden_delta(delta.astype(dtype), W.astype(dtype), A_prev.astype(dtype), K.SIGMOID, out)
    expected = (delta @ W.T) * reference.derivative("sigmoid", Z_prev)
    np.testing.assert_allclose(out, expected, rtol=TOL[dtype], atol=TOL[dtype])


# (m, fan_in, fan_out) of layers whose serial backward pass runs in groups of rows (dense.backward_rows): 2 (the
# fewest grouped) to GROUPED_MAX_BATCH samples, at least GROUPED_MIN_WEIGHTS weights, fan_in not a multiple of
# GROUP_ROWS (the last group short), and outputs wider than the float64 skinny layers, which the serial path
# leaves whole.
GROUPED_SHAPES = [(2, 300, 70), (3, 150, 60), (16, 300, 70), (32, 100, 90)]


def test_the_grouped_shapes_take_the_grouped_pass():
    """Keeps GROUPED_SHAPES cases of the grouped serial backward pass if its limits change."""
    from fastbp.kernels import dense
    for m, fan_in, fan_out in GROUPED_SHAPES:
        assert 1 < m <= dense.GROUPED_MAX_BATCH and fan_in * fan_out >= dense.GROUPED_MIN_WEIGHTS
        assert fan_in > dense.GROUP_ROWS and fan_in % dense.GROUP_ROWS != 0
        assert fan_out * 8 > dense.SKINNY_BYTES


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("m,fan_in,fan_out", GROUPED_SHAPES)
@pytest.mark.parametrize("optimizer,options", OPTIMIZERS)
@pytest.mark.parametrize("first_layer", [False, True])
def test_backward_update_of_a_few_samples_equals_the_unfused_reference(first_layer, optimizer, options, m, fan_in,
                                                                       fan_out, dtype, rng):
    """With a few samples the serial step runs GROUP_ROWS rows of W at a time (hidden-delta columns, gradient
    rows, update): W, b, the optimizer states, the hidden delta and sum(W**2) equal gradient-then-update."""
    from fastbp.kernels.dense import backward_update
    code_prev, l2_over_m, step = K.TANH, 0.05, 3
    layer = make_layer(rng, m, fan_in, fan_out, code_prev)
    arrays, dW, db, delta_prev, sum_sq = run_backward(backward_update, layer, dtype, code_prev, optimizer,
                                                      coefficients(optimizer, step, 0.01, **options), l2_over_m,
                                                      want_delta_prev=not first_layer)
    gradient_dW = layer["A_prev"].T @ layer["delta"]
    expected_db = layer["delta"].sum(axis=0)
    tol = dict(rtol=TOL[dtype], atol=TOL[dtype] * 10 * np.sqrt(max(m, fan_out)))
    assert_gradient_or_folded(dW, gradient_dW, optimizer, options, dtype, (m, fan_in, fan_out), tol)
    np.testing.assert_allclose(db, expected_db, **tol)
    if first_layer:
        assert delta_prev.shape == (0, fan_in)
    else:
        expected = (layer["delta"] @ layer["W"].T) * reference.derivative("tanh", layer["Z_prev"])
        np.testing.assert_allclose(delta_prev, expected, **tol)
    assert sum_sq == pytest.approx(np.sum(layer["W"] ** 2), rel=TOL[dtype])
    assert_updated(arrays, layer, (gradient_dW + l2_over_m * layer["W"], expected_db), optimizer, options, step, 0.01,
                   tol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("m,fan_in,fan_out", GROUPED_SHAPES)
@pytest.mark.parametrize("optimizer,options", OPTIMIZERS)
def test_backward_update_of_a_few_samples_gives_the_bits_of_one_block(optimizer, options, m, fan_in, fan_out, dtype,
                                                                      rng):
    """The serial step of a few samples is the blocks path's step with one block (both run dense.backward_rows):
    the same bits. Before the serial path grouped its rows, 24 of these 32 cases differed."""
    from fastbp.kernels import dense_parallel
    from fastbp.kernels.dense import backward_update
    layer = make_layer(rng, m, fan_in, fan_out, K.TANH)
    coeffs = coefficients(optimizer, 3, 0.01, **options)
    serial = run_backward(backward_update, layer, dtype, K.TANH, optimizer, coeffs, 0.05)
    one_block = run_backward(dense_parallel.backward_update_parallel, layer, dtype, K.TANH, optimizer, coeffs, 0.05, 1)
    for key in serial[0]:
        np.testing.assert_array_equal(serial[0][key], one_block[0][key])
    for got, want in zip(serial[1:4], one_block[1:4]):  # dW NaN in both where the gradient folds
        np.testing.assert_array_equal(got, want)
    assert serial[4] == one_block[4]
