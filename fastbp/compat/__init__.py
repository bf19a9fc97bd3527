"""Drop-in replacements for the classic pure-NumPy backprop examples.

Change one import and the same script runs and prints the same lines. Seed 002's functions
and the deeplearning.ai modules return the originals' arrays byte for byte (the products on
fastbp's kernels where that gives NumPy's bits); seed 001's ``MLP`` and Nielsen's ``Network``
train on fastbp's epoch kernels, to round-off of the originals' numbers (``MLP`` about 100x faster):

- seed 001's ``MLP`` class with ``sigmoid``, ``deriv_sigmoid``, ``mse_loss``;
- seed 002's L-layer API (``iniPara``, ``forwardModel``, ``backwardModel``, ...);
- :mod:`fastbp.compat.dlai` and :mod:`fastbp.compat.dlai_step`, the deeplearning.ai notebooks seed 002 adapts;
- :mod:`fastbp.compat.nielsen`, Michael Nielsen's ``network.py``.
"""
from fastbp.compat.llayer import (backwardModel, forwardLinear, forwardLinearActivation, forwardModel,
                                  iniPara, linearActivationBackward, linearBackward, loadData, relu,
                                  reluBackward, sigmoid, sigmoidBackward, updateParameters)
from fastbp.compat.mlp import MLP, deriv_sigmoid, mse_loss

__all__ = ["MLP", "sigmoid", "deriv_sigmoid", "mse_loss", "relu", "sigmoidBackward", "reluBackward",
           "loadData", "iniPara", "forwardLinear", "forwardLinearActivation", "forwardModel",
           "linearBackward", "linearActivationBackward", "backwardModel", "updateParameters"]
