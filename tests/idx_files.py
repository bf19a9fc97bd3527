"""IDX files (MNIST's format) written by the tests themselves: nothing is downloaded."""
import gzip
import struct

import numpy as np


def write_idx(path, array, type_code=0x08, compress=False):
    """An IDX file as LeCun's format defines it: 0, 0, type code, n_dims, big-endian dims, big-endian data."""
    content = bytes([0, 0, type_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    content += array.astype(array.dtype.newbyteorder(">")).tobytes()
    with (gzip.open if compress else open)(path, "wb") as f:
        f.write(content)
    return path


def mnist_folder(root, rng, n_train=7, n_test=3, compress=False):
    """torchvision's layout under root: MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz];
    returns {"train": (images, labels), "test": (images, labels)}."""
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    sets = {}
    for kind, prefix, n in (("train", "train", n_train), ("test", "t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        suffix = ".gz" if compress else ""
        write_idx(raw / f"{prefix}-images-idx3-ubyte{suffix}", images, compress=compress)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte{suffix}", labels, compress=compress)
        sets[kind] = images, labels
    return sets
