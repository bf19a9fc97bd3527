"""Rebuild fastbp/data/digits.h5 from scikit-learn's copy of the UCI optical digits data.

The data: E. Alpaydin, C. Kaynak, "Optical Recognition of Handwritten Digits",
UCI Machine Learning Repository (CC BY 4.0), the 1797-sample 8x8 set that
scikit-learn ships. Run once by a maintainer: ``python tools/make_digits_h5.py``.
"""
import pathlib

import h5py
import numpy as np
from sklearn.datasets import load_digits

out = pathlib.Path(__file__).resolve().parents[1] / "fastbp" / "data" / "digits.h5"
digits = load_digits()
with h5py.File(out, "w") as f:
    f.attrs["source"] = "UCI ML Optical Recognition of Handwritten Digits (CC BY 4.0), via scikit-learn"
    f.create_dataset("X", data=digits.data.astype(np.uint8), compression="gzip", compression_opts=9)
    f.create_dataset("y", data=digits.target.astype(np.uint8), compression="gzip", compression_opts=9)
print(out, out.stat().st_size, "bytes")
