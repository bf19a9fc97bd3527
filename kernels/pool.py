"""Which threading layer Numba's pool runs the parallel kernels (:mod:`.dense_parallel`, :mod:`.fused`) on.

TBB: the only layer that survives both ``fork()`` after a parallel call (GNU OpenMP aborts the
child) and launches from several Python threads at once (the workqueue layer aborts). PyPI's
``tbb`` package installs ``libtbb.so.12`` in ``<prefix>/lib``, where Numba's extension does not
look, so it is loaded here first. Without a usable TBB the parallel kernels still compile, on the
workqueue layer, and :mod:`fastbp.threads` never launches them (``PARALLEL_KERNELS`` is False).

The layer must be chosen before the first parallel launch, and a kernel may be called without
going through :mod:`fastbp` (the tests, asv): so :mod:`.config`, which every compiled kernel module
imports, chooses it.
"""
import ctypes
import glob
import os
import sys

import numba


def select_threading_layer():
    """Make Numba's TBB threading layer loadable and select it; True when it is (else workqueue, False)."""
    for path in sorted(glob.glob(os.path.join(sys.prefix, "lib", "libtbb.so.12*"))):
        try:
            ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
            break
        except OSError:
            continue
    try:
        from numba.np.ufunc import tbbpool  # noqa: F401  (raises ImportError without a usable libtbb)
    except ImportError:
        numba.config.THREADING_LAYER = "workqueue"
        return False
    numba.config.THREADING_LAYER = "tbb"
    return True
