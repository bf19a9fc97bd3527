"""Whole passes of a network: forward, backward, training epochs, prediction and evaluation.

One network of any depth is described by plain arrays, so each kernel compiles
once per dtype:

- ``params``: flat buffer [W0, b0, W1, b1, ...]; W_l is (sizes[l], sizes[l+1]) row-major.
- ``sizes``: intp (n_layers + 1,), the widths [n_in, h1, ..., n_out].
- ``codes``: intp (n_layers,), activation codes of the hidden layers then the output.
- ``work``: tuple of eight flat buffers of the params' dtype, allocated once per call
  from Python for a capacity of B rows: (X batch, Y batch, hidden activations,
  output logits, output activations, delta, delta, then for ``train_epochs_rows`` the next batch's X
  and the blocks' products of it (``ahead_length``), for ``train_epochs_blocks`` the blocks' partial
  forward products (``partials_length``), or empty), then a float64 scratch of
  ``scratch_length(threads)`` for each step's optimizer coefficients and the blocks' partial
  sums. Views into them are carved per batch of m <= B rows, so nothing is allocated per
  batch. X and Y must be C-contiguous: consecutive rows are used in place, without a copy.

The entry kernels allocate nothing, so they and every kernel they call compile without Numba's
runtime (``config.BORROWING_OPTIONS``): no reference counting in the loop.

Training has three entry kernels built from one loop (``_training_kernel``): ``train_epochs``
(:mod:`.dense` products, BLAS or loops for tiny ones, each layer updated right after its
gradient with the L2 term folded into the update, :mod:`.optimizers`), ``train_epochs_blocks``
(the same with large layers in blocks on the thread pool, :mod:`.dense_parallel`) and
``train_epochs_rows`` (:mod:`.fused` row loops with the optimizer update fused into the backward
pass, for small batches of large layers). Given sample weights, ``train_epochs`` and
``train_epochs_blocks`` run scikit-learn's conventions (sample weights, its losses and L2 scaling)
for ``fastbp.sklearn``: a runtime flag, as a kernel of its own for them cost 7 s of first compile
per dtype (the all-kernels compile took 74-80 s against 82-104 s with it, alternated). The loop's
``rows`` and ``blocks`` flags are constants of each, so the compiler drops the other paths' code:
each path compiles only when first used (a first ``python -m fastbp train`` took 32 s when one
kernel held both paths, 14.7-16.7 s then, against 17 s before the small-batch path existed).

The small helpers (``detach``, ``layer_params``, ``hidden_activation``, ``gather_rows``)
are inlined where they are called: each separate compile unit costs about 0.2 s of a
first compile whatever its size; inlining them and ``count_correct`` saved 1.2 s of the
all-kernels compile (mean of six alternating runs) with no measurable runtime change.
``batch_rows`` is inlined as well because it returns a view, which a function compiled without
the runtime may not.
"""
import numpy as np
from numba import njit

from .activations import LINEAR, activate
from .config import BORROWING_OPTIONS, JIT_OPTIONS
from .denormals import enter_training_mode, set_fp_mode
from .dense import backward_update, dense_forward
from .dense_parallel import PARALLEL_PRODUCT, ROW_SPLIT_BLOCKS, backward_update_parallel, dense_forward_parallel
from .fused import AHEAD_MIN_WEIGHTS, N_BLOCKS, backward_update_rows, dense_forward_rows, dense_forward_rows_in_blocks
from .losses import count_correct, output_delta, weighted_output_delta
from .optimizers import L2, N_COEFFS, NO_UPDATE, step_coefficients
from .views import vector, view

XB, YB, HIDDEN, LOGITS, OUTPUT, DELTA_A, DELTA_B, AHEAD, SCRATCH = range(9)
N_WORK = 9


def scratch_length(threads):
    """Length of work[SCRATCH] for training on up to ``threads`` threads: the optimizer's coefficients, then one
    partial sum per block."""
    return N_COEFFS + max(N_BLOCKS, threads)


def partials_length(sizes, capacity):
    """Length of work[AHEAD] for ``train_epochs_blocks`` to split the forward product of a layer wider than the
    batch by the rows of W (``dense_parallel.dense_forward_parallel``): the ROW_SPLIT_BLOCKS - 1 partial
    products of up to ``capacity`` rows of the widest layer beside the one written into the layer's output."""
    return capacity * int(max(sizes[1:])) * (ROW_SPLIT_BLOCKS - 1)


def ahead_length(sizes, capacity):
    """Length of work[AHEAD] for ``train_epochs_rows`` to run each first-layer update together with the next
    batch's product (``fused.backward_update_rows``' ``look_ahead``): the next batch of up to ``capacity`` rows,
    then N_BLOCKS partial products of it."""
    return capacity * (sizes[0] + N_BLOCKS * sizes[1])


@njit(inline="always", **JIT_OPTIONS)
def detach(work):
    """The workspace tuple as views without reference counts (see ``views``), made once per call."""
    return (vector(work[XB], 0, work[XB].shape[0]), vector(work[YB], 0, work[YB].shape[0]),
            vector(work[HIDDEN], 0, work[HIDDEN].shape[0]), vector(work[LOGITS], 0, work[LOGITS].shape[0]),
            vector(work[OUTPUT], 0, work[OUTPUT].shape[0]), vector(work[DELTA_A], 0, work[DELTA_A].shape[0]),
            vector(work[DELTA_B], 0, work[DELTA_B].shape[0]), vector(work[AHEAD], 0, work[AHEAD].shape[0]))


@njit(inline="always", **JIT_OPTIONS)
def layer_params(params, sizes, layer):
    """Views (W (fan_in, fan_out), b (fan_out,)) of one layer in a flat buffer laid out as ``params``."""
    offset = 0
    for k in range(layer):
        offset += sizes[k] * sizes[k + 1] + sizes[k + 1]
    fan_in, fan_out = sizes[layer], sizes[layer + 1]
    W = view(params, offset, fan_in, fan_out)
    b = vector(params, offset + fan_in * fan_out, fan_out)
    return W, b


@njit(inline="always", **JIT_OPTIONS)
def hidden_activation(work, sizes, layer, m):
    """View (m, sizes[layer + 1]) of the output of hidden layer ``layer`` for a batch of m rows."""
    offset = 0
    for k in range(1, layer + 1):
        offset += m * sizes[k]
    return view(work[HIDDEN], offset, m, sizes[layer + 1])


@njit(inline="always", **JIT_OPTIONS)
def gather_rows(source, order, start, m, out):
    """out[r] = source[order[start + r]] for r < m; source (n, k), out (m, k)."""
    k = source.shape[1]
    for r in range(m):
        row = order[start + r]
        for j in range(k):
            out[r, j] = source[row, j]


@njit(inline="always", **JIT_OPTIONS)
def batch_rows(source, order, start, m, buffer):
    """Rows order[start:start + m] of source (n, k) as an (m, k) array: a view of source when they are
    consecutive (unshuffled data, full batches: no copy), else gathered into buffer."""
    first = order[start]
    consecutive = first + m <= source.shape[0]
    for r in range(m):
        if order[start + r] != first + r:
            consecutive = False
            break
    k = source.shape[1]
    if consecutive:
        return view(source, first * k, m, k)
    out = view(buffer, 0, m, k)
    gather_rows(source, order, start, m, out)
    return out


@njit(inline="always", **JIT_OPTIONS)
def forward(Xb, params, sizes, codes, work, rows, blocks, n_blocks, ahead, first_done):
    """Forward pass of one batch Xb (m, n_in): hidden activations into work, returns the logits view (m, n_out).

    ``rows`` takes the small-batch row loops (:mod:`.fused`) instead of BLAS products; inlined, so a
    constant ``rows`` leaves only one of them in the caller. A constant ``blocks`` likewise runs layers of at
    least PARALLEL_PRODUCT multiply-adds in ``n_blocks`` blocks on the thread pool (:mod:`.dense_parallel`).
    ``ahead`` (with ``rows``): the first layer is summed in blocks, as ``backward`` computes it with X_next;
    ``first_done``: the previous step's ``backward`` did, and its activations are already in work.
    """
    m = Xb.shape[0]
    n_layers = sizes.shape[0] - 1
    A_prev = Xb
    for layer in range(n_layers):
        W, b = layer_params(params, sizes, layer)
        last = layer == n_layers - 1
        A = view(work[LOGITS], 0, m, sizes[n_layers]) if last else hidden_activation(work, sizes, layer, m)
        code = np.intp(LINEAR) if last else codes[layer]  # an intp like codes[layer]: one compiled version
        if layer == 0 and first_done:
            pass
        elif rows and layer == 0 and ahead:
            dense_forward_rows_in_blocks(A_prev, W, b, code, A, vector(work[AHEAD], 0, N_BLOCKS * m * sizes[1]))
        elif rows:
            dense_forward_rows(A_prev, W, b, code, A)
        elif blocks:
            if m * W.shape[0] * W.shape[1] >= PARALLEL_PRODUCT:
                dense_forward_parallel(A_prev, W, b, code, A, n_blocks, work[AHEAD])
            else:
                dense_forward(A_prev, W, b, code, A)
        else:
            dense_forward(A_prev, W, b, code, A)
        A_prev = A
    return A_prev


@njit(inline="always", **JIT_OPTIONS)
def backward(Xb, params, grads, state, sizes, codes, optimizer, coeffs, l2_over_m, work, sums, parallel, rows,
             blocks, n_blocks, ahead, X_next):
    """Backward pass after ``forward`` and ``output_delta`` (delta in work[DELTA_A]); grads (flat, like params)
    receives the gradients, with l2_over_m * W added to each dW. Returns sum ||W||^2 over the layers (before
    any update) when l2_over_m > 0, else 0.

    Each layer is also updated by the optimizer as soon as its gradient and hidden delta are computed,
    state = (state1, state2) like params: with ``rows`` in the same pass over W by the small-batch row
    loops (:mod:`.fused`; sums a float64 scratch of N_BLOCKS, ``parallel`` allows the thread pool), else
    after the layer's BLAS products (:func:`.dense.backward_update`), or with ``blocks`` for layers of at
    least PARALLEL_PRODUCT multiply-adds in ``n_blocks`` blocks of rows of W on the thread pool, each block
    updated after its products (:func:`.dense_parallel.backward_update_parallel`; sums then needs n_blocks
    entries). Inlined, so constant ``rows`` and ``blocks`` leave one path in the caller. With ``rows`` and
    ``ahead``, the first layer is updated in N_BLOCKS blocks (whatever the thread count) that also compute
    the first hidden activations of the next batch X_next (m_next, n_in; no rows at the end of a call) into
    work (the ``look_ahead`` of :func:`.fused.backward_update_rows`, its scratch in work[AHEAD]).
    """
    m = Xb.shape[0]
    n_layers = sizes.shape[0] - 1
    delta = view(work[DELTA_A], 0, m, sizes[n_layers])
    sum_sq = 0.0
    use_b = True
    for layer in range(n_layers - 1, -1, -1):
        W, b = layer_params(params, sizes, layer)
        dW, db = layer_params(grads, sizes, layer)
        if layer > 0:
            A_prev = hidden_activation(work, sizes, layer - 1, m)
            target = work[DELTA_B] if use_b else work[DELTA_A]
            use_b = not use_b
            delta_prev = view(target, 0, m, sizes[layer])
            code_prev = codes[layer - 1]
        else:
            A_prev = Xb
            delta_prev = view(work[DELTA_B], 0, 0, sizes[layer])  # no rows: the input needs no delta
            code_prev = np.intp(LINEAR)
        S1W, S1b = layer_params(state[0], sizes, layer)
        S2W, S2b = layer_params(state[1], sizes, layer)
        if rows:
            first_ahead = ahead and layer == 0
            m_next = X_next.shape[0] if first_ahead else 0
            look_ahead = (first_ahead, view(X_next, 0, m_next, X_next.shape[1]),
                          vector(work[AHEAD], X_next.shape[1] * m_next, N_BLOCKS * m_next * sizes[1]), codes[0],
                          hidden_activation(work, sizes, 0, m_next))
            sum_sq += backward_update_rows(A_prev, delta, W, b, dW, db, (S1W, S2W), (S1b, S2b), code_prev,
                                           delta_prev, optimizer, coeffs, l2_over_m, sums, parallel, look_ahead)
        elif blocks and optimizer != NO_UPDATE and m * W.shape[0] * W.shape[1] >= PARALLEL_PRODUCT:
            sum_sq += backward_update_parallel(A_prev, delta, W, b, dW, db, (S1W, S2W), (S1b, S2b), code_prev,
                                               delta_prev, optimizer, coeffs, l2_over_m, sums, n_blocks)
        else:
            sum_sq += backward_update(A_prev, delta, W, b, dW, db, (S1W, S2W), (S1b, S2b), code_prev, delta_prev,
                                      optimizer, coeffs, l2_over_m)
        delta = delta_prev
    return sum_sq


def _training_kernel(name, rows, blocks, doc):
    """The compiled training loop, in the floating-point mode asked for (see :mod:`.denormals`), with its path
    fixed: ``rows`` (the small-batch row loops, :mod:`.fused`), ``blocks`` (large layers in blocks on the thread
    pool, :mod:`.dense_parallel`), or neither (:mod:`.dense`). Given weights with rows (not with ``rows``), it
    takes scikit-learn's conventions (see ``train_epochs``).

    The flags are constants of the closure, so Numba drops the other paths' code (and, with ``rows``,
    scikit-learn's conventions) before typing: each path compiles only when first used. Numba keys each
    kernel's cache entries on the closure's values. One loop body built into three kernels here, rather than
    one inlined function: ``inline="always"`` deep-copied the loop's IR twice into every kernel and dtype
    (1.24 s of a 15 s first ``python -m fastbp train``). Side by side, each tree compiling into a fresh cache
    at the same moment: every kernel of both dtypes 80.1 / 84.6 s against 94.0 / 103.0 s; the first
    ``python -m fastbp train`` 16.1-17.7 s against 17.9-18.2 s in three pairs, but 20.0-23.7 s against
    19.0-22.5 s in three more in a noisier hour, so about 1 s at most there.

    ``threads`` has no default value: the kernel called with it omitted kept about 100 bytes per call
    (tests/test_memory.py).
    """
    weighable = not rows

    def kernel(X, Y, orders, batch_size, params, sizes, codes, loss_code, optimizer, hyper, state, step, work,
               epoch_cost, epoch_correct, last_cost, weights, batch_weights, flush_denormals, threads):
        previous_mode = enter_training_mode(flush_denormals)
        n = orders.shape[1]
        n_layers = sizes.shape[0] - 1
        n_out = Y.shape[1]
        out_code = codes[n_layers - 1]
        scratch = work[SCRATCH]
        coeffs = vector(scratch, 0, N_COEFFS)
        sums = vector(scratch, N_COEFFS, scratch.shape[0] - N_COEFFS)  # at least max(N_BLOCKS, n_blocks)
        work = detach(work)
        grads = vector(state[0], 0, state[0].shape[0])
        moments = (vector(state[1], 0, state[1].shape[0]), vector(state[2], 0, state[2].shape[0]))
        parallel = threads > 1
        n_blocks = threads if blocks else 1  # the row loops split their own blocks (``parallel``)
        l2 = hyper[L2]
        # With rows, each step's first-layer update of a large first layer also runs the next batch's first layer
        # (fused.AHEAD_MIN_WEIGHTS): ``first_done`` then tells the next step's forward pass.
        ahead = (rows and n_layers > 1 and sizes[0] * sizes[1] >= AHEAD_MIN_WEIGHTS
                 and work[AHEAD].shape[0] >= batch_size * (sizes[0] + N_BLOCKS * sizes[1]))
        first_done = False
        failed = -1
        for epoch in range(orders.shape[0]):
            total = 0.0
            correct = 0
            cost = 0.0
            for start in range(0, n, batch_size):
                m = min(batch_size, n - start)
                order = vector(orders, epoch * n, n)
                Xb = batch_rows(X, order, start, m, work[XB])
                Yb = batch_rows(Y, order, start, m, work[YB])
                Z = forward(Xb, params, sizes, codes, work, rows, blocks, n_blocks, ahead, first_done)
                A_out = view(work[OUTPUT], 0, m, n_out)
                delta = view(work[DELTA_A], 0, m, n_out)
                if weighable and weights.shape[0] > 0:
                    wb = view(batch_weights, 0, m, 1)
                    gather_rows(weights, order, start, m, wb)
                    loss, weight_sum = weighted_output_delta(Z, Yb, wb, out_code, loss_code, A_out, delta)
                    l2_scale = weight_sum
                else:
                    loss = output_delta(Z, Yb, out_code, loss_code, A_out, delta)
                    if not np.isfinite(loss):
                        failed = start // batch_size
                        break
                    correct += count_correct(A_out, Yb, out_code)
                    l2_scale = np.float64(m)
                step_coefficients(optimizer, hyper, step + 1, coeffs)
                X_next = view(work[AHEAD], 0, 0, X.shape[1])  # no rows: no next batch to start on
                if ahead:
                    next_epoch, next_start = (epoch, start + m) if start + m < n else (epoch + 1, 0)
                    if next_epoch < orders.shape[0]:
                        X_next = batch_rows(X, vector(orders, next_epoch * n, n), next_start,
                                            min(batch_size, n - next_start), work[AHEAD])
                sum_sq = backward(Xb, params, grads, moments, sizes, codes, optimizer, coeffs, l2 / l2_scale, work,
                                  sums, parallel, rows, blocks, n_blocks, ahead, X_next)
                first_done = X_next.shape[0] > 0
                if weighable and weights.shape[0] > 0:
                    batch_total = (loss + 0.5 * l2 * sum_sq / l2_scale) * m
                else:
                    batch_total = loss + 0.5 * l2 * sum_sq
                    if not np.isfinite(batch_total):
                        failed = start // batch_size
                        break
                step += 1
                cost = batch_total / m
                total += batch_total
            if failed >= 0:
                epoch_cost[epoch] = np.nan
                break
            epoch_cost[epoch] = total
            epoch_correct[epoch] = correct
            last_cost[epoch] = cost
        set_fp_mode(previous_mode)
        return step, failed

    kernel.__name__ = kernel.__qualname__ = name
    kernel.__doc__ = doc
    return njit(**BORROWING_OPTIONS)(kernel)


train_epochs = _training_kernel("train_epochs", rows=False, blocks=False, doc="""Run ``orders.shape[0]`` epochs
    of mini-batch training; returns (optimizer step count, failed batch).

    X (n, n_in), Y (n, n_out), orders (n_epochs, n) sample order per epoch.
    state = (grads, optimizer state 1, optimizer state 2), each like params.
    Per epoch e: epoch_cost[e] = summed batch cost * m (divide by n for the mean),
    epoch_correct[e] = correctly classified samples, last_cost[e] = last batch's cost.
    Stops at the first non-finite batch loss, before updating with it; that
    epoch's epoch_cost is NaN, the later entries are left untouched, and the
    returned failed batch is its index within the epoch (-1 when none failed).
    The gradients of each batch are left in grads (NO_UPDATE: gradients only; with one batch of
    all samples in order, the gradients of the loss: L-BFGS), except the weight gradients that an update
    forms itself instead of storing them (for example SGD with momentum, folded into the velocity, and plain
    SGD with one sample: see :func:`.dense.backward_update`).
    ``flush_denormals``: run with denormal numbers flushed to zero (see :mod:`.denormals`), the calling
    thread's mode restored on return. ``threads``: pass 1 (the other two kernels' thread count).

    weights (n, 1) with rows: scikit-learn's MLP conventions (``fastbp.sklearn``): sample weights, the loss
    of ``weighted_output_delta`` (loss_code) plus 0.5 * alpha * sum ||W||^2 / sum(w), alpha = hyper[L2],
    whose gradient alpha * W / sum(w) joins dW; epoch_cost[e] is then the sum of batch loss * batch rows,
    epoch_correct and last_cost are not set, and a non-finite loss does not stop training (scikit-learn
    trains on and rejects non-finite weights at the end); batch_weights (batch_size, 1) is scratch.
    weights and batch_weights with no rows: fastbp.Network's conventions above. One kernel for both,
    rather than one per convention: a separate scikit-learn kernel cost 7 s of first compile per dtype.
    """)

train_epochs_blocks = _training_kernel("train_epochs_blocks", rows=False, blocks=True, doc="""``train_epochs``
    with large layers split into ``threads`` blocks on Numba's thread pool, each block calling BLAS (which
    should have one thread: see :mod:`.dense_parallel`). Not for NO_UPDATE.

    weights and batch_weights as in ``train_epochs``: with rows, scikit-learn's conventions
    (``fastbp.sklearn``); with none, ``fastbp.Network``'s.

    The one entry kernel that reaches the parallel kernels, for both: cached callers sharing a parallel
    callee compiled in another process crashed when loaded (a Network fit, then two scikit-learn fits,
    each in a new process with a fresh cache, when scikit-learn's serial kernel also reached them).
    """)

train_epochs_rows = _training_kernel("train_epochs_rows", rows=True, blocks=False, doc="""``train_epochs`` on
    the small-batch kernels (:mod:`.fused`): each layer is updated inside the backward pass. ``threads`` > 1
    lets them use Numba's thread pool for large layers. Not for NO_UPDATE; fastbp.Network's conventions only
    (weights and batch_weights with no rows).
    """)


@njit(**BORROWING_OPTIONS)
def evaluate(X, Y, params, sizes, codes, loss_code, capacity, work, out):
    """Forward X (n, n_in) in chunks of ``capacity`` rows, predicting into ``out`` and/or scoring against ``Y``.

    out (n, n_out) receives the output activations; pass it with no rows to skip them.
    Y (n, n_out): returns (summed per-sample loss, correctly classified count), no L2 term;
    pass it with no rows to skip scoring, and (0.0, 0) is returned.
    Prediction and scoring share this one kernel because every compiled entry point
    re-optimizes the whole forward pass: a separate prediction kernel cost 0.5 s of first
    compile per dtype.
    """
    n, n_in = X.shape
    n_out = out.shape[1]
    out_code = codes[codes.shape[0] - 1]
    scoring, predicting = Y.shape[0] == n, out.shape[0] == n
    work = detach(work)
    total = 0.0
    correct = 0
    for start in range(0, n, capacity):
        m = min(capacity, n - start)
        Xb = view(X, start * n_in, m, n_in)
        Z = forward(Xb, params, sizes, codes, work, False, False, 1, False, False)
        if scoring:
            Yb = view(Y, start * n_out, m, n_out)
            A_out = view(work[OUTPUT], 0, m, n_out)
            total += output_delta(Z, Yb, out_code, loss_code, A_out, view(work[DELTA_A], 0, m, n_out))
            correct += count_correct(A_out, Yb, out_code)
        if predicting:
            rows = view(out, start * n_out, m, n_out)
            for i in range(m):
                for j in range(n_out):
                    rows[i, j] = Z[i, j]
            activate(rows, out_code)
    return total, correct
