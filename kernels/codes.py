"""The integer codes the kernels take, and the slots of their ``hyper`` array.

Plain constants, no compiler: :mod:`fastbp.registry` maps user-facing names to them, and
``import fastbp`` (which builds that map) must not load Numba; the kernels are loaded on first
use. Each kernel module takes its codes from here (:mod:`.activations`, :mod:`.losses`,
:mod:`.optimizers` re-export them next to the code that branches on them).
"""

# Activations (kernels/activations.py).
LINEAR, RELU, SIGMOID, TANH, LEAKY_RELU, SOFTMAX = 0, 1, 2, 3, 4, 5
EXP = 6  # output only: the inverse link of the Poisson loss (scikit-learn's MLPRegressor)

# Losses (kernels/losses.py).
CROSS_ENTROPY, BINARY_CROSS_ENTROPY, MSE = 0, 1, 2
# scikit-learn's losses (``weighted_output_delta``), each with its canonical output activation.
LOG_LOSS, BINARY_LOG_LOSS, HALF_SQUARED_ERROR, HALF_POISSON = 3, 4, 5, 6

# Optimizers (kernels/optimizers.py). NO_UPDATE leaves the parameters alone: a training step that only
# computes the gradients. SKLEARN_SGD and SKLEARN_ADAM are scikit-learn's formulations (fastbp.sklearn),
# which differ from PyTorch's.
SGD, ADAM, NO_UPDATE, SKLEARN_SGD, SKLEARN_ADAM = 0, 1, 2, 3, 4
# The rest of an SGD or SKLEARN_SGD step with momentum whose velocity already holds the gradient: the kernels
# pick these themselves when the gradient's product writes into the velocity (optimizers.gradient_fold).
FOLDED_SGD, FOLDED_SKLEARN_SGD = 5, 6
# Slots of the float64 ``hyper`` array every training kernel takes.
LR, MOMENTUM, NESTEROV, L2, BETA1, BETA2, EPSILON = range(7)
N_HYPER = 7
