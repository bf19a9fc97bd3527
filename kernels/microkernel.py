"""A register-tile micro-kernel for skinny products (at most three vectors of output columns), and its blocking.

OpenBLAS runs products with a narrow output slowly: the cat net's first layer (209 samples, 12288
inputs, 20 units, float64) took 1.7-2.8 ms for its forward product and 1.8-2.8 ms for its weight
gradient on two threads, 37-60 GFLOP/s, where the machine's dgemm reaches about 135. Those two
products are most of the training step. Here a tile of ``TILE_ROWS`` rows by every output column (up to
``MAX_VECTORS`` vectors, the last one masked) lives in vector registers while the inner dimension
runs: each step loads one row of B, broadcasts one element of A per row and issues a fused
multiply-add per row and vector (8 rows x 3 vectors: 24 of the 32 AVX-512 registers). Numba's loops
do not keep such a tile in registers (a plain-loop 8x32 tile measured 15 GFLOP/s), so the tile is
an intrinsic emitting LLVM vector code: 512-bit vectors on a CPU with AVX-512, else 256-bit with
4-row tiles; LLVM legalises them for any other target.

Measured in one process against the single-threaded OpenBLAS call each block made before, two blocks
on two threads, best of 3 x 30 (microseconds; m x k x n is samples x inputs x outputs):

| shape | forward f64: BLAS / tile | forward f32 | gradient f64 | gradient f32 |
|---|---|---|---|---|
| 209x12288x20 (cat) | 1670 / 1039 | 743 / 674 | 1751 / 1136 | 723 / 841 |
| 256x1024x24 | 149 / 93 | 80 / 64 | 162 / 102 | 70 / 73 |
| 256x1024x8 | 81 / 43 | 51 / 41 | 100 / 63 | 44 / 60 |
| 64x4096x16 | 127 / 69 | 69 / 42 | 118 / 78 | 54 / 60 |
| 32x2000x20 | 40 / 28 | 26 / 21 | 26 / 27 | 19 / 21 |

So the forward product takes the tile in both dtypes, the weight gradient only in float64 (a float32
tile of 8 rows reads half a cache line of each sample's row per pass). The forward runs the inner
dimension in chunks of ``FORWARD_K_CHUNK`` (a chunk of W stays in cache while every row tile of the
block passes over it; on the cat net chunks of 128/256/512/1024 took 1.41/1.02/1.26/1.26 ms), the
gradient in chunks of ``GRADIENT_K_CHUNK`` samples (A = A_prev[:, block]^T: its rows are columns of
A_prev, fan_in apart, and short chunks keep few enough of them in flight for the prefetcher). On the cat
net's gradient (209x12288x20, rows 96 KiB apart) chunks of 8/12/16/24/32/64 took 3.6-5.4/3.3-6.2/3.5-4.4/
4.4-9.6/7.6-11.3/8.7-10.4 ms (two blocks on two threads, two rounds, session 19); 16 was the best
in every later run (4.0-4.4 against 4.6-8.6 ms), and the whole step, fits of 10 steps in fresh
processes alternated six times, took 7.9-9.2 ms (median of 12 fits) against 12.6-13.9 ms with 32. On
rows 8 KiB apart or less (256x1024x24, 64x4096x16, 128x784x10) 16 and 32 were within 5% either way.
(An earlier machine had measured 16/32/64 at 1203/1136/1189 us.) Likely cause: 32 rows in flight
plus the other operands exceed the 32 streams the L2 prefetcher tracks. Splitting the block's columns
into panels (64 to 1024 wide) changed nothing; computing dW^T instead (X's rows as the vectors) was
2-3x slower. The chunk does not change a bit (see below). The micro-kernel had taken the cat net's
training step from 5.7-7.5 ms to 3.0-4.3 ms (old and new code alternated in fresh processes).

The summation order along k is fixed (chunk by chunk, in order), so a result does not depend on how
the rows are split into blocks or which thread runs a block.
"""
import llvmlite.binding as llvm
from llvmlite import ir
from numba import errors, njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from .config import JIT_OPTIONS

AVX512 = "avx512f" in llvm.get_host_cpu_features().flatten()
VECTOR_BYTES = 64 if AVX512 else 32
TILE_ROWS = 8 if AVX512 else 4
MAX_VECTORS = 3
# Products whose output rows fit in MAX_VECTORS vectors (24 float64 or 48 float32 columns with AVX-512).
SKINNY_BYTES = MAX_VECTORS * VECTOR_BYTES
FORWARD_K_CHUNK = 256
GRADIENT_K_CHUNK = 16


def _make_tile(rows):
    """The intrinsic computing a tile of ``rows`` rows of the output (see ``skinny_product``)."""

    @intrinsic
    def tile(typingctx, A, a_offset, a_row, a_col, B, b_offset, b_row, out, out_offset, out_row, n, kc, accumulate):
        if not isinstance(out, types.Array) or out.dtype not in (types.float32, types.float64) \
                or A.dtype != out.dtype or B.dtype != out.dtype:
            raise errors.TypingError(f"the micro-kernel needs float32 or float64 arrays of one dtype, got {A, B, out}")
        dtype = out.dtype
        lanes = VECTOR_BYTES // (8 if dtype == types.float64 else 4)

        def codegen(context, builder, signature, args):
            i64, i32 = ir.IntType(64), ir.IntType(32)
            vector = ir.VectorType(context.get_value_type(dtype), lanes)
            mask_type = ir.VectorType(ir.IntType(1), lanes)
            suffix = f"v{lanes}{'f64' if dtype == types.float64 else 'f32'}"
            module = builder.module
            fma = cgutils.get_or_insert_function(module, ir.FunctionType(vector, [vector] * 3), f"llvm.fma.{suffix}")
            load = cgutils.get_or_insert_function(
                module, ir.FunctionType(vector, [vector.as_pointer(), i32, mask_type, vector]),
                f"llvm.masked.load.{suffix}.p0")
            store = cgutils.get_or_insert_function(
                module, ir.FunctionType(ir.VoidType(), [vector, vector.as_pointer(), i32, mask_type]),
                f"llvm.masked.store.{suffix}.p0")
            data = {index: context.make_array(signature.args[index])(context, builder, args[index]).data
                    for index in (0, 4, 7)}

            def integer(index):
                return context.cast(builder, args[index], signature.args[index], types.intp)

            a_offset_, a_row_, a_col_ = integer(1), integer(2), integer(3)
            b_offset_, b_row_ = integer(5), integer(6)
            out_offset_, out_row_, n_, kc_ = integer(8), integer(9), integer(10), integer(11)
            accumulate_ = context.cast(builder, args[12], signature.args[12], types.boolean)

            def splat(value, vector_type):
                one = builder.insert_element(ir.Constant(vector_type, ir.Undefined), value, ir.Constant(i32, 0))
                return builder.shuffle_vector(one, ir.Constant(vector_type, ir.Undefined),
                                              ir.Constant(ir.VectorType(i32, lanes), None))

            def vector_at(pointer, h):
                return builder.bitcast(builder.gep(pointer, [ir.Constant(i64, h * lanes)]), vector.as_pointer())

            lane_index = ir.Constant(ir.VectorType(i64, lanes), list(range(lanes)))
            masks = [builder.icmp_signed("<", lane_index, splat(builder.sub(n_, ir.Constant(i64, h * lanes)),
                                                                ir.VectorType(i64, lanes)))
                     for h in range(MAX_VECTORS)]
            zero = ir.Constant(vector, None)
            a_rows = [builder.gep(data[0], [builder.add(a_offset_, builder.mul(ir.Constant(i64, r), a_row_))])
                      for r in range(rows)]
            b_start = builder.gep(data[4], [b_offset_])
            out_rows = [builder.gep(data[7], [builder.add(out_offset_, builder.mul(ir.Constant(i64, r), out_row_))])
                        for r in range(rows)]
            sums = [[cgutils.alloca_once_value(builder, zero) for _ in range(MAX_VECTORS)] for _ in range(rows)]
            with builder.if_then(accumulate_):
                for r in range(rows):
                    for h in range(MAX_VECTORS):
                        value = builder.call(load, [vector_at(out_rows[r], h), ir.Constant(i32, 1), masks[h], zero])
                        builder.store(value, sums[r][h])

            def k_loop(n_vectors):
                with cgutils.for_range(builder, kc_) as loop:
                    b_row_start = builder.gep(b_start, [builder.mul(loop.index, b_row_)])
                    b = [builder.call(load, [vector_at(b_row_start, h), ir.Constant(i32, 1), masks[h], zero])
                         for h in range(n_vectors)]
                    for r in range(rows):
                        a = splat(builder.load(builder.gep(a_rows[r], [builder.mul(loop.index, a_col_)])), vector)
                        for h in range(n_vectors):
                            builder.store(builder.call(fma, [a, b[h], builder.load(sums[r][h])]), sums[r][h])

            # As many vectors as the columns need: no multiply-adds on lanes that are masked off anyway.
            with builder.if_else(builder.icmp_signed("<=", n_, ir.Constant(i64, lanes))) as (one, more):
                with one:
                    k_loop(1)
                with more:
                    with builder.if_else(builder.icmp_signed("<=", n_, ir.Constant(i64, 2 * lanes))) as (two, three):
                        with two:
                            k_loop(2)
                        with three:
                            k_loop(3)
            for r in range(rows):
                for h in range(MAX_VECTORS):
                    builder.call(store, [builder.load(sums[r][h]), vector_at(out_rows[r], h), ir.Constant(i32, 1),
                                         masks[h]])
            return context.get_dummy_value()

        return types.void(A, a_offset, a_row, a_col, B, b_offset, b_row, out, out_offset, out_row, n, kc,
                          accumulate), codegen

    return tile


_tile = _make_tile(TILE_ROWS)
_row = _make_tile(1)


@njit(inline="always", **JIT_OPTIONS)
def skinny_product(rows, n, k, A, a_offset, a_row, a_col, B, b_offset, b_row, out, out_offset, out_row, k_chunk):
    """out[r, j] = sum over p < k of A[r, p] * B[p, j], for r < rows and j < n (n * itemsize <= SKINNY_BYTES).

    BLAS-style operands: arrays of one dtype addressed by element offsets from their first element. Element
    (r, p) of A is at ``a_offset + r * a_row + p * a_col`` (any strides: rows or columns of a row-major
    matrix), row p of B at ``b_offset + p * b_row`` with unit column stride, out row r at
    ``out_offset + r * out_row``. The inner
    dimension runs in chunks of ``k_chunk``, every row tile over one chunk before the next.
    """
    full = rows - rows % TILE_ROWS
    for k0 in range(0, max(k, 1), k_chunk):  # k == 0 still writes the zeros of an empty sum
        kc = min(k_chunk, k - k0)
        accumulate = k0 > 0
        for i0 in range(0, full, TILE_ROWS):
            _tile(A, a_offset + i0 * a_row + k0 * a_col, a_row, a_col, B, b_offset + k0 * b_row, b_row,
                  out, out_offset + i0 * out_row, out_row, n, kc, accumulate)
        for i in range(full, rows):
            _row(A, a_offset + i * a_row + k0 * a_col, a_row, a_col, B, b_offset + k0 * b_row, b_row,
                 out, out_offset + i * out_row, out_row, n, kc, accumulate)
