"""The bench's pure-NumPy peers compute what the seeds compute (so the bench times the same work)."""
import numpy as np

import fastbp.compat as compat
from fastbp import numpy_peers


def test_l_layer_step_is_seed_002s_step_byte_for_byte(rng):
    X = rng.uniform(size=(48, 23))
    Y = (rng.uniform(size=(1, 23)) > 0.5).astype(np.float64)
    ours, theirs = compat.iniPara([48, 7, 5, 1]), compat.iniPara([48, 7, 5, 1])
    for _ in range(3):
        AL, caches = compat.forwardModel(X, ours)
        ours = compat.updateParameters(ours, compat.backwardModel(AL, Y, caches), 0.05)
        theirs = numpy_peers.l_layer_step(X, Y, theirs, 0.05)
        assert all(ours[key].tobytes() == theirs[key].tobytes() for key in theirs)
