"""Command line: ``python -m fastbp train`` (also installed as ``fastbp``)."""
import argparse
import sys
import time

import numpy as np

from fastbp.datasets import load_digits
from fastbp.network import Network


def _layers(text):
    try:
        return [int(n) for n in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated widths like 64,32,10, got {text!r}")


def build_parser():
    """The argparse parser of ``fastbp``."""
    parser = argparse.ArgumentParser(prog="fastbp", description="Fast backpropagation on the CPU.")
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser(
        "train", help="train a network on the embedded digits set and print held-out accuracy",
        description="Train on the embedded UCI digits set (80%% train / 20%% held out, seeded split).")
    train.add_argument("--layers", type=_layers, default=[64, 64, 10], help="widths, default 64,64,10")
    train.add_argument("--activation", default="relu", help="hidden activation, default relu")
    train.add_argument("--epochs", type=int, default=30)
    train.add_argument("--batch-size", type=int, default=16)
    train.add_argument("--lr", type=float, default=0.1)
    train.add_argument("--momentum", type=float, default=0.9)
    train.add_argument("--optimizer", default="sgd", choices=["sgd", "adam"])
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--verbose", type=int, default=1, choices=[0, 1, 2])
    bench = commands.add_parser(
        "bench", help="time fastbp against NumPy, PyTorch and scikit-learn side by side",
        description="Run the performance comparison rows in one process and print times and ratios.")
    bench.add_argument("--quick", action="store_true", help="smaller data, for a smoke pass")
    return parser


def train(args):
    """Train on the digits set; prints held-out accuracy and returns it."""
    X, y = load_digits()
    order = np.random.default_rng(args.seed).permutation(len(X))
    split = int(0.8 * len(X))
    train_idx, test_idx = order[:split], order[split:]
    net = Network(args.layers, activation=args.activation, seed=args.seed)
    start = time.perf_counter()
    net.fit(X[train_idx], y[train_idx], epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
            momentum=args.momentum, optimizer=args.optimizer, verbose=args.verbose)
    seconds = time.perf_counter() - start
    accuracy = net.score(X[test_idx], y[test_idx])
    print(f"trained {net} on {len(train_idx)} digits in {seconds:.2f} s")
    print(f"held-out accuracy: {accuracy:.4f} ({len(test_idx)} samples)")
    return accuracy


def main(argv=None):
    """Entry point; returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "train":
            train(args)
        elif args.command == "bench":
            from fastbp.benchmark import run
            run(quick=args.quick)
    except (ValueError, TypeError, OSError, FloatingPointError) as exc:
        print(f"fastbp: error: {exc}", file=sys.stderr)
        return 1
    return 0
