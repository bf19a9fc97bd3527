"""Who owns the cores: one thread pool at a time in the hot path.

Large batches: the kernels call NumPy's OpenBLAS (see :mod:`fastbp.kernels.blas`) and BLAS
gets the threads. Batches of a few rows (:mod:`fastbp.kernels.fused`): no BLAS call at all, and
the kernels' own blocks run on Numba's thread pool. Batches in between
(:mod:`fastbp.kernels.dense_parallel`): each layer runs in blocks on Numba's pool, and every BLAS
call inside a block gets one thread. Running Numba's pool beside OpenBLAS's
busy-waiting pool oversubscribes the cores (an epoch measured 28 s instead of 1.9 s here),
so a compiled call uses one or the other, with the thread count set for its duration.

How many: ``default_thread_count`` (the CPUs the process may run on, capped by OPENBLAS_NUM_THREADS or
OMP_NUM_THREADS) unless a call or a ``default_threads`` block says otherwise. BLAS's count is one setting for
the whole process: fits running at once in several Python threads share it by ``blas_threads``' rule.

Numba's threading layer is TBB (chosen in :mod:`fastbp.kernels.pool`, where the reason is
given); without TBB the kernels run serially, and nothing else changes.

Numba is imported by the first ``kernel_threads`` block, not by this module: ``import fastbp``
loads no compiler (see :func:`parallel_kernels`).
"""
import contextlib
import ctypes
import itertools
import os
import threading

from threadpoolctl import ThreadpoolController

_default_threads = None  # what blas_threads(None) means; None: ``default_thread_count()``
# Where a user or a launcher caps the threads of numerical libraries, in OpenBLAS's own order of precedence.
# Dask's nanny sets both to 1 in its worker processes, and so do many batch-job scripts.
THREAD_LIMIT_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")

_blas = None  # threadpoolctl's controllers of the loaded BLAS libraries, found once
_controls = {}  # controller -> (get, set) of its thread count, as fastbp calls them (_thread_count_controls)
_blas_lock = threading.Lock()  # guards the two below
_blas_wishes = {}  # Python thread id -> the counts its open blas_threads blocks ask for, innermost last
_blas_before = []  # (library, its count) from before the first of the blocks now open


def usable_cores():
    """How many CPUs this process may run on: its CPU affinity where the OS keeps one (Linux: ``taskset``, a
    container's cpuset, a batch scheduler's allocation), else ``os.cpu_count()``, which counts the machine's."""
    if hasattr(os, "process_cpu_count"):  # Python 3.13+: the affinity's count, where there is one
        return os.process_cpu_count() or 1
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def environment_limit():
    """The thread count the environment asks for (the first of THREAD_LIMIT_VARIABLES holding a positive
    integer; for OMP_NUM_THREADS's list of nesting levels, its first), or None."""
    for name in THREAD_LIMIT_VARIABLES:
        value = os.environ.get(name, "").split(",")[0].strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return None


def default_thread_count():
    """The threads of a fit, prediction or score given none (``blas_threads=None``) outside a ``default_threads``
    block: the usable cores (``usable_cores``), or fewer where the environment asks (``environment_limit``).

    Both as NumPy's OpenBLAS itself starts. Raising its count past them put busy-waiting threads on a CPU that
    another was using. Under ``taskset -c 0`` on a 2-CPU machine, the 784-512-256-10 float32 net's epoch of 6000
    rows at batch 16 / 64 / 256 took 12.0 / 7.5 / 2.3 s with two BLAS threads, against 0.24 / 0.16 / 0.12 s with
    one (best of 2, one process). Two processes training at once with OMP_NUM_THREADS=1 and
    OPENBLAS_NUM_THREADS=1 set, as Dask's worker processes have them: 171-173 / 205-207 ms per epoch at batch 64
    / 1024 with two threads each, against 161-162 / 112-113 ms with one.
    """
    cores = usable_cores()
    limit = environment_limit()
    return cores if limit is None else min(limit, cores)


def parallel_kernels():
    """True when the compiled kernels may run on Numba's pool (its TBB layer is loaded).

    Loads the kernels' settings (:mod:`fastbp.kernels.config`), and with them Numba, on the first call:
    about half a second that ``import fastbp`` leaves to the first compiled call.
    """
    from fastbp.kernels.config import PARALLEL_KERNELS
    return PARALLEL_KERNELS


def _blas_libraries():
    """threadpoolctl's controllers of the BLAS libraries loaded when fastbp first asked (found once: a scan
    of the process's libraries takes milliseconds)."""
    global _blas
    if _blas is None:
        _blas = ThreadpoolController().select(user_api="blas").lib_controllers
        for library in _blas:
            _controls[library] = _thread_count_controls(library)
    return _blas


# The affixes of OpenBLAS builds' exported names (NumPy's: scipy_ and 64_), as threadpoolctl searches them.
_OPENBLAS_AFFIXES = tuple(itertools.product(("", "scipy_"), ("", "64_", "_64")))


def _thread_count_controls(library):
    """(get, set): functions reading and setting ``library``'s thread count that work from any Python thread.

    threadpoolctl (3.8) lets only the first Python thread that sets a pthreads OpenBLAS's count set it again,
    until that thread ends; its ``set_num_threads`` does nothing in any other. Fits in worker threads (a web
    server's, a ``ThreadPoolExecutor``'s) after one in the main thread then ran their one-thread blocks with
    two BLAS threads inside: the 784-512-256-10 epoch at batch 64 took 156 ms in a thread, 90 ms in the main
    thread. Two such fits at once in two threads took 981-993 ms per epoch each (175 ms with these controls and
    ``blas_threads``' smallest-count rule, 92 ms for one alone). So for those libraries fastbp calls
    OpenBLAS's own functions (its count is process-wide, as it always was); called directly they also take
    0.1 us where threadpoolctl's methods, which look the symbol up each time, took about 0.6 us.
    """
    if library.internal_api == "openblas" and getattr(library, "threading_layer", None) == "pthreads":
        dll = ctypes.CDLL(library.filepath)  # already loaded: this returns the same handle
        for prefix, suffix in _OPENBLAS_AFFIXES:
            getter = getattr(dll, f"{prefix}openblas_get_num_threads{suffix}", None)
            setter = getattr(dll, f"{prefix}openblas_set_num_threads{suffix}", None)
            if getter is not None and setter is not None:
                getter.argtypes, getter.restype = [], ctypes.c_int
                setter.argtypes, setter.restype = [ctypes.c_int], None
                return getter, setter
    return library.get_num_threads, library.set_num_threads


@contextlib.contextmanager
def blas_threads(n_threads):
    """Context manager limiting every loaded BLAS to ``n_threads`` threads.

    The BLAS thread count is one setting for the whole process. Blocks nest within a Python thread (the
    innermost one counts), and blocks open at once in several Python threads (concurrent fits) get the
    smallest count any of them asks for, so that no compiled call sees BLAS's threads raised under it (a
    one-thread block then ran two-threaded BLAS calls inside); the count from before the first open block
    comes back when the last one closes (each block used to restore its own predecessor's count, so one
    ending in another thread's block left that block's count behind). A fit's bits depend on its BLAS
    thread count, so concurrent fits are reproducible when they all ask for the same count.

    Only the libraries whose count differs are set. threadpoolctl's own ``limit`` reads every library's full
    description first: 11-14 us per call, twice per ``fit`` call (about 3% of a digits epoch at batch 16);
    a block here takes 2.8 us when nothing changes (1.5 us before it kept track of other threads' blocks).

    Parameters
    ----------
    n_threads : int or None
        Threads for BLAS; None means the number set by an enclosing ``default_threads`` block, else
        ``default_thread_count()``: the cores this process may use, or fewer where OPENBLAS_NUM_THREADS or
        OMP_NUM_THREADS asks.
    """
    global _blas_before
    wanted = n_threads or _default_threads or default_thread_count()
    me = threading.get_ident()
    with _blas_lock:
        if not _blas_wishes:
            _blas_before = [(library, _controls[library][0]()) for library in _blas_libraries()]
        _blas_wishes.setdefault(me, []).append(wanted)
        _set_blas(min(stack[-1] for stack in _blas_wishes.values()))
    try:
        yield
    finally:
        with _blas_lock:
            stack = _blas_wishes[me]
            stack.pop()
            if not stack:
                del _blas_wishes[me]
            _follow_wishes()


def _follow_wishes():
    """Set BLAS to the smallest count the open blocks ask for, or with none open back to the count from before
    the first of them (call with ``_blas_lock`` held)."""
    if _blas_wishes:
        _set_blas(min(stack[-1] for stack in _blas_wishes.values()))
        return
    for library, before in _blas_before:
        get, set_ = _controls[library]
        if before is not None and get() != before:
            set_(before)


def _after_fork_in_child():
    """A forked child has only the forking thread: drop the other threads' blocks and follow its own (or none),
    with a new lock (another thread may have held the old one at the fork, and would never release it)."""
    global _blas_lock, _blas_wishes
    _blas_lock = threading.Lock()
    me = threading.get_ident()
    if any(thread != me for thread in _blas_wishes):
        _blas_wishes = {me: _blas_wishes[me]} if me in _blas_wishes else {}
        _follow_wishes()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _set_blas(count):
    """Set every loaded BLAS whose thread count differs to ``count``."""
    for library in _blas_libraries():
        get, set_ = _controls[library]
        current = get()
        if current is not None and current != count:
            set_(count)


def blas_limit():
    """The number of threads the loaded BLAS libraries allow now (the largest), as threadpoolctl sees it:
    as it started (see ``default_thread_count``) unless something (joblib's workers, a caller's
    ``threadpool_limits``) changed it."""
    return max((library.get_num_threads() or 1 for library in _blas_libraries()), default=1)


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


@contextlib.contextmanager
def kernel_threads(n_threads):
    """Context manager giving the calling thread's compiled kernels ``n_threads`` threads of Numba's pool.

    Yields the count the kernels may use: 1 without the TBB layer (serial kernels), else
    ``n_threads`` (None: the ``default_threads`` setting or ``default_thread_count()``) capped at the pool's size.
    Numba's setting is per calling thread, so concurrent fits in several Python threads each
    keep their own.
    """
    import numba

    wanted = n_threads or _default_threads or default_thread_count()
    count = min(wanted, numba.config.NUMBA_NUM_THREADS) if parallel_kernels() else 1
    if count == 1:
        yield 1
        return
    previous = numba.get_num_threads()
    numba.set_num_threads(count)
    try:
        yield count
    finally:
        numba.set_num_threads(previous)


@contextlib.contextmanager
def layer_threads(n_threads, split=True):
    """Context manager for the BLAS-path training kernels: yields the number of blocks to split layers into.

    With ``split``, Numba's parallel kernels available and more than one thread wanted, the layers run
    in that many blocks on Numba's pool and every BLAS call inside them gets one thread (one pool in
    the hot path, see ``fastbp.kernels.dense_parallel``); otherwise yields 1 and BLAS gets the threads.
    """
    with kernel_threads(n_threads if split else 1) as count:
        if count == 1:
            with blas_threads(n_threads):
                yield 1
        else:
            with blas_threads(1):
                yield count
