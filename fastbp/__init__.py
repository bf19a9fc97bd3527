"""fastbp: fast backpropagation for fully connected networks on the CPU.

>>> import fastbp
>>> net = fastbp.Network([64, 32, 10], seed=0)
"""
from fastbp import datasets
from fastbp.gradcheck import gradient_check
from fastbp.network import Network
from fastbp.training import History

__all__ = ["Network", "History", "gradient_check", "datasets"]
__version__ = "0.1.0"
