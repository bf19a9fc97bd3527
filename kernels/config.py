"""Compiler options shared by every kernel, defined once, and the settings they run with.

Every compiled kernel module imports this module, so the first of them to be imported drops a stale
on-disk cache (:mod:`.cache`) before any kernel is loaded from it, and selects the thread pool's layer
(:mod:`.pool`) before any parallel kernel can launch.

fastmath is a subset: plain ``fastmath=True`` implies "nnan"/"ninf", which makes
``np.isfinite`` always true and would hide divergence. ``error_model="numpy"``
lets divisions vectorize (no ZeroDivisionError checks inside loops).
"""
from .cache import drop_stale_cache
from .pool import select_threading_layer

drop_stale_cache()
PARALLEL_KERNELS = select_threading_layer()

FASTMATH = {"nsz", "arcp", "contract", "reassoc"}

JIT_OPTIONS = dict(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")

# Kernels that only borrow their arrays: they allocate nothing and return no array (Numba refuses to
# compile a returned array without its runtime). Numba increfs every array argument on entry and
# decrefs it on exit, a call into its runtime each time, even for a view without a reference count:
# a digits step at batch 1 (64-32-10) made 98 NRT_incref and as many NRT_decref calls, 19% of its
# perf samples. Compiled without the runtime (``_nrt=False``) the kernels make none. The per-layer
# kernels first: the digits epoch at batch 1 took 2.49-2.70 ms against 2.78-3.41 ms; then the entry
# kernels, their scratch passed in (``epoch.scratch_length``): seed 001's XOR net, 1000 epochs of 4
# samples, 1.52-1.66 ms against 2.17-2.34 ms (old and new code alternated in fresh processes).
BORROWING_OPTIONS = dict(JIT_OPTIONS, _nrt=False)
