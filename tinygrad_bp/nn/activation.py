"""Activation modules: thin wrappers of the functions in :mod:`tinygrad_bp.functional`."""

from __future__ import annotations

from typing import Any

from .. import functional as F
from .. import ops
from ..tensor import Tensor
from ._checks import not_a_tensor
from .module import Module

__all__ = [
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
]


class ReLU(Module):
    def forward(self, x: Tensor) -> Tensor:
        try:
            return ops.relu(x)
        except (AttributeError, TypeError) as exc:
            raise not_a_tensor(x, "ReLU", exc) from None


class Sigmoid(Module):
    def forward(self, x: Tensor) -> Tensor:
        try:
            return ops.sigmoid(x)
        except (AttributeError, TypeError) as exc:
            raise not_a_tensor(x, "Sigmoid", exc) from None


class Tanh(Module):
    def forward(self, x: Tensor) -> Tensor:
        try:
            return ops.tanh(x)
        except (AttributeError, TypeError) as exc:
            raise not_a_tensor(x, "Tanh", exc) from None


class LeakyReLU(Module):
    def __init__(self, negative_slope: float = 0.01) -> None:
        self.negative_slope = negative_slope

    def forward(self, x: Tensor) -> Tensor:
        try:
            return F.leaky_relu(x, self.negative_slope)
        except (AttributeError, TypeError) as exc:
            raise not_a_tensor(x, "LeakyReLU", exc) from None

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class GELU(Module):
    """GELU: exact (erf, PyTorch's default) or ``approximate="tanh"``."""

    def __init__(self, approximate: str = "none") -> None:
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        try:
            return F.gelu(x, self.approximate)
        except (AttributeError, TypeError) as exc:
            raise not_a_tensor(x, "GELU", exc) from None


class SiLU(Module):
    def forward(self, x: Tensor) -> Tensor:
        try:
            return F.silu(x)
        except (AttributeError, TypeError) as exc:
            raise not_a_tensor(x, "SiLU", exc) from None


class Softplus(Module):
    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        self.beta, self.threshold = beta, threshold

    def forward(self, x: Tensor) -> Tensor:
        try:
            return F.softplus(x, self.beta, self.threshold)
        except (AttributeError, TypeError) as exc:
            raise not_a_tensor(x, "Softplus", exc) from None


class ELU(Module):
    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = alpha

    def forward(self, x: Tensor) -> Tensor:
        try:
            return F.elu(x, self.alpha)
        except (AttributeError, TypeError) as exc:
            raise not_a_tensor(x, "ELU", exc) from None


class Softmax(Module):
    def __init__(self, dim: int = -1, axis: Any = None) -> None:
        self.axis = dim if axis is None else axis

    def forward(self, x: Tensor) -> Tensor:
        try:
            return ops.softmax(x, self.axis)
        except (AttributeError, TypeError) as exc:
            raise not_a_tensor(x, "Softmax", exc) from None


class LogSoftmax(Module):
    def __init__(self, dim: int = -1, axis: Any = None) -> None:
        self.axis = dim if axis is None else axis

    def forward(self, x: Tensor) -> Tensor:
        try:
            return ops.log_softmax(x, self.axis)

        except (AttributeError, TypeError) as exc:
            raise not_a_tensor(x, "LogSoftmax", exc) from None
