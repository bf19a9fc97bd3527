"""Model files: a Network saved as plain HDF5 data (never pickle) and read back exactly.

Layout of format "fastbp.network", version 1 (attributes on the root unless said otherwise)::

    format           "fastbp.network"
    format_version   1
    fastbp_version   the writer's version (informative)
    layers           int64 (n_layers + 1,) widths [n_in, ..., n_out]
    activation       hidden activation names, one per hidden layer
    output, loss     names from fastbp's fixed lists; init: a name or ""
    dtype            "float32" or "float64"
    seed             int, present when the network was seeded
    rng_state        PCG64 state, increment, has_uint32 and uinteger as decimal strings
                     (so shuffling resumes exactly)
    /layers/<l>/W    (fan_in, fan_out) weights of layer l; /layers/<l>/b (fan_out,) biases
    /optimizer       optional group: attributes name ("sgd"/"adam"), step; datasets
                     state1, state2 (momentum velocity or Adam moments, flat like the parameters)
    /history         optional group: one float64 dataset per metric, "epoch" (int64);
                     attributes stop_reason, best_epoch when set

Every name read back is checked against fastbp's own lists: a file can only ever select
one of the built-in activations, losses and optimizers, never code.
"""
import os
import tempfile

import h5py
import numpy as np

from fastbp import registry
from fastbp.history import History

FORMAT = "fastbp.network"
FORMAT_VERSION = 1


class ModelFileError(ValueError):
    """A file that is not a readable fastbp model: the message names the file and the problem."""


def save(net, path):
    """Write ``net`` to ``path`` as an HDF5 model file, atomically.

    The file is written next to ``path`` under a temporary name, then renamed over it,
    so an existing model at ``path`` survives any failure during the save.

    Parameters
    ----------
    net : Network
    path : str or path-like
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(prefix=".fastbp-", suffix=".h5.tmp", dir=folder)
    os.close(handle)
    try:
        with h5py.File(temporary, "w") as f:
            _write(f, net)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def _write(f, net):
    from fastbp import __version__
    f.attrs["format"] = FORMAT
    f.attrs["format_version"] = FORMAT_VERSION
    f.attrs["fastbp_version"] = __version__
    f.attrs["layers"] = np.array(net.layers, dtype=np.int64)
    f.attrs["activation"] = list(net.activation) if net.activation else np.array([], dtype=h5py.string_dtype())
    f.attrs["output"] = net.output
    f.attrs["loss"] = net.loss_function
    f.attrs["init"] = net.init or ""
    f.attrs["dtype"] = net.dtype.name
    if net.seed is not None:
        f.attrs["seed"] = net.seed
    state = net._rng.bit_generator.state
    f.attrs["rng_state"] = [str(state["state"]["state"]), str(state["state"]["inc"]),
                            str(state["has_uint32"]), str(state["uinteger"])]
    for l, (W, b) in enumerate(zip(net.weights, net.biases)):
        group = f.create_group(f"layers/{l}")
        group["W"] = W
        group["b"] = b
    if net.optimizer_state is not None:
        group = f.create_group("optimizer")
        group.attrs["name"] = net.optimizer_state["optimizer"]
        group.attrs["step"] = net.optimizer_state["step"]
        group["state1"] = net.optimizer_state["state1"]
        group["state2"] = net.optimizer_state["state2"]
    if net.history is not None:
        group = f.create_group("history")
        group["epoch"] = np.array(net.history.epoch, dtype=np.int64)
        for key, values in net.history.history.items():
            group[key] = np.array(values, dtype=np.float64)
        if net.history.stop_reason is not None:
            group.attrs["stop_reason"] = net.history.stop_reason
        if net.history.best_epoch is not None:
            group.attrs["best_epoch"] = net.history.best_epoch


def load(path):
    """Read a Network saved by ``Network.save``: same predictions bit for bit, same optimizer state.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    Network

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    ModelFileError (a ValueError)
        If the file is not HDF5, is truncated, is not a fastbp model, was written by a
        newer format version, or holds inconsistent data; the message names the file.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no model file at {path!r}")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise ModelFileError(f"{path}: not a readable HDF5 file (truncated or not HDF5): {exc}") from None
    try:
        with f:
            return _read(f)
    except ModelFileError as exc:
        raise ModelFileError(f"{path}: {exc}") from None
    except (KeyError, OSError, TypeError, ValueError, RuntimeError, IndexError) as exc:
        # h5py reports damaged objects in many ways; each means the same thing to the user.
        raise ModelFileError(f"{path}: damaged or inconsistent model file: {exc}") from None


def _read(f):
    from fastbp.network import Network
    if _text(f.attrs.get("format")) != FORMAT:
        raise ModelFileError(f"not a fastbp model file (format attribute is not {FORMAT!r})")
    version = _integer(f.attrs.get("format_version"), "format_version")
    if version > FORMAT_VERSION:
        raise ModelFileError(f"written in format version {version}, newer than this fastbp reads "
                             f"({FORMAT_VERSION}); upgrade fastbp to load it")
    if version < 1:
        raise ModelFileError(f"invalid format_version {version}")
    layers = np.asarray(f.attrs["layers"])
    if layers.ndim != 1 or layers.dtype.kind not in "iu":
        raise ModelFileError(f"layers must be a list of integer widths, got {layers!r}")
    dtype = _text(f.attrs["dtype"])
    if dtype not in ("float32", "float64"):
        raise ModelFileError(f"dtype must be float32 or float64, got {dtype!r}")
    activation = [_text(name) for name in np.atleast_1d(f.attrs["activation"])]
    seed = int(f.attrs["seed"]) if "seed" in f.attrs else None
    try:
        net = Network([int(n) for n in layers], activation=activation, output=_text(f.attrs["output"]),
                      loss=_text(f.attrs["loss"]), init=_text(f.attrs["init"]) or None,
                      dtype=np.dtype(dtype), seed=seed)
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"invalid architecture: {exc}") from None
    for l, (W, b) in enumerate(zip(net.weights, net.biases)):
        W[...] = _array(f, f"layers/{l}/W", W.shape, net.dtype)
        b[...] = _array(f, f"layers/{l}/b", b.shape, net.dtype)
    if len(f["layers"]) != len(net.weights):
        raise ModelFileError(f"has {len(f['layers'])} layer groups for {len(net.weights)} layers")
    _read_rng_state(f, net)
    if "optimizer" in f:
        group = f["optimizer"]
        name = _text(group.attrs["name"])
        if name not in registry.OPTIMIZERS:
            raise ModelFileError(f"unknown optimizer {name!r}")
        step = _integer(group.attrs["step"], "optimizer step")
        net.optimizer_state = {"optimizer": name, "step": step,
                               "state1": _array(group, "state1", net._params.shape, net.dtype, "optimizer/"),
                               "state2": _array(group, "state2", net._params.shape, net.dtype, "optimizer/")}
    if "history" in f:
        net.history = _read_history(f["history"])
    return net


def _read_rng_state(f, net):
    state, inc, has_uint32, uinteger = (int(_text(value)) for value in f.attrs["rng_state"])
    if not (0 <= state < 2 ** 128 and 0 <= inc < 2 ** 128 and has_uint32 in (0, 1)
            and 0 <= uinteger < 2 ** 32):
        raise ModelFileError("rng_state out of range")
    net._rng.bit_generator.state = {"bit_generator": "PCG64", "state": {"state": state, "inc": inc},
                                    "has_uint32": has_uint32, "uinteger": uinteger}


def _read_history(group):
    epochs = _array(group, "epoch", None, np.int64, "history/")
    keys = [key for key in group if key != "epoch"]
    allowed = {"loss", "accuracy", "val_loss", "val_accuracy", "lr"}
    if not set(keys) <= allowed:
        raise ModelFileError(f"unknown history metrics {sorted(set(keys) - allowed)}")
    history = History(keys)
    history.epoch = [int(e) for e in epochs]
    for key in keys:
        history.history[key] = [float(v) for v in _array(group, key, epochs.shape, np.float64, "history/")]
    if "stop_reason" in group.attrs:
        history.stop_reason = _text(group.attrs["stop_reason"])
    if "best_epoch" in group.attrs:
        history.best_epoch = _integer(group.attrs["best_epoch"], "best_epoch")
    return history


def _array(group, name, shape, dtype, prefix=""):
    item = group.get(name)
    if not isinstance(item, h5py.Dataset):
        raise ModelFileError(f"missing dataset {prefix}{name}")
    if shape is not None and item.shape != tuple(shape):
        raise ModelFileError(f"dataset {prefix}{name} has shape {item.shape}, expected {tuple(shape)}")
    if item.dtype.kind not in "iuf":
        raise ModelFileError(f"dataset {prefix}{name} holds {item.dtype}, expected numbers")
    values = item[()]
    if np.dtype(dtype).kind == "f" and not np.isfinite(values).all():
        raise ModelFileError(f"dataset {prefix}{name} holds NaN or infinite values")
    return np.asarray(values, dtype=dtype)


def _text(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.ndarray) and value.shape == ():
        return _text(value[()])
    return value if isinstance(value, str) else None


def _integer(value, name):
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(())[()]
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise ModelFileError(f"{name} must be an integer, got {value!r}")
    return int(value)
