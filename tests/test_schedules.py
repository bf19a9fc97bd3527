import pytest

from fastbp.schedules import ExponentialDecay, StepDecay, learning_rates


def test_step_and_exponential_decay():
    assert [StepDecay(1.0, 2, 0.5)(e) for e in range(5)] == [1.0, 1.0, 0.5, 0.5, 0.25]
    assert [ExponentialDecay(2.0, 0.5)(e) for e in range(3)] == [2.0, 1.0, 0.5]


def test_learning_rates_of_a_number_and_of_a_callable():
    assert learning_rates(0.1, 3) == [0.1, 0.1, 0.1]
    assert learning_rates(lambda e: 1.0 / (e + 1), 2) == [1.0, 0.5]
    assert learning_rates(0.1, 0) == []


@pytest.mark.parametrize("make,word", [(lambda: StepDecay(0.1, 0), "step_size"),
                                       (lambda: StepDecay(-0.1, 2), "lr"),
                                       (lambda: ExponentialDecay(0.1, 1.5), "gamma"),
                                       (lambda: learning_rates(float("nan"), 1), "lr"),
                                       (lambda: learning_rates(lambda e: 0.0, 1), r"lr\(0\)")])
def test_bad_schedules_are_refused(make, word):
    with pytest.raises(ValueError, match=word):
        make()
