"""Start-up latency in a fresh process (the on-disk kernel cache is warm after the first run), and first compile."""
from fastbp.benchmark import COMPILE_ALL_SCRIPT


def timeraw_import():
    return "import fastbp"


def timeraw_first_trained_epoch():
    return """
import fastbp
X, y = fastbp.datasets.load_digits()
fastbp.Network([64, 32, 10], seed=0).fit(X, y, epochs=1, verbose=0)
"""


def timeraw_first_compile_of_all_kernels():
    # An empty kernel cache of its own, so every run compiles everything (both dtypes, compat).
    return ("import os, tempfile\n_cache = tempfile.TemporaryDirectory()\n"
            "os.environ['NUMBA_CACHE_DIR'] = _cache.name\n" + COMPILE_ALL_SCRIPT)


timeraw_first_compile_of_all_kernels.repeat = 1
timeraw_first_compile_of_all_kernels.number = 1
timeraw_first_compile_of_all_kernels.timeout = 300
