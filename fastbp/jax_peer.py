"""JAX on the CPU as a benchmark peer: a whole epoch as one ``jax.jit`` function, ``lax.scan`` over batches.

Written as a JAX user would write it: parameters as a list of (W, b) pairs, a loss from
``jax.nn`` functions, gradients by ``jax.grad``, and the same update rule as fastbp's (PyTorch's
SGD with momentum: v = mu * v + g; p -= lr * v). The shuffle, if any, happens inside the jitted epoch,
full batches run under ``lax.scan`` and a last partial batch, if any, runs once after it, so the
work is the same as fastbp's epoch. Used only by ``python -m fastbp bench``; JAX is never a
dependency of fastbp.
"""
import time

import numpy as np


def make_epoch(jax, layers, hidden, output, dtype, batch_size, lr, momentum, shuffle=True):
    """A jitted ``epoch(state, X, y, key) -> state`` for a dense net, and its initial state.

    Parameters
    ----------
    jax : module
    layers : list of int
        Widths [n_in, ..., n_out].
    hidden : {"relu", "sigmoid"}
    output : {"softmax", "sigmoid"}
        softmax: cross-entropy on integer labels; sigmoid: binary cross-entropy on 0/1 targets.
    dtype : numpy dtype
    batch_size : int
    lr, momentum : float
    shuffle : bool, default True
        Shuffle the rows inside the epoch, as fastbp's ``fit(shuffle=True)`` does.

    Returns
    -------
    (epoch, state) : the jitted function and ((W, b) list, velocity list)
    """
    jnp, lax = jax.numpy, jax.lax
    activation = {"relu": jax.nn.relu, "sigmoid": jax.nn.sigmoid}[hidden]
    rng = np.random.default_rng(0)
    params = [(jnp.asarray((rng.standard_normal((a, b)) * np.sqrt(2.0 / a)).astype(dtype)),
               jnp.zeros(b, dtype)) for a, b in zip(layers[:-1], layers[1:])]
    velocity = jax.tree_util.tree_map(jnp.zeros_like, params)

    def loss(params, X, y):
        A = X
        for W, b in params[:-1]:
            A = activation(A @ W + b)
        W, b = params[-1]
        Z = A @ W + b
        if output == "softmax":
            return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(Z), y[:, None], axis=1))
        return jnp.mean(jnp.logaddexp(0.0, Z) - y * Z)  # binary cross-entropy from the logits

    grad = jax.grad(loss)

    def step(state, batch):
        params, velocity = state
        g = grad(params, *batch)
        velocity = jax.tree_util.tree_map(lambda v, g: momentum * v + g, velocity, g)
        params = jax.tree_util.tree_map(lambda p, v: p - lr * v, params, velocity)
        return (params, velocity), None

    @jax.jit
    def epoch(state, X, y, key):
        n = X.shape[0]
        if shuffle:
            order = jax.random.permutation(key, n)
            X, y = X[order], y[order]
        full = (n // batch_size) * batch_size
        batches = (X[:full].reshape(-1, batch_size, X.shape[1]), y[:full].reshape((-1, batch_size) + y.shape[1:]))
        state, _ = lax.scan(step, state, batches)
        if full < n:
            state, _ = step(state, (X[full:], y[full:]))
        return state

    return epoch, (params, velocity)


def epoch_runner(jax, X, y, layers, hidden, output, batch_size, lr=0.01, momentum=0.0, shuffle=True):
    """(run, compile_seconds): ``run()`` trains one epoch and waits for it; compiling is done and timed here."""
    epoch, state = make_epoch(jax, layers, hidden, output, X.dtype, batch_size, lr, momentum, shuffle)
    Xj, yj = jax.numpy.asarray(X), jax.numpy.asarray(y)
    keys = iter(jax.random.split(jax.random.PRNGKey(0), 1 << 16))
    start = time.perf_counter()
    compiled = epoch.lower(state, Xj, yj, next(keys)).compile()
    compile_seconds = time.perf_counter() - start
    holder = [state]

    def run():
        holder[0] = compiled(holder[0], Xj, yj, next(keys))
        jax.block_until_ready(holder[0])

    return run, compile_seconds
