"""Every public entry point refuses bad input clearly and leaves everything as it was.

One table: each row is a call on a trained network (or a module function), the error type it
must raise, and words its message must contain (the argument's name and what was expected).
After the error, the network's parameters, optimizer state, history and generator are
compared with a snapshot taken before the call.
"""
import numpy as np
import pytest

import fastbp
import fastbp.compat as compat
from fastbp.compat import dlai
from fastbp.compat.nielsen import Network as NielsenNetwork

RNG = np.random.default_rng(0)
X = RNG.normal(size=(10, 4))
Y = np.arange(10) % 3

BAD_X = {
    "NaN": (np.where(np.eye(10, 4) > 0, np.nan, X), ValueError, "X must be finite"),
    "inf": (np.full((10, 4), -np.inf), ValueError, "X must be finite"),
    "1-D": (X[0], ValueError, r"X must be 2-D \(n_samples, 4\)"),
    "3-D": (X[None], ValueError, r"X must be 2-D \(n_samples, 4\)"),
    "wrong width": (X[:, :3], ValueError, r"X must have 4 features \(columns\), got 3"),
    "empty": (X[:0], ValueError, "X must have at least one sample"),
    "objects": (X.astype(object), TypeError, "X must hold real numbers"),
    "strings": (np.full((10, 4), "1.0"), TypeError, "X must hold real numbers"),
    "complex": (X + 0j, TypeError, "X must hold real numbers"),
    "None": (None, TypeError, "X must hold real numbers"),
    "ragged": ([[1.0, 2.0], [3.0]], TypeError, "X must be array-like of numbers"),
}
BAD_Y = {
    "short": (Y[:9], ValueError, "y must have 10 rows"),
    "long": (np.arange(11) % 3, ValueError, "y must have 10 rows"),
    "label too big": (Y + 1, ValueError, r"y labels must be in \[0, 2\], got range \[1, 3\]"),
    "negative label": (Y - 1, ValueError, r"y labels must be in \[0, 2\]"),
    "fractional label": (Y + 0.5, ValueError, "y must hold integer class labels"),
    "NaN label": (np.where(Y == 1, np.nan, Y), ValueError, "y must be finite"),
    "2-D labels": (np.stack([Y, Y], 1), ValueError, "y must be 1-D integer class labels"),
    "string labels": (Y.astype(str), TypeError, "y must hold real numbers"),
    "None": (None, TypeError, "y must hold real numbers"),
}
BAD_FIT_SETTINGS = {
    "lr=0": (dict(lr=0), ValueError, r"lr must be a finite number in \(0, inf\)"),
    "lr<0": (dict(lr=-0.1), ValueError, r"lr must be a finite number in \(0, inf\)"),
    "lr=nan": (dict(lr=float("nan")), ValueError, "lr must be a finite number"),
    "lr=inf": (dict(lr=float("inf")), ValueError, "lr must be a finite number"),
    "lr text": (dict(lr="0.1"), TypeError, "lr must be a real number"),
    "lr schedule <0": (dict(lr=lambda e: -1.0), ValueError, r"lr\(0\)"),
    "batch_size=0": (dict(batch_size=0), ValueError, "batch_size must be an integer >= 1"),
    "batch_size float": (dict(batch_size=8.0), TypeError, "batch_size must be an integer >= 1"),
    "epochs<0": (dict(epochs=-1), ValueError, "epochs must be an integer >= 0"),
    "epochs float": (dict(epochs=1.5), TypeError, "epochs must be an integer >= 0"),
    "momentum<0": (dict(momentum=-0.1), ValueError, r"momentum must be a finite number in \[0, 1\)"),
    "momentum=1": (dict(momentum=1.0), ValueError, r"momentum must be a finite number in \[0, 1\)"),
    "l2<0": (dict(l2=-1.0), ValueError, r"l2 must be a finite number in \[0, inf\)"),
    "l2=nan": (dict(l2=float("nan")), ValueError, "l2 must be a finite number"),
    "nesterov without momentum": (dict(nesterov=True), ValueError, "nesterov=True needs momentum > 0"),
    "optimizer": (dict(optimizer="rmsprop"), ValueError, "optimizer must be one of 'sgd', 'adam'"),
    "verbose": (dict(verbose=3), ValueError, "verbose must be 0, 1 or 2"),
    "shuffle": (dict(shuffle="yes"), TypeError, "shuffle must be True or False"),
    "flush_denormals": (dict(flush_denormals=1.0), TypeError, "flush_denormals must be True or False"),
    "beta1": (dict(optimizer="adam", beta1=1.0), ValueError, r"beta1 must be a finite number in \[0, 1\)"),
    "epsilon": (dict(optimizer="adam", epsilon=0.0), ValueError, r"epsilon must be a finite number in \(0"),
    "blas_threads": (dict(blas_threads=0), ValueError, "blas_threads must be an integer >= 1"),
    "chunk_size": (dict(chunk_size=0), ValueError, "chunk_size must be an integer >= 1"),
    "early_stopping alone": (dict(early_stopping=2), ValueError, "early_stopping needs validation_data"),
    "callbacks": (dict(callbacks=[1]), TypeError, r"callbacks\[0\] must be callable"),
    "validation_data": (dict(validation_data=X), TypeError, "validation_data must be a tuple"),
    "validation X": (dict(validation_data=(X[:, :2], Y)), ValueError, r"validation_data\[0\] must have 4"),
    "validation y": (dict(validation_data=(X, Y + 9)), ValueError, r"validation_data\[1\] labels"),
}

CASES = []
for label, (bad, error, words) in BAD_X.items():
    CASES += [
        (f"fit X {label}", lambda net, bad=bad: net.fit(bad, Y, verbose=0), error, words),
        (f"predict X {label}", lambda net, bad=bad: net.predict(bad), error, words),
        (f"predict_proba X {label}", lambda net, bad=bad: net.predict_proba(bad), error, words),
        (f"score X {label}", lambda net, bad=bad: net.score(bad, Y), error, words),
        (f"loss X {label}", lambda net, bad=bad: net.loss(bad, Y), error, words),
        (f"gradients X {label}", lambda net, bad=bad: net.gradients(bad, Y), error, words),
    ]
for label, (bad, error, words) in BAD_Y.items():
    CASES += [
        (f"fit y {label}", lambda net, bad=bad: net.fit(X, bad, verbose=0), error, words),
        (f"score y {label}", lambda net, bad=bad: net.score(X, bad), error, words),
        (f"loss y {label}", lambda net, bad=bad: net.loss(X, bad), error, words),
        (f"gradients y {label}", lambda net, bad=bad: net.gradients(X, bad), error, words),
    ]
for label, (kwargs, error, words) in BAD_FIT_SETTINGS.items():
    CASES.append((f"fit {label}", lambda net, kwargs=kwargs: net.fit(X, Y, **{"verbose": 0, **kwargs}), error, words))
CASES += [
    ("loss l2<0", lambda net: net.loss(X, Y, l2=-1), ValueError, "l2 must be a finite number"),
    ("gradients l2=nan", lambda net: net.gradients(X, Y, l2=float("nan")), ValueError, "l2 must be a finite"),
    ("save path None", lambda net: net.save(None), TypeError, "path must be a file name"),
    ("save path int", lambda net: net.save(3), TypeError, "path must be a file name"),
    ("save into a missing folder", lambda net: net.save("/no/such/folder/m.h5"), FileNotFoundError,
     "the folder '/no/such/folder' does not exist"),
    ("load path None", lambda net: fastbp.load(None), TypeError, "path must be a file name"),
    ("load missing file", lambda net: fastbp.load("/no/such/model.h5"), FileNotFoundError, "no model file"),
    ("load_h5 missing key", lambda net: fastbp.datasets.load_h5(__file__), ValueError, "not a readable HDF5"),
    ("copy dtype", lambda net: net.copy(dtype=np.int8), TypeError, "dtype must be numpy.float32"),
]

BAD_CONSTRUCTOR = {
    "no output": (dict(layers=[4]), ValueError, "layers must hold at least an input and an output width"),
    "zero width": (dict(layers=[4, 0, 3]), ValueError, r"layers\[1\] must be an integer >= 1, got 0"),
    "negative width": (dict(layers=[4, -2, 3]), ValueError, r"layers\[1\] must be an integer >= 1"),
    "float width": (dict(layers=[4, 2.5, 3]), TypeError, r"layers\[1\] must be an integer"),
    "bool width": (dict(layers=[4, True, 3]), TypeError, r"layers\[1\] must be an integer"),
    "text layers": (dict(layers="4,3"), TypeError, "layers must be a sequence of ints"),
    "None layers": (dict(layers=None), TypeError, "layers must be a sequence of ints"),
    "activation": (dict(layers=[4, 5, 3], activation="swish"), ValueError, "activation must be one of"),
    "activation, no hidden layer": (dict(layers=[4, 3], activation="swish"), ValueError, "activation must be one of"),
    "activation count": (dict(layers=[4, 5, 3], activation=["relu"] * 2), ValueError,
                         "activation must be one name or 1 names"),
    "output": (dict(layers=[4, 5, 3], output="softplus"), ValueError, "output must be one of"),
    "loss": (dict(layers=[4, 5, 3], loss="hinge"), ValueError, "loss must be one of"),
    "loss for output": (dict(layers=[4, 5, 3], output="linear", loss="cross_entropy"), ValueError,
                        "loss must be one of 'mse'"),
    "init": (dict(layers=[4, 5, 3], init="orthogonal"), ValueError, "init must be one of"),
    "dtype int": (dict(layers=[4, 5, 3], dtype=np.int32), TypeError, "dtype must be numpy.float32"),
    "dtype half": (dict(layers=[4, 5, 3], dtype=np.float16), TypeError, "dtype must be numpy.float32"),
    "seed": (dict(layers=[4, 5, 3], seed=-1), ValueError, "seed must be an integer >= 0"),
    "seed float": (dict(layers=[4, 5, 3], seed=0.5), TypeError, "seed must be an integer >= 0"),
}


def _trained(dtype=np.float32):
    net = fastbp.Network([4, 5, 3], dtype=dtype, seed=0)
    net.fit(X, Y, epochs=2, batch_size=4, momentum=0.9, verbose=0)
    return net


def _snapshot(net):
    state = net.optimizer_state
    return (net._params.copy(), state["step"], state["state1"].copy(), state["state2"].copy(),
            net.history, dict(net.history.history), net._rng.bit_generator.state)


def _assert_same(before, after):
    for a, b in zip(before, after):
        if isinstance(a, np.ndarray):
            assert np.array_equal(a, b)
        else:
            assert a == b or a is b


@pytest.mark.parametrize("call,error,words", [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_network_entry_points_refuse_bad_input_and_change_nothing(call, error, words):
    net = _trained()
    before = _snapshot(net)
    with pytest.raises(error, match=words):
        call(net)
    _assert_same(before, _snapshot(net))


@pytest.mark.parametrize("kwargs,error,words", BAD_CONSTRUCTOR.values(), ids=list(BAD_CONSTRUCTOR))
def test_network_constructor_refuses_bad_arguments(kwargs, error, words):
    with pytest.raises(error, match=words):
        fastbp.Network(**kwargs)


def _mlp():
    np.random.seed(0)
    return compat.MLP()


XOR_X, XOR_Y = np.array([[0, 0], [0, 1], [1, 0], [1, 1]]), np.array([[0], [1], [1], [0]])
COMPAT_CASES = {
    "MLP.train x NaN": (lambda m: m.train(np.array([[0.0, np.nan]]), np.array([[1.0]])), ValueError, "x_train must be finite"),
    "MLP.train y shape": (lambda m: m.train(XOR_X, np.ones((4, 2))), ValueError, "y_train must hold 1 value"),
    "MLP.train lr": (lambda m: m.train(XOR_X, XOR_Y, lr=-1), ValueError, "lr must be"),
    "MLP.train epochs": (lambda m: m.train(XOR_X, XOR_Y, epochs=-3), ValueError, "epochs must be"),
    "MLP.forward width": (lambda m: m.forward(np.ones((1, 3))), ValueError, "x must have 2 features"),
    "MLP.backward y": (lambda m: m.backward(XOR_X, np.ones((3, 1)), XOR_Y, 0.1), ValueError,
                       r"y_true must hold 1 value\(s\) per sample of x \(4 samples\)"),
    "MLP.backward y_pred": (lambda m: m.backward(XOR_X, XOR_Y, np.ones((3, 1)), 0.1), ValueError,
                            r"y_pred must hold as many values as y_true \(4, 1\)"),
    "MLP.weights shape": (lambda m: (m.weights.__setitem__("h", np.ones((5, 5))), m.forward(XOR_X)),
                          ValueError, r"h must have shape \(2, 3\)"),
}


@pytest.mark.parametrize("call,error,words", COMPAT_CASES.values(), ids=list(COMPAT_CASES))
def test_compat_mlp_refuses_bad_input_and_changes_nothing(call, error, words):
    model = _mlp()
    before = model._net._params.copy()
    with pytest.raises(error, match=words):
        call(model)
    assert np.array_equal(model._net._params, before)


def _cat_parameters():
    np.random.seed(1)
    return compat.iniPara([6, 4, 3, 1])


COLUMN_X = RNG.normal(size=(6, 8))
COLUMN_Y = (RNG.uniform(size=(1, 8)) > 0.5).astype(float)
LLAYER_CASES = {
    "forwardModel missing key": (lambda p: compat.forwardModel(COLUMN_X, {k: v for k, v in p.items() if k != "b2"}),
                                 ValueError, "parameters must have exactly the keys"),
    "forwardModel W shape": (lambda p: compat.forwardModel(COLUMN_X, {**p, "W2": np.ones((3, 3))}),
                             ValueError, "W2 has shape"),
    "forwardModel X rows": (lambda p: compat.forwardModel(COLUMN_X[:5], p), ValueError,
                            r"W1 has shape \(4, 6\); expected \(n_1, 5\)"),
    "forwardModel X NaN": (lambda p: compat.forwardModel(np.full((6, 8), np.nan), p), ValueError, "must be finite"),
    "forwardModel X text": (lambda p: compat.forwardModel(np.full((6, 8), "a"), p), TypeError, "real numbers"),
    "forwardModel not a dict": (lambda p: compat.forwardModel(COLUMN_X, list(p.values())), TypeError,
                                "parameters must be a dict"),
    "backwardModel Y size": (lambda p: compat.backwardModel(*compat.forwardModel(COLUMN_X, p)[:1], COLUMN_Y[:, :5],
                                                            compat.forwardModel(COLUMN_X, p)[1]),
                             ValueError, "Y has 5 values but AL has 8"),
    "backwardModel Y NaN": (lambda p: compat.backwardModel(*compat.forwardModel(COLUMN_X, p)[:1],
                                                           np.full((1, 8), np.nan),
                                                           compat.forwardModel(COLUMN_X, p)[1]),
                            ValueError, "Y must be finite"),
    "updateParameters keys": (lambda p: compat.updateParameters(p, {"dW1": np.zeros((4, 6))}, 0.1), ValueError,
                              "diffs has no"),
    "dlai compute_cost shapes": (lambda p: dlai.compute_cost(np.full((1, 8), 0.5), COLUMN_Y[:, :4]), ValueError,
                                 "AL has shape"),
    "linearActivation name": (lambda p: compat.forwardLinearActivation(COLUMN_X, p["W1"], p["b1"], "tanh"),
                              ValueError, "activation must be 'sigmoid' or 'relu'"),
}


@pytest.mark.parametrize("call,error,words", LLAYER_CASES.values(), ids=list(LLAYER_CASES))
def test_compat_function_api_refuses_bad_input_and_changes_nothing(call, error, words):
    parameters = _cat_parameters()
    before = {k: v.copy() for k, v in parameters.items()}
    with pytest.raises(error, match=words):
        call(parameters)
    assert parameters.keys() == before.keys()
    assert all(np.array_equal(parameters[k], before[k]) for k in before)


def test_compat_nielsen_refuses_bad_training_data_and_changes_nothing():
    np.random.seed(0)
    net = NielsenNetwork([3, 4, 2])
    before = [w.copy() for w in net.weights] + [b.copy() for b in net.biases]
    bad = [(np.array([[np.nan], [0.0], [1.0]]), np.array([[1.0], [0.0]]))]
    with pytest.raises(ValueError, match="training_data must be finite"):
        net.SGD(bad, 1, 1, 0.1)
    with pytest.raises(ValueError, match="each x must have 3 values"):
        net.SGD([(np.ones((2, 1)), np.ones((2, 1)))], 1, 1, 0.1)
    for got, want in zip(list(net.weights) + list(net.biases), before):
        assert np.array_equal(got, want)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_non_native_byte_order_is_converted_not_refused(dtype):
    """Big-endian arrays (common from files written elsewhere) give exactly the native results."""
    native, swapped = _trained(dtype), _trained(dtype)
    X_swapped = X.astype(X.dtype.newbyteorder(">"))
    Y_swapped = Y.astype(np.dtype(np.int64).newbyteorder(">"))
    assert np.array_equal(native.predict_proba(X), swapped.predict_proba(X_swapped))
    native.fit(X, Y, epochs=2, verbose=0)
    swapped.fit(X_swapped, Y_swapped, epochs=2, verbose=0)
    assert np.array_equal(native._params, swapped._params)
