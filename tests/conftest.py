import numpy as np
import pytest

# (hidden activation, output, loss): every hidden activation meets every output/loss pair.
HIDDEN = ["relu", "sigmoid", "tanh", "linear", "leaky_relu"]
OUTPUT_LOSS = [("softmax", "cross_entropy"), ("sigmoid", "binary_cross_entropy"), ("sigmoid", "mse"),
               ("linear", "mse"), ("tanh", "mse"), ("relu", "mse")]
TOLERANCE = {np.float64: 1e-12, np.float32: 1e-5}


def make_targets(rng, output, loss, n, n_out):
    """Targets of the form fit takes: labels for cross_entropy, values otherwise."""
    if loss == "cross_entropy":
        return rng.integers(0, n_out, size=n)
    if loss == "binary_cross_entropy":
        return rng.integers(0, 2, size=(n, n_out)).astype(float)
    if output in ("sigmoid",):
        return rng.uniform(0, 1, size=(n, n_out))
    if output == "tanh":
        return rng.uniform(-0.9, 0.9, size=(n, n_out))
    return rng.normal(size=(n, n_out))


def reference_targets(y, loss, n_out):
    from reference import one_hot
    if loss == "cross_entropy":
        return one_hot(y, n_out)
    return np.asarray(y, dtype=float).reshape(len(y), n_out)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture
def global_random_seed():
    """scikit-learn's test fixture (used by its test_mlp.py copy): its default seed, or the one it is told."""
    import os
    return int(os.environ.get("SKLEARN_TESTS_GLOBAL_RANDOM_SEED", "42").split("-")[0])
