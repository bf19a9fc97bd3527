import numpy as np
import pytest

from fastbp.model_selection import expand_grid, fit_and_score, kfold_indices


def test_expand_grid_is_every_combination_in_order():
    configs = expand_grid({"lr": [0.1, 0.2], "layers": [[2, 3, 1], [2, 4, 1]], "momentum": [0.0]})
    assert configs == [{"lr": 0.1, "layers": [2, 3, 1], "momentum": 0.0}, {"lr": 0.1, "layers": [2, 4, 1], "momentum": 0.0},
                       {"lr": 0.2, "layers": [2, 3, 1], "momentum": 0.0}, {"lr": 0.2, "layers": [2, 4, 1], "momentum": 0.0}]


def test_random_subset_is_seeded_and_distinct():
    grid = {"lr": [0.01, 0.1, 1.0], "batch_size": [1, 8, 32, 64]}
    first, again = expand_grid(grid, n_iter=5, seed=3), expand_grid(grid, n_iter=5, seed=3)
    assert first == again and len(first) == 5
    assert len({tuple(c.items()) for c in first}) == 5
    assert expand_grid(grid, n_iter=5, seed=4) != first
    assert len(expand_grid(grid, n_iter=50)) == 12


@pytest.mark.parametrize("grid,error,words", [
    ({"learning_rate": [0.1]}, ValueError, "grid keyword 'learning_rate' is neither a Network nor a fit keyword"),
    ({"lr": []}, ValueError, r"grid\['lr'\] is empty"),
    ({"lr": 0.1}, TypeError, r"grid\['lr'\] must be a list"),
    ({"activation": "relu"}, TypeError, r"grid\['activation'\] must be a list"),
    ({}, TypeError, "grid must be a non-empty dict"),
    ([("lr", [0.1])], TypeError, "grid must be a non-empty dict"),
    ({"epochs": [1, 2]}, ValueError, "grid keyword 'epochs'"),
])
def test_bad_grids_are_refused(grid, error, words):
    with pytest.raises(error, match=words):
        expand_grid(grid)


def test_kfold_covers_every_sample_once():
    y = np.arange(23) % 4
    folds = kfold_indices(y, 5, seed=1)
    tests = np.concatenate([test for _, test in folds])
    assert sorted(tests) == list(range(23))
    for train, test in folds:
        assert np.intersect1d(train, test).size == 0 and train.size + test.size == 23


def test_stratified_folds_keep_class_shares():
    y = np.array([0] * 30 + [1] * 60 + [2] * 9)
    for _, test in kfold_indices(y, 3, seed=0, stratified=True):
        assert sorted(np.bincount(y[test], minlength=3)) == sorted([10, 20, 3])


def test_kfold_refuses_impossible_fold_counts():
    with pytest.raises(ValueError, match=r"cv must be an integer in \[2, n_samples=4\]"):
        kfold_indices(np.arange(4), 5)


def test_fit_and_score_is_deterministic():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 4)), rng.integers(0, 3, 60)
    args = ((X, y), {"lr": 0.1}, {"layers": [4, 6, 3], "seed": 2}, 5, np.arange(40), np.arange(40, 60))
    first, second = fit_and_score(*args), fit_and_score(*args)
    assert first["score"] == second["score"] and first["epochs"] == 5


def test_check_configurations_checks_schedules_over_all_epochs():
    from fastbp.model_selection import check_configurations
    X, y = np.zeros((4, 3)), np.array([0, 1, 0, 1])
    check_configurations([{"lr": lambda e: 0.1}], X, y, {"layers": [3, 2]}, epochs=5)
    with pytest.raises(ValueError, match=r"configuration .*lr\(3\)"):
        check_configurations([{"lr": lambda e: 0.1 if e < 3 else 0.0}], X, y, {"layers": [3, 2]}, epochs=5)
