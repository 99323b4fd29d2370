"""``F.*``: the functional surface, aliases of the primitives and compositions of them.

Losses:

- :func:`cross_entropy` is the fused softmax + cross-entropy primitive (mean over the
  batch); its gradient is ``(softmax(logits) - onehot) / N``.
- :func:`mse_loss` is the mean over *all* elements of ``(pred - target)**2``, as in
  PyTorch.  The article's regression loss is the batch mean of ``½‖ŷ − y‖²``, whose
  gradient is ``(ŷ − y) / N``; ``mse_loss``'s is ``2 (ŷ − y) / (N·D)``, a factor of
  ``2/D`` apart (:func:`half_squared_error` is the article's).

Families: :mod:`.activation`, :mod:`.conv` (convolution and pooling), :mod:`.normalization`
(batch_norm, layer_norm, dropout), :mod:`.sparse` (embedding, one_hot), :mod:`.attention`,
:mod:`.loss`.
"""

from __future__ import annotations

from typing import Any

from .. import ops
from ..tensor import Tensor
from .activation import elu, gelu, leaky_relu, silu, softplus
from .attention import scaled_dot_product_attention
from .conv import avg_pool2d, conv2d, max_pool2d
from .loss import _check_pair, binary_cross_entropy_with_logits, cross_entropy, mse_loss, nll_loss
from .normalization import batch_norm, dropout, layer_norm
from .sparse import embedding, one_hot

__all__ = [
    "cross_entropy",
    "mse_loss",
    "half_squared_error",
    "relu",
    "sigmoid",
    "tanh",
    "softmax",
    "log_softmax",
    "linear",
    "nll_loss",
    "binary_cross_entropy_with_logits",
    "leaky_relu",
    "gelu",
    "silu",
    "softplus",
    "elu",
    "conv2d",
    "max_pool2d",
    "avg_pool2d",
    "batch_norm",
    "layer_norm",
    "dropout",
    "embedding",
    "one_hot",
    "scaled_dot_product_attention",
]

relu = ops.relu
sigmoid = ops.sigmoid
tanh = ops.tanh
softmax = ops.softmax
log_softmax = ops.log_softmax


def half_squared_error(pred: Tensor, target: Any) -> Tensor:
    """The article's regression loss: batch mean of ``½‖ŷ − y‖²``; ∂L/∂ŷ = (ŷ − y)/N.

    Examples
    --------
    >>> import tinygrad_bp as tg
    >>> from tinygrad_bp import functional as F
    >>> pred = tg.Tensor([[1.0, 2.0], [0.0, 4.0]], requires_grad=True)
    >>> loss = F.half_squared_error(pred, [[0.0, 0.0], [0.0, 0.0]])
    >>> loss.item()  # (½·(1 + 4) + ½·(0 + 16)) / 2
    5.25
    >>> loss.backward()
    >>> pred.grad  # (ŷ − y) / N
    array([[0.5, 1. ],
           [0. , 2. ]])
    """
    target = _check_pair(pred, target, "half_squared_error")  # (shared with mse_loss)
    d = pred - target
    n = pred.shape[0] if pred.ndim > 0 else 1
    return (d * d).sum() * (0.5 / n)


def linear(x: Tensor, W: Tensor, b: Tensor | None = None) -> Tensor:
    """``x @ W + b``: the article's ``a = x·W + b`` (``W`` of shape ``(in, out)``).

    Examples
    --------
    >>> import numpy as np
    >>> import tinygrad_bp as tg
    >>> from tinygrad_bp import functional as F
    >>> x = tg.Tensor(np.ones((5, 4)))
    >>> W = tg.Tensor(np.full((4, 3), 0.5), requires_grad=True)
    >>> b = tg.Tensor(np.zeros(3), requires_grad=True)
    >>> a = F.linear(x, W, b)
    >>> a.shape, a.op, a.parents[0].op
    ((5, 3), 'add', 'matmul')
    >>> a.sum().backward()
    >>> b.grad  # the bias gradient: the sum over the batch of 5
    array([5., 5., 5.])
    """
    a = ops.matmul(x, W)
    return a if b is None else ops.add(a, b)
