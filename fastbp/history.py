"""History: what one ``fit`` recorded per epoch, and its learning-curve plot."""


class History:
    """Per-epoch metrics of one ``fit`` call, Keras-style.

    Attributes
    ----------
    history : dict of str -> list of float
        "loss" and, when recorded, "accuracy", "val_loss", "val_accuracy", plus "lr"
        (the learning rate each epoch trained with).
    epoch : list of int
        Epoch numbers (0-based, counted within the fit call) of the entries.
    stop_reason : str or None
        Why training ended before ``epochs``: "early_stopping", "callback", "interrupted"
        (Ctrl-C), or None when every epoch ran.
    best_epoch : int or None
        With early stopping, the epoch whose weights the network kept.

    Examples
    --------
    >>> import fastbp
    >>> X, y = fastbp.datasets.load_digits()
    >>> net = fastbp.Network([64, 32, 10], seed=0)
    >>> history = net.fit(X, y, epochs=3, lr=0.1, verbose=0)
    >>> len(history.loss)
    3
    """

    def __init__(self, keys):
        self.history = {key: [] for key in keys}
        self.epoch = []
        self.stop_reason = None
        self.best_epoch = None

    def __getattr__(self, name):
        history = self.__dict__.get("history", {})
        if name in history:
            return history[name]
        raise AttributeError(name)

    def __repr__(self):
        last = ", ".join(f"{k}={v[-1]:.4g}" for k, v in self.history.items() if v and k != "lr")
        return f"History(epochs={len(self.epoch)}{', ' + last if last else ''})"

    def _append(self, epoch, metrics):
        self.epoch.append(epoch)
        for key, value in metrics.items():
            self.history[key].append(value)

    def plot(self, path=None):
        """Draw the loss curves (and accuracy curves for classifiers) with matplotlib.

        Parameters
        ----------
        path : str or path-like or None
            Save the figure there (the format follows the extension, e.g. ``.png``) and close it;
            None returns an open pyplot figure for notebooks and interactive sessions.

        Returns
        -------
        matplotlib.figure.Figure

        Raises
        ------
        ImportError
            If matplotlib is not installed (``pip install "fastbp[plot]"``).
        """
        try:
            import matplotlib  # noqa: F401  (checked first for the clear message below)
        except ImportError as exc:
            raise ImportError('History.plot needs matplotlib: pip install "fastbp[plot]"') from exc
        panels = [name for name in ("loss", "accuracy") if name in self.history]
        if path is None:
            from matplotlib import pyplot
            figure, axes = pyplot.subplots(1, len(panels), figsize=(5 * len(panels), 3.5), squeeze=False)
        else:
            # A bare Figure needs no GUI backend, so saving works on headless machines.
            from matplotlib.figure import Figure
            figure = Figure(figsize=(5 * len(panels), 3.5))
            axes = figure.subplots(1, len(panels), squeeze=False)
        epochs = [e + 1 for e in self.epoch]
        for ax, name in zip(axes[0], panels):
            ax.plot(epochs, self.history[name], marker=".", label=f"training {name}")
            if "val_" + name in self.history:
                ax.plot(epochs, self.history["val_" + name], marker=".", label=f"validation {name}")
            ax.set_xlabel("epoch")
            ax.set_ylabel(name)
            ax.grid(True, alpha=0.3)
            ax.legend()
        figure.tight_layout()
        if path is not None:
            figure.savefig(path)
        return figure
