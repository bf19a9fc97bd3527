"""Bad input is refused before any kernel runs, with a message naming the argument, and changes nothing."""
import numpy as np
import pytest

import fastbp

X = np.random.default_rng(0).normal(size=(10, 4))
Y = np.arange(10) % 3

BAD_CONSTRUCTOR = [
    (dict(layers=[4]), ValueError, "layers"),
    (dict(layers=[4, 0, 3]), ValueError, "layers"),
    (dict(layers="4,3"), TypeError, "layers"),
    (dict(layers=[4, 2.5, 3]), TypeError, "layers"),
    (dict(layers=[4, 5, 3], activation="swish"), ValueError, "activation"),
    (dict(layers=[4, 5, 3], activation=["relu", "relu"]), ValueError, "activation"),
    (dict(layers=[4, 5, 3], output="softplus"), ValueError, "output"),
    (dict(layers=[4, 5, 3], output="softmax", loss="mse"), ValueError, "loss"),
    (dict(layers=[4, 5, 3], output="linear", loss="cross_entropy"), ValueError, "loss"),
    (dict(layers=[4, 5, 3], init="orthogonal"), ValueError, "init"),
    (dict(layers=[4, 5, 3], dtype=np.int32), TypeError, "dtype"),
    (dict(layers=[4, 5, 3], seed=-1), ValueError, "seed"),
]


@pytest.mark.parametrize("kwargs,error,word", BAD_CONSTRUCTOR)
def test_bad_constructor_arguments(kwargs, error, word):
    with pytest.raises(error, match=word):
        fastbp.Network(**kwargs)


BAD_FIT = [
    (dict(X=X[:, :3]), ValueError, "4 features"),
    (dict(X=X[0]), ValueError, "2-D"),
    (dict(X=X[:0], y=Y[:0]), ValueError, "at least one sample"),
    (dict(X=np.where(np.eye(10, 4) > 0, np.nan, X)), ValueError, "NaN"),
    (dict(X=np.full((10, 4), np.inf)), ValueError, "NaN or infinity"),
    (dict(X=np.array([["a"] * 4] * 10)), TypeError, "real numbers"),
    (dict(X=X.astype(object)), TypeError, "real numbers"),
    (dict(X=X + 1j), TypeError, "real numbers"),
    (dict(X=X * 1e300), ValueError, r"X must be within \+-3.403e\+38 to fit float32"),
    (dict(y=Y[:9]), ValueError, "10 rows"),
    (dict(y=Y + 0.5), ValueError, "integer class labels"),
    (dict(y=Y + 3), ValueError, r"in \[0, 2\]"),
    (dict(y=-Y), ValueError, r"in \[0, 2\]"),
    (dict(y=np.stack([Y, Y], 1)), ValueError, "1-D integer"),
    (dict(y=np.where(Y == 0, np.nan, Y)), ValueError, "NaN"),
    (dict(lr=0), ValueError, "lr"),
    (dict(lr=-1), ValueError, "lr"),
    (dict(lr=float("nan")), ValueError, "lr"),
    (dict(lr="fast"), TypeError, "lr"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(batch_size=2.0), TypeError, "batch_size"),
    (dict(epochs=-1), ValueError, "epochs"),
    (dict(momentum=1.0), ValueError, "momentum"),
    (dict(momentum=-0.1), ValueError, "momentum"),
    (dict(l2=-1e-3), ValueError, "l2"),
    (dict(nesterov=True), ValueError, "nesterov"),
    (dict(optimizer="rmsprop"), ValueError, "optimizer"),
    (dict(verbose=3), ValueError, "verbose"),
    (dict(shuffle="yes"), TypeError, "shuffle"),
    (dict(nesterov=1, momentum=0.5), TypeError, "nesterov"),
    (dict(validation_data=X), TypeError, "validation_data"),
    (dict(validation_data=(X[:, :2], Y)), ValueError, r"validation_data\[0\]"),
    (dict(validation_data=(X, Y + 5)), ValueError, r"validation_data\[1\]"),
    (dict(beta2=1.0, optimizer="adam"), ValueError, "beta2"),
    (dict(blas_threads=0), ValueError, "blas_threads"),
    (dict(lr=lambda epoch: 0.1 if epoch < 2 else -1.0, epochs=3), ValueError, r"lr\(2\)"),
    (dict(lr=lambda epoch: "fast"), TypeError, r"lr\(0\)"),
    (dict(early_stopping=3), ValueError, "early_stopping needs validation_data"),
    (dict(early_stopping=0, validation_data=(X, Y)), ValueError, "early_stopping"),
    (dict(callbacks=print), TypeError, "callbacks"),
    (dict(callbacks=[print, 3]), TypeError, r"callbacks\[1\]"),
]


@pytest.mark.parametrize("kwargs,error,word", BAD_FIT)
def test_bad_fit_arguments_leave_the_network_unchanged(kwargs, error, word):
    net = fastbp.Network([4, 5, 3], seed=0)
    before = net._params.copy()
    args = dict(X=X, y=Y, verbose=0)
    args.update(kwargs)
    with pytest.raises(error, match=word):
        net.fit(args.pop("X"), args.pop("y"), **args)
    assert np.array_equal(net._params, before)
    assert net.history is None and net.optimizer_state is None


@pytest.mark.parametrize("method", ["predict", "predict_proba"])
@pytest.mark.parametrize("bad,error", [(X[:, :2], ValueError), (np.full((2, 4), np.nan), ValueError),
                                       (X[0], ValueError), ("text", TypeError)])
def test_bad_prediction_input(method, bad, error):
    with pytest.raises(error, match="X"):
        getattr(fastbp.Network([4, 5, 3], seed=0), method)(bad)


def test_bad_targets_for_the_other_losses():
    binary = fastbp.Network([4, 3, 2], output="sigmoid", seed=0)
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        binary.fit(X, np.full((10, 2), 2.0), verbose=0)
    with pytest.raises(ValueError, match=r"shape \(10, 2\)"):
        binary.fit(X, Y, verbose=0)
    regression = fastbp.Network([4, 3, 1], output="linear", seed=0)
    with pytest.raises(ValueError, match=r"shape \(10,\) or \(10, 1\)"):
        regression.fit(X, np.ones((10, 2)), verbose=0)
    with pytest.raises(ValueError, match="l2"):
        regression.loss(X, Y, l2=-1)


def test_unaligned_input_reaches_the_kernels_aligned():
    from fastbp.validation import check_features
    raw = np.zeros(X.nbytes + 1, dtype=np.uint8)
    unaligned = np.frombuffer(raw.data, dtype=X.dtype, count=X.size, offset=1).reshape(X.shape)
    unaligned[...] = X
    assert not unaligned.flags.aligned
    coerced = check_features(unaligned, 4, np.float64)
    assert coerced.flags.aligned and coerced.flags.c_contiguous and np.array_equal(coerced, X)


def test_kernel_view_of_a_read_only_array_shares_its_memory():
    from fastbp.validation import kernel_view
    frozen = np.arange(12.0).reshape(3, 4)
    frozen.flags.writeable = False
    view = kernel_view(frozen)
    assert view.flags.writeable and view.flags.c_contiguous and view.shape == (3, 4)
    assert np.shares_memory(view, frozen) and np.array_equal(view, frozen)
    writeable = np.ones(3)
    assert kernel_view(writeable) is writeable


def test_kernel_view_keeps_its_read_only_array_alive():
    import gc
    import weakref
    from fastbp.validation import kernel_view
    frozen = np.arange(6.0)
    frozen.flags.writeable = False
    view, alive = kernel_view(frozen), weakref.ref(frozen)
    del frozen
    gc.collect()
    assert alive() is not None and np.array_equal(view, np.arange(6.0))
