import numpy as np
import pytest

import fastbp.compat as compat
import seeds_reference as seed

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
XOR_Y = np.array([[0], [1], [1], [0]])


def _close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def _same(a, b):
    """The same array byte for byte."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes(), np.max(np.abs(a - b))


@pytest.mark.parametrize("seed_value", [0, 1, 42])
def test_train_prints_and_learns_exactly_like_the_seed(seed_value, capsys):
    np.random.seed(seed_value)
    original = seed.MLP().train(XOR_X, XOR_Y, epochs=200, lr=0.5)
    printed_original = capsys.readouterr().out
    np.random.seed(seed_value)
    ours = compat.MLP()
    for key in ("h", "out"):  # same initial weights from the global generator
        assert ours.weights[key].shape == ((2, 3) if key == "h" else (3, 1))
    assert ours.train(XOR_X, XOR_Y, epochs=200, lr=0.5) is ours
    assert capsys.readouterr().out == printed_original
    assert printed_original.count("\n") == 20
    for key in ("h", "out"):
        _close(ours.weights[key], original.weights[key])
        _close(ours.bias[key], original.bias[key])


def test_forward_backward_and_module_functions(rng):
    np.random.seed(3)
    original = seed.MLP(input_size=4, hidden_size=5, output_size=1)
    np.random.seed(3)
    ours = compat.MLP(input_size=4, hidden_size=5, output_size=1)
    x, y = rng.normal(size=(3, 4)), rng.uniform(size=(3, 1))
    y_pred = ours.forward(x)  # the seed's NumPy expressions: its bytes
    _same(y_pred, original.forward(x))
    _same(ours.z_h, original.z_h)
    _same(ours.a_h, original.a_h)
    _same(ours.z_out, original.z_out)
    assert ours.backward(x, y, y_pred, lr=0.3) == pytest.approx(original.backward(x, y, y_pred, lr=0.3))
    for key in ("h", "out"):
        _close(ours.weights[key], original.weights[key])
        _close(ours.bias[key], original.bias[key])
    z = rng.normal(size=(3, 2))
    _same(compat.sigmoid(z), seed.sigmoid(z))
    _same(compat.deriv_sigmoid(z), seed.deriv_sigmoid(z))
    assert compat.mse_loss(y, y_pred) == seed.mse_loss(y, y_pred)


@pytest.mark.parametrize("n, sizes", [(1, (2, 3, 1)), (4, (2, 3, 1)), (7, (5, 4, 3)), (1, (6, 1, 2))])
def test_forward_is_the_seeds_bytes_at_each_shape(rng, n, sizes):
    np.random.seed(11)
    original = seed.MLP(*sizes)
    np.random.seed(11)
    ours = compat.MLP(*sizes)
    x = rng.normal(size=(n, sizes[0]))
    _same(ours.forward(x), original.forward(x))
    _same(ours.z_h, original.z_h)


def test_assigned_weights_are_used():
    np.random.seed(0)
    model = compat.MLP()
    model.weights["h"] = np.zeros((2, 3))
    model.weights["out"] = np.ones((3, 1))
    np.testing.assert_allclose(model.forward(np.array([[1.0, 2.0]])), seed.sigmoid(1.5))


def test_bad_input_is_refused():
    model = compat.MLP()
    with pytest.raises(ValueError, match="x must have 2 features"):
        model.forward(np.ones((1, 3)))
    with pytest.raises(ValueError, match="NaN"):
        model.train(np.array([[0.0, np.nan]]), np.array([[1.0]]))
    with pytest.raises(ValueError, match="y_train"):
        model.train(XOR_X, np.ones((4, 2)))
    with pytest.raises(ValueError, match="lr"):
        model.train(XOR_X, XOR_Y, lr=-1)
