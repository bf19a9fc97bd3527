"""fastbp's compiled layer: ``@njit`` kernels over contiguous arrays of one dtype.

Kernels never validate, print or allocate per sample; they write into
caller-provided buffers. Everything policy-like lives in :mod:`fastbp`.

Modules, one concern each: :mod:`.activations`, :mod:`.dense`, :mod:`.blas` (which
BLAS the matrix products call), :mod:`.losses`, :mod:`.optimizers`, :mod:`.epoch`, and
:mod:`.views` (views without reference counts).
"""
