"""``Conv2d``: PyTorch's 2-D convolution layer over NCHW images (see :func:`F.conv2d`)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import functional as F
from .. import ops
from ..ops.window import _pair
from ..tensor import Tensor, get_default_dtype
from ._checks import as_input
from .linear import _check_features, _uniform
from .module import Module, Parameter, _rng

__all__ = ["Conv2d"]


_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _check_conv(
    owner: str,
    in_channels: int,
    out_channels: int,
    groups: int,
    padding_mode: str,
    modes: tuple[str, ...] = _PADDING_MODES,
) -> None:
    """A convolution layer's channel counts, groups and padding mode (``modes``: the
    ones it takes), each refused with a message naming ``owner``."""
    _check_features(owner, in_channels=in_channels, out_channels=out_channels, groups=groups)
    if in_channels % groups or out_channels % groups:
        raise ValueError(
            f"{owner}: groups={groups} must divide in_channels {in_channels} and "
            f"out_channels {out_channels}"
        )
    if padding_mode not in modes:
        if modes == ("zeros",):
            raise ValueError(f"{owner}: only padding_mode='zeros' is supported (as PyTorch)")
        raise ValueError(
            f"{owner}: padding_mode must be 'zeros', 'reflect', 'replicate' or 'circular', "
            f"got {padding_mode!r}"
        )


class Conv2d(Module):
    """``y = conv2d(x, weight, bias, stride, padding, dilation, groups)``; ``weight (C_out,
    C_in/groups, kH, kW)``, initialised as PyTorch does (uniform in
    ±1/√(C_in/groups·kH·kW), the bias too); ``padding`` an int, a pair, ``"same"`` or
    ``"valid"``.

    Examples
    --------
    >>> import numpy as np
    >>> import tinygrad_bp as tg
    >>> conv = tg.nn.Conv2d(1, 16, 3, padding=1, rng=0)
    >>> conv.weight.shape, conv(tg.Tensor(np.zeros((2, 1, 8, 8)))).shape
    ((16, 1, 3, 3), (2, 16, 8, 8))
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        *,
        rng: Any = None,
        dtype: Any = None,
    ) -> None:
        _check_conv("Conv2d", in_channels, out_channels, groups, padding_mode)
        self.padding_mode = padding_mode
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.groups = int(groups)
        self.kernel_size = _pair(kernel_size, "kernel_size", "Conv2d", 1)
        self.stride = _pair(stride, "stride", "Conv2d", 1)
        self.dilation = _pair(dilation, "dilation", "Conv2d", 1)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(
                    f"Conv2d: padding must be an int, a pair, 'same' or 'valid', got {padding!r}"
                )
            if padding == "same" and self.stride != (1, 1):
                raise ValueError(
                    "Conv2d: padding='same' is not supported for strided convolutions, as in "
                    "PyTorch"
                )
            self.padding: Any = padding
        else:
            self.padding = _pair(padding, "padding", "Conv2d", 0)
        dtype = np.dtype(dtype) if dtype is not None else get_default_dtype()
        g = _rng(rng)
        cin = self.in_channels // self.groups
        fan_in = cin * self.kernel_size[0] * self.kernel_size[1]
        bound = 1.0 / math.sqrt(fan_in)
        shape = (self.out_channels, cin) + self.kernel_size
        self.weight = Parameter(_uniform(g, bound, shape, dtype))
        self.bias = Parameter(_uniform(g, bound, (self.out_channels,), dtype)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            x = as_input(x, "Conv2d")
        if x.ndim == 3 and x.shape[0] == self.in_channels:  # unbatched (C, H, W), as PyTorch
            return self.forward(ops.reshape(x, 1, *x.shape))[0]
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"Conv2d({self.in_channels}, {self.out_channels}): expected an input of shape "
                f"(N, {self.in_channels}, H, W), got shape {x.shape} (weight shape "
                f"{self.weight.shape})"
            )
        padding = self.padding
        if self.padding_mode != "zeros":  # PyTorch's: pad in that mode, then no padding
            x = F.pad(x, self._border_widths(), mode=self.padding_mode)
            padding = 0
        return F.conv2d(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)

    def _border_widths(self) -> tuple[int, ...]:
        """``F.pad``'s widths (last axis first) for ``padding`` in a border mode."""
        if self.padding == "valid":
            return (0, 0, 0, 0)
        if self.padding == "same":  # as PyTorch: the odd one out goes after
            widths: list[int] = []
            for d, k in zip(reversed(self.dilation), reversed(self.kernel_size)):
                total = d * (k - 1)
                widths += [total // 2, total - total // 2]
            return tuple(widths)
        ph, pw = self.padding
        return (pw, pw, ph, ph)

    def extra_repr(self) -> str:
        extra = "" if self.dilation == (1, 1) else f", dilation={self.dilation}"
        extra += "" if self.groups == 1 else f", groups={self.groups}"
        extra += "" if self.padding_mode == "zeros" else f", padding_mode={self.padding_mode!r}"
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}{extra}"
        )
