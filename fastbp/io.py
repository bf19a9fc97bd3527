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
    rng_state        uint64 (6,): PCG64 state (high, low 64 bits), increment (high, low),
                     has_uint32, uinteger, so shuffling resumes exactly
    /layers/<l>/W    (fan_in, fan_out) weights of layer l; /layers/<l>/b (fan_out,) biases
    /optimizer       optional group: attributes name ("sgd"/"adam"), step; datasets
                     state1, state2 (momentum velocity or Adam moments, flat like the parameters)
    /history         optional group: one float64 dataset per metric, "epoch" (int64);
                     attributes stop_reason, best_epoch when set

Texts are fixed-length byte strings and every dataset carries a Fletcher-32 checksum, in
HDF5's latest file format, whose metadata is checksummed too: a damaged file is refused
instead of loading altered weights. Before reading any value, ``load`` checks that its type
is a plain number or fixed-length string (variable-length data makes HDF5 follow pointers
stored in the file). Every name read back is checked against fastbp's own lists: a file can
only ever select one of the built-in activations, losses and optimizers, never code.
"""
import os
import tempfile

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
    path = _check_path(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot save to {path!r}: the folder {folder!r} does not exist")
    handle, temporary = tempfile.mkstemp(prefix=".fastbp-", suffix=".h5.tmp", dir=folder)
    os.close(handle)
    import h5py  # here, not at the top: see fastbp.streaming.is_h5_dataset
    try:
        with h5py.File(temporary, "w", libver="latest") as f:
            _write(f, net)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def open_h5(path, what, error=ValueError):
    """(path as str, h5py.File open for reading); FileNotFoundError naming ``what`` if there is no
    file, ``error`` if the file is not readable as HDF5."""
    path = _check_path(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no {what} at {path!r}")
    import h5py
    try:
        return path, h5py.File(path, "r")
    except OSError as exc:
        raise error(f"{path}: not a readable HDF5 file (truncated or not HDF5): {exc}") from None


def _check_path(path):
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file name (str or os.PathLike), got {path!r}")
    return os.fspath(path)


def _write(f, net):
    from fastbp import __version__
    _put_text(f, "format", FORMAT)
    f.attrs["format_version"] = np.int64(FORMAT_VERSION)
    _put_text(f, "fastbp_version", __version__)
    f.attrs["layers"] = np.array(net.layers, dtype=np.int64)
    f.attrs["activation"] = np.array([name.encode() for name in net.activation], dtype="S16")
    _put_text(f, "output", net.output)
    _put_text(f, "loss", net.loss_function)
    _put_text(f, "init", net.init or "")
    _put_text(f, "dtype", net.dtype.name)
    if net.seed is not None:
        f.attrs["seed"] = np.int64(net.seed)
    f.attrs["rng_state"] = _rng_words(net._rng.bit_generator.state)
    for l, (W, b) in enumerate(zip(net.weights, net.biases)):
        group = f.create_group(f"layers/{l}")
        _put_array(group, "W", W)
        _put_array(group, "b", b)
    if net.optimizer_state is not None:
        group = f.create_group("optimizer")
        _put_text(group, "name", net.optimizer_state["optimizer"])
        group.attrs["step"] = np.int64(net.optimizer_state["step"])
        _put_array(group, "state1", net.optimizer_state["state1"])
        _put_array(group, "state2", net.optimizer_state["state2"])
    if net.history is not None:
        group = f.create_group("history")
        _put_array(group, "epoch", np.array(net.history.epoch, dtype=np.int64))
        for key, values in net.history.history.items():
            _put_array(group, key, np.array(values, dtype=np.float64))
        if net.history.stop_reason is not None:
            _put_text(group, "stop_reason", net.history.stop_reason)
        if net.history.best_epoch is not None:
            group.attrs["best_epoch"] = np.int64(net.history.best_epoch)


def _put_text(obj, name, text):
    obj.attrs[name] = np.bytes_(text.encode())  # fixed length: stored inline, no heap pointer


def _put_array(group, name, values):
    if values.size:
        group.create_dataset(name, data=values, chunks=values.shape, fletcher32=True)
    else:
        group.create_dataset(name, data=values)


def _rng_words(state):
    mask = (1 << 64) - 1
    s, inc = state["state"]["state"], state["state"]["inc"]
    return np.array([s >> 64, s & mask, inc >> 64, inc & mask, state["has_uint32"], state["uinteger"]],
                    dtype=np.uint64)


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
    path, f = open_h5(path, "model file", ModelFileError)
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
    if _plain_type(f, "format") != "S" or _text(f, "format") != FORMAT:
        raise ModelFileError(f"not a fastbp model file (no {FORMAT!r} format attribute)")
    version = _integer(f, "format_version")
    if version > FORMAT_VERSION:
        raise ModelFileError(f"written in format version {version}, newer than this fastbp reads "
                             f"({FORMAT_VERSION}); upgrade fastbp to load it")
    if version < 1:
        raise ModelFileError(f"invalid format_version {version}")
    layers = _attribute(f, "layers")
    if layers.ndim != 1 or layers.dtype.kind not in "iu":
        raise ModelFileError(f"layers must be a list of integer widths, got {layers!r}")
    dtype = _text(f, "dtype")
    if dtype not in ("float32", "float64"):
        raise ModelFileError(f"dtype must be float32 or float64, got {dtype!r}")
    activation = [name.decode("utf-8", errors="replace") for name in np.atleast_1d(_attribute(f, "activation"))
                  if isinstance(name, bytes)]
    seed = _integer(f, "seed") if "seed" in f.attrs else None
    output, loss, init = _text(f, "output"), _text(f, "loss"), _text(f, "init") or None
    try:
        net = Network([int(n) for n in layers], activation=activation, output=output, loss=loss, init=init,
                      dtype=np.dtype(dtype), seed=seed)
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"invalid architecture: {exc}") from None
    if len(f["layers"]) != len(net.weights):
        raise ModelFileError(f"has {len(f['layers'])} layer groups for {len(net.weights)} layers")
    for l, (W, b) in enumerate(zip(net.weights, net.biases)):
        W[...] = _array(f, f"layers/{l}/W", W.shape, net.dtype)
        b[...] = _array(f, f"layers/{l}/b", b.shape, net.dtype)
    _read_rng_state(f, net)
    if "optimizer" in f:
        net.optimizer_state = _read_optimizer(f["optimizer"], net)
    if "history" in f:
        net.history = _read_history(f["history"])
    return net


def _read_rng_state(f, net):
    words = _attribute(f, "rng_state")
    if words.shape != (6,) or words.dtype != np.uint64 or words[4] > 1 or words[5] >= 2 ** 32:
        raise ModelFileError("rng_state must be 6 uint64 words with has_uint32 in {0, 1}")
    high, low, inc_high, inc_low, has_uint32, uinteger = (int(w) for w in words)
    net._rng.bit_generator.state = {"bit_generator": "PCG64",
                                    "state": {"state": high << 64 | low, "inc": inc_high << 64 | inc_low},
                                    "has_uint32": has_uint32, "uinteger": uinteger}


def _read_optimizer(group, net):
    name = _text(group, "name")
    if name not in registry.OPTIMIZERS:
        raise ModelFileError(f"unknown optimizer {name!r}")
    step = _integer(group, "step")
    if step < 0:
        raise ModelFileError(f"optimizer step must be >= 0, got {step}")
    return {"optimizer": name, "step": step,
            "state1": _array(group, "state1", net._params.shape, net.dtype, "optimizer/"),
            "state2": _array(group, "state2", net._params.shape, net.dtype, "optimizer/")}


def _read_history(group):
    epochs = _array(group, "epoch", None, np.int64, "history/")
    if epochs.ndim != 1:
        raise ModelFileError(f"history/epoch must be 1-D, got shape {epochs.shape}")
    keys = [key for key in group if key != "epoch"]
    allowed = {"loss", "accuracy", "val_loss", "val_accuracy", "lr"}
    if not set(keys) <= allowed:
        raise ModelFileError(f"unknown history metrics {sorted(set(keys) - allowed)}")
    history = History(keys)
    history.epoch = [int(e) for e in epochs]
    for key in keys:
        history.history[key] = [float(v) for v in _array(group, key, epochs.shape, np.float64, "history/")]
    if "stop_reason" in group.attrs:
        history.stop_reason = _text(group, "stop_reason")
    if "best_epoch" in group.attrs:
        history.best_epoch = _integer(group, "best_epoch")
    return history


def _array(group, name, shape, dtype, prefix=""):
    import h5py
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


def _plain_type(obj, name):
    """Kind of attribute ``name`` ("i", "u", "f", "S"), or None if it is missing or of any other type."""
    if name not in obj.attrs:
        return None
    kind = obj.attrs.get_id(name).dtype.kind
    return kind if kind in "iufS" else None


def _attribute(obj, name):
    """Attribute ``name`` as a NumPy value, read only after its stored type proved plain."""
    if _plain_type(obj, name) is None:
        what = "missing" if name not in obj.attrs else "not numbers or fixed-length text"
        raise ModelFileError(f"attribute {name!r} of {obj.name} is {what}")
    return np.asarray(obj.attrs[name])


def _text(obj, name):
    value = _attribute(obj, name)
    if value.dtype.kind != "S" or value.shape != ():
        raise ModelFileError(f"attribute {name!r} of {obj.name} must be text")
    return value[()].decode("utf-8", errors="replace")


def _integer(obj, name):
    value = _attribute(obj, name)
    if value.dtype.kind not in "iu" or value.size != 1:
        raise ModelFileError(f"attribute {name!r} of {obj.name} must be an integer, got {value!r}")
    return int(value.reshape(()))
