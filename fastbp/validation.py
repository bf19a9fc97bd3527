"""Validation and coercion at the edge: everything a kernel receives is checked here first.

Each function raises ValueError or TypeError naming the argument and what was
expected, and returns new arrays without touching the caller's.
"""
import ctypes
import numbers

import numpy as np


def _as_numeric_array(value, name):
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be array-like of numbers, got {type(value).__name__}") from exc
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers (bool, int or float), got dtype {array.dtype}")
    return array


def _check_finite(array, name):
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite, but contains NaN or infinity")


def _coerce(array, dtype, name):
    """C-contiguous, aligned, native ``dtype`` copy (or the array itself, or for a read-only array a writeable
    view of it: see ``kernel_view``); refuses values the cast turns into inf.

    Alignment matters: arrays received from other processes (Dask, shared memory) may be
    unaligned, and Numba compiles a separate, slower kernel for those.
    """
    with np.errstate(over="ignore"):
        result = np.require(array, dtype=dtype, requirements=["C", "A"])
    if result is not array and not np.isfinite(result).all():
        limit = np.finfo(dtype).max
        raise ValueError(f"{name} must be within +-{limit:.4g} to fit {np.dtype(dtype).name}; larger values overflow")
    return kernel_view(result)


def kernel_view(array):
    """``array``, or for a read-only one a writeable view of the same memory, for kernels that only read it.

    Numba types a read-only array apart from a writeable one, so read-only input (joblib's memory-mapped
    arrays in worker processes, ``np.broadcast_to``, a frozen array) compiled a second copy of every
    kernel it reached, seconds of compile on a first call. No copy is made: the view aliases
    ``array``'s memory and keeps ``array`` alive; the kernels never write their inputs.
    """
    if array.flags.writeable or array.nbytes == 0:
        return array
    memory = (ctypes.c_char * array.nbytes).from_address(array.ctypes.data)
    memory.owner = array  # the view's base is ``memory``: through it, the view keeps ``array`` alive
    return np.frombuffer(memory, dtype=array.dtype).reshape(array.shape)


def check_features(X, n_features, dtype, name="X"):
    """Coerce X to a C-contiguous (n_samples, n_features) array of ``dtype``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    n_features : int
        Width of the network's input layer.
    dtype : numpy dtype
    name : str
        Argument name used in error messages.

    Returns
    -------
    ndarray of shape (n_samples, n_features), C-contiguous, native byte order.

    Raises
    ------
    TypeError
        For non-numeric input.
    ValueError
        For a wrong shape, no samples, or NaN/inf.
    """
    array = _as_numeric_array(X, name)
    if array.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, {n_features}), got shape {array.shape}")
    if array.shape[0] == 0:
        raise ValueError(f"{name} must have at least one sample, got shape {array.shape}")
    if array.shape[1] != n_features:
        raise ValueError(f"{name} must have {n_features} features (columns), got {array.shape[1]}")
    _check_finite(array, name)
    return _coerce(array, dtype, name)


def check_targets(y, loss, n_outputs, n_samples, dtype, name="y"):
    """Coerce targets to a C-contiguous float matrix (n_samples, n_outputs) the kernels take.

    Parameters
    ----------
    y : array-like
        cross_entropy: integer class labels of shape (n_samples,) in [0, n_outputs).
        binary_cross_entropy: values in [0, 1] of shape (n_samples,) when n_outputs == 1,
        or (n_samples, n_outputs). mse: real values, same shapes.
    loss : str
    n_outputs, n_samples : int
    dtype : numpy dtype
    name : str

    Returns
    -------
    ndarray of shape (n_samples, n_outputs); one-hot rows for cross_entropy.

    Raises
    ------
    TypeError, ValueError
    """
    array = _as_numeric_array(y, name)
    if array.shape[:1] != (n_samples,):
        raise ValueError(f"{name} must have {n_samples} rows (one per sample of X), got shape {array.shape}")
    _check_finite(array, name)
    if loss == "cross_entropy":
        if array.ndim == 2 and array.shape[1] == 1:
            array = array[:, 0]
        if array.ndim != 1:
            raise ValueError(f"{name} must be 1-D integer class labels for cross_entropy, got shape {array.shape}")
        labels = array.astype(np.int64)
        if (labels != array).any():
            raise ValueError(f"{name} must hold integer class labels for cross_entropy")
        if labels.min() < 0 or labels.max() >= n_outputs:
            raise ValueError(f"{name} labels must be in [0, {n_outputs - 1}], "
                             f"got range [{labels.min()}, {labels.max()}]")
        onehot = np.zeros((n_samples, n_outputs), dtype=dtype)
        onehot[np.arange(n_samples), labels] = 1
        return onehot
    if array.ndim == 1 and n_outputs == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[1] != n_outputs:
        expected = f"({n_samples},) or ({n_samples}, 1)" if n_outputs == 1 else f"({n_samples}, {n_outputs})"
        raise ValueError(f"{name} must have shape {expected}, got {array.shape}")
    if loss == "binary_cross_entropy" and ((array < 0).any() or (array > 1).any()):
        raise ValueError(f"{name} must be in [0, 1] for binary_cross_entropy")
    return _coerce(array, dtype, name)


def check_int(value, name, minimum):
    """Return ``value`` as int, requiring an integer >= minimum (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def check_float(value, name, low, high, low_open=False, high_open=False):
    """Return ``value`` as float, requiring a finite real in the given interval."""
    interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number in {interval}, got {value!r}")
    value = float(value)
    if not np.isfinite(value) or value < low or value > high or (low_open and value == low) \
            or (high_open and value == high):
        raise ValueError(f"{name} must be a finite number in {interval}, got {value}")
    return value


def check_bool(value, name):
    """Return ``value`` if it is a bool (numpy bools included)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_choice(value, name, choices):
    """Return ``value`` if it is one of ``choices`` (strings)."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value
