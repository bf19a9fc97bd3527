"""Who owns the cores: fastbp's kernels are serial and BLAS gets the threads.

The kernels call NumPy's OpenBLAS (see :mod:`fastbp.kernels.blas`). Running a Numba
thread pool beside OpenBLAS's busy-waiting pool oversubscribes the cores (an epoch
measured 28 s instead of 1.9 s here), so fastbp never starts a Numba pool and sets
the BLAS thread count explicitly for the duration of each compiled call.
"""
import contextlib
import os

from threadpoolctl import ThreadpoolController

_controller = None
_default_threads = None  # what blas_threads(None) means; None: all cores


def blas_threads(n_threads):
    """Context manager limiting every loaded BLAS to ``n_threads`` threads.

    Parameters
    ----------
    n_threads : int or None
        Threads for BLAS; None means the default: all cores (``os.cpu_count()``), or
        the number set by an enclosing ``default_threads`` block.
    """
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    return _controller.limit(limits=n_threads or _default_threads or os.cpu_count() or 1, user_api="blas")


@contextlib.contextmanager
def default_threads(n_threads):
    """Within this block, every fastbp call not given ``blas_threads`` uses ``n_threads`` BLAS threads.

    For worker processes that share the machine with others: a prediction using all cores
    would leave OpenBLAS threads spinning on cores the other workers are training on.
    """
    global _default_threads
    previous, _default_threads = _default_threads, n_threads
    try:
        yield
    finally:
        _default_threads = previous
