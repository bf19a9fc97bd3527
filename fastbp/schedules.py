"""Learning-rate schedules: callables of the epoch that ``fit(lr=...)`` accepts.

Any callable ``schedule(epoch) -> lr`` works (epoch counted from 0 within the fit call); the
two classes here are the common ones. Every value is checked before training starts.

>>> from fastbp.schedules import StepDecay
>>> schedule = StepDecay(0.1, step_size=10, gamma=0.5)
>>> schedule(0), schedule(10), schedule(25)
(0.1, 0.05, 0.025)
"""
from fastbp.validation import check_float, check_int


class StepDecay:
    """``lr * gamma ** (epoch // step_size)``, like PyTorch's StepLR.

    Parameters
    ----------
    lr : float > 0
        Learning rate of the first ``step_size`` epochs.
    step_size : int >= 1
        Epochs between decays.
    gamma : float in (0, 1], default 0.1
        Factor applied at each decay.
    """

    def __init__(self, lr, step_size, gamma=0.1):
        self.lr = check_float(lr, "lr", 0, float("inf"), low_open=True, high_open=True)
        self.step_size = check_int(step_size, "step_size", 1)
        self.gamma = check_float(gamma, "gamma", 0, 1, low_open=True)

    def __call__(self, epoch):
        return self.lr * self.gamma ** (epoch // self.step_size)

    def __repr__(self):
        return f"StepDecay(lr={self.lr:g}, step_size={self.step_size}, gamma={self.gamma:g})"


class ExponentialDecay:
    """``lr * gamma ** epoch``, like PyTorch's ExponentialLR.

    Parameters
    ----------
    lr : float > 0
        Learning rate of epoch 0.
    gamma : float in (0, 1]
        Factor applied every epoch.
    """

    def __init__(self, lr, gamma):
        self.lr = check_float(lr, "lr", 0, float("inf"), low_open=True, high_open=True)
        self.gamma = check_float(gamma, "gamma", 0, 1, low_open=True)

    def __call__(self, epoch):
        return self.lr * self.gamma ** epoch

    def __repr__(self):
        return f"ExponentialDecay(lr={self.lr:g}, gamma={self.gamma:g})"


def learning_rates(lr, epochs):
    """The learning rate of each of ``epochs`` epochs, from a number or a schedule, all checked.

    Returns
    -------
    list of float

    Raises
    ------
    TypeError, ValueError
        If ``lr`` is neither a positive number nor a callable giving positive finite numbers.
    """
    if not callable(lr):
        return [check_float(lr, "lr", 0, float("inf"), low_open=True, high_open=True)] * epochs
    rates = []
    for epoch in range(epochs):
        value = lr(epoch)
        rates.append(check_float(value, f"lr({epoch}) (the learning-rate schedule at epoch {epoch})",
                                 0, float("inf"), low_open=True, high_open=True))
    return rates
