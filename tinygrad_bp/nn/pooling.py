"""Pooling layers: ``MaxPool2d`` and ``AvgPool2d`` (see :mod:`tinygrad_bp.functional.conv`)."""

from __future__ import annotations

from typing import Any

from .. import functional as F
from ..ops.window import _pair
from ..tensor import Tensor
from .module import Module

__all__ = ["MaxPool2d", "AvgPool2d", "MaxUnpool2d"]


class _Pool(Module):
    _name = ""

    def _setup(self, kernel_size: Any, stride: Any, padding: Any, ceil_mode: Any) -> None:
        self.kernel_size = _pair(kernel_size, "kernel_size", self._name, 1)
        self.stride = self.kernel_size if stride is None else _pair(stride, "stride", self._name, 1)
        self.padding = _pair(padding, "padding", self._name, 0)
        k, p = self.kernel_size, self.padding
        if p[0] > k[0] // 2 or p[1] > k[1] // 2:
            raise ValueError(f"{self._name}: padding {p} must be at most half the kernel size {k}")
        if not isinstance(ceil_mode, bool):
            raise TypeError(f"{self._name}: ceil_mode must be a bool, got {ceil_mode!r}")
        self.ceil_mode = ceil_mode

    def _input(self, x: Any) -> Tensor:
        if not isinstance(x, Tensor):
            raise TypeError(
                f"{self._name}: expected a Tensor of shape (N, C, H, W), got "
                f"{type(x).__name__} (wrap it: Tensor(x))"
            )
        if x.ndim != 4:
            raise ValueError(
                f"{self._name}: expected an input of shape (N, C, H, W), got shape {x.shape}"
            )
        return x

    def extra_repr(self) -> str:
        extra = ", ceil_mode=True" if self.ceil_mode else ""
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}{extra}"
        )


class MaxPool2d(_Pool):
    """The maximum of each ``kernel_size`` window (stride defaults to the kernel size);
    ``dilation`` and ``ceil_mode`` as PyTorch.

    Examples
    --------
    >>> import numpy as np
    >>> import tinygrad_bp as tg
    >>> tg.nn.MaxPool2d(2)(tg.Tensor(np.zeros((1, 3, 8, 8)))).shape
    (1, 3, 4, 4)
    >>> tg.nn.MaxPool2d(2, ceil_mode=True)(tg.Tensor(np.zeros((1, 3, 7, 7)))).shape
    (1, 3, 4, 4)
    """

    _name = "MaxPool2d"

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        dilation: Any = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        self._setup(kernel_size, stride, padding, ceil_mode)
        self.dilation = _pair(dilation, "dilation", self._name, 1)
        if not isinstance(return_indices, bool):
            raise TypeError(f"MaxPool2d: return_indices must be a bool, got {return_indices!r}")
        self.return_indices = return_indices

    def forward(self, x: Tensor) -> Any:
        """The pooled tensor; with ``return_indices=True`` the pair ``(pooled, indices)``
        (int64, for :class:`MaxUnpool2d`), as PyTorch's."""
        return F.max_pool2d(
            self._input(x), self.kernel_size, self.stride, self.padding, self.dilation,
            self.ceil_mode, self.return_indices,
        )  # fmt: skip


class MaxUnpool2d(Module):
    """``F.max_unpool2d`` as a layer: ``unpool(x, indices, output_size=None)``.

    Examples
    --------
    >>> import numpy as np
    >>> import tinygrad_bp as tg
    >>> pool, unpool = tg.nn.MaxPool2d(2, return_indices=True), tg.nn.MaxUnpool2d(2)
    >>> y, i = pool(tg.Tensor(np.arange(16.0).reshape(1, 1, 4, 4)))
    >>> unpool(y, i).shape
    (1, 1, 4, 4)
    """

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0) -> None:
        self.kernel_size = _pair(kernel_size, "kernel_size", "MaxUnpool2d", 1)
        self.stride = (
            self.kernel_size if stride is None else _pair(stride, "stride", "MaxUnpool2d", 1)
        )
        self.padding = _pair(padding, "padding", "MaxUnpool2d", 0)

    def forward(self, x: Tensor, indices: Any, output_size: Any = None) -> Tensor:
        return F.max_unpool2d(x, indices, self.kernel_size, self.stride, self.padding, output_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(_Pool):
    """The mean of each window: padded zeros counted (PyTorch's default
    ``count_include_pad=True``) or not; ``ceil_mode`` and ``divisor_override`` as
    PyTorch."""

    _name = "AvgPool2d"

    def __init__(
        self,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> None:
        self._setup(kernel_size, stride, padding, ceil_mode)
        if not isinstance(count_include_pad, bool):
            raise TypeError(
                f"AvgPool2d: count_include_pad must be a bool, got {count_include_pad!r}"
            )
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(
            self._input(x), self.kernel_size, self.stride, self.padding, self.ceil_mode,
            self.count_include_pad, self.divisor_override,
        )  # fmt: skip
