"""Dense layer kernels split into blocks on Numba's thread pool, each block with its epilogue fused.

The serial kernels of :mod:`.dense` hand each product to a multi-threaded BLAS and then run the
bias, the activation, the derivative and the optimizer update in the calling thread, while BLAS's
threads wait. Here one parallel region per layer and pass does everything: ``prange`` over
``n_blocks`` blocks (one per thread), each block a single-threaded BLAS call on its slice followed
by that slice's elementwise work while it is still in cache. BLAS runs with one thread during
these calls, so Numba's pool is the only one in the hot path.

- ``dense_forward_parallel``: blocks of the rows of the output when the batch is at least as wide
  as the layer (each block reads its rows of A_prev and all of W); else blocks of the rows of W, the
  same rows the block's backward pass updates, so they stay in that core's cache from step to step
  (each block's partial product over its rows, summed in block order, then bias and activation:
  ``BY_W_ROWS``), or, where the caller gives no room for the partial products, blocks of the columns
  of W; then bias and activation.
  Skinny layers (outputs of at most ``microkernel.SKINNY_BYTES``) take the register-tile
  micro-kernel for the rows of the output, and in float64 for their weight gradient, where OpenBLAS
  is slow (see :mod:`.microkernel`); the other products go to BLAS.
- ``backward_update_parallel``: blocks of the rows of W (the layer's inputs), each block's step that of
  :func:`.dense.backward_rows`: its columns of the hidden delta (delta @ W[rows].T times f'(A_prev[:, rows]),
  with W before the update), its rows of dW = A_prev[:, rows].T @ delta (for SGD with momentum, added to the
  velocity's rows inside the product instead: ``dense.folded_product``), and then the optimizer update of its
  rows of W and the optimizer state; with a few samples per batch, a group of ``dense.GROUP_ROWS`` rows at a
  time, so the update finds them in cache. Nothing in a block depends on another, so there is no barrier
  between the products and the update.

Block edges fall on multiples of ``ALIGN`` elements, so no two threads write one cache line.
Each element is computed by one BLAS call over the whole inner dimension, or (``BY_W_ROWS``) as the
sum in block order of one BLAS call per block, so for a given number of blocks the results do not
depend on which thread ran which block.

Only one entry kernel, :func:`.epoch.train_epochs_blocks`, reaches these (see there why).

Shapes follow :mod:`.dense`: A_prev (m, fan_in), W (fan_in, fan_out), b (fan_out,),
Z/A/delta (m, fan_out), delta_prev (m, fan_in); every array C-contiguous.
"""
import numpy as np
from numba import njit, prange

from .activations import activate
from .blas import NO_TRANSPOSE, gemm_at
from .config import BORROWING_OPTIONS, JIT_OPTIONS
from .dense import backward_rows, bias_step
from .denormals import fp_mode, set_fp_mode
from .microkernel import FORWARD_K_CHUNK, GRADIENT_K_CHUNK, SKINNY_BYTES, skinny_product
from .views import vector, view

# Block edges are multiples of this many elements: a 64-byte cache line of float32.
ALIGN = 16
# Training with batches of at most this many rows takes these kernels (fastbp.training decides).
# Measured on the 784-512-256-10 float32 net, epochs of 6000 rows, against the serial kernels with
# two-threaded BLAS, alternating in one process, best of 4-6 (this machine's speed drifts by 2x
# within minutes, so only such pairs count):
#   batch:     16          32        64         128        256                  1024
#   idle:    1.21-1.25x  1.16x  1.10-1.18x  0.94-0.99x  0.75x, 0.90x, 0.99x  0.80-0.83x
#   loaded:                       1.05x        1.73x      1.69x                1.05x
# ("loaded": with one busy process beside it on the 2 cores; the blocks slowed 1.2-1.3x there,
# OpenBLAS's statically split, busy-waiting threads 1.8-2.1x.) At large batches two independent
# single-threaded calls lose to one two-threaded call (1024x512x256 forward: 1.69-1.74 ms against
# 1.06 ms), whose threads share packed panels. 256 keeps the loaded machine's gain where the idle
# measurements disagree.
SPLIT_MAX_ROWS = 256
# One block per thread (the caller passes n_blocks = threads); more blocks only make smaller, less efficient
# BLAS calls. Idle, batch 64/256/1024: 1 block per thread 144/113/131 ms, 2: 145/115/134, 4: 153/126/142;
# loaded: 1: 185/137/190, 2: 227/150/148, 4: 217/167/164. With Numba's default chunk size (0) a prange hands
# each thread one equal share of the blocks, so those runs had no rebalancing. With every block a task of its
# own (numba.set_parallel_chunksize(1)), which TBB's threads take as they come free, batch 64 was no better:
# idle 111-117 / 113-115 ms (2 / 4 blocks per thread, against 103-112 with one), and with one busy process
# beside it 190-267 / 186-273 against 189-256 ms.
# Layers with fewer multiply-adds per batch (m * fan_in * fan_out) than this stay in the calling thread:
# a parallel region costs 6-10 us. Measured per layer, serial vs 2 blocks, forward + backward:
# 16x64x100 10.7 vs 29.1 us, 64x64x100 31.7 vs 39.3, 16x256x128 84.6 vs 76.7, 16x300x256 197 vs 168.
# Whole epochs disagreed with that last-but-one pair, so the limit is 2^20, not 2^19: 6000 rows, momentum
# 0.5, the blocks path against the serial one alternated in one process, best of 5 x 3, serial/blocks
# time (> 1: the blocks win), by largest layer's multiply-adds per batch:
#   below 2^20: [64,100,10] b100 0.53 (float32) / 0.70 (float64), b150 0.74; [256,128,10] b16 0.86,
#               b24 0.93 (float64); [128,256,10] b24 0.47;
#   2^20 and above: [64,100,10] b200 1.20 (float32) / 1.20 (float64); [64,128,10] b128 1.45;
#               [512,128,10] b16 2.65; [100,100,100,10] b128 1.24; [300,256,10] b16 2.29;
#               [784,64,10] b32 2.16; [32,128,64,2] b256 0.94.
# The small-batch row loops (.fused) take the pool by the same limit with one sample, and from 3 * 2^18
# with more (fused.POOL_PRODUCT_BATCHES, measured there).
PARALLEL_PRODUCT = 1 << 20
# How the forward pass splits a layer (``dense_forward_parallel``): by samples when the batch is at least as
# wide as the layer; otherwise by the rows of W, the same rows each block's backward pass updates, when the
# caller gives room for the blocks' partial products; else by the columns of W. Split by columns, every step
# half of each core's columns of W had last been written by the other core's backward pass. One layer's
# forward then backward, float32, momentum, two blocks, best of 7 x 300 calls alternated in one process
# (us), by columns against by rows of W: 64x784x512 595-601 against 513-514, 64x512x256 327-335 against
# 269-283, 16x784x512 313-319 against 208-213, 16x512x256 169-171 against 96-100, 128x512x256 544-545
# against 469-480, 256x784x512 1652-1710 against 1562-1636 (the forward alone 241-248 against 220-229 us
# at 64x784x512). TBB ran block b on thread b in 2000 of 2000 calls of a 2-block prange, so a block's rows
# of W stay in one core's cache. Epochs of the 784-512-256-10 float32 net, 6000 rows, momentum 0.9, two
# threads, old and new code alternated in fresh processes, best of 5 fits of 3 epochs (ms per epoch): batch
# 16 191-195 against 129-133, batch 64 95-99 against 86-88, batch 256 73.1-73.6 against 71.0; one thread
# (not on this path) 139-148 against 144-148. Measured with two blocks only: ``fastbp.training.allocate_work``
# gives room for ROW_SPLIT_BLOCKS - 1 partials, so more blocks keep the column split.
BY_SAMPLES, BY_W_ROWS, BY_W_COLUMNS = np.intp(0), np.intp(1), np.intp(2)
ROW_SPLIT_BLOCKS = 2


@njit(inline="always", **JIT_OPTIONS)
def block_range(block, n_blocks, length):
    """[start, stop) of block ``block`` of ``n_blocks`` over range(length), edges on multiples of ALIGN."""
    units = (length + ALIGN - 1) // ALIGN
    start = min(length, block * units // n_blocks * ALIGN)
    stop = min(length, (block + 1) * units // n_blocks * ALIGN)
    return start, stop


@njit(**BORROWING_OPTIONS)
def _forward_block(block, n_blocks, A_prev, W, b, code, out, split, partials):
    """One block of out = f(A_prev @ W + b), split BY_SAMPLES (rows of out) or BY_W_COLUMNS (columns of out),
    bias and activation included; or BY_W_ROWS: the product of the block's rows of W alone, into out for
    block 0 and into partials[block - 1] (m, fan_out) for the others (``dense_forward_parallel`` sums them)."""
    m, k = A_prev.shape
    n = W.shape[1]
    if split == BY_W_ROWS:
        start, stop = block_range(block, n_blocks, k)
        target = view(out, 0, m, n) if block == 0 else view(partials, (block - 1) * m * n, m, n)
        if stop == start:  # more blocks than ALIGN-row slices of W
            for i in range(m):
                for j in range(n):
                    target[i, j] = 0.0
            return
        # Fortran view: target^T (n, m) = W[start:stop]^T (n, rows) @ A_prev[:, start:stop]^T (rows, m).
        gemm_at(NO_TRANSPOSE, NO_TRANSPOSE, n, m, stop - start, 1.0, W, start * n, n, A_prev, start, k, 0.0, target,
                0, n)
        return
    if split == BY_SAMPLES:
        start, stop = block_range(block, n_blocks, m)
        rows = stop - start
        if rows == 0:
            return
        if n * out.itemsize <= SKINNY_BYTES:
            skinny_product(rows, n, k, A_prev, start * k, k, 1, W, 0, n, out, start * n, n, FORWARD_K_CHUNK)
        else:
            # Fortran view: out[start:stop]^T (n, rows) = W^T (n, k) @ A_prev[start:stop]^T (k, rows).
            gemm_at(NO_TRANSPOSE, NO_TRANSPOSE, n, rows, k, 1.0, W, 0, n, A_prev, start * k, k, 0.0, out, start * n, n)
        Z = view(out, start * n, rows, n)
        for i in range(rows):
            for j in range(n):
                Z[i, j] += b[j]
        activate(Z, code)
        return
    start, stop = block_range(block, n_blocks, n)
    cols = stop - start
    if cols == 0:
        return
    # Fortran view: out[:, start:stop]^T (cols, m) = W[:, start:stop]^T (cols, k) @ A_prev^T (k, m).
    gemm_at(NO_TRANSPOSE, NO_TRANSPOSE, cols, m, k, 1.0, W, start, n, A_prev, 0, k, 0.0, out, start, n)
    bias = vector(b, start, cols)
    for i in range(m):
        Z = view(out, i * n + start, 1, cols)
        for j in range(cols):
            Z[0, j] += bias[j]
        activate(Z, code)


# The two layer kernels below hold their ``prange`` loops themselves, rather than calling a parallel kernel of
# their own: Numba links every callee's module into its caller's and optimizes and generates that code again at
# each level. The blocks path's first compile, both dtypes (a fresh cache, three pairs of processes alternated):
# 29.8-31.0 s against 31.2-33.0 s with three kernels more (each loop in one of its own, and one between the
# backward loop and ``backward_rows``). ``_forward_block`` stays a kernel of its own: inlined into the loop
# (``inline="always"``) it took 31.0-33.1 s against 30.6-31.7 s.
@njit(parallel=True, **BORROWING_OPTIONS)
def dense_forward_parallel(A_prev, W, b, code, out, n_blocks, partials):
    """out = f(A_prev @ W + b) in ``n_blocks`` blocks on the thread pool; f elementwise (not softmax).

    A_prev (m, fan_in), W (fan_in, fan_out), b (fan_out,), out (m, fan_out). partials: flat scratch; with
    at least (n_blocks - 1) * m * fan_out elements a layer wider than the batch is split by the rows of W
    (see BY_W_ROWS) and the partial products are summed in block order here, else by its columns.
    """
    m, n = out.shape
    if m >= n:
        split = BY_SAMPLES
    elif partials.shape[0] >= (n_blocks - 1) * m * n:
        split = BY_W_ROWS
    else:
        split = BY_W_COLUMNS
    mode = fp_mode()  # the caller's floating-point mode, for the pool's threads too (see .denormals)
    for block in prange(n_blocks):
        previous_mode = set_fp_mode(mode)
        _forward_block(np.intp(block), n_blocks, A_prev, W, b, code, out, split, partials)
        set_fp_mode(previous_mode)
    if split == BY_W_ROWS:
        for block in range(1, n_blocks):
            P = view(partials, (block - 1) * m * n, m, n)
            for i in range(m):
                for j in range(n):
                    out[i, j] += P[i, j]
        for i in range(m):
            for j in range(n):
                out[i, j] += b[j]
        activate(out, code)


@njit(parallel=True, **BORROWING_OPTIONS)
def backward_update_parallel(A_prev, delta, W, b, dW, db, state_W, state_b, code_prev, delta_prev, optimizer,
                             coeffs, l2_over_m, sums, n_blocks):
    """One layer's backward step and optimizer update in ``n_blocks`` blocks of the rows of W on the thread pool;
    returns sum(W**2) before the update when l2_over_m > 0, else 0. Not for NO_UPDATE.

    dW, db (like W, b) receive the gradients; state_W = (state1, state2) shaped like W, state_b likewise
    like b. delta_prev (m, fan_in) receives (delta @ W.T) * f'(A_prev), computed with W before its
    update; pass it with no rows (the first layer) to skip it. sums: float64 scratch of at least
    n_blocks. The L2 term l2_over_m * W joins each gradient inside the update (see ``update_row``).
    """
    state1, state2 = state_W
    mode = fp_mode()
    for block in prange(n_blocks):
        previous_mode = set_fp_mode(mode)
        start, stop = block_range(np.intp(block), n_blocks, A_prev.shape[1])
        sums[block] = backward_rows(start, stop, A_prev, delta, W, dW, state1, state2, code_prev, delta_prev,
                                    optimizer, coeffs, l2_over_m, GRADIENT_K_CHUNK)
        set_fp_mode(previous_mode)
    bias_step(delta, b, db, state_b, optimizer, coeffs)
    sum_sq = 0.0
    for block in range(n_blocks):  # in block order: the same sum for the same number of blocks
        sum_sq += sums[block]
    return sum_sq if l2_over_m > 0 else 0.0
