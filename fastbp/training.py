"""The training schedule: epochs, shuffling, compiled chunks, history, progress and divergence."""
import numpy as np
from tqdm.auto import tqdm

from fastbp import registry, threads
from fastbp.kernels import epoch as kernels
from fastbp.kernels import optimizers

ORDER_BUDGET = 1 << 22  # sample indices per compiled call when several epochs run in one call


class History:
    """Per-epoch metrics of one ``fit`` call, Keras-style.

    Attributes
    ----------
    history : dict of str -> list of float
        "loss" and, when recorded, "accuracy", "val_loss", "val_accuracy".
    epoch : list of int
        Epoch numbers (0-based) of the entries.
    """

    def __init__(self, keys):
        self.history = {key: [] for key in keys}
        self.epoch = []

    def __getattr__(self, name):
        history = self.__dict__.get("history", {})
        if name in history:
            return history[name]
        raise AttributeError(name)

    def __repr__(self):
        last = ", ".join(f"{k}={v[-1]:.4g}" for k, v in self.history.items() if v)
        return f"History(epochs={len(self.epoch)}{', ' + last if last else ''})"

    def _append(self, epoch, metrics):
        self.epoch.append(epoch)
        for key, value in metrics.items():
            self.history[key].append(value)


def _optimizer_state(net, optimizer):
    """Reuse the network's optimizer state when the optimizer is unchanged, else start fresh."""
    state = net.optimizer_state
    if state is None or state["optimizer"] != optimizer:
        state = {"optimizer": optimizer, "step": 0,
                 "state1": np.zeros_like(net._params), "state2": np.zeros_like(net._params)}
        net.optimizer_state = state
    return state


def epoch_orders(rng, n_samples, n_epochs, shuffle):
    """Sample order of each epoch: one permutation per epoch, drawn the same way however epochs are chunked."""
    if not shuffle:
        return np.tile(np.arange(n_samples, dtype=np.intp), (n_epochs, 1))
    return np.stack([rng.permutation(n_samples) for _ in range(n_epochs)]).astype(np.intp, copy=False)


class EpochRunner:
    """Runs epochs through the compiled kernel for one network, optimizer and batch size.

    Holds what a fit allocates once: hyperparameters, gradients, workspace and the
    optimizer state (shared with ``net.optimizer_state`` so later fits continue it).
    """

    def __init__(self, net, batch_size, optimizer="sgd", lr=0.01, momentum=0.0, nesterov=False, l2=0.0,
                 beta1=0.9, beta2=0.999, epsilon=1e-8, blas_threads=None):
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
        self.state = _optimizer_state(net, optimizer)
        self.grads = np.zeros_like(net._params)
        self.work = allocate_work(net.layers, batch_size, net.dtype)

    def run(self, X, Y, orders, first_epoch=0):
        """Train one epoch per row of ``orders`` (n_epochs, n); returns per-epoch (cost sum, correct, last batch cost).

        Raises FloatingPointError, with the last finite parameters kept, if the cost diverges.
        """
        net, state = self.net, self.state
        count = orders.shape[0]
        cost = np.zeros(count)
        correct = np.zeros(count, dtype=np.int64)
        last = np.zeros(count)
        snapshot = (net._params.copy(), state["state1"].copy(), state["state2"].copy(), state["step"])
        with threads.blas_threads(self.blas_threads):
            state["step"] = kernels.train_epochs(
                X, Y, orders, self.batch_size, net._params, net._sizes, net._codes, net._loss_code,
                self.optimizer_code, self.hyper, (self.grads, state["state1"], state["state2"]),
                state["step"], self.work, cost, correct, last)
        failed = np.flatnonzero(~np.isfinite(cost))
        if failed.size:
            _restore_after_divergence(net, state, snapshot, first_epoch + failed[0], self.hyper[optimizers.LR])
        return cost, correct, last


def fit_network(net, X, Y, validation, settings):
    """Train ``net`` on coerced X (n, n_in), Y (n, n_out); ``settings`` holds validated fit arguments."""
    n = X.shape[0]
    epochs, verbose = settings["epochs"], settings["verbose"]
    keys = ["loss"] + (["accuracy"] if net.is_classifier else [])
    if validation is not None:
        keys += ["val_" + k for k in keys]
    history = History(keys)
    runner = EpochRunner(net, min(settings["batch_size"], n), settings["optimizer"], settings["lr"],
                         settings["momentum"], settings["nesterov"], settings["l2"], settings["beta1"],
                         settings["beta2"], settings["epsilon"], settings["blas_threads"])

    # Several epochs per compiled call when no Python work sits between them.
    per_call = 1 if (verbose or validation is not None) else max(1, ORDER_BUDGET // n)
    bar = tqdm(total=epochs, unit="epoch", disable=verbose != 1, leave=True)
    done = 0
    try:
        while done < epochs:
            count = min(per_call, epochs - done)
            orders = epoch_orders(net._rng, n, count, settings["shuffle"])
            cost, correct, _ = runner.run(X, Y, orders, first_epoch=done)
            for k in range(count):
                metrics = {"loss": cost[k] / n}
                if net.is_classifier:
                    metrics["accuracy"] = correct[k] / n
                if validation is not None:
                    val_loss, val_accuracy = net._evaluate(*validation)
                    metrics["val_loss"] = val_loss
                    if net.is_classifier:
                        metrics["val_accuracy"] = val_accuracy
                history._append(done + k, metrics)
                _report(bar, verbose, done + k, epochs, metrics)
            done += count
    finally:
        bar.close()
    return history


def allocate_work(sizes, capacity, dtype, gather=True):
    """The kernels' workspace (see ``fastbp.kernels.epoch``) for batches of up to ``capacity`` rows.

    ``gather=False`` leaves out the batch buffers that only shuffled training copies rows into.
    """
    n_in, n_out = sizes[0], sizes[-1]
    hidden = capacity * int(sum(sizes[1:-1]))
    widest = capacity * int(max(sizes[1:]))
    rows = capacity if gather else 0
    return (np.zeros(rows * n_in, dtype), np.zeros(rows * n_out, dtype),
            np.zeros(max(hidden, 1), dtype), np.zeros(capacity * n_out, dtype),
            np.zeros(capacity * n_out, dtype), np.zeros(widest, dtype), np.zeros(widest, dtype))


def _restore_after_divergence(net, state, snapshot, epoch, lr):
    # The kernel stops before applying an update from a non-finite cost, so the current
    # parameters are the last ones if they are finite; otherwise go back to the chunk start.
    if not (np.isfinite(net._params).all() and np.isfinite(state["state1"]).all()
            and np.isfinite(state["state2"]).all()):
        net._params[...] = snapshot[0]
        state["state1"][...] = snapshot[1]
        state["state2"][...] = snapshot[2]
        state["step"] = snapshot[3]
    raise FloatingPointError(
        f"training diverged at epoch {epoch}: the cost became NaN or infinite; the last finite "
        f"parameters were kept. Try a smaller learning rate than lr={lr:g}.")


def _report(bar, verbose, epoch, epochs, metrics):
    text = {k: f"{v:.4f}" for k, v in metrics.items()}
    if verbose == 1:
        bar.set_postfix(text, refresh=False)
        bar.update(1)
    elif verbose == 2:
        print(f"Epoch {epoch + 1}/{epochs} - " + " - ".join(f"{k}: {v}" for k, v in text.items()))
