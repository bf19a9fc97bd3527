"""The kernels' on-disk cache follows their sources as one unit (kernels/cache.py)."""
import os
import pathlib
import shutil
import subprocess
import sys

from fastbp.kernels import cache

COMPILE_ONE = ("import numpy as np\nfrom fastbp.kernels import activations, cache\n"
               "activations.activate(np.zeros((2, 2)), 1)\nprint(cache.cache_dir())\n")


def _run(code, cache_root):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_root)}
    return subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True)


def _cache_files(directory):
    return {path.name: path.stat().st_mtime_ns for path in directory.glob("*.nb[ic]")}


def test_a_stale_kernel_cache_is_dropped_before_any_kernel_loads(tmp_path):
    directory = pathlib.Path(_run(COMPILE_ONE, tmp_path).stdout.split()[-1])
    written = _cache_files(directory)
    assert any(name.startswith("activations.activate") for name in written)
    stamp = directory / cache.STAMP
    assert stamp.read_text() == cache.sources_digest()
    _run(COMPILE_ONE, tmp_path)  # same sources: the cache is kept and loaded, not rewritten
    assert _cache_files(directory) == written
    stamp.write_text("the digest of an older checkout")  # what a git pull into an editable install leaves
    _run("import fastbp.kernels", tmp_path)
    assert _cache_files(directory) == {}
    assert stamp.read_text() == cache.sources_digest()


def test_the_digest_covers_every_kernel_module(tmp_path, monkeypatch):
    copy = tmp_path / "kernels"
    shutil.copytree(cache.KERNEL_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(cache, "KERNEL_DIR", copy)
    before = cache.sources_digest()
    assert before == cache.sources_digest()
    losses = copy / "losses.py"
    losses.write_text(losses.read_text() + "\n# edited\n")
    assert cache.sources_digest() != before
