"""Neural-network building blocks: Parameter, Module, layers, MLP and losses.

>>> from tinygrad_edu import nn
>>> model = nn.MLP([784, 64, 10], activation="sigmoid", seed=0)  # the course's MLP
>>> loss = nn.cross_entropy(model(x), y)  # x (N, 784) float32, y (N,) int labels
>>> cnn = nn.build_cnn(seed=0)  # the course's small CNN (nn/models.py)
"""

from . import functional, init
from .conv import Conv2d, MaxPool2d, conv2d, max_pool2d
from .functional import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    dropout,
    linear,
    log_softmax,
    mse_loss,
    nll_loss,
    one_hot,
    relu,
    sigmoid,
    softmax,
    tanh,
)
from .layers import (
    ACTIVATIONS,
    MLP,
    Dropout,
    Flatten,
    Identity,
    Linear,
    LogSoftmax,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
)
from .loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, Loss, MSELoss, NLLLoss
from .models import build_cnn
from .module import Module, Parameter, StateDictError

__all__ = [
    "ACTIVATIONS",
    "MLP",
    "BCELoss",
    "BCEWithLogitsLoss",
    "Conv2d",
    "CrossEntropyLoss",
    "Dropout",
    "Flatten",
    "Identity",
    "Linear",
    "LogSoftmax",
    "Loss",
    "MSELoss",
    "MaxPool2d",
    "Module",
    "NLLLoss",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "StateDictError",
    "Tanh",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "build_cnn",
    "conv2d",
    "cross_entropy",
    "dropout",
    "functional",
    "init",
    "linear",
    "log_softmax",
    "max_pool2d",
    "mse_loss",
    "nll_loss",
    "one_hot",
    "relu",
    "sigmoid",
    "softmax",
    "tanh",
]
