"""Small-batch layer kernels: the matrix products as row loops, with the optimizer update fused in.

With a handful of rows per batch (m <= ``FUSED_MAX_ROWS``) a layer's products are
matrix-vector work bound by reading W, not by arithmetic, and a BLAS call costs more
than the loop. So each kernel here makes one pass over W:

- ``dense_forward_rows``: Z = A_prev @ W + b as axpys over the rows of W, each row read
  once for all m samples, then the activation;
- ``backward_update_rows``: for each row i of W, first the hidden delta's column i
  (delta @ W[i] times f'(A_prev[:, i]), with W before the update), then the gradient row
  dW[i] = A_prev[:, i] @ delta + l2/m W[i]; then the optimizer update of each block of rows
  while it is in cache. W, its gradient and the optimizer state come from memory once per
  step; the unfused path writes all of dW, reads it back with W and the state, and calls
  BLAS twice.

For large layers the backward pass is cut into ``N_BLOCKS`` fixed blocks of rows of W, run
by ``prange`` on Numba's thread pool (784x512 float32, m = 1: 291 us serial, 137 us on two
threads); small layers, or one thread, are one block in the calling thread. Each weight's
arithmetic is the same either way, so the weights are bit-identical on any number of threads;
only the L2 term of the reported cost sums per-block partials (in block order).

Shapes follow :mod:`.dense`: A_prev (m, fan_in), W (fan_in, fan_out), b (fan_out,),
delta (m, fan_out), delta_prev (m, fan_in).
"""
import numpy as np
from numba import njit, prange

from .activations import activate, derivative
from .config import BORROWING_OPTIONS, JIT_OPTIONS
from .dense import bias_step
from .denormals import fp_mode, set_fp_mode
from .optimizers import update_row
from .views import view

# Batches of up to this many rows of a network with a layer of at least LARGE_LAYER weights
# take these kernels instead of BLAS. Measured on the 784-512-256-10 net, one epoch of 3000
# samples, two threads, alternating with the BLAS-only code: batch 1 1.25-1.27 s vs 1.62-1.72 s,
# batch 4 0.46-0.48 s vs 0.53-0.59 s, batch 8 288-289 ms vs 302-316 ms (a noisier second run:
# 279-411 vs 325-326), batch 16 166-194 ms vs 177-185 ms (a draw: BLAS keeps it). Smaller
# networks (digits 64-32-10) keep the plain loops and one flat update: their rows are too short
# for per-layer passes to pay (10.1-10.7 ms against 8.0-8.2 ms per digits epoch at batch 1).
FUSED_MAX_ROWS = 8
LARGE_LAYER = 1 << 15
# Large layers run their backward pass in this many row blocks on the thread pool (when it has
# more than one thread); smaller ones in the calling thread, where a launch costs more than it saves.
N_BLOCKS = 8


@njit(inline="always", **JIT_OPTIONS)
def _block(block, n_blocks, length):
    """[start, stop) of block ``block`` of n_blocks over range(length)."""
    return block * length // n_blocks, (block + 1) * length // n_blocks


@njit(**BORROWING_OPTIONS)
def dense_forward_rows(A_prev, W, b, code, out):
    """out = f(A_prev @ W + b) with each row of W read once; A_prev (m, fan_in), W (fan_in, fan_out), out (m, fan_out).

    Four rows of W per pass over out: a quarter of the loads and stores of out that one row
    per pass costs (784x512 float32, m = 4: 82 us against 145 us). Serial: on two threads,
    splitting the rows of W took 89 us, splitting the columns 137 us (the product is bound by
    reading W, which one core already streams). Loops run from 0: a loop from a variable
    start does not vectorize (Numba's negative-index check), 8x slower here.
    """
    m, fan_in = A_prev.shape
    n = W.shape[1]
    for r in range(m):
        for j in range(n):
            out[r, j] = b[j]
    i = 0
    while i + 4 <= fan_in:
        for r in range(m):
            a0, a1, a2, a3 = A_prev[r, i], A_prev[r, i + 1], A_prev[r, i + 2], A_prev[r, i + 3]
            for j in range(n):
                out[r, j] += a0 * W[i, j] + a1 * W[i + 1, j] + a2 * W[i + 2, j] + a3 * W[i + 3, j]
        i += 4
    for i in range(i, fan_in):
        for r in range(m):
            a0 = A_prev[r, i]
            for j in range(n):
                out[r, j] += a0 * W[i, j]
    activate(out, code)


@njit(**BORROWING_OPTIONS)
def _update_block(block, n_blocks, A_prev, delta, W, dW, state1, state2, code_prev, delta_prev, optimizer, coeffs,
                  l2_over_m, sums):
    """Block ``block`` of the rows of W: hidden-delta columns, gradient rows into dW, then one update of the block.

    The update runs once per block over its rows as one flat run, not once per row: with the
    optimizer's branches inside the row loop, LLVM kept the row loops scalar (64x32 float32:
    7.3 us per layer step against 1.8 us). The gradient rows are re-read from cache by the update.
    """
    m, fan_in = A_prev.shape
    n = W.shape[1]
    want_delta_prev = delta_prev.shape[0] == m
    sum_sq = 0.0
    start, stop = _block(block, n_blocks, fan_in)
    for i in range(start, stop):
        if want_delta_prev:
            for r in range(m):
                s = 0.0
                for j in range(n):
                    s += delta[r, j] * W[i, j]
                delta_prev[r, i] = s * derivative(A_prev[r, i], code_prev)
        for j in range(n):
            dW[i, j] = l2_over_m * W[i, j]
        for r in range(m):
            a = A_prev[r, i]
            for j in range(n):
                dW[i, j] += a * delta[r, j]
    if l2_over_m > 0:
        for i in range(start, stop):
            for j in range(n):
                sum_sq += W[i, j] * W[i, j]
    length = (stop - start) * n
    update_row(optimizer, coeffs, view(W, start * n, 1, length), view(state1, start * n, 1, length),
               view(state2, start * n, 1, length), 0, view(dW, start * n, 1, length), 0, 0.0)
    sums[block] = sum_sq


@njit(parallel=True, **BORROWING_OPTIONS)
def _update_parallel(A_prev, delta, W, dW, state1, state2, code_prev, delta_prev, optimizer, coeffs, l2_over_m,
                     sums):
    # intp arguments, not the loop's own index type or literals: each distinct argument type was one
    # more compile of the block body (three per dtype, measured), about a second each.
    mode = fp_mode()  # the caller's floating-point mode, for the pool's threads too (see .denormals)
    for block in prange(N_BLOCKS):
        previous_mode = set_fp_mode(mode)
        _update_block(np.intp(block), np.intp(N_BLOCKS), A_prev, delta, W, dW, state1, state2, code_prev,
                      delta_prev, optimizer, coeffs, l2_over_m, sums)
        set_fp_mode(previous_mode)


@njit(**BORROWING_OPTIONS)
def backward_update_rows(A_prev, delta, W, b, dW, db, state_W, state_b, code_prev, delta_prev, optimizer, coeffs,
                         l2_over_m, sums, parallel):
    """One layer's backward step and optimizer update in one pass over W; returns sum(W**2) before the update
    when l2_over_m > 0, else 0.

    dW, db (like W, b) receive the gradients; state_W = (state1, state2) shaped like W, state_b likewise
    like b. delta_prev (m, fan_in) receives (delta @ W.T) * f'(A_prev), computed with W before its update;
    pass it with no rows (the first layer) to skip it. sums: float64 scratch of N_BLOCKS.
    ``parallel`` allows the thread pool for layers of at least LARGE_LAYER weights.
    """
    n = W.shape[1]
    n_blocks = 1
    if parallel and W.shape[0] * n >= LARGE_LAYER:
        n_blocks = N_BLOCKS
        _update_parallel(A_prev, delta, W, dW, state_W[0], state_W[1], code_prev, delta_prev, optimizer, coeffs,
                         l2_over_m, sums)
    else:
        _update_block(np.intp(0), np.intp(1), A_prev, delta, W, dW, state_W[0], state_W[1], code_prev, delta_prev,
                      optimizer, coeffs, l2_over_m, sums)
    bias_step(delta, b, db, state_b, optimizer, coeffs)
    sum_sq = 0.0
    for block in range(n_blocks):
        sum_sq += sums[block]
    return sum_sq
