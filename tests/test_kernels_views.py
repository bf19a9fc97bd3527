import numpy as np
import pytest
from numba import njit

from fastbp.kernels.views import transpose, vector, view


@njit
def _views(buffer, offset, m, n):
    return view(buffer, offset, m, n).copy(), vector(buffer, offset, n).copy()


@njit
def _write_through(buffer, offset, m, n, value):
    view(buffer, offset, m, n)[m - 1, n - 1] = value


@njit
def _transposed(A):
    return transpose(A).copy()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_view_and_vector_match_numpy_slices(dtype):
    buffer = np.arange(30, dtype=dtype)
    matrix, row = _views(buffer, 7, 4, 5)
    np.testing.assert_array_equal(matrix, buffer[7:27].reshape(4, 5))
    np.testing.assert_array_equal(row, buffer[7:12])
    grid = np.arange(24, dtype=dtype).reshape(4, 6)  # a flat offset into a 2-D C array
    np.testing.assert_array_equal(_views(grid, 6, 2, 6)[0], grid[1:3])


def test_views_write_through_to_the_buffer():
    buffer = np.zeros(12)
    _write_through(buffer, 2, 2, 3, 7.0)
    assert buffer[7] == 7.0 and buffer.sum() == 7.0


@pytest.mark.parametrize("order", ["C", "F"])
def test_transpose_of_either_layout(order):
    A = np.asarray(np.arange(12.0).reshape(3, 4), order=order)
    np.testing.assert_array_equal(_transposed(A), A.T)
    np.testing.assert_array_equal(_transposed(A[:, ::2]), A[:, ::2].T)  # neither layout: plain .T


def test_views_of_non_c_arrays_are_refused_when_compiling():
    from numba.core.errors import TypingError
    with pytest.raises(TypingError, match="C-contiguous"):
        _views(np.zeros((4, 3), order="F"), 0, 2, 3)


def test_transpose_is_a_view_that_writes_through():
    @njit(cache=False)
    def write_transposed(A):
        transpose(A)[2, 1] = -1.0

    A = np.zeros((3, 4))
    write_transposed(A)
    assert A[1, 2] == -1.0 and np.count_nonzero(A) == 1
