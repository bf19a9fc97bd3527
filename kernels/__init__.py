"""fastbp's compiled layer: ``@njit`` kernels over contiguous arrays of one dtype.

Kernels never validate, print or allocate per sample; they write into
caller-provided buffers. Everything policy-like lives in :mod:`fastbp`.

Modules, one concern each: :mod:`.activations`, :mod:`.dense`, :mod:`.dense_parallel` (layers
in blocks on the thread pool), :mod:`.fused` (small-batch row loops), :mod:`.blas` (which BLAS the matrix products call), :mod:`.losses`,
:mod:`.optimizers`, :mod:`.epoch`, :mod:`.views` (views without reference counts), and
:mod:`.cache` (which keeps Numba's on-disk cache of them in step with their sources: it runs
here, before any kernel is loaded).
"""
from .cache import drop_stale_cache

drop_stale_cache()
