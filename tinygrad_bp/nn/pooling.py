"""Pooling layers: ``MaxPool2d`` and ``AvgPool2d`` (see :mod:`tinygrad_bp.functional.conv`)."""

from __future__ import annotations

from typing import Any

from .. import functional as F
from ..ops.window import _pair
from ..tensor import Tensor
from .module import Module

__all__ = ["MaxPool2d", "AvgPool2d"]


class _Pool(Module):
    _name = ""

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0) -> None:
        self.kernel_size = _pair(kernel_size, "kernel_size", self._name, 1)
        self.stride = self.kernel_size if stride is None else _pair(stride, "stride", self._name, 1)
        self.padding = _pair(padding, "padding", self._name, 0)
        k, p = self.kernel_size, self.padding
        if p[0] > k[0] // 2 or p[1] > k[1] // 2:
            raise ValueError(f"{self._name}: padding {p} must be at most half the kernel size {k}")

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool):
    """The maximum of each ``kernel_size`` window (stride defaults to the kernel size).

    Examples
    --------
    >>> import numpy as np
    >>> import tinygrad_bp as tg
    >>> tg.nn.MaxPool2d(2)(tg.Tensor(np.zeros((1, 3, 8, 8)))).shape
    (1, 3, 4, 4)
    """

    _name = "MaxPool2d"

    def forward(self, x: Tensor) -> Tensor:
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding)


class AvgPool2d(_Pool):
    """The mean of each window, padded zeros counted (PyTorch's default)."""

    _name = "AvgPool2d"

    def forward(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding)
