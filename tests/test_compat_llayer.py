import h5py
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastbp.compat as compat
import seeds_reference as seed


def _same(a, b):
    """The same array byte for byte: shape, dtype and every bit (-0.0 and NaN included)."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes(), np.max(np.abs(a - b))


def _cat_like(rng, dims=(48, 7, 5, 1), m=23):
    X = rng.uniform(size=(dims[0], m))
    Y = (rng.uniform(size=(1, m)) > 0.5).astype(float)
    return X, Y


def test_elementwise_helpers(rng):
    Z = rng.normal(size=(4, 6))
    dA = rng.normal(size=(4, 6))
    _same(compat.sigmoid(Z), seed.sigmoid(Z))
    _same(compat.relu(Z), seed.relu(Z))
    _same(compat.sigmoidBackward(dA, Z), seed.sigmoidBackward(dA, Z))
    _same(compat.reluBackward(dA, Z), seed.reluBackward(dA, Z))
    assert compat.sigmoid(0.0) == 0.5


def test_iniPara_reproduces_the_seed():
    ours, theirs = compat.iniPara([12, 5, 3, 1]), seed.iniPara([12, 5, 3, 1])
    assert ours.keys() == theirs.keys()
    for key in theirs:
        np.testing.assert_array_equal(ours[key], theirs[key])


# The cat net itself (one sigmoid unit at the output: a product with one row, which NumPy sends to gemv),
# a small net, one sample, and two sigmoid outputs.
@pytest.mark.parametrize("dims, m", [((12288, 20, 7, 5, 1), 209), ((48, 7, 5, 1), 23), ((5, 3, 1), 1),
                                     ((4, 6, 2), 7)])
def test_forward_backward_update_match_the_seed_byte_for_byte(rng, dims, m):
    X, Y = _cat_like(rng, dims, m)
    Y = np.repeat(Y, dims[-1], axis=0)
    params, ref_params = compat.iniPara(list(dims)), seed.iniPara(list(dims))
    for _ in range(3):  # three training steps, compared at each step
        AL, caches = compat.forwardModel(X, params)
        ref_AL, ref_caches = seed.forwardModel(X, ref_params)
        _same(AL, ref_AL)
        assert len(caches) == len(dims) - 1
        for ((W, A_prev, b), Z), ((rW, rA, rb), rZ) in zip(caches, ref_caches):
            _same(W, rW), _same(A_prev, rA), _same(b, rb), _same(Z, rZ)
        diffs = compat.backwardModel(AL, Y, caches)
        ref_diffs = seed.backwardModel(ref_AL, Y, ref_caches)
        assert diffs.keys() == ref_diffs.keys()
        for key in ref_diffs:
            _same(diffs[key], ref_diffs[key])
        params = compat.updateParameters(params, diffs, 0.05)
        ref_params = seed.updateParameters(ref_params, ref_diffs, 0.05)
        for key in ref_params:
            _same(params[key], ref_params[key])


def test_elementwise_edge_values_match_the_seed():
    z = np.array([[-1.0, -0.0, 0.0, 2.0, np.nan, -np.inf, np.inf, 1e-310, -1e-310]])
    dA = np.arange(1.0, 10.0).reshape(1, -1) * (-1) ** np.arange(9)
    with np.errstate(all="ignore"):
        for ours, theirs in ((compat.relu(z), seed.relu(z)), (compat.sigmoid(z), seed.sigmoid(z)),
                             (compat.reluBackward(dA, z), seed.reluBackward(dA, z)),
                             (compat.sigmoidBackward(dA, z), seed.sigmoidBackward(dA, z))):
            _same(ours, theirs)


def test_backwardModel_uses_the_given_AL_and_the_cached_Z(rng):
    """As the post: dAL from AL and Y, through sigma' at the cached Z, even where AL is not sigmoid(Z),
    and inf/NaN where AL is exactly 0 or 1."""
    X, Y = _cat_like(rng, m=6)
    AL, caches = compat.forwardModel(X, compat.iniPara([48, 7, 5, 1]))
    for given in (AL * 0.5, np.array([[0.0, 1.0, 0.5, 0.25, 1.0, 0.0]])):
        with np.errstate(all="ignore"):
            ours, theirs = compat.backwardModel(given, Y, caches), seed.backwardModel(given, Y, caches)
        for key in theirs:
            _same(ours[key], theirs[key])


@settings(max_examples=60, deadline=None)
@given(n_prev=st.integers(1, 40), n_l=st.integers(1, 40), m=st.integers(1, 40), seed_=st.integers(0, 2**32 - 1))
def test_linear_functions_match_the_seed_byte_for_byte_at_any_shape(n_prev, n_l, m, seed_):
    rng = np.random.default_rng(seed_)
    W, b, A_prev, dZ = (rng.normal(size=shape) for shape in ((n_l, n_prev), (n_l, 1), (n_prev, m), (n_l, m)))
    _same(compat.forwardLinear(W, b, A_prev)[0], seed.forwardLinear(W, b, A_prev)[0])
    for ours, theirs in zip(compat.linearBackward(dZ, (W, A_prev, b)), seed.linearBackward(dZ, (W, A_prev, b))):
        _same(ours, theirs)


def test_dA_keys_keep_the_posts_meaning(rng):
    # 'dA1' is the gradient with respect to X, the input of layer 1.
    X, Y = _cat_like(rng, m=5)
    AL, caches = compat.forwardModel(X, compat.iniPara([48, 7, 5, 1]))
    diffs = compat.backwardModel(AL, Y, caches)
    assert diffs["dA1"].shape == X.shape and diffs["dA3"].shape == (5, 5)


def test_single_layer_functions(rng):
    W, b, A_prev = rng.normal(size=(3, 4)), rng.normal(size=(3, 1)), rng.normal(size=(4, 6))
    Z, cache = compat.forwardLinear(W, b, A_prev)
    _same(Z, seed.forwardLinear(W, b, A_prev)[0])
    assert cache[0] is W and cache[1] is A_prev and cache[2] is b
    for activation in ("relu", "sigmoid"):
        A, cache = compat.forwardLinearActivation(W, b, A_prev, activation)
        ref_A, ref_cache = seed.forwardLinearActivation(W, b, A_prev, activation)
        _same(A, ref_A)
        dA = rng.normal(size=A.shape)
        for got, want in zip(compat.linearActivationBackward(dA, cache, activation),
                             seed.linearActivationBackward(dA, ref_cache, activation)):
            _same(got, want)
    dZ = rng.normal(size=(3, 6))
    for got, want in zip(compat.linearBackward(dZ, (W, A_prev, b)), seed.linearBackward(dZ, (W, A_prev, b))):
        _same(got, want)


@pytest.mark.parametrize("n_prev, n_l, m", [(4, 3, 6), (300, 20, 9), (7, 40, 1)])
def test_linear_results_have_the_seeds_layout(rng, n_prev, n_l, m):
    # C-ordered like NumPy's own products: an F-ordered dW made the post's W - lr * dW 1.2x slower, and
    # OpenBLAS ran the products of the row layout 1.2-1.4x slower on the cat net.
    W, b, A_prev, dZ = (rng.normal(size=shape) for shape in ((n_l, n_prev), (n_l, 1), (n_prev, m), (n_l, m)))
    Z, _ = compat.forwardLinear(W, b, A_prev)
    ours = (Z,) + compat.linearBackward(dZ, (W, A_prev, b))
    theirs = (seed.forwardLinear(W, b, A_prev)[0],) + seed.linearBackward(dZ, (W, A_prev, b))
    for got, want in zip(ours, theirs):
        assert got.shape == want.shape and got.flags.c_contiguous
        _same(got, want)


def test_loadData_reads_the_posts_files(tmp_path, rng):
    train_x = rng.integers(0, 255, size=(6, 4, 4, 3), dtype=np.uint8)
    test_x = rng.integers(0, 255, size=(2, 4, 4, 3), dtype=np.uint8)
    with h5py.File(tmp_path / "train.h5", "w") as f:
        f["train_set_x"], f["train_set_y"] = train_x, np.array([0, 1, 1, 0, 1, 0])
    with h5py.File(tmp_path / "test.h5", "w") as f:
        f["test_set_x"], f["test_set_y"] = test_x, np.array([1, 0])
        f["list_classes"] = np.array([b"non-cat", b"cat"])
    tx, ty, vx, vy, classes = compat.loadData(str(tmp_path))
    np.testing.assert_array_equal(tx, train_x)
    assert ty.shape == (1, 6) and vy.shape == (1, 2) and list(classes) == [b"non-cat", b"cat"]


@pytest.mark.parametrize("mutate,word", [
    (lambda p: p.pop("b2"), "keys"),
    (lambda p: p.update(W2=np.ones((5, 3))), "W2"),
    (lambda p: p.update(b1=np.ones((2, 1))), "b1"),
    (lambda p: p.update(W1=np.ones((7, 10))), "W1"),
])
def test_bad_parameters_are_refused(mutate, word, rng):
    X, _ = _cat_like(rng)
    params = compat.iniPara([48, 7, 5, 1])
    mutate(params)
    with pytest.raises(ValueError, match=word):
        compat.forwardModel(X, params)


def test_nan_input_is_refused(rng):
    X, _ = _cat_like(rng)
    X[3, 2] = np.nan
    with pytest.raises(ValueError, match="A_prev must be finite, but contains NaN"):
        compat.forwardModel(X, compat.iniPara([48, 7, 5, 1]))
    with pytest.raises(ValueError, match="activation"):
        compat.forwardLinearActivation(np.ones((2, 2)), np.ones((2, 1)), np.ones((2, 3)), "tanh")
