"""fastbp.threads: who owns the cores."""
import os
import subprocess
import sys

import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from fastbp import threads


def _blas_counts():
    return [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]


def test_blas_threads_limits_inside_and_restores_after_even_on_error():
    before = _blas_counts()
    assert before, "NumPy's BLAS should be visible to threadpoolctl"
    with pytest.raises(RuntimeError):
        with threads.blas_threads(1):
            assert _blas_counts() == [1] * len(before)
            with threads.blas_threads(2):
                assert _blas_counts() == [2] * len(before)
            assert _blas_counts() == [1] * len(before)
            raise RuntimeError("inside")
    assert _blas_counts() == before


def test_blas_threads_none_means_the_default_threads_setting_or_all_usable_cores():
    with threads.blas_threads(1):
        with threads.blas_threads(None):
            assert threads.blas_limit() == threads.usable_cores()
        with threads.default_threads(1), threads.blas_threads(None):
            assert threads.blas_limit() == 1


def test_blas_limit_sees_a_callers_threadpool_limits():
    with threadpool_limits(1, user_api="blas"):
        assert threads.blas_limit() == 1


def test_default_thread_count_is_the_cpus_the_process_may_run_on_not_the_machines(monkeypatch):
    # A process allowed one CPU (taskset, a container's cpuset) on a larger machine: BLAS's busy-waiting threads
    # given the machine's count shared that CPU, and epochs took 30-50x longer (see usable_cores).
    monkeypatch.delattr(os, "process_cpu_count", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert threads.usable_cores() == 1
    with threads.blas_threads(4):
        with threads.blas_threads(None):
            assert threads.blas_limit() == 1
        with threads.kernel_threads(None) as count:
            assert count == 1


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs CPU affinity and at least two usable CPUs")
def test_a_process_pinned_to_one_cpu_gives_blas_one_thread():
    script = ("import os\n"
              "os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})\n"
              "from fastbp import threads\n"
              "with threads.blas_threads(2):\n"
              "    with threads.blas_threads(None):\n"
              "        print(threads.blas_limit())\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.split() == ["1"]
