"""``F.*``: the functional surface, aliases of the primitives and compositions of them.

Losses:

- :func:`cross_entropy` is the fused softmax + cross-entropy primitive (mean over the
  batch); its gradient is ``(softmax(logits) - onehot) / N``.
- :func:`mse_loss` is the mean over *all* elements of ``(pred - target)**2``, as in
  PyTorch.  The article's regression loss is the batch mean of ``½‖ŷ − y‖²``, whose
  gradient is ``(ŷ − y) / N``; ``mse_loss``'s is ``2 (ŷ − y) / (N·D)``, a factor of
  ``2/D`` apart (:func:`half_squared_error` is the article's).

Families: :mod:`.activation` and :mod:`.pointwise` (more activations), :mod:`.conv`
(convolution and pooling), :mod:`.normalization` (batch_norm, layer_norm, dropout),
:mod:`.sparse` (embedding, one_hot), :mod:`.attention`, :mod:`.loss`, :mod:`.padding`
(``F.pad``'s border modes), :mod:`.distance` (normalize, cosine_similarity,
pairwise_distance), :mod:`.extra_layers` (conv1d, adaptive average pooling, group_norm,
instance_norm, prelu).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import ops
from ..tensor import Tensor
from .activation import elu, gelu, leaky_relu, silu, softplus
from .attention import packed_self_attention, scaled_dot_product_attention
from .conv import avg_pool2d, conv2d, max_pool2d, max_unpool2d
from .distance import cosine_similarity, normalize, pairwise_distance
from .extra_layers import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_max_pool2d,
    avg_pool1d,
    bilinear,
    conv1d,
    conv_transpose1d,
    conv_transpose2d,
    dropout2d,
    fold,
    group_norm,
    instance_norm,
    interpolate,
    max_pool1d,
    prelu,
    unfold,
)
from .loss import (
    _check_pair,
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    huber_loss,
    kl_div,
    l1_loss,
    mse_loss,
    nll_loss,
    smooth_l1_loss,
)
from .normalization import batch_norm, dropout, layer_norm
from .padding import MODES, pad_border
from .pointwise import (
    celu,
    glu,
    hardsigmoid,
    hardswish,
    hardtanh,
    logsigmoid,
    mish,
    relu6,
    selu,
    softmin,
    softsign,
    tanhshrink,
    threshold,
)  # fmt: skip
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
    "packed_self_attention",
    "pad",
    "max_unpool2d",
    "normalize",
    "cosine_similarity",
    "pairwise_distance",
    "l1_loss",
    "smooth_l1_loss",
    "huber_loss",
    "binary_cross_entropy",
    "kl_div",
    "hardtanh",
    "relu6",
    "hardsigmoid",
    "hardswish",
    "selu",
    "celu",
    "mish",
    "softsign",
    "logsigmoid",
    "tanhshrink",
    "threshold",
    "softmin",
    "glu",
    "conv1d",
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "group_norm",
    "instance_norm",
    "prelu",
    "adaptive_max_pool2d",
    "dropout2d",
    "interpolate",
    "unfold",
    "fold",
    "conv_transpose2d",
    "conv_transpose1d",
    "max_pool1d",
    "avg_pool1d",
    "bilinear",
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


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``x @ weight.T + bias``, as ``torch.nn.functional.linear`` (``weight`` of shape
    ``(out, in)``, ``nn.Linear``'s layout).  The article's ``a = x·W + b`` with ``W`` of
    shape ``(in, out)`` (``nn.Dense``'s layout) is ``x @ W + b``, or ``F.linear(x, W.T, b)``.

    Examples
    --------
    >>> import numpy as np
    >>> import tinygrad_bp as tg
    >>> from tinygrad_bp import functional as F
    >>> x = tg.Tensor(np.ones((5, 4)))
    >>> weight = tg.Tensor(np.full((3, 4), 0.5), requires_grad=True)  # (out, in)
    >>> b = tg.Tensor(np.zeros(3), requires_grad=True)
    >>> a = F.linear(x, weight, b)
    >>> a.shape, a.op, a.parents[0].op
    ((5, 3), 'add', 'matmul')
    >>> a.sum().backward()
    >>> b.grad  # the bias gradient: the sum over the batch of 5
    array([5., 5., 5.])
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"linear: x must be a Tensor, got {type(x).__name__}")
    w = weight if isinstance(weight, Tensor) else ops.as_tensor(weight, "linear")
    if w.ndim not in (1, 2) or x.ndim == 0 or x.shape[-1] != w.shape[-1]:
        raise ValueError(
            f"linear: expected weight of shape (out, in) = (out, {x.shape[-1] if x.ndim else '?'}) "
            f"for input of shape {x.shape} (PyTorch's layout: x @ weight.T), got weight "
            f"shape {w.shape}"
        )
    a = ops.matmul(x, ops.transpose(w) if w.ndim == 2 else w)
    return a if bias is None else ops.add(a, bias)


def pad(input: Tensor, pad: Any, mode: str = "constant", value: float | None = None) -> Tensor:  # noqa: A002
    """``torch.nn.functional.pad``: ``pad`` lists ``(before, after)`` widths from the
    *last* axis backwards, ``(left, right, top, bottom, ...)``; a negative width crops.
    ``mode`` is ``"constant"`` (with ``value``), ``"reflect"``, ``"replicate"`` or
    ``"circular"``, with PyTorch's rules for the border modes (they pad the last 1, 2 or 3
    dims of a 2-D to 5-D input; see :mod:`.padding`).  (:meth:`Tensor.pad` takes NumPy's
    ``pad_width``, first axis first.)

    Examples
    --------
    >>> import numpy as np
    >>> import tinygrad_bp as tg
    >>> from tinygrad_bp import functional as F
    >>> F.pad(tg.Tensor(np.ones((2, 3))), (1, 2)).shape  # the last axis: 1 + 3 + 2
    (2, 6)
    >>> F.pad(tg.Tensor(np.ones((2, 3))), (0, 0, 1, -1), value=5.0).data[:, 0]
    array([5., 1.])
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"pad: input must be a Tensor, got {type(input).__name__}")
    if mode not in ("constant",) + MODES:
        raise ValueError(
            f"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', got {mode!r}"
        )
    if not isinstance(pad, (tuple, list)) or not all(
        isinstance(p, (int, np.integer)) and not isinstance(p, bool) for p in pad
    ):
        raise TypeError(f"pad: pad must be a tuple of ints, got {pad!r}")
    if mode != "constant":
        if value is not None and value != 0:
            raise ValueError(f"pad: mode={mode!r} takes no value (only 'constant' does)")
        if len(pad) % 2:
            raise ValueError(f"pad: pad must hold an even number of widths, got {tuple(pad)}")
        return pad_border(input, tuple(pad), mode)
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise ValueError(
            f"pad: pad must hold an even number of widths, at most 2 per axis of the "
            f"{input.ndim}-d input, got {len(pad)}: {tuple(pad)}"
        )
    widths = [[0, 0] for _ in range(input.ndim)]
    for i in range(len(pad) // 2):
        widths[input.ndim - 1 - i] = [int(pad[2 * i]), int(pad[2 * i + 1])]
    x = input
    if any(w < 0 for pair in widths for w in pair):
        key = tuple(slice(max(-lo, 0), n - max(-hi, 0)) for (lo, hi), n in zip(widths, input.shape))
        if any(k.start > k.stop for k in key):
            raise ValueError(f"pad: the negative widths {tuple(pad)} crop more than {input.shape}")
        x = x[key]
    pos = [[max(lo, 0), max(hi, 0)] for lo, hi in widths]
    if any(w for pair in pos for w in pair):
        x = ops.pad(x, pos, 0.0 if value is None else value)
    return x
