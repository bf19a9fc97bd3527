import numpy as np
import pytest
from numba import njit

from fastbp.kernels.views import vector, view


@njit
def _views(buffer, offset, m, n):
    return view(buffer, offset, m, n).copy(), vector(buffer, offset, n).copy()


@njit
def _write_through(buffer, offset, m, n, value):
    view(buffer, offset, m, n)[m - 1, n - 1] = value




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


def test_views_of_non_c_arrays_are_refused_when_compiling():
    from numba.core.errors import TypingError
    with pytest.raises(TypingError, match="C-contiguous"):
        _views(np.zeros((4, 3), order="F"), 0, 2, 3)
