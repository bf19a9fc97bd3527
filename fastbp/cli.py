"""Command line: ``python -m fastbp {train,evaluate,predict,info,sweep,bench}`` (also installed as ``fastbp``).

Every error a user can cause (a missing file, a bad key, a shape mismatch, a bad value) prints
one line ``fastbp: error: ...`` and exits with status 1; argparse usage errors exit with 2.
"""
import argparse
import os
import sys
import time

import numpy as np

from fastbp import registry
from fastbp.datasets import load_digits, load_h5, load_mnist
from fastbp.io import load
from fastbp.network import Network


def _layers(text):
    try:
        return [int(n) for n in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated widths like 64,32,10, got {text!r}")


def _grid_entry(text):
    name, equals, values = text.partition("=")
    if not equals or not name or not values:
        raise argparse.ArgumentTypeError(f"expected NAME=V1,V2,..., got {text!r}")
    if name == "layers":
        return name, [_layers(widths) for widths in values.split(":")]
    return name, [_scalar(value) for value in values.split(",")]


def _scalar(text):
    """An int, float or bool when the text is one, else the text."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def _add_data_arguments(parser, required=False, kind="train"):
    parser.add_argument("--data", required=required, metavar="FILE.h5|FOLDER",
                        help="HDF5 file with the samples, or a folder of MNIST-format IDX files (torchvision's "
                             "root, e.g. data/ holding MNIST/raw)" + ("" if required else
                                                                       " (default: the embedded digits set)"))
    parser.add_argument("--x", default="X", metavar="KEY", help="dataset of features, default X")
    parser.add_argument("--y", default="y", metavar="KEY", help="dataset of targets, default y")
    parser.add_argument("--kind", choices=("train", "test"), default=kind,
                        help=f"with an IDX folder: the training or the test images, default {kind}")


def build_parser():
    """The argparse parser of ``fastbp``."""
    parser = argparse.ArgumentParser(prog="fastbp", description="Fast backpropagation on the CPU.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser(
        "train", help="train a network and print its held-out accuracy",
        description="Train on the embedded UCI digits set, or on --data, holding out a seeded "
                    "fraction of the samples to score.")
    _add_data_arguments(train)
    train.add_argument("--layers", type=_layers, metavar="W,W,...",
                       help="widths, default n_features,64,n_classes")
    train.add_argument("--activation", default="relu", choices=list(registry.HIDDEN_ACTIVATIONS))
    train.add_argument("--output", default="softmax", choices=list(registry.OUTPUT_ACTIVATIONS))
    train.add_argument("--epochs", type=int, default=30)
    train.add_argument("--batch-size", type=int, default=16)
    train.add_argument("--lr", type=float, default=0.1)
    train.add_argument("--momentum", type=float, default=0.9)
    train.add_argument("--optimizer", default="sgd", choices=list(registry.OPTIMIZERS))
    train.add_argument("--holdout", type=float, default=0.2, help="fraction held out to score, default 0.2")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2])
    train.add_argument("--out", metavar="MODEL.h5", help="save the trained model here")
    train.add_argument("--plot", metavar="CURVE.png", help="save the learning curves here (needs matplotlib)")

    evaluate = commands.add_parser("evaluate", help="loss, accuracy and confusion matrix of a saved model",
                                   description="Score a saved model on --data or the embedded digits set.")
    evaluate.add_argument("model", metavar="MODEL.h5")
    _add_data_arguments(evaluate, kind="test")

    predict = commands.add_parser("predict", help="predictions of a saved model",
                                  description="Predict for the samples of --data; print them or write --out.")
    predict.add_argument("model", metavar="MODEL.h5")
    _add_data_arguments(predict, required=True, kind="test")
    predict.add_argument("--out", metavar="PREDS.h5|PREDS.csv",
                         help="write predictions (and, for .h5, probabilities) here instead of printing")

    info = commands.add_parser("info", help="describe a saved model", description="Describe a saved model.")
    info.add_argument("model", metavar="MODEL.h5")

    sweep = commands.add_parser(
        "sweep", help="try a grid of settings on a Dask cluster and print the scores",
        description="Cross-validate every combination of the --grid values on Dask workers (an embedded "
                    "LocalCluster, or --scheduler) and print the table, best first.")
    _add_data_arguments(sweep)
    sweep.add_argument("--grid", action="append", type=_grid_entry, required=True, metavar="NAME=V1,V2",
                       help="a keyword and its values; repeatable. layers take colon-separated lists: "
                            "--grid layers=64,32,10:64,64,10")
    sweep.add_argument("--cv", type=int, default=3, help="folds of cross-validation, default 3")
    sweep.add_argument("--n-iter", type=int, help="try this many random combinations instead of all")
    sweep.add_argument("--layers", type=_layers, metavar="W,W,...",
                       help="fixed widths when not in the grid, default n_features,64,n_classes")
    sweep.add_argument("--epochs", type=int, default=20)
    sweep.add_argument("--batch-size", type=int, default=16)
    sweep.add_argument("--seed", type=int, default=0)
    sweep.add_argument("--scheduler", metavar="ADDRESS", help="a running Dask scheduler, e.g. tcp://host:8786")

    bench = commands.add_parser(
        "bench", help="time fastbp against NumPy, PyTorch and scikit-learn side by side",
        description="Run the performance comparison rows in one process and print times and ratios.")
    bench.add_argument("--quick", action="store_true", help="smaller data, for a smoke pass")
    return parser


def _read_data(args, need_y=True):
    """(X, y, description) from --data/--x/--y, or the embedded digits set."""
    if args.data is None:
        X, y = load_digits()
        return X, y, f"the embedded digits set ({len(X)} samples)"
    if os.path.isdir(args.data):
        X, y = load_mnist(args.data, kind=args.kind)
        return X, (y if need_y else None), f"{args.data} ({args.kind}, {len(X)} samples)"
    if need_y:
        X, y = load_h5(args.data, x=args.x, y=args.y)
    else:
        X, y = load_h5(args.data, x=args.x, y=None), None
    return X, y, f"{args.data} ({len(X)} samples)"


def train(args):
    """Train, print held-out accuracy (R^2 for regression) and return it."""
    if args.plot:
        import importlib.util
        if importlib.util.find_spec("matplotlib") is None:  # say so before training, not after
            raise ImportError('--plot needs matplotlib: pip install "fastbp[plot]"')
    X, y, source = _read_data(args)
    if not 0 < args.holdout < 1:
        raise ValueError(f"--holdout must be a fraction in (0, 1), got {args.holdout}")
    if X.ndim != 2:
        raise ValueError(f"--x {args.x!r} must be 2-D (n_samples, n_features), got shape {X.shape}")
    layers = args.layers or [X.shape[1], 64, _n_outputs(y, args.output)]
    order = np.random.default_rng(args.seed).permutation(len(X))
    split = int(round((1 - args.holdout) * len(X)))
    if not 0 < split < len(X):
        raise ValueError(f"--holdout {args.holdout} leaves no samples to train on or to score ({len(X)} in all)")
    train_idx, test_idx = order[:split], order[split:]
    net = Network(layers, activation=args.activation, output=args.output, seed=args.seed)
    start = time.perf_counter()
    history = net.fit(X[train_idx], y[train_idx], epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                      momentum=args.momentum, optimizer=args.optimizer, verbose=args.verbose)
    seconds = time.perf_counter() - start
    score = net.score(X[test_idx], y[test_idx])
    print(f"trained {net} on {len(train_idx)} samples of {source} in {seconds:.2f} s")
    print(f"held-out {'accuracy' if net.is_classifier else 'R^2'}: {score:.4f} ({len(test_idx)} samples)")
    if args.out:
        net.save(args.out)
        print(f"saved the model to {args.out}")
    if args.plot:
        history.plot(args.plot)
        print(f"saved the learning curves to {args.plot}")
    return score


def _n_outputs(y, output):
    y = np.asarray(y)
    if output == "softmax":
        if y.ndim != 1 or y.size == 0 or y.dtype.kind not in "iuf" or (y != np.round(y)).any() or y.min() < 0:
            raise ValueError(f"softmax needs 1-D integer class labels >= 0 in --y, got {y.dtype} of shape {y.shape}")
        return int(y.max()) + 1
    return 1 if y.ndim == 1 else y.shape[1]


def evaluate(args):
    """Print loss, accuracy (R^2 for regression) and, for softmax classifiers, the confusion matrix."""
    net = load(args.model)
    X, y, source = _read_data(args)
    print(f"{net} on {source}")
    print(f"loss: {net.loss(X, y):.6f}")
    print(f"{'accuracy' if net.is_classifier else 'R^2'}: {net.score(X, y):.4f}")
    if net.loss_function == "cross_entropy":
        print("confusion matrix (rows: true class, columns: predicted class):")
        print(_confusion_table(confusion_matrix(y, net.predict(X), net.layers[-1])))


def confusion_matrix(labels, predicted, n_classes):
    """counts[i, j] = samples of true class i predicted as class j."""
    pairs = np.asarray(labels, dtype=np.int64) * n_classes + np.asarray(predicted, dtype=np.int64)
    return np.bincount(pairs, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def _confusion_table(counts):
    width = max(len(str(counts.max())), len(str(len(counts) - 1))) + 1
    header = " " * (width + 1) + "".join(f"{j:>{width}}" for j in range(len(counts)))
    rows = [f"{i:>{width}}:" + "".join(f"{c:>{width}}" for c in row) for i, row in enumerate(counts)]
    return "\n".join([header] + rows)


def predict(args):
    """Print the predictions for --data, or write them to --out (.h5 or .csv)."""
    net = load(args.model)
    X, _, _ = _read_data(args, need_y=False)
    predictions = net.predict(X)
    if args.out is None:
        np.savetxt(sys.stdout, predictions.reshape(len(predictions), -1), fmt=_format(predictions), delimiter=",")
        return
    extension = os.path.splitext(args.out)[1].lower()
    if extension == ".csv":
        np.savetxt(args.out, predictions.reshape(len(predictions), -1), fmt=_format(predictions), delimiter=",")
    elif extension in (".h5", ".hdf5"):
        import h5py
        with h5py.File(args.out, "w") as f:
            f["predictions"] = predictions
            f["probabilities"] = net.predict_proba(X)
    else:
        raise ValueError(f"--out must end in .h5 or .csv, got {args.out!r}")
    print(f"wrote {len(predictions)} predictions to {args.out}")


def _format(predictions):
    return "%d" if predictions.dtype.kind in "iu" else "%.8g"


def info(args):
    """Describe a saved model."""
    net = load(args.model)
    print(f"model: {args.model}")
    print(f"layers: {list(net.layers)} ({net.n_params} parameters, {net.dtype.name})")
    print(f"activation: {', '.join(net.activation) or '(no hidden layers)'}; output: {net.output}; "
          f"loss: {net.loss_function}")
    state = net.optimizer_state
    print(f"optimizer: {state['optimizer']}, {state['step']} steps" if state else "optimizer: not trained yet")
    if net.history is not None and net.history.epoch:
        last = ", ".join(f"{k} {v[-1]:.4g}" for k, v in net.history.history.items() if v)
        print(f"last fit: {len(net.history.epoch)} epochs; final {last}")


def sweep(args):
    """Run the grid on Dask and print the table, best configuration first."""
    from fastbp.dask_sweep import sweep as run_sweep
    grid = dict(args.grid)
    if args.data is None:
        X, y = load_digits()
        data = (X, y)
    elif os.path.isdir(args.data):
        X, y = load_mnist(args.data, kind=args.kind)
        data = (X, y)
    else:
        data = (args.data, args.y)
        X, y = load_h5(args.data, x=args.x, y=args.y)
    fixed = {"epochs": args.epochs, "batch_size": args.batch_size, "seed": args.seed}
    if "layers" not in grid:
        fixed["layers"] = args.layers or [X.shape[1], 64, _n_outputs(y, "softmax")]
    client = None
    if args.scheduler:
        import distributed
        client = distributed.Client(args.scheduler)
    try:
        result = run_sweep(*data, grid, cv=args.cv, n_iter=args.n_iter, client=client, x_key=args.x, **fixed)
    finally:
        if client is not None:
            client.close()
    print(result.format_table())
    print(f"best: {result.best_params} (mean score {result.best_score:.4f} over {args.cv} folds)")
    return result


COMMANDS = {"train": train, "evaluate": evaluate, "predict": predict, "info": info, "sweep": sweep}


def main(argv=None):
    """Entry point; returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "bench":
            from fastbp.benchmark import run
            run(quick=args.quick)
        else:
            COMMANDS[args.command](args)
    except (ValueError, TypeError, OSError, FloatingPointError, ImportError) as exc:
        print(f"fastbp: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("fastbp: interrupted", file=sys.stderr)
        return 130
    return 0
