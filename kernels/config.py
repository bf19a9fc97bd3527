"""Compiler options shared by every kernel, defined once.

fastmath is a subset: plain ``fastmath=True`` implies "nnan"/"ninf", which makes
``np.isfinite`` always true and would hide divergence. ``error_model="numpy"``
lets divisions vectorize (no ZeroDivisionError checks inside loops).
"""

FASTMATH = {"nsz", "arcp", "contract", "reassoc"}

JIT_OPTIONS = dict(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
