"""More activation modules (see :mod:`tinygrad_bp.functional.pointwise`), and the
distance modules ``CosineSimilarity`` and ``PairwiseDistance``."""

from __future__ import annotations

from typing import Any

from .. import functional as F
from ..tensor import Tensor
from .module import Module

__all__ = [
    "Hardtanh", "ReLU6", "Hardsigmoid", "Hardswish", "SELU", "CELU", "Mish", "Softsign",
    "LogSigmoid", "Tanhshrink", "Threshold", "Softmin", "GLU", "CosineSimilarity",
    "PairwiseDistance",
]  # fmt: skip


class Hardtanh(Module):
    def __init__(self, min_val: float = -1.0, max_val: float = 1.0) -> None:
        self.min_val, self.max_val = min_val, max_val

    def forward(self, x: Tensor) -> Tensor:
        return F.hardtanh(x, self.min_val, self.max_val)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}"


def _simple(name: str, fn: Any) -> type:
    def forward(self: Module, x: Tensor) -> Tensor:
        return fn(x)

    return type(name, (Module,), {"forward": forward, "__doc__": f"``F.{fn.__name__}``."})


ReLU6 = _simple("ReLU6", F.relu6)
Hardsigmoid = _simple("Hardsigmoid", F.hardsigmoid)
Hardswish = _simple("Hardswish", F.hardswish)
SELU = _simple("SELU", F.selu)
Mish = _simple("Mish", F.mish)
Softsign = _simple("Softsign", F.softsign)
LogSigmoid = _simple("LogSigmoid", F.logsigmoid)
Tanhshrink = _simple("Tanhshrink", F.tanhshrink)
for _cls in (ReLU6, Hardsigmoid, Hardswish, SELU, Mish, Softsign, LogSigmoid, Tanhshrink):
    _cls.__module__ = __name__
del _cls


class CELU(Module):
    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = alpha

    def forward(self, x: Tensor) -> Tensor:
        return F.celu(x, self.alpha)


class Threshold(Module):
    def __init__(self, threshold: float, value: float) -> None:
        self.threshold, self.value = threshold, value

    def forward(self, x: Tensor) -> Tensor:
        return F.threshold(x, self.threshold, self.value)


class Softmin(Module):
    def __init__(self, dim: Any = None) -> None:
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return F.softmin(x, self.dim)


class GLU(Module):
    def __init__(self, dim: int = -1) -> None:
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return F.glu(x, self.dim)


class CosineSimilarity(Module):
    def __init__(self, dim: int = 1, eps: float = 1e-8) -> None:
        self.dim, self.eps = dim, eps

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return F.cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> None:
        self.norm, self.eps, self.keepdim = p, eps, keepdim

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)
