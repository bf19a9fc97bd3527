"""fastbp.threads: who owns the cores."""
import contextlib
import os
import subprocess
import sys
import threading

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
            assert threads.blas_limit() == threads.default_thread_count()
        with threads.default_threads(1), threads.blas_threads(None):
            assert threads.blas_limit() == 1


def test_blas_limit_sees_a_callers_threadpool_limits():
    with threadpool_limits(1, user_api="blas"):
        assert threads.blas_limit() == 1


@pytest.fixture
def eight_cpu_machine(monkeypatch):
    """A machine of 8 CPUs, no thread variables set; returns a function setting the process's affinity."""
    for name in threads.THREAD_LIMIT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delattr(os, "process_cpu_count", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)

    def allow(cpus):
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(cpus), raising=False)
    allow(range(8))
    return allow


def test_default_thread_count_is_the_cpus_the_process_may_run_on_not_the_machines(eight_cpu_machine):
    # A process allowed one CPU (taskset, a container's cpuset) on a larger machine: BLAS's busy-waiting threads
    # given the machine's count shared that CPU, and epochs took 19-50x longer (see default_thread_count).
    eight_cpu_machine({3})
    assert threads.usable_cores() == 1 and threads.default_thread_count() == 1
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


@pytest.mark.parametrize("variables, expected", [
    ({}, 8),
    ({"OMP_NUM_THREADS": "1"}, 1),
    ({"OPENBLAS_NUM_THREADS": "1"}, 1),
    ({"OPENBLAS_NUM_THREADS": "3", "OMP_NUM_THREADS": "1"}, 3),  # OpenBLAS's own variable first, as OpenBLAS reads
    ({"OMP_NUM_THREADS": "4,2"}, 4),  # nesting levels: the outer one
    ({"OMP_NUM_THREADS": "64"}, 8),  # never more than the usable cores
    ({"OMP_NUM_THREADS": "0"}, 8),  # not a thread count: ignored
    ({"OMP_NUM_THREADS": "two", "OPENBLAS_NUM_THREADS": ""}, 8),
])
def test_default_thread_count_follows_the_environments_thread_variables(eight_cpu_machine, monkeypatch, variables,
                                                                       expected):
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert threads.default_thread_count() == expected


def test_a_process_with_dasks_worker_variables_gives_blas_one_thread():
    # Dask's nanny starts worker processes with these set to 1: two such processes each training with two threads
    # took 206 ms per epoch at batch 1024, against 112 ms with one (see default_thread_count).
    script = ("from fastbp import threads\n"
              "with threads.blas_threads(2):\n"
              "    with threads.blas_threads(None):\n"
              "        print(threads.blas_limit())\n"
              "    with threads.kernel_threads(None) as count:\n"
              "        print(count)\n")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120,
                         env=env)
    assert out.stdout.split() == ["1", "1"]


def _in_thread(function):
    """Run ``function`` in a new Python thread; return its result (or raise its exception)."""
    result = {}

    def run():
        try:
            result["value"] = function()
        except BaseException as exc:  # noqa: BLE001  (re-raised in the caller)
            result["error"] = exc
    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]


def test_blas_threads_takes_effect_in_a_thread_other_than_the_one_that_set_it_first():
    # threadpoolctl lets only the first Python thread that sets OpenBLAS's count set it again: a fit in a worker
    # thread after one in the main thread ran its one-thread blocks with two BLAS threads inside.
    with threads.blas_threads(2):
        assert threads.blas_limit() == 2

    def in_worker():
        with threads.blas_threads(1):
            return threads.blas_limit()
    assert _in_thread(in_worker) == 1


@contextlib.contextmanager
def _block_open_in_another_thread(count):
    """While this is open, a worker thread holds ``threads.blas_threads(count)`` open; ``release()`` ends it early."""
    opened, release = threading.Event(), threading.Event()

    def worker():
        with threads.blas_threads(count):
            opened.set()
            release.wait(30)

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        assert opened.wait(30)
        yield lambda: (release.set(), thread.join())
    finally:
        release.set()
        thread.join()


def test_concurrent_blocks_get_the_smallest_count_and_the_last_to_close_restores_the_first_ones():
    with threadpool_limits(3, user_api="blas"):
        with threads.blas_threads(2):
            with _block_open_in_another_thread(1) as release:
                assert threads.blas_limit() == 1  # both open: no fit sees BLAS's threads raised under it
                release()
                assert threads.blas_limit() == 2  # the worker's block closed first: the main thread's count again
        assert threads.blas_limit() == 3  # the count from before the first block, not the worker's predecessor


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_forked_child_forgets_the_blas_blocks_of_threads_it_does_not_have():
    with threadpool_limits(3, user_api="blas"), _block_open_in_another_thread(1):
        assert threads.blas_limit() == 1
        pid = os.fork()
        if pid == 0:  # the child: the worker's block is not open here, so nothing holds BLAS at one thread
            try:
                ok = [threads.blas_limit() == 3]  # the count from before the worker's block
                with threads.blas_threads(2):
                    ok.append(threads.blas_limit() == 2)
                ok.append(threads.blas_limit() == 3)
                os._exit(0 if all(ok) else 1)
            except BaseException:  # noqa: BLE001  (any failure is the child's exit code)
                os._exit(2)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
