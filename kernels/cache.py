"""Keeps Numba's on-disk cache of the kernels consistent with their sources.

Numba keys each cached function on its own source file only. After a change to one kernel
module, callers cached from another keep running the old code: with ``activations.py`` edited
and ``epoch.py`` untouched, a tanh fit went on with the replaced tanh (600 us per step where the
new code takes 214 us) until the cache files were deleted by hand. A ``git pull`` into an editable
install (the README's set-up) does exactly that, and a changed formula would silently keep its
old value.

So the kernels' cache is treated as one unit: a digest of every kernel module's source is kept
beside the cache files, and when it differs, the kernels' cache files are removed before any
kernel is loaded. A pip install rewrites every file and is unaffected either way.
"""
import hashlib
import os
import pathlib

from numba import njit

KERNEL_DIR = pathlib.Path(__file__).resolve().parent
STAMP = "fastbp-kernels.digest"


def sources_digest():
    """SHA-256 over the names and contents of the kernel modules."""
    digest = hashlib.sha256()
    for path in sorted(KERNEL_DIR.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def cache_dir():
    """Where Numba caches functions defined in the kernel modules (beside them, or NUMBA_CACHE_DIR's mirror);
    None when nothing is cached (NUMBA_DISABLE_JIT)."""
    probe = njit(cache=True)(_probe)  # never compiled: only its cache locator is asked
    cache = getattr(probe, "_cache", None)
    return None if cache is None else pathlib.Path(cache._cache_path)


def _probe():
    return 0


def drop_stale_cache():
    """Remove the kernels' cache files when the sources changed since they were written; True if it did.

    Files it cannot remove or write (a read-only install) are left alone: Numba then recompiles
    only what its own per-file check finds stale, as without this module.
    """
    directory = cache_dir()
    if directory is None:
        return False
    stamp = directory / STAMP
    digest = sources_digest()
    try:
        if stamp.read_text() == digest:
            return False
    except OSError:
        pass
    modules = {path.stem for path in KERNEL_DIR.glob("*.py")}
    for entry in directory.glob("*.nb[ic]"):
        if entry.name.split(".", 1)[0] in modules:
            try:
                entry.unlink()
            except OSError:
                pass
    try:
        directory.mkdir(parents=True, exist_ok=True)
        stamp.write_text(digest)
    except OSError:
        pass
    return True
