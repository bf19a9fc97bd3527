"""fastbp: fast backpropagation for fully connected networks on the CPU.

>>> import fastbp
>>> net = fastbp.Network([64, 32, 10], seed=0)
"""
from fastbp import datasets, schedules
from fastbp.gradcheck import gradient_check
from fastbp.network import Network
from fastbp.history import History
from fastbp.io import ModelFileError, load
from fastbp.dask_sweep import SweepResult, sweep

__all__ = ["Network", "History", "ModelFileError", "load", "sweep", "SweepResult", "gradient_check", "datasets",
           "schedules"]
__version__ = "0.1.0"
