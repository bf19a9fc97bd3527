import os
import re
import signal
import threading
import time

import numpy as np
import pytest
from numba import njit, prange

import fastbp
from fastbp import training
from fastbp.kernels import optimizers
from fastbp.kernels.denormals import X86
from fastbp.schedules import ExponentialDecay, StepDecay


@pytest.fixture(scope="module")
def digits():
    X, y = fastbp.datasets.load_digits()
    return X[:600], y[:600], X[600:900], y[600:900]


def test_chunked_epochs_equal_epoch_by_epoch_training(digits, monkeypatch):
    X, y, _, _ = digits
    monkeypatch.setattr(training, "CALL_SECONDS", 1e9)  # as many epochs per call as the budget allows
    chunked = fastbp.Network([64, 16, 10], seed=2)
    chunked.fit(X, y, epochs=7, batch_size=32, lr=0.1, momentum=0.9, verbose=0)
    single = fastbp.Network([64, 16, 10], seed=2)
    single.fit(X, y, epochs=7, batch_size=32, lr=0.1, momentum=0.9, callbacks=[lambda e, logs: False], verbose=0)
    assert np.array_equal(chunked._params, single._params)
    assert chunked.history.loss == single.history.loss


def test_epochs_per_call_targets_a_quarter_second():
    assert training._epochs_per_call(0.5, 1, 100) == 1
    assert training._epochs_per_call(0.01, 2, 100) == int(training.CALL_SECONDS / 0.005)
    assert training._epochs_per_call(1e-7, 1, 1 << 10) == training.ORDER_BUDGET >> 10


@pytest.mark.parametrize("schedule", [StepDecay(0.2, step_size=2, gamma=0.5), ExponentialDecay(0.2, 0.7),
                                      lambda epoch: 0.05 * (epoch + 1)])
def test_learning_rate_schedule_equals_fits_at_each_rate(digits, schedule):
    X, y, _, _ = digits
    scheduled = fastbp.Network([64, 16, 10], seed=4)
    history = scheduled.fit(X, y, epochs=5, batch_size=50, lr=schedule, momentum=0.5, verbose=0)
    assert history.lr == [schedule(e) for e in range(5)]
    manual = fastbp.Network([64, 16, 10], seed=4)
    for epoch in range(5):
        manual.fit(X, y, epochs=1, batch_size=50, lr=schedule(epoch), momentum=0.5, verbose=0)
    assert np.array_equal(scheduled._params, manual._params)


def test_early_stopping_keeps_the_best_weights(digits):
    X, y, X_val, y_val = digits
    net = fastbp.Network([64, 32, 10], seed=0)
    # A learning rate this large makes the validation loss bounce, so patience runs out.
    history = net.fit(X, y, epochs=200, batch_size=8, lr=0.5, momentum=0.9, early_stopping=3,
                      validation_data=(X_val, y_val), verbose=0)
    assert history.stop_reason == "early_stopping" and len(history.epoch) < 200
    best = history.best_epoch
    assert history.val_loss[best] == min(history.val_loss)
    assert len(history.epoch) == best + 1 + 3  # stopped after exactly `patience` epochs without progress
    assert net.loss(X_val, y_val) == pytest.approx(history.val_loss[best], rel=1e-6)


def test_a_callback_sees_every_epoch_and_can_stop(digits):
    X, y, _, _ = digits
    seen = []

    def stop_at_two(epoch, logs):
        seen.append((epoch, sorted(logs)))
        return epoch == 2

    history = fastbp.Network([64, 10], seed=0).fit(X, y, epochs=10, callbacks=[stop_at_two], verbose=0)
    assert seen == [(e, ["accuracy", "loss", "lr"]) for e in range(3)]
    assert history.stop_reason == "callback" and history.epoch == [0, 1, 2]


def test_ctrl_c_stops_after_the_current_call_and_keeps_the_epochs_done(digits):
    X, y, _, _ = digits
    net = fastbp.Network([64, 32, 10], seed=7)
    # From Python's own handler, whatever the process started with (a shell's background job starts
    # with SIGINT ignored: see the next test).
    original = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        history = net.fit(X, y, epochs=1_000_000, batch_size=16, lr=0.05, verbose=0)
    finally:
        timer.cancel()
        found = signal.signal(signal.SIGINT, original)
    assert history.stop_reason == "interrupted"
    done = len(history.epoch)
    assert 0 < done < 1_000_000 and history.epoch == list(range(done))
    assert found is signal.default_int_handler  # handler put back
    # The weights are exactly those of `done` whole epochs.
    again = fastbp.Network([64, 32, 10], seed=7)
    again.fit(X, y, epochs=done, batch_size=16, lr=0.05, verbose=0)
    assert np.array_equal(net._params, again._params)


def test_a_process_that_ignores_ctrl_c_keeps_ignoring_it_during_a_fit(digits):
    X, y, _, _ = digits
    original = signal.signal(signal.SIGINT, signal.SIG_IGN)
    timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        history = fastbp.Network([64, 32, 10], seed=7).fit(X, y, epochs=40, batch_size=1, lr=0.05, verbose=0)
    finally:
        timer.cancel()
        found = signal.signal(signal.SIGINT, original)
    assert history.stop_reason is None and len(history.epoch) == 40
    assert found is signal.SIG_IGN


def test_fit_in_a_thread_ignores_signals_and_trains(digits):
    X, y, _, _ = digits
    net = fastbp.Network([64, 10], seed=0)
    worker = threading.Thread(target=net.fit, args=(X, y), kwargs=dict(epochs=2, verbose=0))
    worker.start()
    worker.join()
    assert len(net.history.epoch) == 2


def test_verbose_two_prints_one_line_per_epoch(digits, capsys):
    X, y, X_val, y_val = digits
    fastbp.Network([64, 10], seed=0).fit(X, y, epochs=3, validation_data=(X_val, y_val), verbose=2)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and lines[0].startswith("Epoch 1/3 - loss: ")
    for key in ("accuracy", "val_loss", "val_accuracy", "lr"):
        assert f" - {key}: " in lines[2]


def test_verbose_one_shows_a_progress_bar_with_the_metrics(digits, capsys):
    X, y, X_val, y_val = digits
    fastbp.Network([64, 10], seed=0).fit(X, y, epochs=2, validation_data=(X_val, y_val), verbose=1)
    err = capsys.readouterr().err
    assert "2/2" in err and "epoch" in err
    for key in ("loss=", "accuracy=", "val_loss=", "val_accuracy="):
        assert key in err


def test_verbose_zero_prints_nothing(digits, capsys):
    X, y, _, _ = digits
    fastbp.Network([64, 10], seed=0).fit(X, y, epochs=2, verbose=0)
    assert capsys.readouterr() == ("", "")


def test_divergence_names_the_epoch_and_batch_and_keeps_the_last_finite_parameters():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(32, 3)) * 100, rng.normal(size=32) * 1e4
    net = fastbp.Network([3, 8, 1], activation="linear", output="linear", seed=0)
    with pytest.raises(FloatingPointError, match=r"diverged at epoch \d+, batch \d+: .*lr=10") as caught:
        net.fit(X, y, epochs=50, batch_size=4, lr=10.0, shuffle=False, verbose=0)
    epoch, batch = map(int, re.search(r"epoch (\d+), batch (\d+)", str(caught.value)).groups())
    # Re-run up to just before the failing batch: the kept parameters are exactly those.
    again = fastbp.Network([3, 8, 1], activation="linear", output="linear", seed=0)
    if epoch:
        again.fit(X, y, epochs=epoch, batch_size=4, lr=10.0, shuffle=False, verbose=0)
    if batch:
        again.fit(X[:4 * batch], y[:4 * batch], epochs=1, batch_size=4, lr=10.0, shuffle=False, verbose=0)
    assert np.isfinite(net._params).all()
    assert np.array_equal(net._params, again._params)


def test_an_overflowing_last_update_is_caught_and_undone():
    net = fastbp.Network([2, 1], output="linear", seed=0)
    before = net._params.copy()
    X, y = np.ones((1, 2)), np.array([1e18])  # finite cost, an update of about 1e43: inf in float32
    with pytest.raises(FloatingPointError, match="the last update of epoch 0.*start of epoch 0 were restored"):
        net.fit(X, y, epochs=1, batch_size=1, lr=1e25, verbose=0)
    assert np.array_equal(net._params, before)
    assert net.optimizer_state["step"] == 0


@pytest.mark.parametrize("optimizer, momentum, nesterov", [
    (optimizers.SGD, 0.0, False), (optimizers.SGD, 0.9, False), (optimizers.SGD, 0.9, True),
    (optimizers.ADAM, 0.0, False), (optimizers.NO_UPDATE, 0.0, False),
    (optimizers.SKLEARN_SGD, 0.9, True), (optimizers.SKLEARN_SGD, 0.0, False), (optimizers.SKLEARN_ADAM, 0.0, False),
])
def test_the_divergence_snapshot_holds_every_state_array_the_optimizer_writes(optimizer, momentum, nesterov):
    """A fit copies (and after divergence restores) only the state arrays its optimizer writes: the update
    of each rule must leave the others as they were."""
    hyper = np.zeros(optimizers.N_HYPER)
    hyper[[optimizers.LR, optimizers.MOMENTUM, optimizers.NESTEROV]] = 0.1, momentum, nesterov
    hyper[[optimizers.BETA1, optimizers.BETA2, optimizers.EPSILON]] = 0.9, 0.999, 1e-8
    coeffs = np.zeros(optimizers.N_COEFFS)
    optimizers.step_coefficients(optimizer, hyper, 1, coeffs)
    rng = np.random.default_rng(0)
    params, grads = rng.normal(size=50), rng.normal(size=50)
    state = {"state1": np.full(50, 0.5), "state2": np.full(50, 0.25)}
    before = {key: value.copy() for key, value in state.items()}
    optimizers.apply_update(optimizer, params, grads, (state["state1"], state["state2"]), coeffs)
    written = {key for key in state if not np.array_equal(state[key], before[key])}
    assert written == set(training._updated_state(optimizer, hyper))


@pytest.mark.parametrize("layers, batch_size, threads", [
    ([8, 5, 3], 4, 1),  # whole products
    ([200, 200, 3], 2, 2),  # small-batch row loops
    ([200, 400, 3], 16, 2),  # layers in blocks on the pool
])
def test_the_unset_batch_buffers_are_written_before_they_are_read(layers, batch_size, threads, monkeypatch):
    """allocate_work leaves the shuffled batches' buffers unset (np.empty): filled with NaN instead, every
    training path gives the same bits."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, layers[0])), np.arange(40) % layers[-1]

    def fit():
        net = fastbp.Network(layers, seed=0)
        net.fit(X, y, epochs=2, batch_size=batch_size, momentum=0.5, verbose=0, blas_threads=threads)
        return net._params

    expected = fit()
    allocate = training.allocate_work
    allocated = []

    def allocate_nan(*args, **kwargs):
        work = allocate(*args, **kwargs)
        work[0].fill(np.nan)
        work[1].fill(np.nan)
        allocated.append(work)
        return work

    monkeypatch.setattr(training, "allocate_work", allocate_nan)
    assert np.array_equal(fit(), expected)
    assert not np.isnan(allocated[0][0]).any() and not np.isnan(allocated[0][1]).any()  # the batches went there


@njit(parallel=True)
def _halve_in_threads(x, out):
    for i in prange(x.shape[0]):
        out[i] = x[i] * np.float32(0.5)


@pytest.mark.skipif(not X86, reason="the mode is the x86 MXCSR; elsewhere training is IEEE throughout")
@pytest.mark.parametrize("batch_size, n_threads", [
    (1, 1), (7, 2),  # small-batch row loops, in the calling thread / with the 1100x128 layer's blocks on the pool
    (16, 2),  # layers in blocks on the pool
    (300, 1),  # whole BLAS products
])
@pytest.mark.parametrize("flush", [True, False])
def test_flush_denormals_zeroes_the_decaying_velocity_of_dead_units_on_every_path(batch_size, n_threads, flush):
    """Units no sample activates get zero gradients, so their velocities only decay: from 1e-37 by 0.5 per
    step they pass below float32's smallest normal number (1.18e-38) after 4 steps. Flushed, they are 0
    after 8; in IEEE arithmetic they are denormal."""
    n = 8 * batch_size  # 8 steps: 1e-37 / 2**8 is denormal
    n_in = 1100  # at batch 7, over fused.POOL_PRODUCT_BATCHES multiply-adds: the row loops take the pool
    X, y = np.random.default_rng(0).normal(size=(n, n_in)).astype(np.float32), np.arange(n) % 10
    net = fastbp.Network([n_in, 128, 10], seed=0)
    dead = slice(0, 64)
    net.biases[0][dead] = -1e4
    net.optimizer_state = {"optimizer": "sgd", "step": 0, "state1": np.full_like(net._params, 1e-37),
                           "state2": np.zeros_like(net._params)}
    net.fit(X, y, epochs=1, batch_size=batch_size, lr=0.01, momentum=0.5, verbose=0,
            blas_threads=n_threads, flush_denormals=flush)
    velocity = net.optimizer_state["state1"]
    offsets = np.cumsum([0] + [w.size + b.size for w, b in zip(net.weights, net.biases)])
    V0 = velocity[:offsets[1] - 128].reshape(n_in, 128)[:, dead]  # W0's columns of the dead units
    V1 = velocity[offsets[1]:offsets[2] - 10].reshape(128, 10)[dead]  # W1's rows fed by them
    for V in (V0, V1):
        if flush:
            assert np.all(V == 0)
        else:
            assert np.all((V > 0) & (V < np.finfo(np.float32).tiny))
    x = np.full(64, 2e-38, np.float32)
    out = np.empty_like(x)
    _halve_in_threads(x, out)
    assert np.all(out > 0) and np.all(x * np.float32(0.5) > 0)  # the caller's and the pool's modes restored


def test_the_compile_notice_follows_numbas_compiles_not_the_clock(monkeypatch, capsys):
    """A first call that only loads warm kernels says nothing however long it takes (a loaded machine once took
    more than the one second the notice used to wait for); a call that compiles says so once."""
    monkeypatch.setattr(training, "_warm_kernels", set())
    with training._compile_notice(("slow", False), verbose=1):
        time.sleep(1.3)
    assert training.COMPILE_NOTICE not in capsys.readouterr().err

    @njit
    def fresh(x):
        return x + 1

    with training._compile_notice(("compiles", False), verbose=1):
        fresh(1), fresh(1.0)  # two compiles, one notice
    assert capsys.readouterr().err.count(training.COMPILE_NOTICE) == 1
    with training._compile_notice(("compiles", False), verbose=1):
        fresh(1j)  # the kernel already ran in this process: silent
    assert training.COMPILE_NOTICE not in capsys.readouterr().err
