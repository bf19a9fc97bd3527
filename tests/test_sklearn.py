"""fastbp.sklearn against scikit-learn itself: the same models, the same behaviour, in every tool."""
import os
import pickle
import subprocess
import sys
import warnings

import joblib
import numpy as np
import pytest
import scipy.sparse
from threadpoolctl import threadpool_limits

sklearn = pytest.importorskip("sklearn")
from sklearn import datasets  # noqa: E402
from sklearn import neural_network as upstream  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils import shuffle as sklearn_shuffle  # noqa: E402
from sklearn.utils.estimator_checks import check_estimator  # noqa: E402

import fastbp  # noqa: E402
from fastbp import sklearn as fb  # noqa: E402
from fastbp import threads  # noqa: E402

LOSS_TOL, COEF_TOL = 1e-6, 1e-5  # the bar after 15-40 iterations, float64


def _scaled(X):
    return StandardScaler().fit_transform(X)


def _data(name):
    """(X, y) of a dataset shipped with scikit-learn, features standardised."""
    if name == "breast_cancer":
        X, y = datasets.load_breast_cancer(return_X_y=True)
    elif name == "iris":
        X, y = datasets.load_iris(return_X_y=True)
    elif name == "wine":
        X, y = datasets.load_wine(return_X_y=True)
    elif name == "digits":
        X, y = datasets.load_digits(return_X_y=True)
        return X / 16, y
    elif name == "diabetes":
        X, y = datasets.load_diabetes(return_X_y=True)
        return _scaled(X), (y - y.mean()) / y.std()
    elif name == "diabetes_counts":
        X, y = datasets.load_diabetes(return_X_y=True)
        return _scaled(X), np.round(y / 50)
    elif name == "linnerud":
        X, y = datasets.load_linnerud(return_X_y=True)
        return _scaled(X), _scaled(y)
    elif name == "multilabel":
        X, y = datasets.make_multilabel_classification(n_samples=150, n_classes=4, random_state=0)
    return _scaled(X), y


# (dataset, estimator, parameters): every solver, every learning-rate schedule, with and without
# early stopping and alpha, every hidden activation, binary, multiclass, multilabel, single- and
# multi-output regression, both regression losses.
CASES = [
    ("breast_cancer", "classifier", dict(solver="adam", activation="relu")),
    ("breast_cancer", "classifier", dict(solver="sgd", learning_rate="adaptive", alpha=1e-2, tol=1e-2,
                                         n_iter_no_change=2, activation="tanh")),
    ("iris", "classifier", dict(solver="sgd", learning_rate="invscaling", learning_rate_init=0.1,
                                momentum=0.5, nesterovs_momentum=False, activation="logistic")),
    ("wine", "classifier", dict(solver="sgd", learning_rate="constant", early_stopping=True, batch_size=16,
                                activation="relu")),
    ("digits", "classifier", dict(solver="adam", early_stopping=True, alpha=0.1, batch_size=64,
                                  activation="identity", validation_fraction=0.2)),
    ("digits", "classifier", dict(solver="lbfgs", alpha=1e-3, activation="tanh")),
    ("multilabel", "classifier", dict(solver="adam", activation="relu", batch_size=32)),
    ("diabetes", "regressor", dict(solver="adam", activation="relu", learning_rate_init=0.01)),
    ("diabetes", "regressor", dict(solver="sgd", learning_rate="invscaling", early_stopping=True,
                                   learning_rate_init=0.01, activation="tanh", alpha=0.5)),
    ("diabetes", "regressor", dict(solver="sgd", learning_rate="adaptive", learning_rate_init=0.01,
                                   tol=1e-2, n_iter_no_change=1, activation="logistic")),
    ("diabetes", "regressor", dict(solver="lbfgs", activation="relu")),
    ("linnerud", "regressor", dict(solver="sgd", batch_size=4, learning_rate_init=0.01, activation="tanh")),
    ("diabetes_counts", "regressor", dict(solver="adam", loss="poisson", learning_rate_init=0.01)),
    ("diabetes_counts", "regressor", dict(solver="lbfgs", loss="poisson", activation="tanh")),
]


def _pair(kind, **params):
    """(scikit-learn's estimator, fastbp's) built with the same parameters."""
    if kind == "classifier":
        return upstream.MLPClassifier(**params), fb.MLPClassifier(**params)
    return upstream.MLPRegressor(**params), fb.MLPRegressor(**params)


def _fit_quietly(estimator, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(*args, **kwargs)


def assert_same_model(ours, theirs, X):
    """The fitted attributes and predictions agree to the issue's tolerances."""
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.t_ == theirs.t_
    assert ours.n_layers_ == theirs.n_layers_ and ours.n_outputs_ == theirs.n_outputs_
    assert ours.out_activation_ == theirs.out_activation_
    if hasattr(theirs, "loss_curve_"):
        np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=0, atol=LOSS_TOL)
    assert ours.loss_ == pytest.approx(theirs.loss_, abs=LOSS_TOL)
    for name in ("best_loss_", "best_validation_score_"):
        if getattr(theirs, name, None) is not None:
            assert getattr(ours, name) == pytest.approx(getattr(theirs, name), abs=LOSS_TOL)
    if getattr(theirs, "validation_scores_", None) is not None:
        np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_, atol=LOSS_TOL)
    for mine, upstream_params in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        assert mine.shape == upstream_params.shape and mine.dtype == upstream_params.dtype
        np.testing.assert_allclose(mine, upstream_params, rtol=0, atol=COEF_TOL)
    if hasattr(theirs, "classes_"):
        np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    else:
        np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=0, atol=COEF_TOL)
    if hasattr(theirs, "predict_proba"):
        np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=COEF_TOL)


@pytest.mark.parametrize("dataset,kind,params", CASES, ids=[f"{d}-{p['solver']}-{i}" for i, (d, _, p) in
                                                              enumerate(CASES)])
def test_fit_equals_sklearn(dataset, kind, params):
    X, y = _data(dataset)
    theirs, ours = _pair(kind, hidden_layer_sizes=(16, 8), max_iter=25, random_state=3, **params)
    _fit_quietly(theirs, X, y)
    _fit_quietly(ours, X, y)
    assert_same_model(ours, theirs, X)


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_sample_weight_equals_sklearn(solver):
    X, y = _data("breast_cancer")
    weights = np.random.default_rng(0).uniform(0.2, 3.0, len(y))
    theirs, ours = _pair("classifier", hidden_layer_sizes=(10,), max_iter=20, random_state=0, solver=solver,
                         alpha=0.01)
    _fit_quietly(theirs, X, y, sample_weight=weights)
    _fit_quietly(ours, X, y, sample_weight=weights)
    assert_same_model(ours, theirs, X)


@pytest.mark.skipif(not threads.parallel_kernels() or (os.cpu_count() or 1) < 2, reason="needs Numba's pool, 2 cores")
@pytest.mark.parametrize("kind,solver", [("classifier", "adam"), ("classifier", "sgd"), ("regressor", "sgd")])
def test_large_layers_in_blocks_equal_sklearn(kind, solver, monkeypatch):
    """Batches of 32 rows through a 300x256 layer run in blocks on two threads (train_epochs_blocks), with
    sample weights and alpha: still scikit-learn's model."""
    rng = np.random.default_rng(4)
    X = rng.random((200, 300))
    y = rng.integers(0, 3, 200) if kind == "classifier" else rng.normal(size=200)
    weights = rng.uniform(0.2, 3.0, 200)
    calls = []
    blocks = fb.kernels.train_epochs_blocks
    monkeypatch.setattr(fb.kernels, "train_epochs_blocks", lambda *args: calls.append(args[-1]) or blocks(*args))
    theirs, ours = _pair(kind, hidden_layer_sizes=(256,), batch_size=32, max_iter=15, random_state=0, solver=solver,
                         alpha=0.01, learning_rate_init=0.01)
    _fit_quietly(theirs, X, y, sample_weight=weights)
    with threadpool_limits(2, user_api="blas"):
        _fit_quietly(ours, X, y, sample_weight=weights)
    assert calls and set(calls) == {2}
    assert_same_model(ours, theirs, X)


def test_sample_weight_with_early_stopping_equals_sklearn():
    X, y = _data("diabetes")
    weights = np.random.default_rng(1).uniform(0.2, 3.0, len(y))
    theirs, ours = _pair("regressor", hidden_layer_sizes=(10,), max_iter=20, random_state=0, early_stopping=True)
    _fit_quietly(theirs, X, y, sample_weight=weights)
    _fit_quietly(ours, X, y, sample_weight=weights)
    assert_same_model(ours, theirs, X)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_partial_fit_equals_sklearn(solver):
    X, y = _data("iris")
    weights = np.linspace(0.5, 1.5, len(y))
    theirs, ours = _pair("classifier", hidden_layer_sizes=(8,), random_state=0, solver=solver, batch_size=20)
    for estimator in (theirs, ours):
        estimator.partial_fit(X[:75], y[:75], classes=np.unique(y), sample_weight=weights[:75])
        for _ in range(5):
            estimator.partial_fit(X[75:], y[75:], sample_weight=weights[75:])
            estimator.partial_fit(X[:75], y[:75])
    assert_same_model(ours, theirs, X)


def test_warm_start_equals_sklearn():
    X, y = _data("wine")
    theirs, ours = _pair("classifier", hidden_layer_sizes=(8,), max_iter=10, random_state=0, warm_start=True,
                         solver="sgd")
    for estimator in (theirs, ours):
        _fit_quietly(estimator, X, y)
        estimator.set_params(learning_rate_init=0.05)
        _fit_quietly(estimator, X, y)
    assert_same_model(ours, theirs, X)


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_sparse_input_equals_sklearn(solver, monkeypatch):
    # Small chunks: the densified rows take several compiled calls per epoch.
    monkeypatch.setattr(fb, "SPARSE_CHUNK_BYTES", 4096)
    X, y = _data("digits")
    X = scipy.sparse.csr_matrix(np.where(X > 0.5, X, 0))
    theirs, ours = _pair("classifier", hidden_layer_sizes=(12,), max_iter=15, random_state=0, solver=solver,
                         batch_size=50)
    _fit_quietly(theirs, X, y)
    _fit_quietly(ours, X, y)
    assert_same_model(ours, theirs, X)
    np.testing.assert_array_equal(ours.predict(X.tocsc()), theirs.predict(X))


def test_sparse_training_never_densifies_the_whole_matrix(monkeypatch):
    monkeypatch.setattr(fb, "SPARSE_CHUNK_BYTES", 64 * 8 * 100)
    X, y = _data("digits")
    rows_densified = []
    original = scipy.sparse.csr_matrix.toarray

    def spy(self, *args, **kwargs):
        rows_densified.append(self.shape[0])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(scipy.sparse.csr_matrix, "toarray", spy)
    _fit_quietly(fb.MLPClassifier(hidden_layer_sizes=(8,), max_iter=2, batch_size=50, random_state=0),
                 scipy.sparse.csr_matrix(X), y)
    assert rows_densified and max(rows_densified) == 100


def test_float32_trains_in_float32_close_to_sklearn():
    X, y = _data("digits")
    X = X.astype(np.float32)
    theirs, ours = _pair("classifier", hidden_layer_sizes=(16,), max_iter=15, random_state=0)
    _fit_quietly(theirs, X, y)
    _fit_quietly(ours, X, y)
    assert all(W.dtype == np.float32 for W in ours.coefs_ + ours.intercepts_)
    assert ours.predict_proba(X).dtype == theirs.predict_proba(X).dtype == np.float32
    assert type(ours.loss_) is type(theirs.loss_)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-4)
    for mine, upstream_params in zip(ours.coefs_, theirs.coefs_):
        np.testing.assert_allclose(mine, upstream_params, atol=1e-4)


def test_string_labels_and_fitted_attributes():
    X, y = _data("iris")
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    theirs, ours = _pair("classifier", hidden_layer_sizes=(8,), max_iter=10, random_state=0)
    _fit_quietly(theirs, X, labels)
    _fit_quietly(ours, X, labels)
    assert_same_model(ours, theirs, X)
    np.testing.assert_array_equal(ours.classes_, theirs.classes_)
    assert ours.n_features_in_ == 4


def test_feature_names_in_from_a_dataframe():
    pd = pytest.importorskip("pandas")
    X, y = _data("iris")
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    model = _fit_quietly(fb.MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0), frame, y)
    np.testing.assert_array_equal(model.feature_names_in_, ["a", "b", "c", "d"])


def test_set_output_pipeline_feeds_a_dataframe():
    pytest.importorskip("pandas")
    X, y = _data("wine")
    scores = []
    for classifier in _pair("classifier", hidden_layer_sizes=(8,), max_iter=30, random_state=0):
        pipe = make_pipeline(StandardScaler(), classifier).set_output(transform="pandas")
        _fit_quietly(pipe, X, y)
        assert list(pipe[-1].feature_names_in_) == list(pipe[0].get_feature_names_out())
        scores.append(pipe.score(X, y))
    assert scores[0] == scores[1]


def test_clone_pipeline_and_params_as_sklearn():
    ours, theirs = fb.MLPClassifier(alpha=0.5, random_state=1), upstream.MLPClassifier(alpha=0.5, random_state=1)
    assert ours.get_params() == theirs.get_params()
    twin = clone(ours)
    assert type(twin) is fb.MLPClassifier and twin.get_params() == ours.get_params()
    assert fb.MLPRegressor().get_params() == upstream.MLPRegressor().get_params()
    assert repr(fb.MLPRegressor(alpha=2.0)) == "MLPRegressor(alpha=2.0)"


def test_invalid_parameters_raise_as_sklearn():
    X, y = _data("iris")
    for bad in (dict(solver="newton"), dict(alpha=-1.0), dict(batch_size=0), dict(hidden_layer_sizes=(0,)),
                dict(learning_rate="cyclic"), dict(momentum=2.0), dict(validation_fraction=1.0)):
        errors = []
        for estimator in _pair("classifier", **bad):
            with pytest.raises(ValueError) as caught:
                estimator.fit(X, y)
            errors.append((type(caught.value), str(caught.value)))
        assert errors[0] == errors[1], bad


def test_bad_input_raises_as_sklearn():
    X, y = _data("iris")
    fitted = [_fit_quietly(e, X, y) for e in _pair("classifier", hidden_layer_sizes=(4,), max_iter=3,
                                                    random_state=0)]
    bad_calls = [lambda e: e.predict(X[:, :3]), lambda e: e.predict(np.full((2, 4), np.nan)),
                 lambda e: clone(e).fit(X, y[:-1]), lambda e: clone(e).fit(np.full_like(X, np.inf), y),
                 lambda e: e.partial_fit(X, y + 7)]
    for call in bad_calls:
        errors = []
        for estimator in fitted:
            with pytest.raises(ValueError) as caught:
                call(estimator)
            errors.append(str(caught.value))
        assert errors[0] == errors[1]
    with pytest.raises(NotFittedError):
        fb.MLPRegressor().predict(X)
    errors = []
    for estimator in _pair("classifier", solver="lbfgs"):
        with pytest.raises(AttributeError) as caught:
            estimator.partial_fit(X, y, classes=[0, 1, 2])
        errors.append(str(caught.value))
    assert errors[0] == errors[1]


def test_convergence_warning_as_sklearn():
    X, y = _data("iris")
    for estimator in _pair("classifier", hidden_layer_sizes=(4,), max_iter=3, random_state=0):
        with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
            estimator.fit(X, y)


def test_verbose_output_as_sklearn(capsys):
    X, y = _data("iris")
    printed = []
    for estimator in _pair("classifier", hidden_layer_sizes=(4,), max_iter=30, random_state=0, verbose=True,
                           learning_rate_init=0.05, tol=0.5, n_iter_no_change=2):
        _fit_quietly(estimator, X, y)
        printed.append(capsys.readouterr().out)
    assert printed[0] == printed[1] and "Stopping." in printed[0]


def test_gridsearch_cross_val_score_on_two_processes():
    X, y = _data("iris")
    search = GridSearchCV(fb.MLPClassifier(max_iter=40, random_state=0), {"hidden_layer_sizes": [(4,), (8,)]},
                          n_jobs=2, cv=3)
    reference = GridSearchCV(upstream.MLPClassifier(max_iter=40, random_state=0),
                             {"hidden_layer_sizes": [(4,), (8,)]}, n_jobs=1, cv=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X, y)
        reference.fit(X, y)
        scores = cross_val_score(fb.MLPClassifier(max_iter=40, random_state=0), X, y, cv=3)
        reference_scores = cross_val_score(upstream.MLPClassifier(max_iter=40, random_state=0), X, y, cv=3)
    np.testing.assert_allclose(search.cv_results_["mean_test_score"], reference.cv_results_["mean_test_score"])
    assert type(search.best_estimator_) is fb.MLPClassifier
    np.testing.assert_allclose(scores, reference_scores)


def test_pickle_and_joblib_round_trips(tmp_path):
    X, y = _data("wine")
    model = _fit_quietly(fb.MLPClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=0), X, y)
    again = pickle.loads(pickle.dumps(model))
    joblib.dump(model, tmp_path / "model.joblib")
    loaded = joblib.load(tmp_path / "model.joblib")
    for copy in (again, loaded):
        np.testing.assert_array_equal(copy.predict_proba(X), model.predict_proba(X))
    # A reloaded model keeps training where the original would (optimizer state included).
    model.partial_fit(X, y)
    again.partial_fit(X, y)
    np.testing.assert_array_equal(again.predict_proba(X), model.predict_proba(X))


@pytest.mark.parametrize("estimator", [fb.MLPClassifier(), fb.MLPRegressor()], ids=["classifier", "regressor"])
def test_check_estimator_passes_with_sklearns_own_skips(estimator):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = check_estimator(estimator, on_fail=None)
        theirs = check_estimator(getattr(upstream, type(estimator).__name__)(), on_fail=None)
    failed = [r["check_name"] for r in ours if r["status"] == "failed"]
    assert not failed
    skipped = sorted(r["check_name"] for r in ours if r["status"] == "skipped")
    assert skipped == sorted(r["check_name"] for r in theirs if r["status"] == "skipped")


def test_read_only_input_reuses_the_compiled_kernels():
    """joblib hands worker processes read-only memory maps: they must not compile a second set of kernels."""
    from fastbp.kernels import epoch
    X, y = _data("iris")
    for solver in ("adam", "lbfgs"):
        _fit_quietly(fb.MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, solver=solver), X, y).predict(X)
    before = {name: len(getattr(epoch, name).signatures) for name in ("train_epochs", "evaluate")}
    frozen_X, frozen_y = X.copy(), y.copy()
    frozen_X.flags.writeable = frozen_y.flags.writeable = False
    for solver in ("adam", "lbfgs"):
        model = _fit_quietly(fb.MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, solver=solver, random_state=0),
                             frozen_X, frozen_y)
        model.predict(frozen_X)
        np.testing.assert_array_equal(model.predict_proba(frozen_X), _fit_quietly(
            fb.MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, solver=solver, random_state=0), X, y
        ).predict_proba(X))
    after = {name: len(getattr(epoch, name).signatures) for name in ("train_epochs", "evaluate")}
    assert after == before
    assert not frozen_X.flags.writeable  # the caller's array is left as it was


def test_to_network_predicts_the_same():
    X, y = _data("digits")
    model = _fit_quietly(fb.MLPClassifier(hidden_layer_sizes=(16,), activation="tanh", max_iter=10,
                                          random_state=0), X, y)
    net = model.to_network()
    assert isinstance(net, fastbp.Network) and net.layers == (64, 16, 10) and net.dtype == np.float64
    np.testing.assert_allclose(net.predict_proba(X), model.predict_proba(X), atol=1e-12)
    np.testing.assert_array_equal(model.classes_[net.predict(X)], model.predict(X))
    regressor = _fit_quietly(fb.MLPRegressor(hidden_layer_sizes=(6,), max_iter=10, random_state=0),
                             *_data("linnerud"))
    np.testing.assert_allclose(regressor.to_network().predict(_data("linnerud")[0]),
                               regressor.predict(_data("linnerud")[0]), atol=1e-12)
    with pytest.raises(ValueError, match="poisson"):
        _fit_quietly(fb.MLPRegressor(loss="poisson", max_iter=2), *_data("diabetes_counts")).to_network()
    with pytest.raises(NotFittedError):
        fb.MLPClassifier().to_network()


def test_shuffle_draws_as_sklearn():
    """fastbp's shuffle of the sample indices is sklearn.utils.shuffle's, draw for draw."""
    ours, theirs = np.random.RandomState(5), np.random.RandomState(5)
    idx = np.arange(50)
    for _ in range(3):
        np.testing.assert_array_equal(fb._shuffled(idx, ours), sklearn_shuffle(idx, random_state=theirs))
        idx = idx[::-1].copy()
    assert ours.randint(1 << 30) == theirs.randint(1 << 30)


def test_import_without_sklearn_says_how_to_install():
    code = ("import sys; sys.modules['sklearn'] = None\n"
            "try:\n    import fastbp.sklearn\nexcept ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "pip install" in out and "fastbp[sklearn]" in out


def test_the_readme_sklearn_section_runs_as_printed(tmp_path):
    """README "From scikit-learn": its two code blocks, unchanged, one after the other in a script."""
    import os
    import textwrap
    readme = open(os.path.join(os.path.dirname(__file__), "..", "README.md")).read()
    section = readme.split("## From scikit-learn", 1)[1].split("\n## ", 1)[0]
    blocks = [textwrap.dedent(part.split("```", 1)[0]) for part in section.split("```python\n")[1:]]
    assert len(blocks) == 2
    script = tmp_path / "from_sklearn.py"
    script.write_text("\n".join(blocks) + "\nprint('best', search.best_score_)\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    first, last = done.stdout.splitlines()[0], done.stdout.splitlines()[-1]
    assert float(first.split()[0]) > 0.95 and last.startswith("best ")
