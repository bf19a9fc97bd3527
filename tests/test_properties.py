"""Property tests: random depths, widths, batch sizes and activations against the reference."""
import numpy as np
from conftest import HIDDEN, OUTPUT_LOSS, make_targets, reference_targets
from hypothesis import given, settings
from hypothesis import strategies as st

import fastbp
import reference


@st.composite
def networks(draw):
    depth = draw(st.integers(1, 4))
    layers = draw(st.lists(st.integers(1, 6), min_size=depth + 1, max_size=depth + 1))
    output, loss = draw(st.sampled_from(OUTPUT_LOSS))
    if output == "softmax":
        layers[-1] = max(layers[-1], 2)
    activation = draw(st.lists(st.sampled_from(HIDDEN), min_size=depth - 1, max_size=depth - 1))
    seed = draw(st.integers(0, 2 ** 16))
    return fastbp.Network(layers, activation=activation, output=output, loss=loss, dtype=np.float64,
                          seed=seed)


def _problem(net, n, seed):
    """Random data for net, and the reference's view of it: X, y, Ws, bs, activations, Y."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, net.layers[0]))
    y = make_targets(rng, net.output, net.loss_function, n, net.layers[-1])
    Y = reference_targets(y, net.loss_function, net.layers[-1])
    return (X, y, [W.copy() for W in net.weights], [b.copy() for b in net.biases],
            list(net.activation) + [net.output], Y)


@settings(max_examples=60, deadline=None)
@given(net=networks(), n=st.integers(1, 9), l2=st.sampled_from([0.0, 0.3]), seed=st.integers(0, 99))
def test_gradients_match_reference(net, n, l2, seed):
    X, y, Ws, bs, acts, Y = _problem(net, n, seed)
    dW, db = net.gradients(X, y, l2=l2)
    ref_dW, ref_db = reference.gradients(Ws, bs, acts, net.loss_function, X, Y, l2)
    for got, want in zip(dW + db, ref_dW + ref_db):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(net=networks(), n=st.integers(1, 12), batch_size=st.integers(1, 15), seed=st.integers(0, 99))
def test_one_unshuffled_epoch_matches_reference_sgd(net, n, batch_size, seed):
    X, y, Ws, bs, acts, Y = _problem(net, n, seed)
    for start in range(0, n, batch_size):
        sl = slice(start, start + batch_size)
        dW, db = reference.gradients(Ws, bs, acts, net.loss_function, X[sl], Y[sl])
        Ws = [W - 0.05 * g for W, g in zip(Ws, dW)]
        bs = [b - 0.05 * g for b, g in zip(bs, db)]
    net.fit(X, y, epochs=1, batch_size=batch_size, lr=0.05, shuffle=False, verbose=0)
    for got, want in zip(net.weights + net.biases, Ws + bs):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


finite_or_not = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64),
                          st.floats(-1e6, 1e6), st.sampled_from([0.0, 1e300, -1e300, 1e-300]))


@settings(max_examples=150, deadline=None)
@given(net=networks(), n=st.integers(0, 6), values=st.lists(finite_or_not, min_size=1, max_size=40),
       labels=st.lists(st.integers(-2, 8) | st.floats(-2, 8), min_size=0, max_size=8),
       lr=st.floats(1e-4, 1e3), batch_size=st.integers(1, 8), dtype=st.sampled_from([np.float32, np.float64]))
def test_any_input_gives_a_clear_error_or_a_finite_result(net, n, values, labels, lr, batch_size, dtype):
    """Random shapes and values, NaN and huge numbers included: a ValueError/TypeError that changes
    nothing, a FloatingPointError that keeps finite parameters, or a finite trained network."""
    net = net.copy(dtype=dtype)
    X = np.resize(np.array(values), (n, net.layers[0]))
    y = np.resize(np.array(labels if labels else [0.5]), (n,) if net.loss_function == "cross_entropy" or
                  net.layers[-1] == 1 else (n, net.layers[-1]))
    before = net._params.copy()
    try:
        net.fit(X, y, epochs=2, batch_size=batch_size, lr=lr, verbose=0)
    except (ValueError, TypeError):
        assert np.array_equal(net._params, before)
        return
    except FloatingPointError as exc:
        assert "diverged at" in str(exc)
    assert np.isfinite(net._params).all()  # (outputs on other inputs may still overflow: huge finite weights)
