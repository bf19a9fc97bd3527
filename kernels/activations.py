"""Elementwise activations and their derivatives, selected by an integer code.

Derivatives are written in terms of the activation's *output* A, so hidden layers
keep only A (not Z) between the forward and the backward pass.
"""
import numpy as np
from numba import njit

from .codes import EXP, LEAKY_RELU, LINEAR, RELU, SIGMOID, SOFTMAX, TANH  # noqa: F401  (fastbp names them here)
from .config import BORROWING_OPTIONS, JIT_OPTIONS
from .views import vector

LEAKY_RELU_SLOPE = 0.01


LOG2E = 1.4426950408889634
LN2_HI = 6.93147180369123816490e-01  # ln 2 in two parts (fdlibm): k * LN2_HI is exact for |k| < 2**20
LN2_LO = 1.90821492927058770002e-10
EXP_LOWEST = -708.0  # below this exp(x) leaves the normal range; it is taken as 0


# float32 counterparts: ln 2 in two parts (Cody and Waite) with k * LN2_HI_F32 exact for |k| < 2**15, and the
# lowest argument whose exp is a normal float32 (exp(-87.34) is FLT_MIN).
LOG2E_F32 = np.float32(LOG2E)
LN2_HI_F32 = np.float32(0.693359375)
LN2_LO_F32 = np.float32(-2.12194440e-4)
EXP_LOWEST_F32 = np.float32(-87.0)
# Without "reassoc": the compiler must not merge the two-part ln 2 back into one constant.
EXACT_MATH = {"nsz", "arcp", "contract"}


@njit(inline="always", cache=True, nogil=True, fastmath=EXACT_MATH, error_model="numpy")
def _exp_nonpositive_f32(x):
    """exp(x) in float32 for a float32 x <= 0: exp_nonpositive's method to degree 7 (truncation below 1e-8)."""
    clamped = max(x, EXP_LOWEST_F32)
    k = np.floor(clamped * LOG2E_F32 + np.float32(0.5))
    r = (clamped - k * LN2_HI_F32) - k * LN2_LO_F32
    p = np.float32(1.0 / 5040.0)
    p = p * r + np.float32(1.0 / 720.0)
    p = p * r + np.float32(1.0 / 120.0)
    p = p * r + np.float32(1.0 / 24.0)
    p = p * r + np.float32(1.0 / 6.0)
    p = p * r + np.float32(0.5)
    p = p * r + np.float32(1.0)
    p = p * r + np.float32(1.0)
    two_to_k = np.int32((np.int32(k) + 127) << 23).view(np.float32)
    return p * two_to_k if x >= EXP_LOWEST_F32 else np.float32(0.0)


@njit(cache=True, nogil=True, fastmath=EXACT_MATH, error_model="numpy")
def exp_nonpositive(x):
    """exp(x) for x <= 0, within 2 ulp, as plain arithmetic so that loops over it vectorize: in float32 for a
    float32 x, else in float64.

    Numba's np.exp is a scalar libm call (no SVML here): 2.7 us for a 16x32 sigmoid, 0.3 us
    with this. x = k ln2 + r with |r| <= ln2/2; exp(r) by its Taylor series to degree 12
    (truncation below 2e-16); 2**k from its IEEE-754 bits. A float32 x takes the float32 version
    (degree 7, within 0.93 ulp measured): twice the lanes per vector and five fewer terms; a 16x32
    float32 sigmoid took 0.23 us against 0.55 us, a 16x10 softmax with its loss 0.49 against 0.65 us.
    """
    if isinstance(x, np.float32):
        return _exp_nonpositive_f32(x)
    clamped = max(np.float64(x), EXP_LOWEST)
    k = np.floor(clamped * LOG2E + 0.5)
    r = (clamped - k * LN2_HI) - k * LN2_LO
    p = 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    two_to_k = np.int64((np.int64(k) + 1023) << 52).view(np.float64)
    return p * two_to_k if x >= EXP_LOWEST else 0.0


@njit(**JIT_OPTIONS)
def sigmoid(z):
    """Logistic function of one scalar in its precision, overflow-free for either sign, without branches."""
    e = exp_nonpositive(-abs(z))
    one = np.float32(1.0) if isinstance(z, np.float32) else 1.0
    return (one if z >= 0 else e) / (one + e)


# Below this |z|, tanh takes its Taylor series (the exp form loses digits to cancellation there).
TANH_SERIES_LIMIT = 0.125


@njit(inline="always", cache=True, nogil=True, fastmath=EXACT_MATH, error_model="numpy")
def _tanh_f32(x):
    """tanh of a float32 scalar in float32: ``tanh``'s method, the series to z**9 (truncation below 4e-9)."""
    a = abs(x)
    e = exp_nonpositive(np.float32(-2.0) * a)
    one = np.float32(1.0)
    far = (one - e) / (one + e)
    x2 = a * a
    p = np.float32(-62.0 / 2835.0)
    p = p * x2 + np.float32(17.0 / 315.0)
    p = p * x2 - np.float32(2.0 / 15.0)
    p = p * x2 + np.float32(1.0 / 3.0)
    near = a - a * x2 * p
    t = near if a < np.float32(TANH_SERIES_LIMIT) else far
    t = t if x >= 0 else -t
    return t if x == x else x


@njit(inline="always", cache=True, nogil=True, fastmath=EXACT_MATH, error_model="numpy")
def tanh(z):
    """tanh of one scalar in its precision (float32 for float32, else float64 within 8 ulp), as plain
    arithmetic so that loops over it vectorize.

    Numba's np.tanh is a scalar libm call: a 200x100 float64 layer took 512 us with it, 50-60 us
    with this (NumPy's own ufunc: 38 us); a digits fit of fastbp.sklearn with activation="tanh" went
    from 1.0-1.2x scikit-learn's speed to 2.2x (logistic: 3.0x). Inlined, or the loop around it
    stays scalar (332 us). (1 - e) / (1 + e) with e = exp(-2|z|), the sign put back; for
    |z| < TANH_SERIES_LIMIT the series to z**15 (truncation below 1e-17 relative). NaN stays NaN.
    A float32 z takes ``_tanh_f32`` (within 4 ulp: 3.86 measured, at the series' limit): twice the lanes
    per vector and float32's shorter exponential and series; a 200x100 float32 layer took 17.6-18.2 us
    against 41-45 us in float64 arithmetic.
    """
    if isinstance(z, np.float32):
        return _tanh_f32(z)
    x = np.float64(z)
    a = abs(x)
    e = exp_nonpositive(-2.0 * a)
    far = (1.0 - e) / (1.0 + e)
    x2 = a * a
    p = 929569.0 / 638512875.0
    p = p * x2 - 21844.0 / 6081075.0
    p = p * x2 + 1382.0 / 155925.0
    p = p * x2 - 62.0 / 2835.0
    p = p * x2 + 17.0 / 315.0
    p = p * x2 - 2.0 / 15.0
    p = p * x2 + 1.0 / 3.0
    near = a - a * x2 * p
    t = near if a < TANH_SERIES_LIMIT else far
    t = t if x >= 0 else -t
    return t if x == x else x


@njit(inline="always", **JIT_OPTIONS)
def exp_shifted_rows(Z, A):
    """A = exp(Z - the maximum of its row), all <= 0 before exp so none overflows; Z, A (m, n) C-contiguous
    (A may be Z).

    The exponentials run over the whole block in one flat loop: row by row, ten outputs left them scalar
    (a 16x10 softmax with its loss took 0.86-1.04 us that way, 0.63-0.68 us flat, in float32; 0.66-0.75
    against 0.58 us in float64).
    """
    m, n = Z.shape
    for i in range(m):
        zmax = Z[i, 0]
        for j in range(1, n):
            zmax = max(zmax, Z[i, j])
        if m == 1:  # one row: no flat pass to gain, and its extra store and load cost 30 ns in float32
            for j in range(n):
                A[i, j] = exp_nonpositive(Z[i, j] - zmax)
            return
        for j in range(n):
            A[i, j] = Z[i, j] - zmax
    flat = vector(A, 0, m * n)
    for k in range(m * n):
        flat[k] = exp_nonpositive(flat[k])


@njit(**BORROWING_OPTIONS)
def activate(A, code):
    """A = f(A) in place for A of shape (m, n); softmax is row-wise.

    In place on purpose: with separate input and output arrays that happen to be the same
    (the usual case), the compiler cannot prove the loop safe to vectorize and falls back
    to scalar code (measured: a 16x32 sigmoid in 2.4 us instead of 0.3 us).
    """
    m, n = A.shape
    if code == RELU:
        for i in range(m):
            for j in range(n):
                a = A[i, j]
                A[i, j] = a if a > 0 else 0.0
    elif code == LEAKY_RELU:
        for i in range(m):
            for j in range(n):
                a = A[i, j]
                A[i, j] = a if a > 0 else LEAKY_RELU_SLOPE * a
    elif code == SIGMOID:
        for i in range(m):
            for j in range(n):
                A[i, j] = sigmoid(A[i, j])
    elif code == TANH:
        for i in range(m):
            for j in range(n):
                A[i, j] = tanh(A[i, j])
    elif code == EXP:
        for i in range(m):
            for j in range(n):
                A[i, j] = np.exp(A[i, j])
    elif code == SOFTMAX:
        exp_shifted_rows(A, A)
        for i in range(m):
            total = 0.0
            for j in range(n):
                total += A[i, j]
            inv = 1.0 / total
            for j in range(n):
                A[i, j] *= inv


@njit(inline="always", **JIT_OPTIONS)
def derivative(a, code):
    """f'(z) from a = f(z) for one scalar; 1 for linear (and any code without a derivative here)."""
    if code == RELU:
        return 1.0 if a > 0 else 0.0
    if code == LEAKY_RELU:
        return 1.0 if a > 0 else LEAKY_RELU_SLOPE  # a has the sign of z: the slope is positive
    if code == SIGMOID:
        return a * (1.0 - a)
    if code == TANH:
        return 1.0 - a * a
    return 1.0


@njit(**BORROWING_OPTIONS)
def scale_by_derivative(delta, A, code):
    """delta *= f'(z), with f'(z) computed from A = f(z); delta, A of shape (m, n). Not for softmax."""
    m, n = delta.shape
    if code == RELU:
        for i in range(m):
            for j in range(n):
                if A[i, j] <= 0:
                    delta[i, j] = 0.0
    elif code == LEAKY_RELU:
        # A has the sign of z because the slope is positive.
        for i in range(m):
            for j in range(n):
                if A[i, j] <= 0:
                    delta[i, j] *= LEAKY_RELU_SLOPE
    elif code == SIGMOID:
        for i in range(m):
            for j in range(n):
                a = A[i, j]
                delta[i, j] *= a * (1.0 - a)
    elif code == TANH:
        for i in range(m):
            for j in range(n):
                a = A[i, j]
                delta[i, j] *= 1.0 - a * a
