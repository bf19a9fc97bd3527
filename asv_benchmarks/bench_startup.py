"""Start-up latency in a fresh process (the on-disk kernel cache is warm after the first run)."""


def timeraw_import():
    return "import fastbp"


def timeraw_first_trained_epoch():
    return """
import fastbp
X, y = fastbp.datasets.load_digits()
fastbp.Network([64, 32, 10], seed=0).fit(X, y, epochs=1, verbose=0)
"""
