"""Padding layers, as PyTorch's: ``ZeroPad2d``, ``ConstantPad2d``, ``ReflectionPad2d``,
``ReplicationPad2d``, ``CircularPad2d`` and their 1-d forms (``F.pad`` underneath)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import functional as F
from ..tensor import Tensor
from .module import Module

__all__ = [
    "ZeroPad1d", "ZeroPad2d", "ConstantPad1d", "ConstantPad2d", "ReflectionPad1d",
    "ReflectionPad2d", "ReplicationPad1d", "ReplicationPad2d", "CircularPad1d",
    "CircularPad2d",
]  # fmt: skip


class _Pad(Module):
    _k = 2
    _mode = "constant"

    def __init__(self, padding: Any, value: float = 0.0) -> None:
        name = type(self).__name__
        if isinstance(padding, (int, np.integer)) and not isinstance(padding, bool):
            widths = (int(padding),) * (2 * self._k)
        else:
            widths = tuple(padding)
            if len(widths) != 2 * self._k or not all(
                isinstance(w, (int, np.integer)) and not isinstance(w, bool) for w in widths
            ):
                raise TypeError(
                    f"{name}: padding must be an int or {2 * self._k} ints (left, right"
                    f"{', top, bottom' if self._k == 2 else ''}), got {padding!r}"
                )
        self.padding = tuple(int(w) for w in widths)
        self.value = value

    def forward(self, x: Tensor) -> Tensor:
        if self._mode == "constant":
            return F.pad(x, self.padding, value=self.value)
        return F.pad(x, self.padding, mode=self._mode)

    def extra_repr(self) -> str:
        return f"{self.padding}" + (f", value={self.value}" if self._mode == "constant" else "")


def _pad(name: str, k: int, mode: str) -> type:
    cls = type(name, (_Pad,), {"_k": k, "_mode": mode, "__module__": __name__})
    cls.__doc__ = f"``F.pad(x, padding{', value' if mode == 'constant' else ''}, mode={mode!r})``."
    return cls


class ZeroPad2d(_Pad):
    """Zeros around the last two axes: ``padding`` is an int or ``(left, right, top,
    bottom)``."""

    def __init__(self, padding: Any) -> None:
        super().__init__(padding, 0.0)


class ZeroPad1d(ZeroPad2d):
    _k = 1


ConstantPad1d = _pad("ConstantPad1d", 1, "constant")
ConstantPad2d = _pad("ConstantPad2d", 2, "constant")
ReflectionPad1d = _pad("ReflectionPad1d", 1, "reflect")
ReflectionPad2d = _pad("ReflectionPad2d", 2, "reflect")
ReplicationPad1d = _pad("ReplicationPad1d", 1, "replicate")
ReplicationPad2d = _pad("ReplicationPad2d", 2, "replicate")
CircularPad1d = _pad("CircularPad1d", 1, "circular")
CircularPad2d = _pad("CircularPad2d", 2, "circular")
