"""Data sets shipped with fastbp."""
from importlib import resources

import h5py
import numpy as np


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
