"""``nn``: modules by family, PyTorch's names.

- :mod:`.module`: ``Module`` (parameters, buffers, train/eval, state dict), ``Parameter``
- :mod:`.linear`: the article's ``Dense`` (``W (in, out)``) and PyTorch's ``Linear``
- :mod:`.containers`: ``Sequential``, ``ModuleList``, ``Identity``, ``Flatten``, ``mlp``
- :mod:`.activation`, :mod:`.conv`, :mod:`.pooling`, :mod:`.normalization`,
  :mod:`.dropout`, :mod:`.sparse` (``Embedding``), :mod:`.recurrent`, :mod:`.attention`,
  :mod:`.loss`, :mod:`.utils` (``clip_grad_norm_``)
"""

from __future__ import annotations

from typing import Any

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
from .extra_layers import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveMaxPool2d,
    AvgPool1d,
    Bilinear,
    Conv1d,
    ConvTranspose1d,
    ConvTranspose2d,
    Dropout2d,
    Fold,
    GroupNorm,
    InstanceNorm1d,
    InstanceNorm2d,
    MaxPool1d,
    PReLU,
    Softmax2d,
    Unfold,
    Upsample,
)
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
    "Conv1d",
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "GroupNorm",
    "InstanceNorm1d",
    "InstanceNorm2d",
    "PReLU",
    "AdaptiveMaxPool2d",
    "Dropout2d",
    "Upsample",
    "Unfold",
    "Fold",
    "ConvTranspose2d",
    "ConvTranspose1d",
    "MaxPool1d",
    "AvgPool1d",
    "Bilinear",
    "Softmax2d",
]


# PyTorch's layers that are not built: an error naming what to write instead
_NOT_BUILT = {
    "TransformerEncoderLayer": "compose nn.MultiheadAttention, nn.LayerNorm, nn.Linear and "
    "nn.Dropout (see docs/layers/attention.md)",
    "TransformerDecoderLayer": "compose nn.MultiheadAttention, nn.LayerNorm, nn.Linear and "
    "nn.Dropout (see docs/layers/attention.md)",
    "TransformerEncoder": "stack your own encoder layers in an nn.ModuleList",
    "Transformer": "compose nn.MultiheadAttention, nn.LayerNorm and nn.Linear",
    "Conv3d": "3-d convolutions are not built; reshape to 2-d, or use nn.Conv2d",
    "MaxPool3d": "3-d pooling is not built",
    "AvgPool3d": "3-d pooling is not built",
    "BatchNorm3d": "use nn.BatchNorm1d on x.flatten(2) (the same statistics per channel)",
    "EmbeddingBag": "use nn.Embedding, then .sum(dim) or .mean(dim) over each bag",
    "CTCLoss": "CTC is not built",
    "DataParallel": "see tinygrad_bp.distributed.DistributedDataParallel (MPI processes)",
}


def __getattr__(name: str) -> Any:
    if name in _NOT_BUILT:
        raise AttributeError(
            f"nn.{name} (a PyTorch name) is not built in tinygrad_bp: {_NOT_BUILT[name]}"
        )
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
