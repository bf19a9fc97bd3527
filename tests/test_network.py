import subprocess
import sys

import numpy as np
import pytest
from conftest import HIDDEN, OUTPUT_LOSS, TOLERANCE, make_targets, reference_targets

import fastbp
import reference


def _net(hidden, output, loss, dtype=np.float64, layers=(5, 7, 6, 3), seed=0):
    net = fastbp.Network(list(layers), activation=hidden, output=output, loss=loss, dtype=dtype, seed=seed)
    for b in net.biases:  # non-zero biases so they are exercised too
        b[...] = np.random.default_rng(1).normal(scale=0.1, size=b.shape)
    return net


def _ref_params(net):
    return ([W.astype(np.float64) for W in net.weights], [b.astype(np.float64) for b in net.biases],
            list(net.activation) + [net.output])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("output,loss", OUTPUT_LOSS)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_forward_cost_and_gradients_match_reference(hidden, output, loss, dtype, rng):
    net = _net(hidden, output, loss, dtype)
    X = rng.normal(size=(11, 5))
    y = make_targets(rng, output, loss, 11, 3)
    Ws, bs, acts = _ref_params(net)
    Y = reference_targets(y, loss, 3)
    tol = TOLERANCE[dtype]
    Xd = X.astype(dtype).astype(np.float64)  # the network sees X rounded to its dtype

    np.testing.assert_allclose(net.predict_proba(X), reference.forward(Ws, bs, acts, Xd)[1][-1],
                               rtol=tol, atol=tol)
    for l2 in (0.0, 0.7):
        assert net.loss(X, y, l2=l2) == pytest.approx(reference.cost(Ws, bs, acts, loss, Xd, Y, l2), rel=tol)
        dW, db = net.gradients(X, y, l2=l2)
        ref_dW, ref_db = reference.gradients(Ws, bs, acts, loss, Xd, Y, l2)
        for got, want in zip(dW + db, ref_dW + ref_db):
            np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


@pytest.mark.parametrize("output,loss", OUTPUT_LOSS)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_gradients_equal_finite_differences(hidden, output, loss, rng):
    net = _net(hidden, output, loss, layers=(4, 5, 3))
    X = rng.normal(size=(6, 4))
    y = make_targets(rng, output, loss, 6, 3)
    assert fastbp.gradient_check(net, X, y) < 1e-6
    assert fastbp.gradient_check(net, X, y, l2=0.5) < 1e-6


def test_gradient_check_detects_a_wrong_gradient(rng, monkeypatch):
    net = _net("tanh", "softmax", "cross_entropy", layers=(3, 4, 2))
    X, y = rng.normal(size=(5, 3)), rng.integers(0, 2, 5)
    original = fastbp.Network.gradients

    def off_by_ten_percent(self, *args, **kwargs):
        dW, db = original(self, *args, **kwargs)
        return [1.1 * w for w in dW], db

    monkeypatch.setattr(fastbp.Network, "gradients", off_by_ten_percent)
    assert fastbp.gradient_check(net, X, y) > 0.01


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("optimizer,momentum,nesterov", [("sgd", 0.0, False), ("sgd", 0.5, False),
                                                          ("sgd", 0.9, True), ("adam", 0.0, False)])
def test_fit_steps_match_reference(optimizer, momentum, nesterov, dtype, rng):
    """Three mini-batches (sizes 4, 4, 2), no shuffle, against the reference optimizer steps."""
    net = _net("sigmoid", "softmax", "cross_entropy", dtype)
    X = rng.normal(size=(10, 5))
    y = rng.integers(0, 3, 10)
    Ws, bs, acts = _ref_params(net)
    Y = reference.one_hot(y, 3)
    Xd = X.astype(dtype).astype(np.float64)
    params = Ws + bs
    state1 = [np.zeros_like(p) for p in params]
    state2 = [np.zeros_like(p) for p in params]
    for t, start in enumerate((0, 4, 8), start=1):
        sl = slice(start, start + 4)
        dW, db = reference.gradients(params[:3], params[3:], acts, "cross_entropy", Xd[sl], Y[sl], 0.1)
        for k, g in enumerate(dW + db):
            if optimizer == "adam":
                params[k], state1[k], state2[k] = reference.adam_step(params[k], g, state1[k], state2[k], t, 0.05)
            else:
                params[k], state1[k] = reference.sgd_step(params[k], g, state1[k], 0.05, momentum, nesterov)
    net.fit(X, y, epochs=1, batch_size=4, lr=0.05, momentum=momentum, nesterov=nesterov, l2=0.1,
            optimizer=optimizer, shuffle=False, verbose=0)
    tol = TOLERANCE[dtype]
    for got, want in zip(net.weights + net.biases, params):
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def test_history_loss_is_mean_batch_cost(rng):
    net = _net("relu", "softmax", "cross_entropy", layers=(5, 4, 3))
    X, y = rng.normal(size=(8, 5)), rng.integers(0, 3, 8)
    before = net.copy()
    history = net.fit(X, y, epochs=1, batch_size=8, lr=0.1, l2=0.2, shuffle=False, verbose=0)
    # One full batch: the recorded cost is the cost before the update.
    assert history.loss[0] == pytest.approx(before.loss(X, y, l2=0.2), rel=1e-12)
    assert history.accuracy[0] == before.score(X, y)
    assert set(history.history) == {"loss", "accuracy", "lr"}


def test_validation_data_recorded_per_epoch(rng):
    net = fastbp.Network([5, 4, 1], output="linear", seed=0)
    X, y = rng.normal(size=(20, 5)), rng.normal(size=20)
    history = net.fit(X, y, epochs=3, validation_data=(X[:5], y[:5]), verbose=0)
    assert set(history.history) == {"loss", "val_loss", "lr"}
    assert len(history.val_loss) == 3 and history.epoch == [0, 1, 2]
    assert history.val_loss[-1] == pytest.approx(net.loss(X[:5], y[:5]), rel=1e-6)


def test_seeded_fit_is_bit_for_bit_repeatable():
    X, y = fastbp.datasets.load_digits()
    weights = []
    for _ in range(2):
        net = fastbp.Network([64, 16, 10], seed=7)
        net.fit(X[:500], y[:500], epochs=3, batch_size=32, lr=0.1, momentum=0.9, verbose=0)
        weights.append(net._params.copy())
    assert np.array_equal(weights[0], weights[1])


def test_chunked_and_per_epoch_calls_give_the_same_weights():
    # verbose=0 runs several epochs per compiled call; verbose=2 one epoch per call.
    X, y = fastbp.datasets.load_digits()
    results = []
    for verbose in (0, 2):
        net = fastbp.Network([64, 16, 10], seed=3)
        net.fit(X[:300], y[:300], epochs=4, batch_size=16, verbose=verbose)
        results.append(net._params.copy())
    assert np.array_equal(results[0], results[1])


def test_digits_held_out_accuracy():
    X, y = fastbp.datasets.load_digits()
    order = np.random.default_rng(0).permutation(len(X))
    train, test = order[:1400], order[1400:]
    net = fastbp.Network([64, 32, 10], activation="sigmoid", seed=0)
    net.fit(X[train], y[train], epochs=40, batch_size=16, lr=0.5, verbose=0)
    assert net.score(X[test], y[test]) >= 0.95


def test_predict_shapes_and_scores(rng):
    X = rng.normal(size=(30, 4))
    clf = fastbp.Network([4, 8, 3], seed=0)
    assert clf.predict(X).shape == (30,) and clf.predict(X).dtype.kind == "i"
    assert clf.predict_proba(X).sum(axis=1) == pytest.approx(np.ones(30), rel=1e-5)
    binary = fastbp.Network([4, 8, 1], output="sigmoid", seed=0)
    assert set(np.unique(binary.predict(X))) <= {0, 1} and binary.predict(X).shape == (30,)
    reg = fastbp.Network([4, 8, 2], output="linear", dtype=np.float64, seed=0)
    y = X[:, :2] * 2 + 1
    reg.fit(X, y, epochs=300, batch_size=10, lr=0.05, momentum=0.9, verbose=0)
    assert reg.predict(X).shape == (30, 2)
    assert reg.score(X, y) > 0.95


def test_weights_are_views_of_the_parameters():
    net = fastbp.Network([3, 4, 2], seed=0)
    net.weights[0][0, 0] = 5.0
    assert net._params[0] == 5.0
    assert net.weights[0].shape == (3, 4) and net.biases[1].shape == (2,)
    assert net.n_params == 3 * 4 + 4 + 4 * 2 + 2


def test_inputs_of_any_layout_and_type_are_accepted(rng):
    net = fastbp.Network([3, 4, 2], dtype=np.float64, seed=0)
    X = rng.normal(size=(6, 3))
    expected = net.predict_proba(X)
    for variant in (np.asfortranarray(X), X.tolist(), X.astype(">f8")):
        np.testing.assert_allclose(net.predict_proba(variant), expected, rtol=1e-12)
    np.testing.assert_allclose(net.predict_proba(X.astype(np.float32)), expected, rtol=1e-6)
    strided = np.zeros((6, 6))
    strided[:, ::2] = X
    np.testing.assert_allclose(net.predict_proba(strided[:, ::2]), expected, rtol=1e-12)
    assert net.predict_proba([[1, 2, 3]]).shape == (1, 2)


def test_optimizer_state_continues_across_fits(rng):
    X, y = rng.normal(size=(16, 3)), rng.integers(0, 2, 16)
    one = fastbp.Network([3, 4, 2], dtype=np.float64, seed=0)
    one.fit(X, y, epochs=2, momentum=0.9, shuffle=False, verbose=0)
    two = fastbp.Network([3, 4, 2], dtype=np.float64, seed=0)
    two.fit(X, y, epochs=1, momentum=0.9, shuffle=False, verbose=0)
    two.fit(X, y, epochs=1, momentum=0.9, shuffle=False, verbose=0)
    np.testing.assert_array_equal(one._params, two._params)


def test_divergence_raises_and_keeps_finite_parameters(rng):
    net = fastbp.Network([3, 8, 1], activation="linear", output="linear", dtype=np.float32, seed=0)
    X, y = rng.normal(size=(32, 3)) * 100, rng.normal(size=32) * 1e4
    with pytest.raises(FloatingPointError, match="smaller learning rate"):
        net.fit(X, y, epochs=50, batch_size=4, lr=10.0, verbose=0)
    assert np.isfinite(net._params).all()


def test_deep_float32_sigmoid_network_trains_finitely():
    X, y = fastbp.datasets.load_digits()
    net = fastbp.Network([64] + [32] * 10 + [10], activation="sigmoid", dtype=np.float32, seed=0)
    history = net.fit(X, y, epochs=5, batch_size=16, lr=0.5, momentum=0.9, verbose=0)
    assert np.isfinite(history.loss).all() and np.isfinite(net._params).all()
    assert np.isfinite(net.predict_proba(X * 1e4)).all()  # saturated sigmoids stay finite


def test_seeded_fits_repeat_with_one_blas_thread_too():
    X, y = fastbp.datasets.load_digits()
    runs = [fastbp.Network([64, 32, 10], seed=3) for _ in range(2)]
    for net in runs:
        net.fit(X, y, epochs=2, batch_size=64, momentum=0.9, blas_threads=1, verbose=0)
    assert np.array_equal(runs[0]._params, runs[1]._params)


def test_importing_fastbp_and_building_a_network_load_no_compiler(tmp_path):
    """Numba and the kernels load with the first compiled call: ``import fastbp`` (0.6-1.1 s with them,
    0.15-0.2 s without), building, copying, saving and loading a network need neither."""
    code = ("import sys, fastbp\nfrom fastbp import Network\nnet = Network([4, 3, 2], seed=0).copy()\n"
            f"net.save({str(tmp_path / 'net.h5')!r})\nfastbp.load({str(tmp_path / 'net.h5')!r})\n"
            "print('numba' in sys.modules, any(m.startswith('fastbp.kernels.') and m != 'fastbp.kernels.codes'"
            " for m in sys.modules))\n"
            "net.fit(fastbp.datasets.load_digits()[0][:8, :4], [0, 1] * 4, epochs=1, verbose=0)\n"
            "print('numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split()
    assert out == ["False", "False", "True"]
