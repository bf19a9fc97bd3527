import os

import h5py
import numpy as np
import pytest

import seeds_reference as seed
from fastbp.compat import dlai, dlai_step


def _close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_course_conventions_match_the_reference(rng):
    X = rng.uniform(size=(30, 11))
    Y = (rng.uniform(size=(1, 11)) > 0.5).astype(float)
    params, ref_params = dlai.initialize_parameters_deep([30, 6, 4, 1]), seed.iniPara([30, 6, 4, 1])
    AL, caches = dlai.L_model_forward(X, params)
    ref_AL, ref_caches = seed.forwardModel(X, ref_params)
    _close(AL, ref_AL)
    (A_prev, W, b), Z = caches[0]
    assert A_prev is X and W is params["W1"]
    assert dlai.compute_cost(AL, Y) == pytest.approx(
        -np.mean(Y * np.log(ref_AL) + (1 - Y) * np.log(1 - ref_AL)), rel=1e-12)
    grads = dlai.L_model_backward(AL, Y, caches)
    ref = seed.backwardModel(ref_AL, Y, ref_caches)
    assert set(grads) == {"dA0", "dA1", "dA2", "dW1", "dW2", "dW3", "db1", "db2", "db3"}
    for l in (1, 2, 3):
        _close(grads["dA" + str(l - 1)], ref["dA" + str(l)])
        _close(grads["dW" + str(l)], ref["dW" + str(l)])
    new = dlai.update_parameters(params, grads, 0.1)
    _close(new["W2"], ref_params["W2"] - 0.1 * ref["dW2"])


def test_pieces_return_the_course_tuples(rng):
    Z = rng.normal(size=(3, 4))
    A, cache = dlai.relu(Z)
    assert cache is Z and np.array_equal(A, np.maximum(Z, 0))
    A, cache = dlai.sigmoid(Z)
    _close(A, seed.sigmoid(Z))
    W, b, A_prev = rng.normal(size=(3, 5)), rng.normal(size=(3, 1)), rng.normal(size=(5, 4))
    Z, (c_A, c_W, c_b) = dlai.linear_forward(A_prev, W, b)
    assert c_A is A_prev and c_W is W and c_b is b
    A, cache = dlai.linear_activation_forward(A_prev, W, b, "sigmoid")
    dA_prev, dW, db = dlai.linear_activation_backward(np.ones_like(A), cache, "sigmoid")
    ref = seed.linearActivationBackward(np.ones_like(A), ((W, A_prev, b), cache[1]), "sigmoid")
    for got, want in zip((dA_prev, dW, db), ref):
        _close(got, want)
    _close(dlai.relu_backward(np.ones_like(Z), Z), seed.reluBackward(np.ones_like(Z), Z))


def test_predict_prints_accuracy(rng, capsys):
    X = rng.uniform(size=(8, 10))
    params = dlai.initialize_parameters_deep([8, 3, 1])
    p = dlai.predict(X, np.zeros((1, 10)), params)
    assert p.shape == (1, 10)
    assert capsys.readouterr().out.startswith("Accuracy: ")


def test_load_data_reads_the_course_files(tmp_path, rng, monkeypatch):
    os.makedirs(tmp_path / "datasets")
    with h5py.File(tmp_path / "datasets" / "train_catvnoncat.h5", "w") as f:
        f["train_set_x"], f["train_set_y"] = rng.integers(0, 255, (4, 2, 2, 3)), np.array([0, 1, 1, 0])
    with h5py.File(tmp_path / "datasets" / "test_catvnoncat.h5", "w") as f:
        f["test_set_x"], f["test_set_y"] = rng.integers(0, 255, (2, 2, 2, 3)), np.array([1, 0])
        f["list_classes"] = np.array([b"non-cat", b"cat"])
    monkeypatch.chdir(tmp_path)
    train_x, train_y, test_x, test_y, classes = dlai.load_data()
    assert train_x.shape == (4, 2, 2, 3) and train_y.shape == (1, 4) and test_y.shape == (1, 2)


# ---- The course's public tests: the same inputs, the same checks (type, shape, values to 6 decimals) ----------
def _course_check(got, want):
    """The course's datatype, shape and value checks, recursively over dicts, tuples and lists."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and set(want) <= set(got)
        for key in want:
            _course_check(got[key], want[key])
    elif isinstance(want, (tuple, list)):
        assert isinstance(got, (tuple, list)) and len(got) == len(want)
        for g, w in zip(got, want):
            _course_check(g, w)
    else:
        assert isinstance(got, type(want))
        if hasattr(want, "shape"):
            assert got.shape == want.shape
            np.testing.assert_array_almost_equal(got, want)
        else:
            assert got == want


def test_step_initialize_parameters_public_case():
    want = {"W1": np.array([[0.01624345, -0.00611756, -0.00528172], [-0.01072969, 0.00865408, -0.02301539]]),
            "b1": np.zeros((2, 1)), "W2": np.array([[0.01744812, -0.00761207]]), "b2": np.zeros((1, 1))}
    _course_check(dlai_step.initialize_parameters(3, 2, 1), want)
    _course_check(dlai.initialize_parameters(3, 2, 1), want)


def test_step_initialize_parameters_deep_public_case():
    want = {"W1": np.array([[0.01788628, 0.0043651, 0.00096497, -0.01863493, -0.00277388],
                            [-0.00354759, -0.00082741, -0.00627001, -0.00043818, -0.00477218],
                            [-0.01313865, 0.00884622, 0.00881318, 0.01709573, 0.00050034],
                            [-0.00404677, -0.0054536, -0.01546477, 0.00982367, -0.01101068]]),
            "b1": np.zeros((4, 1)),
            "W2": np.array([[-0.01185047, -0.0020565, 0.01486148, 0.00236716],
                            [-0.01023785, -0.00712993, 0.00625245, -0.00160513],
                            [-0.00768836, -0.00230031, 0.00745056, 0.01976111]]),
            "b2": np.zeros((3, 1))}
    _course_check(dlai_step.initialize_parameters_deep([5, 4, 3]), want)


@pytest.mark.parametrize("module", [dlai, dlai_step])
def test_linear_forward_public_cases(module):
    np.random.seed(1)
    A_prev, W, b = np.random.randn(3, 2), np.random.randn(1, 3), np.random.randn(1, 1)
    _course_check(module.linear_forward(A_prev, W, b), (np.array([[3.26295337, -1.23429987]]), (A_prev, W, b)))
    np.random.seed(2)
    A_prev, W, b = np.random.randn(3, 2), np.random.randn(1, 3), np.random.randn(1, 1)
    cache = ((A_prev, W, b), np.array([[3.43896131, -2.08938436]]))
    _course_check(module.linear_activation_forward(A_prev, W, b, "sigmoid"),
                  (np.array([[0.96890023, 0.11013289]]), cache))
    _course_check(module.linear_activation_forward(A_prev, W, b, "relu"), (np.array([[3.43896131, 0.]]), cache))


@pytest.mark.parametrize("module", [dlai, dlai_step])
def test_L_model_forward_public_case(module):
    np.random.seed(6)
    X = np.random.randn(5, 4)
    parameters = {}
    for l, (n, n_prev) in enumerate([(4, 5), (3, 4), (1, 3)], start=1):
        parameters["W" + str(l)], parameters["b" + str(l)] = np.random.randn(n, n_prev), np.random.randn(n, 1)
    AL, caches = module.L_model_forward(X, parameters)
    _course_check(AL, np.array([[0.03921668, 0.70498921, 0.19734387, 0.04728177]]))
    assert len(caches) == 3
    (A_prev, W, b), Z = caches[2]
    _course_check(Z, np.array([[-3.19864676, 0.87117055, -1.40297864, -3.00319435]]))
    _course_check(A_prev, np.array([[2.2644603, 1.09971298, 0., 1.54036335], [6.33722569, 0., 0., 4.48582383],
                                    [10.37508342, 0., 1.63635185, 8.17870169]]))
    assert W is parameters["W3"] and b is parameters["b3"] and caches[0][0][0] is X


@pytest.mark.parametrize("module", [dlai, dlai_step])
def test_compute_cost_public_case(module):
    assert np.allclose(np.array(0.27977656), module.compute_cost(np.array([[.8, .9, 0.4]]), np.asarray([[1, 1, 0]])))


@pytest.mark.parametrize("module", [dlai, dlai_step])
def test_linear_backward_public_cases(module):
    np.random.seed(1)
    dZ, A, W, b = np.random.randn(3, 4), np.random.randn(5, 4), np.random.randn(3, 5), np.random.randn(3, 1)
    want = (np.array([[-1.15171336, 0.06718465, -0.3204696, 2.09812712],
                      [0.60345879, -3.72508701, 5.81700741, -3.84326836],
                      [-0.4319552, -1.30987417, 1.72354705, 0.05070578],
                      [-0.38981415, 0.60811244, -1.25938424, 1.47191593],
                      [-2.52214926, 2.67882552, -0.67947465, 1.48119548]]),
            np.array([[0.07313866, -0.0976715, -0.87585828, 0.73763362, 0.00785716],
                      [0.85508818, 0.37530413, -0.59912655, 0.71278189, -0.58931808],
                      [0.97913304, -0.24376494, -0.08839671, 0.55151192, -0.10290907]]),
            np.array([[-0.14713786], [-0.11313155], [-0.13209101]]))
    _course_check(module.linear_backward(dZ, (A, W, b)), want)
    np.random.seed(2)
    dA, A, W, b, Z = (np.random.randn(1, 2), np.random.randn(3, 2), np.random.randn(1, 3), np.random.randn(1, 1),
                      np.random.randn(1, 2))
    cache = ((A, W, b), Z)
    _course_check(module.linear_activation_backward(dA, cache, "sigmoid"),
                  (np.array([[0.11017994, 0.01105339], [0.09466817, 0.00949723], [-0.05743092, -0.00576154]]),
                   np.array([[0.10266786, 0.09778551, -0.01968084]]), np.array([[-0.05729622]])))
    _course_check(module.linear_activation_backward(dA, cache, "relu"),
                  (np.array([[0.44090989, 0.], [0.37883606, 0.], [-0.2298228, 0.]]),
                   np.array([[0.44513824, 0.37371418, -0.10478989]]), np.array([[-0.20837892]])))


@pytest.mark.parametrize("module", [dlai, dlai_step])
def test_L_model_backward_public_case_uses_the_cached_Z(module):
    """AL here is not sigmoid(Z): the course's dAL through sigmoid_backward at the cached Z gives these."""
    np.random.seed(3)
    AL, Y = np.random.randn(1, 2), np.array([[1, 0]])
    A1, W1, b1, Z1 = np.random.randn(4, 2), np.random.randn(3, 4), np.random.randn(3, 1), np.random.randn(3, 2)
    A2, W2, b2, Z2 = np.random.randn(3, 2), np.random.randn(1, 3), np.random.randn(1, 1), np.random.randn(1, 2)
    grads = module.L_model_backward(AL, Y, (((A1, W1, b1), Z1), ((A2, W2, b2), Z2)))
    _course_check(grads, {
        "dA1": np.array([[0.12913162, -0.44014127], [-0.14175655, 0.48317296], [0.01663708, -0.05670698]]),
        "dW2": np.array([[-0.39202432, -0.13325855, -0.04601089]]), "db2": np.array([[0.15187861]]),
        "dA0": np.array([[0., 0.52257901], [0., -0.3269206], [0., -0.32070404], [0., -0.74079187]]),
        "dW1": np.array([[0.41010002, 0.07807203, 0.13798444, 0.10502167], [0., 0., 0., 0.],
                         [0.05283652, 0.01005865, 0.01777766, 0.0135308]]),
        "db1": np.array([[-0.22007063], [0.], [-0.02835349]])})


def _update_case():
    np.random.seed(2)
    parameters = {"W1": np.random.randn(3, 4), "b1": np.random.randn(3, 1), "W2": np.random.randn(1, 3),
                  "b2": np.random.randn(1, 1)}
    np.random.seed(3)
    grads = {"dW1": np.random.randn(3, 4), "db1": np.random.randn(3, 1), "dW2": np.random.randn(1, 3),
             "db2": np.random.randn(1, 1)}
    want = {"W1": np.array([[-0.59562069, -0.09991781, -2.14584584, 1.82662008],
                            [-1.76569676, -0.80627147, 0.51115557, -1.18258802],
                            [-1.0535704, -0.86128581, 0.68284052, 2.20374577]]),
            "b1": np.array([[-0.04659241], [-1.28888275], [0.53405496]]),
            "W2": np.array([[-0.55569196, 0.0354055, 1.32964895]]), "b2": np.array([[-0.84610769]])}
    return parameters, grads, want


def test_update_parameters_public_case_and_each_notebooks_dict_semantics():
    parameters, grads, want = _update_case()
    before = {k: v.copy() for k, v in parameters.items()}
    new = dlai_step.update_parameters(parameters, grads, 0.1)
    _course_check(new, want)
    assert new is not parameters and all(np.array_equal(parameters[k], before[k]) for k in before)
    new = dlai.update_parameters(parameters, grads, 0.1)
    _course_check(new, want)
    assert new is parameters


def test_L_layer_model_public_cases():
    np.random.seed(1)
    X = np.random.randn(10, 10)
    Y = np.array([1, 1, 1, 1, 0, 0, 0, 1, 1, 0]).reshape(1, 10)
    parameters, costs = dlai.L_layer_model(X, Y, (10, 5, 6, 1), 0.0075, 2)
    _course_check(costs, [np.array(0.70723944)])
    np.testing.assert_array_almost_equal(parameters["W3"], [[-0.09079199, -0.08117381, 0.07667568, 0.16665535,
                                                             0.08029575, 0.04805811]])
    np.testing.assert_array_almost_equal(parameters["b3"], [[0.0013201]])
    np.testing.assert_array_almost_equal(parameters["W1"][0, :3], [0.51384638, -0.19333098, -0.16705238])
    parameters, costs = dlai.L_layer_model(X, Y, (10, 5, 6, 1), 0.02, 3)
    np.testing.assert_array_almost_equal(parameters["W3"], [[-0.09087434, -0.07882982, 0.07821609, 0.16442826,
                                                             0.0783229, 0.04648216]])
    np.testing.assert_array_almost_equal(parameters["b3"], [[0.00525865]])
    np.testing.assert_array_almost_equal(parameters["b1"][:, 0], [-8.61228305e-04, 6.08187689e-04, 3.53075377e-05,
                                                                  2.21291877e-04, -1.13591429e-04])


# ---- The Application notebook's models print the course's lines, byte for byte --------------------------------
def _course_sigmoid_backward(dA, Z):
    """The course's ``sigmoid_backward``: (dA * s) * (1 - s); seed 002 rounds dA * (s * (1 - s)) instead."""
    s = 1 / (1 + np.exp(-Z))
    return dA * s * (1 - s)


def _reference_L_layer_model(X, Y, layers_dims, learning_rate, num_iterations, print_cost, monkeypatch):
    """The notebook's loop over seed 002's NumPy functions, with the course's sigmoid_backward (otherwise the
    same math as the course's helpers)."""
    monkeypatch.setattr(seed, "sigmoidBackward", _course_sigmoid_backward)
    parameters = seed.iniPara(layers_dims)
    costs = []
    for i in range(num_iterations):
        AL, caches = seed.forwardModel(X, parameters)
        m = Y.shape[1]
        cost = np.squeeze((1. / m) * (-np.dot(Y, np.log(AL).T) - np.dot(1 - Y, np.log(1 - AL).T)))
        parameters = seed.updateParameters(parameters, seed.backwardModel(AL, Y, caches), learning_rate)
        if print_cost and i % 100 == 0 or i == num_iterations - 1:
            print("Cost after iteration {}: {}".format(i, np.squeeze(cost)))
        if i % 100 == 0 or i == num_iterations:
            costs.append(cost)
    return parameters, costs


def _cat_shaped(rng, n_x=300, m=60):
    return rng.integers(0, 256, (n_x, m)) / 255.0, (rng.uniform(size=(1, m)) > 0.6).astype(np.int64)


@pytest.mark.parametrize("print_cost", [True, False])
def test_L_layer_model_prints_the_course_lines_byte_for_byte(rng, capsys, monkeypatch, print_cost):
    X, Y = _cat_shaped(rng)
    dims = [X.shape[0], 20, 7, 5, 1]
    ref_parameters, ref_costs = _reference_L_layer_model(X, Y, dims, 0.0075, 401, print_cost, monkeypatch)
    want = capsys.readouterr().out
    parameters, costs = dlai.L_layer_model(X, Y, dims, num_iterations=401, print_cost=print_cost)
    assert capsys.readouterr().out == want
    assert want.count("\n") == (5 if print_cost else 1)  # the last iteration prints even without print_cost
    assert [float(c) for c in costs] == [float(c) for c in ref_costs]
    assert all(np.array_equal(parameters[k], ref_parameters[k]) for k in ref_parameters)


def test_two_layer_model_follows_the_notebook(rng, capsys):
    X, Y = _cat_shaped(rng)
    parameters, costs = dlai.two_layer_model(X, Y, (X.shape[0], 7, 1), num_iterations=201, print_cost=True)
    lines = capsys.readouterr().out.splitlines()
    assert [line.rsplit(":", 1)[0] for line in lines] == [f"Cost after iteration {i}" for i in (0, 100, 200)]
    # The same training by hand in the simplified form (dZ2 = A2 - Y), so equal to round-off only.
    ref = dlai.initialize_parameters(X.shape[0], 7, 1)
    for i in range(201):
        A1 = np.maximum(0, ref["W1"].dot(X) + ref["b1"])
        Z2 = ref["W2"].dot(A1) + ref["b2"]
        A2 = 1 / (1 + np.exp(-Z2))
        if i in (0, 100, 200):
            m = Y.shape[1]
            cost = np.squeeze((1. / m) * (-np.dot(Y, np.log(A2).T) - np.dot(1 - Y, np.log(1 - A2).T)))
            assert float(lines[i // 100].rsplit(": ", 1)[1]) == pytest.approx(float(cost), rel=1e-12)
        dZ2 = A2 - Y
        dA1 = ref["W2"].T.dot(dZ2)
        dZ1 = np.where(A1 > 0, dA1, 0.0)
        ref["W2"] = ref["W2"] - 0.0075 * dZ2.dot(A1.T) / m
        ref["b2"] = ref["b2"] - 0.0075 * np.sum(dZ2, axis=1, keepdims=True) / m
        ref["W1"] = ref["W1"] - 0.0075 * dZ1.dot(X.T) / m
        ref["b1"] = ref["b1"] - 0.0075 * np.sum(dZ1, axis=1, keepdims=True) / m
    assert len(costs) == 3
    for key in ref:
        np.testing.assert_allclose(parameters[key], ref[key], rtol=1e-9, atol=1e-12)


def test_print_mislabeled_images_draws_each_mislabeled_image(rng):
    plt = pytest.importorskip("matplotlib.pyplot")
    X = rng.uniform(size=(64 * 64 * 3, 5))
    y, p = np.array([[1, 0, 1, 0, 1]]), np.array([[1., 1., 0., 0., 1.]])
    plt.figure()
    dlai.print_mislabeled_images(np.array([b"non-cat", b"cat"]), X, y, p)
    titles = [ax.get_title() for ax in plt.gcf().axes]
    plt.close("all")
    assert titles == ["Prediction: cat \n Class: non-cat", "Prediction: non-cat \n Class: cat"]
