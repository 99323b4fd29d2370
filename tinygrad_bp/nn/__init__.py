"""``nn``: modules by family, PyTorch's names.

- :mod:`.module`: ``Module`` (parameters, buffers, train/eval, state dict), ``Parameter``
- :mod:`.linear`: the article's ``Dense`` (``W (in, out)``) and PyTorch's ``Linear``
- :mod:`.containers`: ``Sequential``, ``ModuleList``, ``Identity``, ``Flatten``, ``mlp``
- :mod:`.activation`, :mod:`.conv`, :mod:`.pooling`, :mod:`.normalization`,
  :mod:`.dropout`, :mod:`.sparse` (``Embedding``), :mod:`.recurrent`, :mod:`.attention`,
  :mod:`.loss`, :mod:`.utils` (``clip_grad_norm_``)
"""

from __future__ import annotations

from . import init, utils
from .activation import (
    ELU,
    GELU,
    LeakyReLU,
    LogSoftmax,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Tanh,
)
from .attention import MultiheadAttention
from .containers import (
    Flatten,
    Identity,
    ModuleDict,
    ModuleList,
    ParameterDict,
    ParameterList,
    Sequential,
    Unflatten,
    mlp,
)  # fmt: skip
from .conv import Conv2d
from .dropout import Dropout
from .linear import ACTIVATIONS, INITS, Dense, Linear
from .loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)  # fmt: skip
from .module import Module, Parameter
from .normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from .padding import (
    CircularPad1d,
    CircularPad2d,
    ConstantPad1d,
    ConstantPad2d,
    ReflectionPad1d,
    ReflectionPad2d,
    ReplicationPad1d,
    ReplicationPad2d,
    ZeroPad1d,
    ZeroPad2d,
)  # fmt: skip
from .pointwise import (
    CELU,
    GLU,
    SELU,
    CosineSimilarity,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    LogSigmoid,
    Mish,
    PairwiseDistance,
    ReLU6,
    Softmin,
    Softsign,
    Tanhshrink,
    Threshold,
)  # fmt: skip
from .pooling import AvgPool2d, MaxPool2d, MaxUnpool2d
from .recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from .sparse import Embedding

__all__ = [
    "Module",
    "Parameter",
    "Dense",
    "Linear",
    "Sequential",
    "ModuleList",
    "Identity",
    "Flatten",
    "ReLU",
    "Sigmoid",
    "Tanh",
    "LeakyReLU",
    "GELU",
    "SiLU",
    "Softplus",
    "ELU",
    "Softmax",
    "LogSoftmax",
    "Conv2d",
    "MaxPool2d",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "LayerNorm",
    "Dropout",
    "Embedding",
    "RNNCell",
    "LSTMCell",
    "GRUCell",
    "LSTM",
    "RNN",
    "GRU",
    "MultiheadAttention",
    "CrossEntropyLoss",
    "MSELoss",
    "NLLLoss",
    "BCEWithLogitsLoss",
    "utils",
    "init",
    "mlp",
    "ACTIVATIONS",
    "INITS",
    "Unflatten",
    "ModuleDict",
    "ParameterList",
    "ParameterDict",
    "BCELoss",
    "HuberLoss",
    "KLDivLoss",
    "L1Loss",
    "SmoothL1Loss",
    "MaxUnpool2d",
    "ZeroPad1d",
    "ZeroPad2d",
    "ConstantPad1d",
    "ConstantPad2d",
    "ReflectionPad1d",
    "ReflectionPad2d",
    "ReplicationPad1d",
    "ReplicationPad2d",
    "CircularPad1d",
    "CircularPad2d",
    "CELU",
    "GLU",
    "SELU",
    "CosineSimilarity",
    "Hardsigmoid",
    "Hardswish",
    "Hardtanh",
    "LogSigmoid",
    "Mish",
    "PairwiseDistance",
    "ReLU6",
    "Softmin",
    "Softsign",
    "Tanhshrink",
    "Threshold",
]
