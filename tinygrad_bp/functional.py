"""``F.*``: the functional surface, aliases of the primitives and compositions of them.

Losses:

- :func:`cross_entropy` is the fused softmax + cross-entropy primitive (mean over the
  batch); its gradient is ``(softmax(logits) - onehot) / N``.
- :func:`mse_loss` is the mean over *all* elements of ``(pred - target)**2``, as in
  PyTorch.  The article's regression loss is the batch mean of ``½‖ŷ − y‖²``, whose
  gradient is ``(ŷ − y) / N``; ``mse_loss``'s is ``2 (ŷ − y) / (N·D)``, a factor of
  ``2/D`` apart (:func:`half_squared_error` is the article's).
"""

from __future__ import annotations

from typing import Any

from . import ops
from .tensor import Tensor, _to_array

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
]

cross_entropy = ops.cross_entropy
relu = ops.relu
sigmoid = ops.sigmoid
tanh = ops.tanh
softmax = ops.softmax
log_softmax = ops.log_softmax


def _check_pair(pred: Any, target: Any, op: str) -> Any:
    """Refuse a target whose shape differs from the prediction's (broadcasting them would
    silently average the wrong pairs); returns the target, a list or tuple as an array
    (so that its shape is checked too, and it keeps the prediction's float dtype)."""
    if not isinstance(pred, Tensor):
        raise TypeError(f"{op}: pred must be a Tensor, got {type(pred).__name__}")
    if isinstance(target, (list, tuple)):
        dtype = pred.dtype if pred.dtype.kind == "f" else None
        target = _to_array(target, dtype, op)
    tshape = target.shape if hasattr(target, "shape") else None
    if tshape is not None and tuple(tshape) != pred.shape:
        raise ValueError(
            f"{op}: target shape {tuple(tshape)} differs from prediction shape {pred.shape}"
        )
    return target


def mse_loss(pred: Tensor, target: Any) -> Tensor:
    """Mean over all elements of ``(pred - target) ** 2`` (PyTorch's ``mse_loss``).

    Examples
    --------
    >>> import tinygrad_bp as tg
    >>> from tinygrad_bp import functional as F
    >>> F.mse_loss(tg.Tensor([1.0, 2.0]), tg.Tensor([0.0, 0.0])).item()
    2.5
    """
    target = _check_pair(pred, target, "mse_loss")
    d = pred - target
    return (d * d).mean()


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
    target = _check_pair(pred, target, "half_squared_error")
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
