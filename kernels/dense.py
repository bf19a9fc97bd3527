"""Dense layer kernels: fused forward, hidden delta, weight/bias gradient, and a layer's backward step with its update.

Shapes follow ``Z = A_prev @ W + b`` with samples in rows: A_prev (m, fan_in),
W (fan_in, fan_out), b (fan_out,), Z/A/delta (m, fan_out). The GEMMs go to the
BLAS bound in :mod:`.blas` (NumPy's OpenBLAS); the epilogues are fused loops.
"""
import numpy as np
from numba import njit

from .activations import LINEAR, activate, scale_by_derivative
from .blas import NO_TRANSPOSE, OPENBLAS, TRANSPOSE, gemm_at
from .config import BORROWING_OPTIONS, JIT_OPTIONS
from .microkernel import SKINNY_BYTES, skinny_product
from .optimizers import FIRST_ROW, LR, MOMENTUM, NO_UPDATE, SGD, gradient_fold, update_row
from .views import vector, view


# m * k * n up to which plain loops replace a BLAS call. With OpenBLAS called by symbol, its
# small-matrix kernels beat the loops at every size measured in isolation (one core, per call, float64 /
# float32): 1x2x3 0.027 / 0.026 us against 0.054 / 0.054, 1x32x10 0.108 / 0.047 against 0.155 / 0.161,
# 1x64x32 0.143 / 0.102 against 0.333 / 0.278, 16x16x16 0.147 / 0.122 against 1.05 / 1.32 (A transposed
# alike), and the digits epoch at batch 1 took 3.35-3.85 ms against 3.59-4.06 ms. Inside training the
# tiniest did not pay: seed 001's XOR net (products of 3-6 multiply-adds) took 4.64-4.86 ms per 1000
# epochs against 3.89-4.34 ms with loops, so those stay loops. The np.dot fallbacks keep loops up to
# 4096 (chosen, not tuned: asv DenseKernels times 1x2x3 and 16x64x32).
SMALL_PRODUCT = 64 if OPENBLAS else 4096


# matmul's transposition flags. NumPy bools rather than literals, so that every caller shares one compiled
# version per dtype: with the orientation in the operands' layouts (A.T is an F-ordered array), each
# orientation compiled a version of its own, 1.1 s apiece of a first compile (3 versions: 3.4 s of a
# 28 s first `python -m fastbp train`).
AS_STORED, TRANSPOSED = np.bool_(False), np.bool_(True)


@njit(**BORROWING_OPTIONS)
def matmul(A, B, out, a_transposed, b_transposed):
    """out = op(A) @ op(B), op(X) = X.T if x_transposed else X; op(A) (m, k), op(B) (k, n), out (m, n).

    A, B and out are C-contiguous; pass an F-ordered operand as its transpose (C-ordered) with the flag set.
    Tiny products run as loops: a BLAS call costs more.
    """
    m, n = out.shape
    k = A.shape[0] if a_transposed else A.shape[1]
    if m * k * n > SMALL_PRODUCT:
        if m == 1 and b_transposed:
            # One row: out (1, n) and op(A) (1, k) are Fortran matrices of one row with leading dimension 1 too, and
            # B, stored (n, k), is Fortran (k, n), so this is a plain (N, N) call. The general (T, N) call below went
            # through OpenBLAS's packing path (sgemm_incopy in perf), not its small-matrix kernels. The same bits at
            # every shape measured. One core, (T, N) against (N, N), us, float32 / float64: the digits net's hidden
            # delta (1x10 by 32x10) 0.56 / 0.47-0.90 against 0.28-0.47 / 0.29-0.47, 1x1 by 100x1 0.46-0.50 /
            # 0.34-0.67 against 0.25 / 0.25-0.50; 1x32 by 64x32 and larger 0.94-1.23x, once 1.51x. Digits
            # epochs at batch 1, 16 pairs of fresh processes alternated: 6.02-6.77 against 5.45-6.42 ms while the
            # machine ran fast, 10.1-12.7 against 8.4-9.8 ms while it ran slow.
            gemm_at(NO_TRANSPOSE, NO_TRANSPOSE, 1, n, k, 1.0, A, 0, 1, B, 0, k, 0.0, out, 0, 1)
            return
        # Fortran computes out^T (n, m) = op(B)^T op(A)^T, which is out in row-major order; a stored row-major
        # matrix is its transpose to Fortran, with its row length as leading dimension.
        gemm_at(TRANSPOSE if b_transposed else NO_TRANSPOSE, TRANSPOSE if a_transposed else NO_TRANSPOSE, n, m, k,
                1.0, B, 0, max(B.shape[1], 1), A, 0, max(A.shape[1], 1), 0.0, out, 0, max(n, 1))
        return
    # Element (i, p) of op(A) is A's flat element i * a_row + p * a_col; (p, j) of op(B) is p * b_row + j * b_col.
    a_row, a_col = (1, m) if a_transposed else (k, 1)
    b_row, b_col = (1, k) if b_transposed else (n, 1)
    a_flat, b_flat = vector(A, 0, A.size), vector(B, 0, B.size)
    for i in range(m):
        if k == 0:
            for j in range(n):
                out[i, j] = 0.0
            continue
        a = a_flat[i * a_row]
        # The first product assigned, not added to zeros: the same bits, one pass fewer. Measured while
        # products of up to 4096 multiply-adds were loops: the digits net's 64x1 by 1x32 weight gradient
        # took 0.16 us per call against 0.36 us, its epoch at batch 1 (one core) 4.0 ms against 4.7 ms.
        for j in range(n):
            out[i, j] = a * b_flat[j * b_col]
        for p in range(1, k):
            a = a_flat[i * a_row + p * a_col]
            for j in range(n):
                out[i, j] += a * b_flat[p * b_row + j * b_col]


@njit(**BORROWING_OPTIONS)
def dense_forward(A_prev, W, b, code, out):
    """out = f(A_prev @ W + b); A_prev (m, fan_in), W (fan_in, fan_out), b (fan_out,), out (m, fan_out)."""
    matmul(A_prev, W, out, AS_STORED, AS_STORED)
    m, n = out.shape
    for i in range(m):
        for j in range(n):
            out[i, j] += b[j]
    activate(out, code)


@njit(**BORROWING_OPTIONS)
def hidden_delta(delta, W, A_prev, code, out):
    """out = (delta @ W.T) * f'(A_prev); delta (m, fan_out), W (fan_in, fan_out), A_prev/out (m, fan_in)."""
    matmul(delta, W, out, AS_STORED, TRANSPOSED)
    scale_by_derivative(out, A_prev, code)


@njit(inline="always", **JIT_OPTIONS)
def column_sums(delta, db):
    """db (n,) = the column sums of delta (m, n): the bias gradient."""
    n = db.shape[0]
    for j in range(n):
        db[j] = 0.0
    for i in range(delta.shape[0]):
        for j in range(n):
            db[j] += delta[i, j]


@njit(**BORROWING_OPTIONS)
def weight_gradient(A_prev, delta, W, l2_over_m, dW, db):
    """dW = A_prev.T @ delta + l2_over_m * W, db = column sums of delta; returns sum(W**2) if l2_over_m > 0 else 0.

    A_prev (m, fan_in), delta (m, fan_out), W/dW (fan_in, fan_out), db (fan_out,).
    """
    matmul(A_prev, delta, dW, TRANSPOSED, AS_STORED)
    column_sums(delta, db)
    n = delta.shape[1]
    sum_sq = 0.0
    if l2_over_m > 0:
        fan_in = W.shape[0]
        for i in range(fan_in):
            for j in range(n):
                w = W[i, j]
                dW[i, j] += l2_over_m * w
                sum_sq += w * w
    return sum_sq


@njit(inline="always", **JIT_OPTIONS)
def bias_step(delta, b, db, state_b, optimizer, coeffs):
    """db = column sums of delta (m, n), then the optimizer step on b (n,); state_b = (state1, state2) like b."""
    n = b.shape[0]
    column_sums(delta, db)
    update_row(optimizer, coeffs, view(b, 0, 1, n), view(state_b[0], 0, 1, n), view(state_b[1], 0, 1, n), FIRST_ROW,
               view(db, 0, 1, n), 0, 1.0, 0.0)


@njit(inline="always", **JIT_OPTIONS)
def folded_product(optimizer, coeffs, multiply_adds):
    """(fold, alpha, beta, rule): whether a weight-gradient product of ``multiply_adds`` multiply-adds writes
    alpha * dW + beta * state1 into the optimizer's velocity rather than dW, and the ``update_row`` rule that
    then completes the step (:func:`.optimizers.gradient_fold`); rule is the optimizer when not folding.

    SGD with momentum then reads and writes W and its velocity once per step, and dW not at all: BLAS zeroing
    dW, writing it, and the update reading it back were a round trip through memory for the largest array of
    the step. One layer's backward step and update, float32, momentum 0.5, one thread (first layers, no hidden
    delta; old against folded, best of 5, one run, us): 64x784x512 1238 / 1077, 64x512x256 383 / 319,
    16x784x512 794 / 587, 256x784x512 3435 / 3085, 1024x256x128 970 / 961. Epochs of the 784-512-256-10
    float32 net, 6000 rows, best of 5, old and new code alternated in fresh processes (ms): one thread, batch
    16 715-920 against 609-854 (10 pairs, 8 faster), batch 64 350-536 against 323-470 (10 pairs, 9 faster);
    two-threaded BLAS at batch 1024 188-253 against 184-218 (4 of 5 faster). In the blocks on two threads
    (batches 16, 64, 256, .dense_parallel) the pairs split both ways: there each group's dW was in cache.
    Only with OpenBLAS: the np.dot fallbacks would allocate for alpha and beta. Tiny products stay loops.
    """
    alpha, beta, rule = gradient_fold(optimizer, coeffs)
    fold = OPENBLAS and alpha != 0 and multiply_adds > SMALL_PRODUCT
    return fold, alpha, beta, rule if fold else optimizer


@njit(inline="always", **JIT_OPTIONS)
def sgd_outer_update(A_prev, delta, W, coeffs, l2_over_m):
    """Plain SGD (no momentum) of W (fan_in, n) with the gradient of one sample, the outer product of A_prev
    (1, fan_in) and delta (1, n), formed inside the update's pass: W -= lr * (A_prev^T delta + l2_over_m * W).
    Returns sum(W**2) before the step when l2_over_m > 0, else 0.

    The update of :func:`.optimizers.update_row` with dW[i, j] = A_prev[0, i] * delta[0, j], without writing
    dW, reading it back, or calling BLAS for it (an outer product of 64x32 float32 cost OpenBLAS 110 ns, a
    loop writing it 102 ns). Epochs at batch 1, old and new code alternated in fresh processes, best of 5
    fits of 20 epochs (ms per epoch): digits 64-32-10 float32 1.39-1.51 against 1.14-1.20 (five pairs),
    float64 1.83-1.97 against 1.57-1.60; seed 001's XOR (compat.MLP.train of 1000 epochs, best of 7)
    1.28-1.33 against 1.07-1.10 ms. Batch 16 unchanged (0.38-0.39 against 0.37-0.38); every kernel's first
    compile 0.3-0.4 s longer (of 55-56 s). The bits differ from the BLAS path's (fastmath contracts and
    reassociates this expression), with L2 or without.
    """
    fan_in, n = W.shape
    real = W.dtype.type
    lr, decay = real(coeffs[LR]), real(l2_over_m)
    sum_sq = 0.0
    if l2_over_m > 0:
        for i in range(fan_in):
            for j in range(n):
                sum_sq += W[i, j] * W[i, j]
    for i in range(fan_in):
        a = A_prev[0, i]
        for j in range(n):
            p = W[i, j]
            W[i, j] = p - lr * (a * delta[0, j] + decay * p)
    return sum_sq


# With batches of at most GROUPED_MAX_BATCH rows, a layer's backward pass runs GROUP_ROWS rows of W at a time
# (``backward_rows``: each block of .dense_parallel, and the serial ``backward_update``): the group's hidden-delta
# columns, gradient rows and update, so its rows of W and dW are still in cache for the update. With a few
# samples the gradient is a product with a short inner dimension, bound by writing dW and reading it back, not
# by arithmetic. Measured first in the blocks: one thread, float32, momentum SGD, half the rows of the 784x512
# first layer, dW then the update over the whole block against groups of 32 rows, one run (us): batch 8 284-356
# against 180-183, 16 324-364 against 216-280, 32 395-434 against 300-323, 64 584-939 against 653-673 (no gain,
# so 64 stays whole). asv BlockKernels' layer step on two threads, old and new code alternated in fresh
# processes, three rounds (GFLOP/s): 16x784x512 float32 30.1-32.6 against 41.6-47.8, float64 15.9-17.1 against
# 17.4-21.4; 32x512x256 float32 36.9-49.0 against 42.0-53.0. Epochs of the 784-512-256-10 net, 6000 rows, best
# of 3 (ms): batch 8 717-1066 against 558-665 (7 pairs), batch 16 423-561 against 303-561 (7 pairs, 6 faster by
# 10-31%, one slower by 12%), batch 32 261-364 against 229-359 (5 of 7 faster).
# Groups of 16 or 64 rows, or grouping batches of 64 too, were within the noise of these (3 rounds).
# Then the serial path, one layer's backward step, float32, momentum, one BLAS thread, best of 5 x 100, three
# rounds (us, whole layer against groups; "hidden": with the hidden delta): 8x784x512 first 269-274 against
# 182-187, hidden 543-568 against 257-267; 16x784x512 289-293 / 229-230, hidden 645-686 / 388-417; 32x784x512
# 405-410 / 389-392, hidden 838-848 / 704-713; 16x512x256 hidden 185-190 / 118-121; 16x128x64 hidden 11.4-11.9
# / 8.6-8.7; float64 alike (16x784x512 hidden 1184-1205 / 767-786). With two BLAS threads 16x256x128 hidden
# 77-79 / 29-31 us, but 16x784x512 first 235-240 / 251-255 (such layers take the blocks path on two threads).
# Epochs of the 784-512-256-10 net, one thread, 6000 rows, best of 3, old and new code alternated in fresh
# processes, three pairs (ms): batch 8 486-521 against 371-417, 16 279-301 against 253-259, 32 207-212 against
# 182-199, 64 (not grouped) 161-168 against 154-164; 128-128-128-10 at batch 8 (two threads, serial path) 9.0-9.5
# against 7.4-8.2 ms per epoch of 3000 rows. Smaller layers stay whole (GROUPED_MIN_WEIGHTS): the digits net
# 64-32-10 (2048 weights) at batch 4 and 16 took 0.76-0.78 / 0.47-0.50 ms per epoch whole against 0.79-0.84 /
# 0.50-0.52 grouped, and a product of a few multiply-adds is a loop (``matmul``), not a BLAS call.
GROUPED_MAX_BATCH = 32
GROUP_ROWS = 32
GROUPED_MIN_WEIGHTS = 1 << 13


@njit(**BORROWING_OPTIONS)
def backward_rows(start, stop, A_prev, delta, W, dW, state1, state2, code_prev, delta_prev, optimizer, coeffs,
                  l2_over_m, micro_chunk):
    """Rows [start, stop) of W: their hidden-delta columns, dW rows (or the velocity's, see ``folded_product``), then
    their update, a group of rows [first, first + rows) at a time (see GROUP_ROWS); returns their sum(W**2) before
    the update. Not for NO_UPDATE. The bias is not stepped here.

    A_prev (m, fan_in), delta (m, n), W/dW/state1/state2 (fan_in, n); delta_prev (m, fan_in) receives columns
    [start, stop) of (delta @ W.T) * f'(A_prev), or pass it with no rows (the first layer) to skip them. Given
    ``micro_chunk`` (``microkernel.GRADIENT_K_CHUNK``), the float64 gradient of a skinny layer (n * 8 <=
    microkernel.SKINNY_BYTES) takes the micro-kernel, which writes dW (OpenBLAS is slow there; float32 measured
    faster in BLAS, see :mod:`.microkernel`). ``micro_chunk=None`` leaves the micro-kernel out: Numba drops that
    branch before inlining it, so a caller that never takes it (``backward_update``) does not compile it: the
    first ``python -m fastbp train``, compile included, took 11.7-11.9 s with it, 10.4-11.0 s without, and
    10.0-11.0 s before the serial path grouped its rows (three pairs each, fresh caches, alternated).
    """
    m, fan_in = A_prev.shape
    n = W.shape[1]
    group = GROUP_ROWS if m <= GROUPED_MAX_BATCH else max(stop - start, 1)
    skinny = micro_chunk is not None and dW.itemsize == 8 and n * 8 <= SKINNY_BYTES
    fold, alpha, beta, rule = folded_product(optimizer, coeffs, m * fan_in * n)
    if skinny:  # the micro-kernel writes dW
        fold, rule = False, optimizer
    target = state1 if fold else dW
    if not fold:
        alpha, beta = 1.0, 0.0
    sum_sq = 0.0
    for first in range(start, stop, group):
        rows = min(group, stop - first)
        if delta_prev.shape[0] == m:
            # Fortran view: delta_prev[:, first:first + rows]^T = W[first:first + rows] @ delta^T (n, m).
            gemm_at(TRANSPOSE, NO_TRANSPOSE, rows, m, n, 1.0, W, first * n, n, delta, 0, n, 0.0, delta_prev, first,
                    fan_in)
            if code_prev != LINEAR:
                for r in range(m):
                    scale_by_derivative(view(delta_prev, r * fan_in + first, 1, rows),
                                        view(A_prev, r * fan_in + first, 1, rows), code_prev)
        if micro_chunk is not None and skinny:  # ``skinny`` implies it, but only this test is pruned for None
            # dW[first + r, j] = sum over samples i of A_prev[i, first + r] * delta[i, j].
            skinny_product(rows, n, m, A_prev, first, 1, fan_in, delta, 0, n, dW, first * n, n, micro_chunk)
        else:
            # Fortran view: dW[first:first + rows]^T = delta^T (n, m) @ A_prev[:, first:first + rows], or with
            # ``fold`` the velocity's rows state1[...] = alpha dW[...] + beta state1[...] instead.
            gemm_at(NO_TRANSPOSE, TRANSPOSE, n, rows, m, alpha, delta, 0, n, A_prev, first, fan_in, beta, target,
                    first * n, n)
        size = rows * n
        sum_sq += update_row(rule, coeffs, view(W, first * n, 1, size), view(state1, first * n, 1, size),
                             view(state2, first * n, 1, size), FIRST_ROW, view(dW, first * n, 1, size), 0, 1.0,
                             l2_over_m)
    return sum_sq


@njit(**BORROWING_OPTIONS)
def backward_update(A_prev, delta, W, b, dW, db, state_W, state_b, code_prev, delta_prev, optimizer, coeffs,
                    l2_over_m):
    """One layer's backward step, then its optimizer update; returns sum(W**2) before the update when
    l2_over_m > 0, else 0.

    dW, db receive the gradients (with l2_over_m * W only for NO_UPDATE, which keeps them as the
    result; otherwise the L2 term is folded into the update's pass over W, see
    :func:`.optimizers.update_row`), except that dW is left untouched when the product adds the gradient
    to the optimizer's velocity instead (``folded_product``), and for plain SGD with one sample, whose
    gradient the update forms itself (``sgd_outer_update``). delta_prev (m, fan_in) receives
    (delta @ W.T) * f'(A_prev) with W before its update; pass it with no rows (the first layer) to skip it.
    state_W = (state1, state2) like W, state_b like b. The update follows the layer's gradient while it is
    still in cache; with 2 to GROUPED_MAX_BATCH samples on a layer of at least GROUPED_MIN_WEIGHTS weights, a
    group of GROUP_ROWS rows at a time (``backward_rows``, without its micro-kernel), except float64 skinny layers
    (the blocks give them the micro-kernel; in groups of BLAS calls they were not measured).
    """
    fan_in, n = W.shape
    size = W.size
    m = A_prev.shape[0]
    if (1 < m <= GROUPED_MAX_BATCH and size >= GROUPED_MIN_WEIGHTS and optimizer != NO_UPDATE
            and not (dW.itemsize == 8 and n * 8 <= SKINNY_BYTES)):
        # np.intp(0), not 0: a literal would compile a version of its own (1.9 s of a first compile)
        sum_sq = backward_rows(np.intp(0), fan_in, A_prev, delta, W, dW, view(state_W[0], 0, fan_in, n),
                               view(state_W[1], 0, fan_in, n), code_prev, delta_prev, optimizer, coeffs, l2_over_m,
                               None)
        bias_step(delta, b, db, state_b, optimizer, coeffs)
        return sum_sq if l2_over_m > 0 else 0.0
    outer_sgd = m == 1 and optimizer == SGD and coeffs[MOMENTUM] == 0  # sgd_outer_update forms the gradient
    fold, alpha, beta, rule = folded_product(optimizer, coeffs, m * size)
    sum_sq = 0.0
    if outer_sgd:
        column_sums(delta, db)
    elif fold:
        # Fortran view: state1^T (n, fan_in) = alpha delta^T (n, m) @ A_prev (m, fan_in) + beta state1^T.
        gemm_at(NO_TRANSPOSE, TRANSPOSE, n, fan_in, m, alpha, delta, 0, n, A_prev, 0, fan_in, beta, state_W[0], 0, n)
        column_sums(delta, db)
    else:
        sum_sq = weight_gradient(A_prev, delta, W, l2_over_m if optimizer == NO_UPDATE else 0.0, dW, db)
    if delta_prev.shape[0] == m:
        hidden_delta(delta, W, A_prev, code_prev, delta_prev)
    if outer_sgd:
        sum_sq = sgd_outer_update(A_prev, delta, W, coeffs, l2_over_m)
    elif optimizer != NO_UPDATE:
        sum_sq = update_row(rule, coeffs, view(W, 0, 1, size), view(state_W[0], 0, 1, size),
                            view(state_W[1], 0, 1, size), FIRST_ROW, view(dW, 0, 1, size), 0, 1.0, l2_over_m)
    if optimizer != NO_UPDATE:
        update_row(optimizer, coeffs, view(b, 0, 1, n), view(state_b[0], 0, 1, n), view(state_b[1], 0, 1, n), FIRST_ROW,
                   view(db, 0, 1, n), 0, 1.0, 0.0)
    return sum_sq if l2_over_m > 0 else 0.0
