"""Views of contiguous buffers that carry no reference count.

A NumPy-style view in compiled code (a slice, a reshape, ``.T``) shares its parent's
reference count, and creating and dropping it costs two atomic updates. A tiny network's
step makes dozens of views; profiled with perf, those atomics were half of an XOR step
(2-3-1 net). These views are built from the data pointer instead (``numba.carray`` /
``numba.farray``), so they cost nothing to make. They do not keep their buffer alive: use
them only within the compiled call that received the buffer, as every kernel here does.
"""
from numba import carray, errors, farray, njit, types
from numba.extending import intrinsic, overload

from .config import JIT_OPTIONS


@intrinsic
def _address(typingctx, buffer, offset):
    """Pointer to element ``offset`` of a C-contiguous array, counted in the flat order (no bounds check)."""
    if not isinstance(buffer, types.Array) or buffer.layout != "C":
        raise errors.TypingError(f"views need a C-contiguous array, got {buffer}")  # flat offsets assume C order
    signature = types.CPointer(buffer.dtype)(buffer, offset)

    def codegen(context, builder, sig, args):
        array = context.make_array(sig.args[0])(context, builder, args[0])
        return builder.gep(array.data, [args[1]])
    return signature, codegen


@intrinsic
def _start(typingctx, array):
    """Pointer to the first element of a C- or F-contiguous array."""
    if not isinstance(array, types.Array) or array.layout not in "CF":
        raise errors.TypingError(f"a contiguous array is needed, got {array}")

    def codegen(context, builder, sig, args):
        return context.make_array(sig.args[0])(context, builder, args[0]).data
    return types.CPointer(array.dtype)(array), codegen


@njit(**JIT_OPTIONS)
def view(buffer, offset, m, n):
    """(m, n) C-contiguous view of a C-contiguous ``buffer`` (any ndim) from flat element ``offset``."""
    return carray(_address(buffer, offset), (m, n))


@njit(**JIT_OPTIONS)
def vector(buffer, offset, n):
    """(n,) view of a C-contiguous ``buffer`` from flat element ``offset``."""
    return carray(_address(buffer, offset), n)


def transpose(A):
    """A.T of a 2-D array: for a C- or F-contiguous A, a view without reference count."""
    return A.T


@overload(transpose, jit_options=JIT_OPTIONS)
def _transpose(A):
    # Chosen by A's layout when compiling, so each layout keeps its own exact array type.
    if A.layout == "C":
        def transpose_c(A):
            m, n = A.shape
            return farray(_start(A), (n, m))
        return transpose_c
    if A.layout == "F":
        def transpose_f(A):
            m, n = A.shape
            return carray(_start(A), (n, m))
        return transpose_f
    return lambda A: A.T
