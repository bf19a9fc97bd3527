"""Small-batch layer kernels: the matrix products as row loops, with the optimizer update fused in.

With a handful of rows per batch (m <= ``FUSED_MAX_ROWS``) a layer's products are
matrix-vector work bound by reading W, not by arithmetic, and a BLAS call costs more
than the loop. So each kernel here makes one pass over W:

- ``dense_forward_rows``: Z = A_prev @ W + b as axpys over the rows of W, each row read
  once for all m samples, then the activation;
- ``backward_update_rows``: for each row i of W (in groups of ``ROW_GROUP``), first the hidden delta's
  column i (delta @ W[i] times f'(A_prev[:, i]), with W before the update), then the gradient row
  dW[i] = A_prev[:, i] @ delta; then the optimizer update (with the L2 term l2/m W[i] folded
  in) of each block of rows while it is in cache, or, with one sample, of each row as its
  gradient row is formed, without dW at all. W and the optimizer state come from memory once
  per step; the unfused path writes all of dW, reads it back with W and the state, and calls
  BLAS twice.

Layers of at least ``dense_parallel.PARALLEL_PRODUCT`` (2^20) multiply-adds per batch (m * fan_in *
fan_out) with one sample, ``POOL_PRODUCT_BATCHES`` with more, run their backward pass in ``N_BLOCKS``
fixed blocks of rows of W by ``prange`` on Numba's thread pool; smaller ones, or one thread, are one
block in the calling thread (see the measurements at ``POOL_PRODUCT_BATCHES``). Each weight's
arithmetic is the same either way, so the weights are bit-identical on any number of threads; only
the L2 term of the reported cost sums per-block partials (in block order).

A first layer of at least ``AHEAD_MIN_WEIGHTS`` weights is updated in the ``N_BLOCKS`` blocks
whatever the thread count (``backward_update_rows``' ``look_ahead``), and each block, right after updating its
rows of W, multiplies the next batch by them while they are in its core's cache: the next step's first
layer (summed over the blocks in block order) is then ready, and W is streamed once per step instead
of twice. The first step of a call computes that layer with the same sums
(``dense_forward_rows_in_blocks``), so neither the thread count nor the split of epochs into calls
changes a bit.

Shapes follow :mod:`.dense`: A_prev (m, fan_in), W (fan_in, fan_out), b (fan_out,),
delta (m, fan_out), delta_prev (m, fan_in).
"""
import numpy as np
from numba import njit, prange

from .activations import activate, derivative
from .config import BORROWING_OPTIONS, JIT_OPTIONS
from .dense import bias_step
from .dense_parallel import PARALLEL_PRODUCT
from .denormals import fp_mode, set_fp_mode
from .optimizers import FIRST_ROW, update_row
from .views import vector, view

# Batches of up to this many rows of a network with a layer of at least LARGE_LAYER weights
# take these kernels instead of BLAS. Measured on the 784-512-256-10 net, one epoch of 3000
# samples, two threads, alternating with the BLAS-only code: batch 1 1.25-1.27 s vs 1.62-1.72 s,
# batch 4 0.46-0.48 s vs 0.53-0.59 s, batch 8 288-289 ms vs 302-316 ms (a noisier second run:
# 279-411 vs 325-326), batch 16 166-194 ms vs 177-185 ms (a draw: BLAS keeps it). Smaller
# networks (digits 64-32-10) keep the plain loops and one flat update: their rows are too short
# for per-layer passes to pay (10.1-10.7 ms against 8.0-8.2 ms per digits epoch at batch 1).
# Against the blocks path (.dense_parallel, which later replaced the BLAS-only code there), on a 2-vCPU
# Skylake-SP, the same epochs alternated in one process, best and worst of 4 (ms): batch 6 496-646 and
# 526-565 against 609-656 and 564-616, batch 7 463-530 against 567-589, batch 8 474-519 and 517-601
# against 399-421 and 390-516. So batch 8 goes to the blocks.
FUSED_MAX_ROWS = 7
LARGE_LAYER = 1 << 15
# Large layers run their backward pass in this many row blocks on the thread pool (when it has
# more than one thread); smaller ones in the calling thread, where a launch costs more than it saves.
N_BLOCKS = 8
# With one sample per batch, rows of W of at least this many weights are updated one by one, each
# forming its gradient row (the outer product) inside the update, so dW is never written or read.
# Measured per layer against the flat update of the block (gradient rows written to dW first), m = 1,
# best of 300 in one process, float32 / float64, momentum SGD (microseconds):
#   784x512: 68 / 115-156 against 97-107 / 229-255; 512x256: 29-31 / 33-39 against 31-34 / 56-57;
#   256x64: 9.1-9.2 / 11.0-11.2 against 8.2-9.1 / 11.9-14.2; 256x32: 7.3-7.6 / 8.2-8.5 against
#   5.4-6.0 / 7.3-7.9; 256x10: 6.7-6.9 / 6.8-7.1 against 4.1-4.6 / 5.0-5.2 (a call per short row costs
#   more than the pass it saves). With more samples per batch the gradient row must be summed first,
#   and in float32 the flat update won (4x784x512: 223-226 against 203-217 us), so it stays flat.
ROW_UPDATE_COLUMNS = 64
# Below these multiply-adds per batch a layer's backward pass stays in the calling thread, which keeps
# W and its state in its own cache instead of moving them between cores every step. Whole epochs,
# float32, momentum, best of 4, rounds alternated in fresh processes, against the earlier limit of 2^15
# weights whatever the batch (ms): with one sample, 2^20 (the blocks path's PARALLEL_PRODUCT): 600 rows
# of [784, 512, 256, 10] 139-146 against 169-192 (serial now: the row-by-row update above streams a
# layer from one core faster than two share it), [300, 128, 10] 9.4-10.6 against 42-52, [2000, 64, 10]
# 34-36 against 61-79, [1024, 1024, 10] (2^20: in blocks either way) 209-233 against 204-246. With more
# samples the gradient rows are summed, then the flat update re-reads them; 800 rows: [300, 128, 10] at
# batch 2 / 4 / 8 (at most 307k) 9.3-14 / 7.0-10.5 / 6.0-9.8 serially against 28-36 / 19.5-23 / 12-14 on
# the pool; [512, 256, 10] at batch 4 (524k) 20-26 against 39-50; but [784, 512, 256, 10] at batch 2
# (803k) 141-174 on the pool against 187-197 serially. So 3 * 2^18 (786k) with more than one sample.
POOL_PRODUCT_BATCHES = 3 << 18


# A first layer of at least this many weights also computes the next batch's product with the rows of W each
# block has just updated, while they are in that core's cache (``backward_update_rows``' ``look_ahead``): the next
# forward pass then does not stream W again. Per step, the first layer's backward and update plus the next
# batch's forward (one call each, best of 7 x 200, float32, momentum, two threads), fused on the pool against
# the update (serial or on the pool, as the limits above choose) then the serial forward (us): 784x512 m = 1
# 123-185 against 256-283, m = 4 282-360 against 427-449, m = 7 392 against 580-592; 512x256 m = 1 79
# against 121, m = 4 105 against 169-187; but 256x128 m = 1 / 4 38 / 49 against 23 / 34 and 300x100 29 / 36
# against 24 / 37. Whole epochs of the 784-512-256-10 net, float32, momentum, best of 3, old and new code
# alternated in fresh processes, three pairs (ms): two threads, batch 1 (2000 rows) 451-557 against
# 785-962, batch 4 (3000) 425-553 against 571-738, batch 7 320-458 against 395-415; one thread (the
# blocks in turn), batch 1 (1000) 358-446 against 381-486, batch 4 (2000) 383-424 against 544-676.
AHEAD_MIN_WEIGHTS = 1 << 17
# The hidden delta's columns are computed for this many rows of W at a time (see ``_update_block``, whose loop
# is written for 4); block edges fall on multiples of it, so a column is computed the same way whatever the
# number of blocks.
ROW_GROUP = 4


@njit(inline="always", **JIT_OPTIONS)
def _block(block, n_blocks, length):
    """[start, stop) of block ``block`` of n_blocks over range(length), edges on multiples of ROW_GROUP."""
    groups = (length + ROW_GROUP - 1) // ROW_GROUP
    return (min(length, block * groups // n_blocks * ROW_GROUP),
            min(length, (block + 1) * groups // n_blocks * ROW_GROUP))


@njit(inline="always", **JIT_OPTIONS)
def _add_product_rows(A, W, start, stop, out):
    """out += A[:, start:stop] @ W[start:stop] with each of those rows of W read once; A (m, fan_in),
    W (fan_in, n), out (m, n)."""
    m = A.shape[0]
    n = W.shape[1]
    i = start
    while i + 4 <= stop:
        for r in range(m):
            a0, a1, a2, a3 = A[r, i], A[r, i + 1], A[r, i + 2], A[r, i + 3]
            for j in range(n):
                out[r, j] += a0 * W[i, j] + a1 * W[i + 1, j] + a2 * W[i + 2, j] + a3 * W[i + 3, j]
        i += 4
    for i in range(i, stop):
        for r in range(m):
            a0 = A[r, i]
            for j in range(n):
                out[r, j] += a0 * W[i, j]


@njit(**BORROWING_OPTIONS)
def dense_forward_rows(A_prev, W, b, code, out):
    """out = f(A_prev @ W + b) with each row of W read once; A_prev (m, fan_in), W (fan_in, fan_out), out (m, fan_out).

    Four rows of W per pass over out: a quarter of the loads and stores of out that one row
    per pass costs (784x512 float32, m = 4: 82 us against 145 us). Serial: on two threads,
    splitting the rows of W took 89 us, splitting the columns 137 us (the product is bound by
    reading W, which one core already streams). Loops run from 0: a loop from a variable
    start does not vectorize (Numba's negative-index check), 8x slower here.
    """
    m = A_prev.shape[0]
    n = W.shape[1]
    for r in range(m):
        for j in range(n):
            out[r, j] = b[j]
    _add_product_rows(A_prev, W, 0, A_prev.shape[1], out)
    activate(out, code)


# The next batch's product is part of the block, not of a kernel wrapping it: Numba optimizes and generates a
# callee's code again in every caller, so each level costs. The small-batch path's first compile, both dtypes,
# 22.9-24.7 s against 23.3-25.9 s with the wrapper (six pairs of fresh processes, faster in five).
@njit(**BORROWING_OPTIONS)
def _update_block(block, n_blocks, A_prev, delta, W, dW, state1, state2, code_prev, delta_prev, optimizer, coeffs,
                  l2_over_m, sums, X_next, partial):
    """Block ``block`` of the rows of W: hidden-delta columns, then the gradient rows and their update; then, when
    X_next (m_next, fan_in) has rows, X_next[:, block rows] @ W[block rows] (W updated) into the block's slice
    (m_next, fan_out) of ``partial``, while those rows are in this core's cache.

    With one sample and rows of at least ROW_UPDATE_COLUMNS weights, each row is updated right after
    its hidden-delta column (computed for ROW_GROUP rows at a time), the update forming the gradient row
    A_prev[0, i] * delta[0] itself: dW is not touched. Otherwise the gradient rows are written to dW and
    one update runs over the block as one flat run, re-reading them from cache (with the optimizer's
    branches inside the row loop, LLVM kept the row loops scalar: 64x32 float32, 7.3 us per layer step
    against 1.8 us).
    """
    m, fan_in = A_prev.shape
    n = W.shape[1]
    want_delta_prev = delta_prev.shape[0] == m
    by_row = m == 1 and n >= ROW_UPDATE_COLUMNS
    zero = W.dtype.type(0)
    sum_sq = 0.0
    start, stop = _block(block, n_blocks, fan_in)
    i = start
    while i < stop:
        # Hidden-delta columns for ROW_GROUP (4) rows of W at a time: four independent dot products per pass
        # over a row of delta, summed in W's dtype. The earlier loop, one float64 sum per column, made each dot
        # one chain of converted adds: delta_prev of a 512x256 float32 layer took 227 us at m = 4 and 60 us at
        # m = 1, against 63 and 21 us here (float64: 189 and 65 against 97 and 53 us; best of 20 x 20, one core).
        # Groups start on multiples of ROW_GROUP (the block edges do), so only the last fan_in % ROW_GROUP rows
        # of W take the single-column loop, and a column's sum is the same on any number of blocks.
        rows = ROW_GROUP if i + ROW_GROUP <= stop else 1
        if want_delta_prev and rows == ROW_GROUP:
            for r in range(m):
                s0 = s1 = s2 = s3 = zero
                for j in range(n):
                    d = delta[r, j]
                    s0 += d * W[i, j]
                    s1 += d * W[i + 1, j]
                    s2 += d * W[i + 2, j]
                    s3 += d * W[i + 3, j]
                delta_prev[r, i] = s0 * derivative(A_prev[r, i], code_prev)
                delta_prev[r, i + 1] = s1 * derivative(A_prev[r, i + 1], code_prev)
                delta_prev[r, i + 2] = s2 * derivative(A_prev[r, i + 2], code_prev)
                delta_prev[r, i + 3] = s3 * derivative(A_prev[r, i + 3], code_prev)
        elif want_delta_prev:
            for r in range(m):
                s = zero
                for j in range(n):
                    s += delta[r, j] * W[i, j]
                delta_prev[r, i] = s * derivative(A_prev[r, i], code_prev)
        for row in range(i, i + rows):
            if by_row:
                sum_sq += update_row(optimizer, coeffs, W, state1, state2, row, delta, 0, np.float64(A_prev[0, row]),
                                     l2_over_m)
                continue
            a = A_prev[0, row]
            for j in range(n):
                dW[row, j] = a * delta[0, j]
            for r in range(1, m):
                a = A_prev[r, row]
                for j in range(n):
                    dW[row, j] += a * delta[r, j]
        i += rows
    if not by_row:
        length = (stop - start) * n
        sum_sq = update_row(optimizer, coeffs, view(W, start * n, 1, length), view(state1, start * n, 1, length),
                            view(state2, start * n, 1, length), FIRST_ROW, view(dW, start * n, 1, length), 0, 1.0,
                            l2_over_m)
    sums[block] = sum_sq
    if X_next.shape[0] > 0:
        _multiply_block(block, n_blocks, X_next, W, partial)


# _multiply_block and _sum_blocks are inlined into their two callers each: as compile units of their own they
# added 10-12 s to the small-batch path's first fit of both dtypes (49-62 s against 62-74 s in CPU time, two
# pairs of fresh processes alternated, on a machine running at about a third of its usual speed).
@njit(inline="always", **JIT_OPTIONS)
def _multiply_block(block, n_blocks, A, W, partial):
    """A[:, block rows] @ W[block rows] into the block's slice (m, fan_out) of ``partial``; A (m, fan_in)."""
    m, fan_in = A.shape
    n = W.shape[1]
    start, stop = _block(block, n_blocks, fan_in)
    P = view(partial, block * m * n, m, n)
    for r in range(m):
        for j in range(n):
            P[r, j] = 0
    _add_product_rows(A, W, start, stop, P)


@njit(inline="always", **JIT_OPTIONS)
def _sum_blocks(partial, b, code, out):
    """out = f(b + the N_BLOCKS slices (m, fan_out) of ``partial``, added in block order); out (m, fan_out)."""
    m, n = out.shape
    for r in range(m):
        for j in range(n):
            out[r, j] = b[j]
    for block in range(N_BLOCKS):
        P = view(partial, block * m * n, m, n)
        for r in range(m):
            for j in range(n):
                out[r, j] += P[r, j]
    activate(out, code)


@njit(**BORROWING_OPTIONS)
def dense_forward_rows_in_blocks(A_prev, W, b, code, out, partial):
    """``dense_forward_rows`` summed as ``backward_update_rows`` sums its ``look_ahead``: the products of N_BLOCKS
    blocks of rows of W, then their sum in block order; partial: scratch of N_BLOCKS * m * fan_out. For the first
    step of a call whose later steps get their first layer from ``backward_update_rows``: the same bits either way."""
    for block in range(N_BLOCKS):
        _multiply_block(np.intp(block), np.intp(N_BLOCKS), A_prev, W, partial)
    _sum_blocks(partial, b, code, out)


# A kernel of its own, not a loop inside ``backward_update_rows``: there (one level less to optimize) the
# small-batch path's first compile, both dtypes, took 25.5-27.0 s against 24.3-26.8 s (three pairs, slower
# in all three), though LLVM then took 3% fewer instructions (Numba's parallel passes then run over the whole
# kernel: the likely cost, not measured apart).
@njit(parallel=True, **BORROWING_OPTIONS)
def _update_parallel(A_prev, delta, W, dW, state1, state2, code_prev, delta_prev, optimizer, coeffs, l2_over_m,
                     sums, X_next, partial):
    """``_update_block`` for N_BLOCKS blocks on the pool."""
    # intp arguments, not the loop's own index type or literals: each distinct argument type was one
    # more compile of the block body (three per dtype, measured), about a second each.
    mode = fp_mode()  # the caller's floating-point mode, for the pool's threads too (see .denormals)
    for block in prange(N_BLOCKS):
        previous_mode = set_fp_mode(mode)
        _update_block(np.intp(block), np.intp(N_BLOCKS), A_prev, delta, W, dW, state1, state2, code_prev, delta_prev,
                      optimizer, coeffs, l2_over_m, sums, X_next, partial)
        set_fp_mode(previous_mode)


@njit(**BORROWING_OPTIONS)
def backward_update_rows(A_prev, delta, W, b, dW, db, state_W, state_b, code_prev, delta_prev, optimizer, coeffs,
                         l2_over_m, sums, parallel, look_ahead):
    """One layer's backward step and optimizer update in one pass over W; returns sum(W**2) before the update
    when l2_over_m > 0, else 0.

    dW (like W) is scratch for the gradient rows (without the L2 term, which joins them inside the update;
    with one sample and rows of at least ROW_UPDATE_COLUMNS weights it is not written at all), db (like b)
    receives the bias gradient; state_W = (state1, state2) shaped like W, state_b likewise like b.
    delta_prev (m, fan_in) receives (delta @ W.T) * f'(A_prev), computed with W before its update; pass it
    with no rows (the first layer) to skip it. sums: float64 scratch of N_BLOCKS.
    ``parallel`` allows the thread pool for layers of at least PARALLEL_PRODUCT multiply-adds per batch of one
    sample, POOL_PRODUCT_BATCHES of more.

    look_ahead = (in_blocks, X_next, partial, code_next, A_next). With ``in_blocks`` (a first layer of at least
    AHEAD_MIN_WEIGHTS weights) W is updated in N_BLOCKS blocks whatever the thread count, on the pool when
    ``parallel``; when X_next (m_next, fan_in) has rows, each block also multiplies it by its rows of W right
    after updating them, into its slice of ``partial`` (scratch of N_BLOCKS * m_next * fan_out), and A_next
    (m_next, fan_out) = f(X_next @ W + b) with W and b updated, f given by ``code_next``, the slices summed in
    block order so that the thread count changes no bit. Otherwise pass ``no_look_ahead(W)`` (from Python) or
    empty views. One entry point for both: a second cached caller of the parallel ``_update_parallel``
    crashed when loaded in another process (numba#8578, numba#10128).
    """
    in_blocks, X_next, partial, code_next, A_next = look_ahead
    n = W.shape[1]
    m = A_prev.shape[0]
    on_pool = parallel and (in_blocks or m * W.shape[0] * n >= (PARALLEL_PRODUCT if m == 1 else
                                                                 POOL_PRODUCT_BATCHES))
    n_blocks = N_BLOCKS if in_blocks or on_pool else 1
    if on_pool:
        _update_parallel(A_prev, delta, W, dW, state_W[0], state_W[1], code_prev, delta_prev, optimizer, coeffs,
                         l2_over_m, sums, X_next, partial)
    else:
        for block in range(n_blocks):
            _update_block(np.intp(block), np.intp(n_blocks), A_prev, delta, W, dW, state_W[0], state_W[1], code_prev,
                          delta_prev, optimizer, coeffs, l2_over_m, sums, X_next, partial)
    bias_step(delta, b, db, state_b, optimizer, coeffs)
    if X_next.shape[0] > 0:
        _sum_blocks(partial, b, code_next, A_next)
    sum_sq = 0.0
    for block in range(n_blocks):
        sum_sq += sums[block]
    return sum_sq


def no_look_ahead(W):
    """The ``look_ahead`` argument of ``backward_update_rows`` for a call from Python that only updates W."""
    fan_in, fan_out = W.shape
    return (False, np.empty((0, fan_in), W.dtype), np.empty(0, W.dtype), 0, np.empty((0, fan_out), W.dtype))
