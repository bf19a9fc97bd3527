"""Names users write, mapped to the integer codes the kernels take."""
from fastbp.kernels import activations as act
from fastbp.kernels import losses
from fastbp.kernels import optimizers

HIDDEN_ACTIVATIONS = {
    "linear": act.LINEAR,
    "relu": act.RELU,
    "sigmoid": act.SIGMOID,
    "tanh": act.TANH,
    "leaky_relu": act.LEAKY_RELU,
}
OUTPUT_ACTIVATIONS = {
    "softmax": act.SOFTMAX,
    "sigmoid": act.SIGMOID,
    "linear": act.LINEAR,
    "tanh": act.TANH,
    "relu": act.RELU,
}
LOSSES = {
    "cross_entropy": losses.CROSS_ENTROPY,
    "binary_cross_entropy": losses.BINARY_CROSS_ENTROPY,
    "mse": losses.MSE,
}
# The loss each output takes when none is named, and the losses each output allows:
# cross-entropies are fused with their own output activation (computed from the logits).
DEFAULT_LOSS = {"softmax": "cross_entropy", "sigmoid": "binary_cross_entropy"}
ALLOWED_LOSSES = {
    "softmax": ("cross_entropy",),
    "sigmoid": ("binary_cross_entropy", "mse"),
    "linear": ("mse",),
    "tanh": ("mse",),
    "relu": ("mse",),
}
OPTIMIZERS = {"sgd": optimizers.SGD, "adam": optimizers.ADAM}
INITS = ("he", "xavier", "normal", "scaled_normal")
CLASSIFIER_LOSSES = ("cross_entropy", "binary_cross_entropy")
