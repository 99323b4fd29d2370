"""Loss modules: ``CrossEntropyLoss``, ``MSELoss``, ``NLLLoss``, ``BCEWithLogitsLoss``."""

from __future__ import annotations

from typing import Any

from .. import functional as F
from ..tensor import Tensor
from .module import Module

__all__ = ["CrossEntropyLoss", "MSELoss", "NLLLoss", "BCEWithLogitsLoss"]


class CrossEntropyLoss(Module):
    """``F.cross_entropy`` as a module (the fused primitive with the defaults).

    Examples
    --------
    >>> import tinygrad_bp as tg
    >>> loss = tg.nn.CrossEntropyLoss(label_smoothing=0.1)
    >>> round(loss(tg.Tensor([[0.0, 0.0]]), [1]).item(), 6)
    0.693147
    """

    def __init__(
        self, reduction: str = "mean", label_smoothing: float = 0.0, ignore_index: int = -100
    ) -> None:
        self.reduction, self.label_smoothing = reduction, label_smoothing
        self.ignore_index = ignore_index

    def forward(self, logits: Tensor, target: Any) -> Tensor:
        return F.cross_entropy(
            logits,
            target,
            reduction=self.reduction,
            label_smoothing=self.label_smoothing,
            ignore_index=self.ignore_index,
        )


class NLLLoss(Module):
    def __init__(self, reduction: str = "mean", ignore_index: int = -100) -> None:
        self.reduction, self.ignore_index = reduction, ignore_index

    def forward(self, log_probs: Tensor, target: Any) -> Tensor:
        return F.nll_loss(
            log_probs, target, reduction=self.reduction, ignore_index=self.ignore_index
        )


class MSELoss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        self.reduction = reduction

    def forward(self, pred: Tensor, target: Any) -> Tensor:
        return F.mse_loss(pred, target, self.reduction)


class BCEWithLogitsLoss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        self.reduction = reduction

    def forward(self, logits: Tensor, target: Any) -> Tensor:
        return F.binary_cross_entropy_with_logits(logits, target, self.reduction)
