import sys

import pytest

import fastbp


@pytest.fixture(scope="module")
def history():
    X, y = fastbp.datasets.load_digits()
    net = fastbp.Network([64, 16, 10], seed=0)
    return net.fit(X[:500], y[:500], epochs=3, validation_data=(X[500:700], y[500:700]), verbose=0)


def test_plot_writes_a_real_png(history, tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "curve.png"
    figure = history.plot(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [ax.get_ylabel() for ax in figure.axes] == ["loss", "accuracy"]
    assert [len(ax.lines) for ax in figure.axes] == [2, 2]  # training and validation curves


def test_plot_without_matplotlib_says_how_to_install(history, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r'pip install "fastbp\[plot\]"'):
        history.plot()


def test_repr_and_attribute_access(history):
    assert history.loss is history.history["loss"] and len(history.val_accuracy) == 3
    assert repr(history).startswith("History(epochs=3, loss=")
    with pytest.raises(AttributeError):
        history.recall
