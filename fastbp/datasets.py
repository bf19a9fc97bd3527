"""Data sets: the digits set shipped with fastbp, named datasets read from HDF5 files, and IDX files (MNIST)."""
import glob
import gzip
import os
from importlib import resources

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
    import h5py  # here, not at the top: see fastbp.streaming.is_h5_dataset
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
    import h5py
    item = f.get(name)
    if not isinstance(item, h5py.Dataset):
        names = []
        f.visititems(lambda key, obj: names.append(key) if isinstance(obj, h5py.Dataset) else None)
        raise ValueError(f"{path}: no dataset named {name!r} ({argument}=); the file has: "
                         f"{', '.join(names) or 'no datasets'}")
    return item


# IDX type codes (Y. LeCun's format, also Fashion-MNIST's and KMNIST's): big-endian element types.
IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
GZIP_MAGIC = b"\x1f\x8b"
MNIST_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
               "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def load_idx(path):
    """Read one IDX file (MNIST's format), gzip-compressed or not, into an array.

    Parameters
    ----------
    path : str or path-like
        An IDX file such as ``train-images-idx3-ubyte`` or ``train-images-idx3-ubyte.gz``;
        compression is recognised from the content, not the name.

    Returns
    -------
    ndarray
        Shape and element type as the header says (uint8 for MNIST), native byte order.

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    ValueError
        If the file is not IDX (bad magic number or type code), or is truncated or has bytes
        past its data; the message names the file.

    Examples
    --------
    >>> images = load_idx("MNIST/raw/train-images-idx3-ubyte.gz")   # doctest: +SKIP
    >>> images.shape                                                  # doctest: +SKIP
    (60000, 28, 28)
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        content = f.read()
    if content[:2] == GZIP_MAGIC:
        try:
            content = gzip.decompress(content)
        except (OSError, EOFError) as exc:
            raise ValueError(f"{path}: a damaged or truncated gzip file ({exc})") from None
    if len(content) < 4 or content[:2] != b"\0\0" or content[2] not in IDX_TYPES or content[3] == 0:
        raise ValueError(f"{path}: not an IDX file (expected the magic number 0x0000, a type code among "
                         f"{sorted(hex(t) for t in IDX_TYPES)} and at least one dimension)")
    dtype, n_dims = np.dtype(IDX_TYPES[content[2]]), content[3]
    header = 4 + 4 * n_dims
    if len(content) < header:
        raise ValueError(f"{path}: truncated IDX header ({len(content)} bytes, {header} expected)")
    shape = tuple(int(d) for d in np.frombuffer(content, dtype=">u4", count=n_dims, offset=4))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(content) - header != expected:
        state = "truncated" if len(content) - header < expected else "longer than its header says"
        raise ValueError(f"{path}: {state}: the header gives shape {shape} ({expected} bytes of data), "
                         f"the file has {len(content) - header}")
    return np.frombuffer(content, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def load_mnist(folder, kind="train", dtype=np.float32):
    """MNIST (or Fashion-MNIST, KMNIST) from the IDX files a user already has on disk.

    Parameters
    ----------
    folder : str or path-like
        The folder holding ``{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]``, or one above
        it: torchvision's root (``root/MNIST/raw`` after ``torchvision.datasets.MNIST(root,
        download=True)``, likewise ``FashionMNIST``, ``KMNIST``) or its ``raw`` folder's parent.
    kind : {"train", "test"}, default "train"
        The 60,000 training images or the 10,000 test images.
    dtype : numpy dtype, default numpy.float32

    Returns
    -------
    X : ndarray of shape (n_samples, rows * cols)
        Pixels scaled from 0..255 to [0, 1], one flattened image per row.
    y : ndarray of shape (n_samples,), int64
        Labels 0..9.

    Raises
    ------
    ValueError
        If ``kind`` is not "train" or "test", the files are not found (the message lists the
        folders searched), ambiguous, not IDX, or images and labels do not fit together.

    Examples
    --------
    >>> X, y = load_mnist("data")           # after torchvision.datasets.MNIST("data", download=True)  # doctest: +SKIP
    >>> net = fastbp.Network([784, 512, 256, 10], seed=0)                                               # doctest: +SKIP
    """
    if kind not in MNIST_FILES:
        raise ValueError(f"kind must be 'train' or 'test', got {kind!r}")
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ValueError(f"dtype must be a floating-point type, got {dtype}")
    images_path, labels_path = (_find_idx(os.fspath(folder), name) for name in MNIST_FILES[kind])
    images, labels = load_idx(images_path), load_idx(labels_path)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"{images_path} ({images.shape}) and {labels_path} ({labels.shape}) are not images "
                         f"(n, rows, cols) and labels (n,) of one set")
    X = images.reshape(len(images), -1).astype(dtype) / dtype.type(255)
    return X, labels.astype(np.int64)


def _find_idx(folder, name):
    """The path of IDX file ``name`` (plain preferred over .gz) in folder, folder/raw or folder/*/raw."""
    if not os.path.isdir(folder):
        raise ValueError(f"folder must be a folder holding the IDX files, got {folder!r}")
    places = [folder, os.path.join(folder, "raw")] + sorted(glob.glob(os.path.join(folder, "*", "raw")))
    for place in places:
        for candidate in (os.path.join(place, name), os.path.join(place, name + ".gz")):
            if os.path.isfile(candidate):
                found = [p for p in places[places.index(place) + 1:] if glob.glob(os.path.join(p, name + "*"))]
                if place != folder and found:
                    raise ValueError(f"{folder}: {name} is in more than one data set ({place}, {found[0]}); "
                                     "pass the one to use")
                return candidate
    raise ValueError(f"{folder}: no {name} or {name}.gz in {', '.join(places)}")
