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


def _pair(sizes):
    np.random.seed(3)
    original = seed.NielsenNetwork(sizes)
    np.random.seed(3)
    return original, nielsen.Network(sizes)


def _assert_same(ours, original):
    for got, want in zip(ours.weights + ours.biases, original.weights + original.biases):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_reassigned_weight_and_bias_lists_are_used_as_in_the_original(rng):
    """Exercises set net.weights = [...]; the original reads the new lists (fastbp once kept its old buffer)."""
    sizes = [4, 3, 2]
    original, ours = _pair(sizes)
    x = rng.uniform(size=(4, 1))
    new_weights = [rng.normal(size=w.shape) for w in original.weights]
    new_biases = [rng.normal(size=b.shape) for b in original.biases]
    for net in (original, ours):
        net.weights = [w.copy() for w in new_weights]
        net.biases = [b.copy() for b in new_biases]
    np.testing.assert_allclose(ours.feedforward(x), original.feedforward(x), rtol=1e-12)
    batch = [(x, np.array([[0.0], [1.0]]))]
    ours.update_mini_batch(batch, 0.5)
    original.update_mini_batch(batch, 0.5)
    _assert_same(ours, original)
    for got, want in zip(*[net.backprop(x, batch[0][1])[1] for net in (ours, original)]):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_in_place_edits_and_a_new_architecture_carry_through(rng, capsys):
    original, ours = _pair([5, 4, 3])
    for net in (original, ours):
        net.weights[0][1, :] = 0.5
        net.biases[1] += 1.0
    x = rng.uniform(size=(5, 1))
    np.testing.assert_allclose(ours.feedforward(x), original.feedforward(x), rtol=1e-12)
    # A different architecture assigned wholesale, as an exercise on layer sizes would.
    weights = [rng.normal(size=(6, 5)), rng.normal(size=(3, 6))]
    biases = [rng.normal(size=(6, 1)), rng.normal(size=(3, 1))]
    for net in (original, ours):
        net.weights, net.biases = [w.copy() for w in weights], [b.copy() for b in biases]
    training, testing = _data(np.random.default_rng(1), 12, [5, 6, 3])
    random.seed(2)
    original.SGD(list(training), 2, 4, 1.0, test_data=testing)
    random.seed(2)
    ours.SGD(list(training), 2, 4, 1.0, test_data=testing)
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == out[2:]
    _assert_same(ours, original)


def test_training_stores_new_arrays_as_the_original_does():
    original, ours = _pair([3, 2])
    held = ours.weights[0]
    before = held.copy()
    batch = [(np.ones((3, 1)), np.array([[1.0], [0.0]]))]
    ours.update_mini_batch(batch, 1.0)
    original.update_mini_batch(batch, 1.0)
    assert ours.weights[0] is not held and np.array_equal(held, before)
    _assert_same(ours, original)


def test_mismatched_weight_lists_are_refused_by_name():
    net = nielsen.Network([3, 2])
    net.weights = [np.ones((2, 3)), np.ones((2, 5))]
    with pytest.raises(ValueError, match="weights must be a list of 2-D arrays"):
        net.feedforward(np.ones((3, 1)))
