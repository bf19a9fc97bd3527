"""fastbp.sklearn's rows of the scikit-learn issue (the scikit-learn side runs in ``python -m fastbp bench``)."""
import warnings

import numpy as np

try:
    from fastbp.sklearn import MLPClassifier
except ImportError:  # scikit-learn is an optional extra
    MLPClassifier = None


class SklearnDropIn:
    params = ["digits defaults", "digits sgd batch 16", "20000x784 f32 (512, 256) batch 64"]
    param_names = ["work"]
    timeout = 300

    def setup(self, work):
        if MLPClassifier is None:
            raise NotImplementedError("scikit-learn is not installed")
        if work.startswith("digits"):
            from sklearn.datasets import load_digits
            self.X, self.y = load_digits(return_X_y=True)  # float64, as scikit-learn's users have it
            self.X = self.X / 16
            self.params = {} if work == "digits defaults" else dict(solver="sgd", batch_size=16)
        else:
            rng = np.random.default_rng(0)
            self.X = rng.random((20000, 784), dtype=np.float32)
            self.y = rng.integers(0, 10, 20000)
            self.params = dict(hidden_layer_sizes=(512, 256), batch_size=64, max_iter=2)
        self.fit()  # compiled before timing

    def fit(self):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return MLPClassifier(random_state=0, **self.params).fit(self.X, self.y)

    def time_fit(self, work):
        self.fit()

    def track_final_loss(self, work):
        return float(self.fit().loss_)
