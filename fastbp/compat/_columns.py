"""Column-major building blocks (samples in columns, W (n_l, n_prev), b (n_l, 1)) for the seeds' functions.

The classic NumPy examples store samples in columns; the kernels take samples in
rows. A C-ordered (n, m) array transposed is an F-ordered (m, n) array, so ``product``
hands the kernels' ``matmul`` the stored array with a transposition flag, without copying.

The linear helpers return C-ordered arrays of the seeds' own shapes with the bits of the
seeds' ``np.dot`` for ``W @ A_prev``, ``dZ @ A_prev.T`` and ``W.T @ dZ`` (see ``product``).
Products with one row or one column are NumPy's gemv calls. Before ``product`` chose
between the kernels and np.dot, the kernels' ``matmul`` (gemm, and loops up to
SMALL_PRODUCT multiply-adds) gave other bits in 465 of 2,916 shapes and layouts tried
(1-209 rows, inner sizes and columns), the cat net's one-unit output layer among them.
OpenBLAS's speed depends on the orientation: on the cat net (12288 inputs, 20 units,
209 samples, float64, 2 threads) the row-layout calls took 2.7-2.9 ms (Z) and
2.35-2.44 ms (dW) against 2.05-2.08 and 1.93-2.04 ms in these layouts, and an
F-ordered dW made the seed's ``W - lr * dW`` 1.50 ms against 1.22.
"""
import numpy as np

from fastbp.kernels.blas import NUMPYS_OPENBLAS
from fastbp.kernels.dense import AS_STORED, SMALL_PRODUCT, TRANSPOSED, matmul


def as_float_array(value, name):
    """``value`` as a float64 array that is C- or F-contiguous (copied only when needed)."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be an array of real numbers") from exc
    if not (array.flags.c_contiguous or array.flags.f_contiguous):
        array = np.ascontiguousarray(array)
    return array


def product(X, Y, out):
    """out = X @ Y with np.dot's bits, for 2-D float64 X, Y that are C- or F-contiguous (as ``as_float_array``
    gives) and a C-ordered out of the product's shape.

    NumPy sends a product to gemm when neither operand has a dimension of 1, to gemv or a dot product
    otherwise, and ``X @ X.T`` to syrk. The kernels' ``matmul`` makes NumPy's gemm call (same library,
    flags and leading dimensions; an F-ordered operand goes in as its C-ordered transpose with its flag
    set) above SMALL_PRODUCT multiply-adds, and is faster on the cat net's ``W1.T @ dZ1`` (12288x20 by
    20x209): 5.3-6.0 ms against np.dot's 9.3-9.6 ms, best of 15, the same bits. Every other product is
    np.dot itself.
    """
    m, k = X.shape
    n = Y.shape[1]
    if NUMPYS_OPENBLAS and min(m, k, n) > 1 and m * k * n > SMALL_PRODUCT and not np.may_share_memory(X, Y):
        (A, a_transposed), (B, b_transposed) = _stored(X), _stored(Y)
        matmul(A, B, out, a_transposed, b_transposed)
    else:
        np.dot(X, Y, out=out)


def _stored(X):
    return (X, AS_STORED) if X.flags.c_contiguous else (X.T, TRANSPOSED)


def check_activation(activation):
    """Raise a ValueError unless ``activation`` is one the seeds know: 'sigmoid' or 'relu'."""
    if activation not in ("sigmoid", "relu"):
        raise ValueError(f"activation must be 'sigmoid' or 'relu', got {activation!r}")


def _check_linear_shapes(W, b, A_prev):
    if W.ndim != 2 or A_prev.ndim != 2:
        raise ValueError(f"W and A_prev must be 2-D, got shapes {W.shape} and {A_prev.shape}")
    if W.shape[1] != A_prev.shape[0]:
        raise ValueError(f"W has shape {W.shape} but A_prev has {A_prev.shape[0]} rows; "
                         f"expected W of shape (n_l, {A_prev.shape[0]})")
    if b.size != W.shape[0] or b.ndim > 2 or (b.ndim == 2 and b.shape[1] != 1):
        raise ValueError(f"b must have shape ({W.shape[0]}, 1) to match W {W.shape}, got {b.shape}")


def linear_forward(W, b, A_prev):
    """Z = W @ A_prev + b; W (n_l, n_prev), b (n_l, 1), A_prev (n_prev, m) -> Z (n_l, m), C-ordered.

    Raises ValueError for mismatched shapes, or naming the argument holding NaN/inf
    when Z is not finite (checked on Z, which is small, instead of on A_prev).
    """
    W, b, A_prev = as_float_array(W, "W"), as_float_array(b, "b"), as_float_array(A_prev, "A_prev")
    _check_linear_shapes(W, b, A_prev)
    Z = np.empty((W.shape[0], A_prev.shape[1]))
    product(W, A_prev, Z)
    Z += b.reshape(-1, 1)
    if not np.isfinite(Z).all():
        for name, array in (("A_prev", A_prev), ("W", W), ("b", b)):
            if not np.isfinite(array).all():
                raise ValueError(f"{name} must be finite, but contains NaN or infinity")
        raise ValueError("W @ A_prev + b overflowed to infinity")
    return Z


def linear_backward(dZ, W, A_prev):
    """(dA_prev, dW, db) with dW = dZ @ A_prev.T / m, db = row sums of dZ / m, dA_prev = W.T @ dZ.

    dZ (n_l, m), W (n_l, n_prev), A_prev (n_prev, m): the seeds' formulas 5, 6 and 9. The results are
    C-ordered (n_prev, m), (n_l, n_prev) and (n_l, 1).
    """
    dZ, W, A_prev = as_float_array(dZ, "dZ"), as_float_array(W, "W"), as_float_array(A_prev, "A_prev")
    n_l, m = dZ.shape
    if W.shape[0] != n_l or A_prev.shape != (W.shape[1], m):
        raise ValueError(f"dZ {dZ.shape}, W {W.shape} and A_prev {A_prev.shape} do not fit together")
    dW, dA_prev = np.empty(W.shape), np.empty(A_prev.shape)
    product(dZ, A_prev.T, dW)
    dW *= 1.0 / m
    product(W.T, dZ, dA_prev)
    return dA_prev, dW, dZ.sum(axis=1, keepdims=True) * (1.0 / m)


def check_parameters(parameters, n_features=None):
    """Number of layers L of a {'W1', 'b1', ..., 'WL', 'bL'} dict, after checking keys and shapes."""
    if not isinstance(parameters, dict):
        raise TypeError(f"parameters must be a dict of 'W1', 'b1', ..., got {type(parameters).__name__}")
    L = len(parameters) // 2
    expected = {f"{p}{l}" for l in range(1, L + 1) for p in "Wb"}
    if L == 0 or set(parameters) != expected:
        raise ValueError(f"parameters must have exactly the keys W1, b1, ..., WL, bL; got {sorted(parameters)}")
    previous = n_features
    for l in range(1, L + 1):
        W, b = np.shape(parameters[f"W{l}"]), np.shape(parameters[f"b{l}"])
        if len(W) != 2 or (previous is not None and W[1] != previous):
            raise ValueError(f"W{l} has shape {W}; expected (n_{l}, {previous})")
        if b not in ((W[0], 1), (W[0],)):
            raise ValueError(f"b{l} has shape {b}; expected ({W[0]}, 1)")
        previous = W[0]
    return L
