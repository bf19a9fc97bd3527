"""fastbp.threads: who owns the cores."""
import os

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


def test_blas_threads_none_means_the_default_threads_setting_or_all_cores():
    with threads.blas_threads(1):
        with threads.blas_threads(None):
            assert threads.blas_limit() == (os.cpu_count() or 1)
        with threads.default_threads(1), threads.blas_threads(None):
            assert threads.blas_limit() == 1


def test_blas_limit_sees_a_callers_threadpool_limits():
    with threadpool_limits(1, user_api="blas"):
        assert threads.blas_limit() == 1
