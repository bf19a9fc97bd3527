"""The deeplearning.ai "Building your Deep Neural Network: Step by Step" notebook's graded functions.

The Step by Step notebook differs from the Application's helper file
(:mod:`fastbp.compat.dlai`) in two conventions, which users' code relies on:

- ``initialize_parameters_deep`` seeds NumPy's generator with 3 and draws
  ``randn * 0.01`` (the Application: seed 1, ``randn / sqrt(n_prev)``);
- ``update_parameters`` works on a deep copy of the dict it is given and returns the
  copy, leaving the caller's dict as it was.

Everything else (forward, cost, backward, the activation helpers of ``dnn_utils``) is
the same function as in :mod:`fastbp.compat.dlai`.
"""
import copy

import numpy as np

from fastbp.compat import dlai
from fastbp.compat.dlai import (L_model_backward, L_model_forward, compute_cost, initialize_parameters,
                                linear_activation_backward, linear_activation_forward, linear_backward,
                                linear_forward, relu, relu_backward, sigmoid, sigmoid_backward)

__all__ = ["initialize_parameters", "initialize_parameters_deep", "linear_forward", "linear_activation_forward",
           "L_model_forward", "compute_cost", "linear_backward", "linear_activation_backward",
           "L_model_backward", "update_parameters", "sigmoid", "relu", "sigmoid_backward", "relu_backward"]


def initialize_parameters_deep(layer_dims):
    """np.random.seed(3); W_l = randn(n_l, n_{l-1}) * 0.01, b_l = zeros((n_l, 1)); dict W1, b1, ..."""
    np.random.seed(3)
    parameters = {}
    for l in range(1, len(layer_dims)):
        parameters["W" + str(l)] = np.random.randn(layer_dims[l], layer_dims[l - 1]) * 0.01
        parameters["b" + str(l)] = np.zeros((layer_dims[l], 1))
    return parameters


def update_parameters(params, grads, learning_rate):
    """Gradient descent step on a deep copy of ``params``; returns the copy (``params`` is unchanged)."""
    return dlai.update_parameters(copy.deepcopy(params), grads, learning_rate)
