"""The training schedule: epochs, compiled chunks, progress, early stopping, callbacks, Ctrl-C, divergence.

Also every other call of :class:`fastbp.Network` into the compiled kernels (forward pass, batch
gradients): importing this module loads Numba and the kernels, so :mod:`fastbp.network` imports it
on first use and ``import fastbp`` stays free of the compiler.
"""
import contextlib
import signal
import sys
import threading
import time

import numba
import numpy as np
from numba.core import event
from tqdm.auto import tqdm

from fastbp import registry, threads
from fastbp.history import History
from fastbp.kernels import epoch as kernels
from fastbp.kernels import dense_parallel, fused, optimizers

PREDICT_CHUNK = 1024  # rows per compiled forward pass: bounds the workspace of predict/evaluate
ORDER_BUDGET = 1 << 18  # sample indices (2 MiB) per compiled call when several epochs run in one call
CALL_SECONDS = 0.25  # target length of one compiled call when epochs are chunked
COMPILE_NOTICE = "fastbp: compiling the kernels for this CPU (first run only: Numba caches them on disk)"
_warm_kernels = set()  # (dtype, small-batch path) pairs whose training kernel this process has already run


def _optimizer_state(net, optimizer):
    """Reuse the network's optimizer state when the optimizer is unchanged, else start fresh."""
    state = net.optimizer_state
    if state is None or state["optimizer"] != optimizer:
        state = {"optimizer": optimizer, "step": 0,
                 "state1": np.zeros_like(net._params), "state2": np.zeros_like(net._params)}
        net.optimizer_state = state
    return state


class EpochRunner:
    """Runs epochs through the compiled kernel for one network, optimizer and batch size.

    Holds what a fit allocates once: hyperparameters, gradients, workspace and the
    optimizer state (shared with ``net.optimizer_state`` so later fits continue it).
    ``flush_denormals`` runs the kernels with denormal numbers flushed to zero (``Network.fit``'s
    default); ``fastbp.compat`` passes False, for NumPy's IEEE results.
    """

    def __init__(self, net, batch_size, optimizer="sgd", lr=0.01, momentum=0.0, nesterov=False, l2=0.0,
                 beta1=0.9, beta2=0.999, epsilon=1e-8, blas_threads=None, flush_denormals=True):
        self.net = net
        self.batch_size = batch_size
        self.optimizer_code = registry.OPTIMIZERS[optimizer]
        self.hyper = np.zeros(optimizers.N_HYPER)
        self.hyper[optimizers.LR] = lr
        self.hyper[optimizers.MOMENTUM] = momentum
        self.hyper[optimizers.NESTEROV] = nesterov
        self.hyper[optimizers.L2] = l2
        self.hyper[optimizers.BETA1] = beta1
        self.hyper[optimizers.BETA2] = beta2
        self.hyper[optimizers.EPSILON] = epsilon
        self.blas_threads = blas_threads
        self.flush_denormals = flush_denormals
        self.state = _optimizer_state(net, optimizer)
        self.grads = np.zeros_like(net._params)
        self.rows = small_batch_path(net.layers, batch_size, self.optimizer_code)
        self.split_layers = split_layers(net.layers, batch_size)
        self.work = allocate_work(net.layers, batch_size, net.dtype, ahead=self.rows,
                                  partials=self.split_layers and not self.rows)

    def run(self, X, Y, orders, first_epoch=0):
        """Train one epoch per row of ``orders`` (n_epochs, n); returns per-epoch (cost sum, correct, last batch cost).

        Raises FloatingPointError, with the last finite parameters kept, if the cost diverges.
        """
        net, state = self.net, self.state
        count = orders.shape[0]
        cost = np.zeros(count)
        correct = np.zeros(count, dtype=np.int64)
        last = np.zeros(count)
        snapshot = _Snapshot(net, state, _updated_state(self.optimizer_code, self.hyper))
        arguments = (X, Y, orders, self.batch_size, net._params, net._sizes, net._codes, net._loss_code,
                     self.optimizer_code, self.hyper, (self.grads, state["state1"], state["state2"]),
                     state["step"], self.work, cost, correct, last)
        no_weights = np.empty((0, 1), net.dtype)  # fastbp.Network's conventions (not scikit-learn's)
        arguments += (no_weights, no_weights, self.flush_denormals)
        if self.rows:  # no BLAS call: the threads go to Numba's pool
            with threads.kernel_threads(self.blas_threads) as kernel_threads:
                state["step"], failed_batch = kernels.train_epochs_rows(*arguments, kernel_threads)
        else:
            with threads.layer_threads(self.blas_threads, self.split_layers) as kernel_threads:
                if kernel_threads > 1:
                    state["step"], failed_batch = kernels.train_epochs_blocks(*arguments, kernel_threads)
                else:
                    state["step"], failed_batch = kernels.train_epochs(*arguments, 1)
        if failed_batch >= 0:
            epoch = first_epoch + int(np.flatnonzero(~np.isfinite(cost))[0])
            _restore_after_divergence(snapshot, f"epoch {epoch}, batch {failed_batch}", first_epoch,
                                      self.hyper[optimizers.LR])
        elif not snapshot.all_finite():  # the very last update overflowed: no cost saw it yet
            _restore_after_divergence(snapshot, f"the last update of epoch {first_epoch + count - 1}",
                                      first_epoch, self.hyper[optimizers.LR])
        return cost, correct, last


def fit_network(net, data, validation, settings):
    """Train ``net`` on ``data`` (InMemoryData or StreamedData); ``settings`` holds validated fit arguments.

    Returns the History. Runs several epochs per compiled call when no Python work (progress,
    validation, callbacks, early stopping, a change of learning rate) sits between them.
    """
    epochs, verbose, rates = settings["epochs"], settings["verbose"], settings["lrs"]
    keys = ["loss"] + (["accuracy"] if net.is_classifier else [])
    if validation is not None:
        keys += ["val_" + k for k in keys]
    history = History(keys + ["lr"])
    stopper = EarlyStopping(net, settings["early_stopping"]) if settings["early_stopping"] else None
    epoch_by_epoch = bool(verbose or validation is not None or settings["callbacks"] or stopper)
    undo = _Undo(net) if data.checks_during_training else None
    runner = EpochRunner(net, min(settings["batch_size"], data.n_samples), settings["optimizer"],
                         rates[0] if rates else 0.01, settings["momentum"], settings["nesterov"],
                         settings["l2"], settings["beta1"], settings["beta2"], settings["epsilon"],
                         settings["blas_threads"], settings["flush_denormals"])
    per_call, done = 1, 0
    # No progress bar object at all unless it is shown: tqdm(disable=True) still took 30 us per call,
    # 4% of a digits epoch at batch 16.
    bar = tqdm(total=epochs, unit="epoch", leave=True) if verbose == 1 else contextlib.nullcontext()
    with _stop_on_interrupt() as interrupted, bar:
        while done < epochs and history.stop_reason is None:
            count = _same_rate_run(rates, done, per_call)
            runner.hyper[optimizers.LR] = rates[done]
            started = time.perf_counter()
            with _compile_notice((net.dtype, runner.rows), verbose):
                cost, correct = _train(data, runner, net, count, done, undo)
            if not epoch_by_epoch:
                per_call = _epochs_per_call(time.perf_counter() - started, count, data.n_samples)
            for k in range(count):
                metrics = _epoch_metrics(net, cost[k], correct[k], data.n_samples, validation)
                metrics["lr"] = rates[done + k]
                history._append(done + k, metrics)
                _report(bar, verbose, done + k, epochs, metrics)
                history.stop_reason = _stop_reason(done + k, metrics, stopper, settings["callbacks"])
            done += count
            if interrupted.is_set() and done < epochs:
                history.stop_reason = history.stop_reason or "interrupted"
    if stopper is not None:
        history.best_epoch = stopper.restore_best()
    if history.stop_reason == "interrupted" and verbose:
        print(f"fit interrupted: kept the weights after {done} of {epochs} epochs")
    return history


class _CompileNotice(event.Listener):
    """Writes COMPILE_NOTICE on stderr when Numba starts its first compile (not a load from its disk cache)."""

    def __init__(self):
        self.said = False

    def on_start(self, ev):
        if not self.said:
            self.said = True
            tqdm.write(COMPILE_NOTICE, file=sys.stderr)

    def on_end(self, ev):
        pass


@contextlib.contextmanager
def _compile_notice(kernel, verbose):
    """Say on stderr, once, when the first training call of ``kernel`` (dtype, small-batch path) in this process
    makes Numba compile; silent with verbose=0.

    Numba's "numba:compile" event fires only for a real compile, never for a load from the disk cache. An
    earlier rule (a first call still running after one second is compiling) also fired on a loaded machine,
    where a warm cache took more than a second to load (a CI run with another compile beside it).
    """
    if not verbose or kernel in _warm_kernels:
        yield
        return
    with event.install_listener("numba:compile", _CompileNotice()):
        yield
    _warm_kernels.add(kernel)


def _train(data, runner, net, count, first_epoch, undo):
    """``count`` epochs of ``data``; on a bad chunk of streamed data, ``undo`` puts the network back
    as it was before the fit."""
    try:
        return data.train(runner, net._rng, count, first_epoch)
    except (ValueError, TypeError):
        if undo is not None:
            undo.restore()
        raise


def _stop_reason(epoch, metrics, stopper, callbacks):
    """Why training stops after this epoch, or None. Every callback runs, even after one asks to stop."""
    stop_early = stopper is not None and stopper.update(epoch, metrics["val_loss"])
    stop_asked = [bool(callback(epoch, dict(metrics))) for callback in callbacks]
    if stop_early:
        return "early_stopping"
    return "callback" if any(stop_asked) else None


def _epoch_metrics(net, cost, correct, n_samples, validation):
    metrics = {"loss": cost / n_samples}
    if net.is_classifier:
        metrics["accuracy"] = correct / n_samples
    if validation is not None:
        val_loss, val_accuracy = net._evaluate(*validation)
        metrics["val_loss"] = val_loss
        if net.is_classifier:
            metrics["val_accuracy"] = val_accuracy
    return metrics


def _same_rate_run(rates, first, limit):
    """How many epochs from ``first`` (at most ``limit``) share one learning rate."""
    count = 1
    while count < limit and first + count < len(rates) and rates[first + count] == rates[first]:
        count += 1
    return count


def _epochs_per_call(seconds, count, n_samples):
    """Epochs for the next compiled call: about CALL_SECONDS of work, so Ctrl-C is answered quickly
    while the per-call overhead stays negligible."""
    per_epoch = max(seconds / count, 1e-9)
    return int(max(1, min(CALL_SECONDS / per_epoch, ORDER_BUDGET // n_samples)))


class EarlyStopping:
    """Stops when val_loss has not improved for ``patience`` epochs; keeps the best weights."""

    def __init__(self, net, patience):
        self.net, self.patience = net, patience
        self.best_loss, self.best_epoch, self.best_params, self.waited = np.inf, None, None, 0

    def update(self, epoch, val_loss):
        """Record one epoch's val_loss; True when training should stop."""
        if val_loss < self.best_loss:
            self.best_loss, self.best_epoch, self.waited = val_loss, epoch, 0
            self.best_params = self.net._params.copy()
            return False
        self.waited += 1
        return self.waited >= self.patience

    def restore_best(self):
        """Put the best epoch's weights back; returns that epoch (None if none was recorded)."""
        if self.best_params is not None:
            self.net._params[...] = self.best_params
        return self.best_epoch


class _Undo:
    """What a fit changes in a network, saved so a failure half-way can put it back."""

    def __init__(self, net):
        self.net = net
        self.params = net._params.copy()
        self.rng_state = net._rng.bit_generator.state
        state = net.optimizer_state
        self.optimizer_state = None if state is None else {
            key: value.copy() if isinstance(value, np.ndarray) else value for key, value in state.items()}

    def restore(self):
        self.net._params[...] = self.params
        self.net._rng.bit_generator.state = self.rng_state
        self.net.optimizer_state = self.optimizer_state


@contextlib.contextmanager
def _stop_on_interrupt():
    """Turn the first Ctrl-C into a request to stop after the current compiled call.

    A KeyboardInterrupt raised between a kernel's return and the bookkeeping after it (the
    optimizer's step count, the history) would leave them out of step with the weights, so
    the handler only sets a flag; a second Ctrl-C finds the previous handler and interrupts at once.
    """
    interrupted = threading.Event()
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or previous in (None, signal.SIG_IGN):
        # Signals only reach the main thread; and a process that ignores Ctrl-C (started in the
        # background by a shell, or under nohup) keeps ignoring it.
        yield interrupted
        return

    def handler(signum, frame):
        interrupted.set()
        signal.signal(signal.SIGINT, previous)

    signal.signal(signal.SIGINT, handler)
    try:
        yield interrupted
    finally:
        signal.signal(signal.SIGINT, previous)


def forward_pass(net, X, Y, out):
    """Run the network on X (n, n_in), PREDICT_CHUNK rows at a time: returns (summed loss, correct count)
    against Y (n, n_out), or zeros when Y has no rows, and writes the outputs into out (n, n_out) unless it
    has no rows."""
    capacity = min(X.shape[0], PREDICT_CHUNK)
    work = allocate_work(net.layers, capacity, net.dtype, gather=False)
    with threads.blas_threads(None):
        return kernels.evaluate(X, Y, net._params, net._sizes, net._codes, net._loss_code, capacity, work, out)


def batch_gradients(net, X, Y, l2):
    """Gradients of the cost over all of X (n, n_in), Y (n, n_out) as one batch: a flat array like ``net._params``.

    One step of the training kernel on the samples in order, with the NO_UPDATE optimizer:
    the gradients come from the very code that trains, and no second kernel is compiled.
    """
    n = X.shape[0]
    grads = np.zeros_like(net._params)
    no_moments = np.zeros(0, net.dtype)
    hyper = np.zeros(optimizers.N_HYPER)
    hyper[optimizers.L2] = l2
    order = np.arange(n, dtype=np.intp).reshape(1, n)  # consecutive rows: the batch is X itself, not a copy
    with threads.blas_threads(None):
        kernels.train_epochs(X, Y, order, n, net._params, net._sizes, net._codes, net._loss_code,
                             optimizers.NO_UPDATE, hyper, (grads, no_moments, no_moments), 0,
                             allocate_work(net.layers, n, net.dtype, gather=False),
                             np.zeros(1), np.zeros(1, np.int64), np.zeros(1), np.empty((0, 1), net.dtype),
                             np.empty((0, 1), net.dtype), False, 1)
    return grads


def small_batch_path(layers, batch_size, optimizer_code):
    """Whether training takes the fused small-batch kernels (``fastbp.kernels.fused``): batches of at most
    FUSED_MAX_ROWS rows on a network with a layer of at least LARGE_LAYER weights (measured limits, see
    that module), and an optimizer that updates."""
    largest = max(a * b for a, b in zip(layers[:-1], layers[1:]))
    return bool(batch_size <= fused.FUSED_MAX_ROWS and largest >= fused.LARGE_LAYER
                and optimizer_code != optimizers.NO_UPDATE)


def split_layers(layers, batch_size):
    """Whether training may run layers in blocks on Numba's pool (``fastbp.kernels.dense_parallel``): batches
    of at most SPLIT_MAX_ROWS rows (above, one multi-threaded BLAS call wins) on a network with a layer of
    at least PARALLEL_PRODUCT multiply-adds per batch (smaller ones stay serial, so BLAS keeps the threads)."""
    largest = max(a * b for a, b in zip(layers[:-1], layers[1:]))
    return bool(batch_size <= dense_parallel.SPLIT_MAX_ROWS
                and batch_size * largest >= dense_parallel.PARALLEL_PRODUCT)


def allocate_work(sizes, capacity, dtype, gather=True, ahead=False, partials=False):
    """The kernels' workspace (see ``fastbp.kernels.epoch``) for batches of up to ``capacity`` rows.

    ``gather=False`` leaves out the batch buffers that only shuffled training copies rows into; ``ahead``
    adds the buffer in which the small-batch path starts each next batch (``epoch.ahead_length``);
    ``partials``, for the blocks path, the room for its blocks' partial forward products
    (``epoch.partials_length``; without it wide layers split their forward pass by the columns of W).
    """
    n_in, n_out = sizes[0], sizes[-1]
    hidden = capacity * int(sum(sizes[1:-1]))
    widest = capacity * int(max(sizes[1:]))
    rows = capacity if gather else 0
    # The batch buffers are left unset: the kernels write rows into them before reading them, and only for
    # shuffled batches. Zeroing them cost every fit a pass over a batch of inputs: 2.7 ms of a 10.6 ms fit
    # of the cat net (209 rows of 12288 features) that never used them.
    return (np.empty(rows * n_in, dtype), np.empty(rows * n_out, dtype),
            np.zeros(max(hidden, 1), dtype), np.zeros(capacity * n_out, dtype),
            np.zeros(capacity * n_out, dtype), np.zeros(widest, dtype), np.zeros(widest, dtype),
            np.empty(kernels.ahead_length(sizes, capacity) if ahead
                     else kernels.partials_length(sizes, capacity) if partials else 0, dtype),
            np.zeros(kernels.scratch_length(numba.config.NUMBA_NUM_THREADS)))


def _updated_state(optimizer_code, hyper):
    """Keys of the optimizer state arrays that ``optimizer_code`` writes (see ``optimizers.update_row``): SGD
    without momentum and NO_UPDATE none, SGD with momentum the velocity, Adam both moments."""
    if optimizer_code in (optimizers.ADAM, optimizers.SKLEARN_ADAM):
        return ("state1", "state2")
    if optimizer_code == optimizers.SKLEARN_SGD or (optimizer_code == optimizers.SGD
                                                    and hyper[optimizers.MOMENTUM] != 0):
        return ("state1",)
    return ()


class _Snapshot:
    """The parameters, the optimizer state arrays the optimizer writes, and its step count at the start of a
    compiled call, to put back if training diverges.

    Only the arrays the call can change are copied and checked: each is as large as the parameters. On the
    cat net (246k float64 parameters) copying and checking all three took 2.6 ms, the parameters alone
    0.2 ms, and a fit of one full-batch step took 4.3 ms against 5.4-6.5 ms before (with ``allocate_work``'s
    unset batch buffers; old and new code alternated in fresh processes).
    """

    def __init__(self, net, state, keys):
        self.net, self.state, self.keys = net, state, keys
        self.params = net._params.copy()
        self.arrays = [state[key].copy() for key in keys]
        self.step = state["step"]

    def all_finite(self):
        """Whether the parameters and the state arrays the call can change are all finite now."""
        return bool(np.isfinite(self.net._params).all()
                    and all(np.isfinite(self.state[key]).all() for key in self.keys))

    def restore(self):
        self.net._params[...] = self.params
        for key, array in zip(self.keys, self.arrays):
            self.state[key][...] = array
        self.state["step"] = self.step


def _restore_after_divergence(snapshot, where, first_epoch, lr):
    # The kernel stops before applying an update from a non-finite cost, so the current
    # parameters are the last ones if they are finite; otherwise go back to the call's start.
    kept = "the parameters before the failing batch were kept"
    if not snapshot.all_finite():
        snapshot.restore()
        kept = f"the parameters had overflowed, so those from the start of epoch {first_epoch} were restored"
    raise FloatingPointError(
        f"training diverged at {where}: the cost or the parameters became NaN or infinite; {kept}. "
        f"Try a smaller learning rate than lr={lr:g}.")


def _report(bar, verbose, epoch, epochs, metrics):
    if not verbose:
        return
    text = {k: f"{v:.4g}" if k == "lr" else f"{v:.4f}" for k, v in metrics.items()}
    if verbose == 1:
        bar.set_postfix({k: v for k, v in text.items() if k != "lr"}, refresh=False)
        bar.update(1)
    elif verbose == 2:
        print(f"Epoch {epoch + 1}/{epochs} - " + " - ".join(f"{k}: {v}" for k, v in text.items()))
