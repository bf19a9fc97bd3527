"""Smoke pass of the asv suite so it never rots: asv check, then one quick run of every benchmark."""
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
pytest.importorskip("asv")


def _asv(*args, home):
    asv = shutil.which("asv") or str(pathlib.Path(sys.executable).parent / "asv")
    env = dict(os.environ, HOME=str(home))  # asv keeps its machine file in HOME
    return subprocess.run([asv, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)


def test_asv_check_and_quick_run(tmp_path):
    assert _asv("machine", "--yes", home=tmp_path).returncode == 0
    check = _asv("check", "--python=same", home=tmp_path)
    assert check.returncode == 0 and "No problems found" in check.stdout, check.stdout + check.stderr
    run = _asv("run", "--python=same", "--quick", "--dry-run", "--show-stderr", home=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "failed" not in run.stdout, run.stdout
    assert "bench_fit.MnistShaped.time_epoch" in run.stdout
