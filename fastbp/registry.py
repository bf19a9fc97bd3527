"""Names users write, mapped to the integer codes the kernels take."""
from fastbp.kernels import codes

HIDDEN_ACTIVATIONS = {
    "linear": codes.LINEAR,
    "relu": codes.RELU,
    "sigmoid": codes.SIGMOID,
    "tanh": codes.TANH,
    "leaky_relu": codes.LEAKY_RELU,
}
OUTPUT_ACTIVATIONS = {
    "softmax": codes.SOFTMAX,
    "sigmoid": codes.SIGMOID,
    "linear": codes.LINEAR,
    "tanh": codes.TANH,
    "relu": codes.RELU,
}
LOSSES = {
    "cross_entropy": codes.CROSS_ENTROPY,
    "binary_cross_entropy": codes.BINARY_CROSS_ENTROPY,
    "mse": codes.MSE,
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
OPTIMIZERS = {"sgd": codes.SGD, "adam": codes.ADAM}
INITS = ("he", "xavier", "normal", "scaled_normal")
CLASSIFIER_LOSSES = ("cross_entropy", "binary_cross_entropy")
