"""Losses: cross_entropy (the fused primitive on its default path), nll_loss, mse_loss,
binary_cross_entropy_with_logits, with PyTorch's ``reduction=``, ``label_smoothing=`` and
``ignore_index=``."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import ops
from ..ops.loss import ClassIndexError
from ..tensor import Tensor, _to_array
from ._util import as_tensor, check_reduction, reduce
from .activation import softplus

__all__ = ["cross_entropy", "nll_loss", "mse_loss", "binary_cross_entropy_with_logits"]


def _target_array(target: Any) -> Any:
    t = target.data if isinstance(target, Tensor) else target
    return np.asarray(t) if isinstance(t, (list, tuple)) else t


def _class_weights(
    logp: Tensor, target: Any, label_smoothing: float, ignore_index: int, op: str
) -> tuple[Any, Any]:
    """The constant ``Q`` with ``loss_i = −Σ_c Q_ic · logp_ic`` for class-index targets,
    and the mask of rows that count."""
    n, c = logp.shape
    t = _target_array(target)
    if not isinstance(t, np.ndarray) or t.shape != (n,):
        raise ValueError(
            f"{op}: target must be class indices of shape ({n},) for input {logp.shape}, got "
            f"{getattr(t, 'shape', type(t).__name__)}"
        )
    if t.dtype.kind not in "iu":
        raise TypeError(f"{op}: class indices must be integers, got dtype {t.dtype}")
    valid = t != ignore_index
    tt = np.where(valid, t, 0)
    if tt.size and (tt.min() < 0 or tt.max() >= c):
        bad = tt[(tt < 0) | (tt >= c)][0]
        raise ValueError(
            f"{op}: class index {bad} is out of range for {c} classes (valid: 0..{c - 1})"
        )
    q = np.zeros((n, c), dtype=logp.dtype)
    q[np.arange(n), tt] = 1.0 - label_smoothing
    if label_smoothing:
        q += label_smoothing / c
    q *= valid[:, None]
    return q, valid


def _nll_from_logp(
    logp: Tensor,
    target: Any,
    reduction: str,
    label_smoothing: float,
    ignore_index: int,
    op: str,
) -> Tensor:
    t = _target_array(target)
    if isinstance(t, np.ndarray) and t.ndim == 2:  # probabilities (no ignore_index here)
        if t.shape != logp.shape:
            raise ValueError(
                f"{op}: a probability target must have the input's shape {logp.shape}, got "
                f"{t.shape}"
            )
        y = (
            target
            if isinstance(target, Tensor) and target.requires_grad
            else t.astype(logp.dtype, copy=False)
        )
        if label_smoothing:
            y = y * (1.0 - label_smoothing) + label_smoothing / logp.shape[1]
        loss = -(logp * y).sum(axis=1)
        return reduce(loss, reduction)
    q, valid = _class_weights(logp, target, label_smoothing, ignore_index, op)
    loss = -(logp * q).sum(axis=1)
    if reduction == "mean":
        return loss.sum() / float(valid.sum()) if valid.any() else loss.sum() * np.nan
    return reduce(loss, reduction)


def _check_logits(x: Tensor, op: str) -> Tensor:
    x = as_tensor(x, op)
    if x.ndim != 2:
        raise ValueError(f"{op}: input must have shape (N, C), got shape {x.shape}")
    return x


def cross_entropy(
    logits: Tensor,
    target: Any,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    ignore_index: int = -100,
) -> Tensor:
    """Softmax + cross-entropy of ``logits (N, C)`` against class indices ``(N,)`` or
    probability rows ``(N, C)``, as ``torch.nn.functional.cross_entropy``.

    With the defaults this is the fused primitive :func:`tinygrad_bp.ops.cross_entropy`,
    whose gradient is ``(softmax − onehot) / N``.  ``reduction`` ("mean", "sum", "none"),
    ``label_smoothing`` ε (the target becomes ``(1 − ε)·onehot + ε/C``) and
    ``ignore_index`` (rows with that label count for nothing; the mean is over the rest)
    go through ``log_softmax``.

    Examples
    --------
    >>> import tinygrad_bp as tg
    >>> from tinygrad_bp import functional as F
    >>> z = tg.Tensor([[0.0, 0.0], [0.0, 0.0]])
    >>> round(F.cross_entropy(z, [0, 1]).item(), 6)  # log 2
    0.693147
    >>> F.cross_entropy(z, [0, -100], reduction="sum").item() == F.cross_entropy(z, [0, 1]).item()
    True
    """
    if reduction == "mean" and label_smoothing == 0.0:
        try:  # the fused primitive; its one range check also finds an ignored label
            return ops.cross_entropy(logits, target)
        except ClassIndexError:
            t = _target_array(target)
            if not (isinstance(t, np.ndarray) and t.ndim == 1 and (t == ignore_index).any()):
                raise
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(
            f"cross_entropy: label_smoothing must lie in [0, 1], got {label_smoothing}"
        )
    check_reduction(reduction, "cross_entropy")
    logits = _check_logits(logits, "cross_entropy")
    logp = ops.log_softmax(logits, 1)
    return _nll_from_logp(logp, target, reduction, label_smoothing, ignore_index, "cross_entropy")


def nll_loss(
    log_probs: Tensor, target: Any, reduction: str = "mean", ignore_index: int = -100
) -> Tensor:
    """``−log_probs[i, target_i]``, averaged over the rows that are not ``ignore_index``.

    Examples
    --------
    >>> import numpy as np
    >>> import tinygrad_bp as tg
    >>> from tinygrad_bp import functional as F
    >>> loss = F.nll_loss(tg.Tensor(np.log([[0.5, 0.5], [0.25, 0.75]])), np.array([0, 1]))
    >>> bool(np.isclose(loss.item(), -(np.log(0.5) + np.log(0.75)) / 2))
    True
    """
    check_reduction(reduction, "nll_loss")
    log_probs = _check_logits(log_probs, "nll_loss")
    return _nll_from_logp(log_probs, target, reduction, 0.0, ignore_index, "nll_loss")


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


def mse_loss(pred: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Mean over all elements of ``(pred - target) ** 2`` (PyTorch's ``mse_loss``);
    ``reduction="sum"`` or ``"none"`` as in PyTorch.

    Examples
    --------
    >>> import tinygrad_bp as tg
    >>> from tinygrad_bp import functional as F
    >>> F.mse_loss(tg.Tensor([1.0, 2.0]), tg.Tensor([0.0, 0.0])).item()
    2.5
    """
    check_reduction(reduction, "mse_loss")
    target = _check_pair(pred, target, "mse_loss")
    d = pred - target
    return reduce(d * d, reduction)


def binary_cross_entropy_with_logits(
    logits: Tensor, target: Any, reduction: str = "mean"
) -> Tensor:
    """``softplus(z) − z·y`` = −[y log σ(z) + (1 − y) log(1 − σ(z))], stable for any z.
    ∂/∂z = σ(z) − y (over N for the mean).

    Examples
    --------
    >>> import tinygrad_bp as tg
    >>> from tinygrad_bp import functional as F
    >>> round(F.binary_cross_entropy_with_logits(tg.Tensor([0.0]), [1.0]).item(), 6)
    0.693147
    """
    check_reduction(reduction, "binary_cross_entropy_with_logits")
    logits = as_tensor(logits, "binary_cross_entropy_with_logits")
    t = _target_array(target)
    if tuple(np.shape(t)) != logits.shape:
        raise ValueError(
            f"binary_cross_entropy_with_logits: target shape {tuple(np.shape(t))} differs "
            f"from the logits' shape {logits.shape}"
        )
    y = target if isinstance(target, Tensor) else np.asarray(t, dtype=logits.dtype)
    return reduce(softplus(logits) - logits * y, reduction)
