"""Views of contiguous buffers that carry no reference count.

A NumPy-style view in compiled code (a slice, a reshape, ``.T``) shares its parent's
reference count, and creating and dropping it costs two atomic updates. A tiny network's
step makes dozens of views; profiled with perf, those atomics were half of an XOR step
(2-3-1 net). These views are built from the data pointer instead, so they cost nothing to
make. They do not keep their buffer alive: use them only within the compiled call that
received the buffer, as every kernel here does.

``view`` and ``vector`` are intrinsics, emitted inline where they are called: as compiled
functions they (and a transposed view) were 7 compile units per dtype (one per argument-type
combination), about 0.5 s of every first compile.
"""
from numba import errors, types
from numba.core import cgutils
from numba.extending import intrinsic
from numba.np.arrayobj import populate_array


def _c_contiguous_buffer(buffer, *integers):
    if not isinstance(buffer, types.Array) or buffer.layout != "C":
        raise errors.TypingError(f"views need a C-contiguous array, got {buffer}")  # flat offsets assume C order
    if not all(isinstance(value, types.Integer) for value in integers):
        raise errors.TypingError(f"view offsets and extents must be integers, got {integers}")


def _view_codegen(context, builder, sig, args):
    """Code for a C-contiguous view with no meminfo; args are (buffer, offset, *shape)."""
    buffer_type, view_type = sig.args[0], sig.return_type
    intp = [context.cast(builder, value, ty, types.intp) for value, ty in zip(args[1:], sig.args[1:])]
    offset, shape = intp[0], intp[1:]
    data = builder.gep(context.make_array(buffer_type)(context, builder, args[0]).data, [offset])
    itemsize = context.get_constant(types.intp, context.get_abi_sizeof(context.get_data_type(view_type.dtype)))
    strides, stride = [], itemsize
    for extent in reversed(shape):  # C order: the last axis is contiguous
        strides.insert(0, stride)
        stride = builder.mul(stride, extent)
    result = context.make_array(view_type)(context, builder)
    populate_array(result, data=data, shape=cgutils.pack_array(builder, shape),
                   strides=cgutils.pack_array(builder, strides), itemsize=itemsize, meminfo=None)
    return result._getvalue()


@intrinsic
def view(typingctx, buffer, offset, m, n):
    """(m, n) C-contiguous view of a C-contiguous ``buffer`` (any ndim) from flat element ``offset``."""
    _c_contiguous_buffer(buffer, offset, m, n)
    return types.Array(buffer.dtype, 2, "C")(buffer, offset, m, n), _view_codegen


@intrinsic
def vector(typingctx, buffer, offset, n):
    """(n,) view of a C-contiguous ``buffer`` from flat element ``offset``."""
    _c_contiguous_buffer(buffer, offset, n)
    return types.Array(buffer.dtype, 1, "C")(buffer, offset, n), _view_codegen
