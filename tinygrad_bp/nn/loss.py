"""Loss modules: ``CrossEntropyLoss``, ``MSELoss``, ``NLLLoss``, ``BCEWithLogitsLoss``,
``L1Loss``, ``SmoothL1Loss``, ``HuberLoss``, ``BCELoss``, ``KLDivLoss``."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import functional as F
from ..tensor import Tensor
from .module import Module

__all__ = [
    "CrossEntropyLoss", "MSELoss", "NLLLoss", "BCEWithLogitsLoss", "L1Loss", "SmoothL1Loss",
    "HuberLoss", "BCELoss", "KLDivLoss",
]  # fmt: skip


def check_reduction(reduction: Any, name: str) -> None:
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{name}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _deprecated(name: str, size_average: Any, reduce: Any) -> None:
    if size_average is not None or reduce is not None:
        raise ValueError(
            f"{name}: size_average and reduce are PyTorch's deprecated arguments; write "
            f"reduction='mean', 'sum' or 'none'"
        )


def _weight(name: str, weight: Any) -> Tensor | None:
    if weight is None:
        return None
    w = weight if isinstance(weight, Tensor) else Tensor(weight)
    if w.ndim != 1 or w.data.dtype.kind != "f":
        raise ValueError(
            f"{name}: weight must be a 1-D floating tensor of one weight per class, got shape "
            f"{w.shape} and dtype {w.dtype}"
        )
    return w


class CrossEntropyLoss(Module):
    """``F.cross_entropy`` as a module, PyTorch's arguments: ``weight`` (one per class, a
    buffer in the state dict as in PyTorch), ``ignore_index``, ``reduction``,
    ``label_smoothing``.

    Examples
    --------
    >>> import tinygrad_bp as tg
    >>> loss = tg.nn.CrossEntropyLoss(label_smoothing=0.1)
    >>> round(loss(tg.Tensor([[0.0, 0.0]]), [1]).item(), 6)
    0.693147
    """

    def __init__(
        self,
        weight: Any = None,
        size_average: Any = None,
        ignore_index: int = -100,
        reduce: Any = None,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ) -> None:
        _deprecated("CrossEntropyLoss", size_average, reduce)
        check_reduction(reduction, "CrossEntropyLoss")
        if (
            isinstance(label_smoothing, bool)
            or not isinstance(label_smoothing, (int, float, np.floating))
            or not 0.0 <= label_smoothing <= 1.0
        ):
            raise ValueError(
                f"CrossEntropyLoss: label_smoothing must be a number in [0, 1], got "
                f"{label_smoothing!r}"
            )
        self.reduction, self.label_smoothing = reduction, float(label_smoothing)
        self.ignore_index = ignore_index
        w = _weight("CrossEntropyLoss", weight)
        if w is None:
            self.weight = None
        else:
            self.register_buffer("weight", w.data)

    def forward(self, logits: Tensor, target: Any) -> Tensor:
        kw: dict[str, Any] = {} if self.weight is None else {"weight": self.weight}
        return F.cross_entropy(
            logits,
            target,
            reduction=self.reduction,
            label_smoothing=self.label_smoothing,
            ignore_index=self.ignore_index,
            **kw,
        )


class NLLLoss(Module):
    """``F.nll_loss`` as a module, PyTorch's arguments (``weight`` one per class)."""

    def __init__(
        self,
        weight: Any = None,
        size_average: Any = None,
        ignore_index: int = -100,
        reduce: Any = None,
        reduction: str = "mean",
    ) -> None:
        _deprecated("NLLLoss", size_average, reduce)
        check_reduction(reduction, "NLLLoss")
        self.reduction, self.ignore_index = reduction, ignore_index
        w = _weight("NLLLoss", weight)
        if w is None:
            self.weight = None
        else:
            self.register_buffer("weight", w.data)

    def forward(self, log_probs: Tensor, target: Any) -> Tensor:
        kw: dict[str, Any] = {} if self.weight is None else {"weight": self.weight}
        return F.nll_loss(
            log_probs, target, reduction=self.reduction, ignore_index=self.ignore_index, **kw
        )


class MSELoss(Module):
    def __init__(
        self, size_average: Any = None, reduce: Any = None, reduction: str = "mean"
    ) -> None:
        _deprecated("MSELoss", size_average, reduce)
        check_reduction(reduction, "MSELoss")
        self.reduction = reduction

    def forward(self, pred: Tensor, target: Any) -> Tensor:
        return F.mse_loss(pred, target, self.reduction)


class BCEWithLogitsLoss(Module):
    """``F.binary_cross_entropy_with_logits`` as a layer; ``weight`` and ``pos_weight``
    (one per class, along the last axis) are buffers, as PyTorch's."""

    def __init__(
        self,
        weight: Any = None,
        size_average: Any = None,
        reduce: Any = None,
        reduction: str = "mean",
        pos_weight: Any = None,
    ) -> None:
        _deprecated("BCEWithLogitsLoss", size_average, reduce)
        check_reduction(reduction, "BCEWithLogitsLoss")
        self.reduction = reduction
        self.weight: Tensor | None = None
        self.pos_weight: Tensor | None = None
        for name, value in (("weight", weight), ("pos_weight", pos_weight)):
            if value is None:
                continue
            w = value if isinstance(value, Tensor) else Tensor(value)
            if w.data.dtype.kind != "f":
                raise ValueError(
                    f"BCEWithLogitsLoss: {name} must be floating, got dtype {w.data.dtype}"
                )
            self.register_buffer(name, w.data)

    def forward(self, logits: Tensor, target: Any) -> Tensor:
        return F.binary_cross_entropy_with_logits(
            logits, target, self.weight, reduction=self.reduction, pos_weight=self.pos_weight
        )


class L1Loss(Module):
    def __init__(self, size_average: Any = None, reduce: Any = None,
                 reduction: str = "mean") -> None:  # fmt: skip
        _deprecated("L1Loss", size_average, reduce)
        check_reduction(reduction, "L1Loss")
        self.reduction = reduction

    def forward(self, pred: Tensor, target: Any) -> Tensor:
        return F.l1_loss(pred, target, self.reduction)


class SmoothL1Loss(Module):
    def __init__(self, size_average: Any = None, reduce: Any = None, reduction: str = "mean",
                 beta: float = 1.0) -> None:  # fmt: skip
        _deprecated("SmoothL1Loss", size_average, reduce)
        check_reduction(reduction, "SmoothL1Loss")
        self.reduction, self.beta = reduction, beta

    def forward(self, pred: Tensor, target: Any) -> Tensor:
        return F.smooth_l1_loss(pred, target, self.reduction, self.beta)


class HuberLoss(Module):
    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        check_reduction(reduction, "HuberLoss")
        self.reduction, self.delta = reduction, delta

    def forward(self, pred: Tensor, target: Any) -> Tensor:
        return F.huber_loss(pred, target, self.reduction, self.delta)


class BCELoss(Module):
    """``F.binary_cross_entropy`` on probabilities (prefer ``BCEWithLogitsLoss``)."""

    def __init__(self, weight: Any = None, size_average: Any = None, reduce: Any = None,
                 reduction: str = "mean") -> None:  # fmt: skip
        _deprecated("BCELoss", size_average, reduce)
        check_reduction(reduction, "BCELoss")
        self.reduction = reduction
        if weight is None:
            self.weight = None
        else:
            self.register_buffer(
                "weight", (weight if isinstance(weight, Tensor) else Tensor(weight)).data
            )

    def forward(self, pred: Tensor, target: Any) -> Tensor:
        return F.binary_cross_entropy(pred, target, self.weight, reduction=self.reduction)


class KLDivLoss(Module):
    def __init__(self, size_average: Any = None, reduce: Any = None, reduction: str = "mean",
                 log_target: bool = False) -> None:  # fmt: skip
        _deprecated("KLDivLoss", size_average, reduce)
        if reduction not in ("mean", "sum", "none", "batchmean"):
            raise ValueError(
                f"KLDivLoss: reduction must be 'mean', 'batchmean', 'sum' or 'none', got "
                f"{reduction!r}"
            )
        self.reduction, self.log_target = reduction, log_target

    def forward(self, pred: Tensor, target: Any) -> Tensor:
        return F.kl_div(pred, target, reduction=self.reduction, log_target=self.log_target)
