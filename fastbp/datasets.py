"""Data sets: the digits set shipped with fastbp, and named datasets read from HDF5 files."""
from importlib import resources

import h5py
import numpy as np

from fastbp.io import open_h5


def load_digits(dtype=np.float32):
    """The 1797 handwritten digits of the UCI optical digits set (8x8 images, 10 classes).

    Read from a small HDF5 file shipped inside the package (UCI ML Optical
    Recognition of Handwritten Digits, E. Alpaydin and C. Kaynak, CC BY 4.0).

    Parameters
    ----------
    dtype : numpy dtype, default numpy.float32
        dtype of X.

    Returns
    -------
    X : ndarray of shape (1797, 64)
        Pixel intensities scaled from 0..16 to [0, 1].
    y : ndarray of shape (1797,), int64
        Digit labels 0..9.
    """
    with resources.as_file(resources.files("fastbp") / "data" / "digits.h5") as path:
        with h5py.File(path, "r") as f:
            X = f["X"][...]
            y = f["y"][...]
    return (X / 16.0).astype(dtype), y.astype(np.int64)


def load_h5(path, x="X", y="y", dtype=None):
    """Read named datasets from an HDF5 file into memory.

    For training sets larger than memory, pass the open h5py datasets to ``fit``
    instead: it streams them chunk by chunk.

    Parameters
    ----------
    path : str or path-like
    x : str, default "X"
        Name (path inside the file) of the features, shape (n_samples, n_features).
    y : str or None, default "y"
        Name of the targets, n_samples rows; None reads the features only.
    dtype : numpy dtype or None
        Cast the features to this dtype; None keeps the file's.

    Returns
    -------
    X : ndarray
    y : ndarray
        Only when ``y`` is not None.

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    ValueError
        If the file is not HDF5, a name is missing or not a dataset, or the row counts differ;
        the message names the file, the argument and the datasets the file has.

    Examples
    --------
    >>> X, y = load_h5("train.h5", x="features", y="labels")   # doctest: +SKIP
    """
    path, f = open_h5(path, "data file")
    with f:
        X = _dataset(f, path, x, "x")[()]
        if dtype is not None:
            X = X.astype(dtype)
        if y is None:
            return X
        labels = _dataset(f, path, y, "y")[()]
    if labels.shape[:1] != X.shape[:1]:
        raise ValueError(f"{path}: y={y!r} has {labels.shape[:1]} rows but x={x!r} has {X.shape[:1]}")
    return X, labels


def _dataset(f, path, name, argument):
    if not isinstance(name, str):
        raise TypeError(f"{argument} must be the name of a dataset in the file, got {name!r}")
    item = f.get(name)
    if not isinstance(item, h5py.Dataset):
        names = []
        f.visititems(lambda key, obj: names.append(key) if isinstance(obj, h5py.Dataset) else None)
        raise ValueError(f"{path}: no dataset named {name!r} ({argument}=); the file has: "
                         f"{', '.join(names) or 'no datasets'}")
    return item
