"""Drop-in replacements for the classic pure-NumPy backprop examples, on fastbp's kernels.

Change one import and the same script runs, prints the same lines and produces the
same numbers (float64), faster:

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
