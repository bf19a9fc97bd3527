"""Finite-difference check of backpropagated gradients (central differences, in float64)."""
import numpy as np

from fastbp.network import layer_views


def gradient_check(net, X, y, l2=0.0, epsilon=1e-6):
    """Worst relative error between ``net.gradients`` and central finite differences of ``net.loss``.

    Each parameter p is perturbed to p + epsilon and p - epsilon and
    (loss(p + eps) - loss(p - eps)) / (2 eps) is compared with the backpropagated
    derivative. The comparison runs on a float64 copy of ``net``, which is not modified.

    Parameters
    ----------
    net : Network
    X : array-like of shape (n_samples, n_in)
    y : array-like
        Targets as ``fit`` takes them.
    l2 : float, default 0
        L2 strength of the checked cost.
    epsilon : float, default 1e-6
        Perturbation size.

    Returns
    -------
    float
        max over the weight and bias arrays of ||g_backprop - g_numeric|| / (||g_backprop|| + ||g_numeric||)
        (0 where both are zero). Below 1e-6 means the gradients agree.

    Examples
    --------
    >>> import numpy as np, fastbp
    >>> net = fastbp.Network([3, 5, 2], activation="tanh", dtype=np.float64, seed=0)
    >>> X = np.random.default_rng(0).normal(size=(8, 3)); y = np.arange(8) % 2
    >>> fastbp.gradient_check(net, X, y) < 1e-6
    True
    """
    probe = net.copy(dtype=np.float64)
    dW, db = probe.gradients(X, y, l2=l2)
    numeric = np.empty_like(probe._params)
    params = probe._params
    for k in range(params.size):
        original = params[k]
        params[k] = original + epsilon
        plus = probe.loss(X, y, l2=l2)
        params[k] = original - epsilon
        minus = probe.loss(X, y, l2=l2)
        params[k] = original
        numeric[k] = (plus - minus) / (2 * epsilon)
    num_W, num_b = layer_views(numeric, probe.layers)
    worst = 0.0
    for analytic, finite in zip(dW + db, num_W + num_b):
        scale = np.linalg.norm(analytic) + np.linalg.norm(finite)
        if scale > 0:
            worst = max(worst, float(np.linalg.norm(analytic - finite) / scale))
    return worst
