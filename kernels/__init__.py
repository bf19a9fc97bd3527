"""fastbp's compiled layer: ``@njit`` kernels over contiguous arrays of one dtype.

Kernels never validate, print or allocate per sample; they write into
caller-provided buffers. Everything policy-like lives in :mod:`fastbp`.

Modules, one concern each: :mod:`.activations`, :mod:`.dense`, :mod:`.dense_parallel` (layers
in blocks on the thread pool), :mod:`.fused` (small-batch row loops), :mod:`.microkernel` (the register-tile
product for skinny layers), :mod:`.blas` (which BLAS the matrix products call), :mod:`.losses`,
:mod:`.optimizers`, :mod:`.epoch`, :mod:`.views` (views without reference counts), :mod:`.denormals` (the
floating-point mode of training), :mod:`.codes` (the integer codes they take; plain constants), and
:mod:`.config` (the compiler options, the thread pool's layer from :mod:`.pool`, and :mod:`.cache`, which keeps
Numba's on-disk cache of them in step with their sources).

Importing this package loads no compiler: Numba is imported with the first compiled module.
"""
