import random

import numpy as np
import pytest

import seeds_reference as seed
from fastbp.compat import nielsen


def _data(rng, n, sizes):
    xs = [rng.uniform(size=(sizes[0], 1)) for _ in range(n)]
    labels = [int(rng.integers(0, sizes[-1])) for _ in range(n)]
    training = [(x, np.eye(sizes[-1])[k].reshape(-1, 1)) for x, k in zip(xs, labels)]
    return training, list(zip(xs, labels))


@pytest.mark.parametrize("with_test_data", [True, False])
def test_sgd_prints_the_same_lines_and_learns_the_same_weights(with_test_data, capsys):
    sizes = [6, 5, 3]
    rng = np.random.default_rng(0)
    training, testing = _data(rng, 23, sizes)
    np.random.seed(5), random.seed(5)
    original = seed.NielsenNetwork(sizes)
    original.SGD(list(training), 4, 5, 3.0, test_data=testing if with_test_data else None)
    printed = capsys.readouterr().out
    np.random.seed(5), random.seed(5)
    ours = nielsen.Network(sizes)
    ours_training = list(training)
    ours.SGD(ours_training, 4, 5, 3.0, test_data=testing if with_test_data else None)
    assert capsys.readouterr().out == printed
    assert len(printed.splitlines()) == 4
    assert printed.startswith("Epoch 0: " if with_test_data else "Epoch 0 complete")
    for got, want in zip(ours.weights + ours.biases, original.weights + original.biases):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_backprop_feedforward_and_update(rng):
    sizes = [4, 3, 2]
    np.random.seed(1)
    original = seed.NielsenNetwork(sizes)
    np.random.seed(1)
    ours = nielsen.Network(sizes)
    x, y = rng.uniform(size=(4, 1)), np.array([[0.0], [1.0]])
    np.testing.assert_allclose(ours.feedforward(x), original.feedforward(x), rtol=1e-12)
    for got, want in zip(ours.backprop(x, y)[0] + ours.backprop(x, y)[1],
                         original.backprop(x, y)[0] + original.backprop(x, y)[1]):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    batch = [(x, y), (rng.uniform(size=(4, 1)), np.array([[1.0], [0.0]]))]
    ours.update_mini_batch(batch, 0.5)
    original.update_mini_batch(batch, 0.5)
    for got, want in zip(ours.weights, original.weights):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_bad_training_data_is_refused():
    net = nielsen.Network([3, 2])
    with pytest.raises(ValueError, match="3 values"):
        net.SGD([(np.ones((2, 1)), np.ones((2, 1)))], 1, 1, 1.0)
    with pytest.raises(ValueError, match="NaN"):
        net.SGD([(np.full((3, 1), np.nan), np.ones((2, 1)))], 1, 1, 1.0)
