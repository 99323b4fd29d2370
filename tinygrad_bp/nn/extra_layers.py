"""More of PyTorch's layers: ``Conv1d``, ``AdaptiveAvgPool1d``/``AdaptiveAvgPool2d``,
``AdaptiveMaxPool2d``, ``GroupNorm``, ``InstanceNorm1d``/``InstanceNorm2d``, ``PReLU``,
``Dropout2d``, ``Upsample``, ``Unfold``, ``Fold``, ``ConvTranspose1d``/``ConvTranspose2d``,
``MaxPool1d``, ``AvgPool1d``, ``Bilinear``, ``Softmax2d`` (see
:mod:`tinygrad_bp.functional.extra_layers`)."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from .. import functional as F
from ..tensor import Tensor, get_default_dtype
from .conv import _check_conv
from .linear import _check_features, _uniform
from .module import Module, Parameter, _rng

__all__ = [
    "Conv1d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "GroupNorm", "InstanceNorm1d",
    "InstanceNorm2d", "PReLU", "AdaptiveMaxPool2d", "Dropout2d", "Upsample", "Unfold", "Fold",
    "ConvTranspose2d", "ConvTranspose1d", "MaxPool1d", "AvgPool1d", "Bilinear", "Softmax2d",
]  # fmt: skip


def _int(v: Any, name: str, owner: str) -> int:
    if isinstance(v, (tuple, list)) and len(v) == 1:
        v = v[0]
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{owner}: {name} must be an int, got {v!r}")
    return int(v)


class Conv1d(Module):
    """``y = conv1d(x, weight, bias, ...)``, ``weight (C_out, C_in/groups, K)``,
    initialised as PyTorch's (uniform in ±1/√(C_in/groups·K)); ``padding_mode`` as
    :class:`Conv2d`'s.

    Examples
    --------
    >>> import numpy as np
    >>> import tinygrad_bp as tg
    >>> tg.nn.Conv1d(2, 4, 3, padding=1, rng=0)(tg.Tensor(np.zeros((5, 2, 7)))).shape
    (5, 4, 7)
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
        _check_conv("Conv1d", in_channels, out_channels, groups, padding_mode)
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.groups, self.padding_mode = int(groups), padding_mode
        self.kernel_size = (_int(kernel_size, "kernel_size", "Conv1d"),)
        self.stride = (_int(stride, "stride", "Conv1d"),)
        self.dilation = (_int(dilation, "dilation", "Conv1d"),)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(
                    f"Conv1d: padding must be an int, 'same' or 'valid', got {padding!r}"
                )
            self.padding: Any = padding
        else:
            self.padding = (_int(padding, "padding", "Conv1d"),)
        dtype = np.dtype(dtype) if dtype is not None else get_default_dtype()
        g = _rng(rng)
        cin = self.in_channels // self.groups
        bound = 1.0 / math.sqrt(cin * self.kernel_size[0])
        self.weight = Parameter(
            _uniform(g, bound, (self.out_channels, cin) + self.kernel_size, dtype)
        )
        self.bias = Parameter(_uniform(g, bound, (self.out_channels,), dtype)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        padding = self.padding if isinstance(self.padding, str) else self.padding[0]
        if self.padding_mode != "zeros":
            if self.padding == "valid":
                widths = (0, 0)
            elif self.padding == "same":
                total = self.dilation[0] * (self.kernel_size[0] - 1)
                widths = (total // 2, total - total // 2)
            else:
                widths = (self.padding[0], self.padding[0])
            x = F.pad(x, widths, mode=self.padding_mode)
            padding = 0
        return F.conv1d(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)

    def extra_repr(self) -> str:
        extra = "" if self.padding_mode == "zeros" else f", padding_mode={self.padding_mode!r}"
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}{extra}"
        )


class AdaptiveAvgPool2d(Module):
    """``F.adaptive_avg_pool2d(x, output_size)`` as a layer."""

    def __init__(self, output_size: Any) -> None:
        self.output_size = output_size

    def forward(self, x: Tensor) -> Tensor:
        return F.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(AdaptiveAvgPool2d):
    """``F.adaptive_avg_pool1d(x, output_size)`` as a layer."""

    def forward(self, x: Tensor) -> Tensor:
        return F.adaptive_avg_pool1d(x, self.output_size)


class GroupNorm(Module):
    """``F.group_norm`` with ``weight`` (ones) and ``bias`` (zeros) per channel when
    ``affine``, as PyTorch's."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5,
                 affine: bool = True, dtype: Any = None) -> None:  # fmt: skip
        _check_features("GroupNorm", num_groups=num_groups, num_channels=num_channels)
        if num_channels % num_groups:
            raise ValueError(
                f"GroupNorm: num_groups {num_groups} must divide num_channels {num_channels}"
            )
        self.num_groups, self.num_channels, self.eps = int(num_groups), int(num_channels), eps
        dtype = np.dtype(dtype) if dtype is not None else get_default_dtype()
        self.weight = Parameter(np.ones(num_channels, dtype)) if affine else None
        self.bias = Parameter(np.zeros(num_channels, dtype)) if affine else None

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor) or x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(
                f"GroupNorm: expected an input of shape (N, {self.num_channels}, *), got "
                f"{getattr(x, 'shape', type(x).__name__)}"
            )
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}"


class InstanceNorm2d(Module):
    """``F.instance_norm``: each channel of each sample normalised over its positions;
    ``affine=False`` and no running statistics by default, as PyTorch's
    (``track_running_stats=True`` is refused by name)."""

    _dims = 4

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 affine: bool = False, track_running_stats: bool = False,
                 dtype: Any = None) -> None:  # fmt: skip
        name = type(self).__name__
        _check_features(name, num_features=num_features)
        if track_running_stats:
            raise ValueError(
                f"{name}: track_running_stats=True is not built; the default (False) "
                f"normalises with each input's own statistics, in training and evaluation"
            )
        self.num_features, self.eps, self.momentum = int(num_features), eps, momentum
        dtype = np.dtype(dtype) if dtype is not None else get_default_dtype()
        self.weight = Parameter(np.ones(num_features, dtype)) if affine else None
        self.bias = Parameter(np.zeros(num_features, dtype)) if affine else None

    def forward(self, x: Tensor) -> Tensor:
        name = type(self).__name__
        if not isinstance(x, Tensor) or x.ndim not in (self._dims - 1, self._dims):
            raise ValueError(
                f"{name}: expected a {self._dims - 1}-D or {self._dims}-D input, got "
                f"{getattr(x, 'shape', type(x).__name__)}"
            )
        if x.ndim == self._dims - 1:  # unbatched, as PyTorch
            return self.forward(x[None])[0]
        if x.shape[1] != self.num_features:
            msg = (
                f"{name}({self.num_features}): the input has {x.shape[1]} channels (shape "
                f"{x.shape})"
            )
            if self.weight is not None:
                raise ValueError(msg)
            warnings.warn(msg + "; normalising each of them (PyTorch's warning)", stacklevel=2)
        return F.instance_norm(x, weight=self.weight, bias=self.bias, eps=self.eps)


class InstanceNorm1d(InstanceNorm2d):
    _dims = 3


class PReLU(Module):
    """``x`` where ``x > 0``, else ``weight · x``; ``weight`` is ``num_parameters``
    learned slopes (one, or one per channel), initialised to ``init``."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25, dtype: Any = None) -> None:
        _check_features("PReLU", num_parameters=num_parameters)
        dtype = np.dtype(dtype) if dtype is not None else get_default_dtype()
        self.num_parameters = int(num_parameters)
        self.weight = Parameter(np.full(num_parameters, init, dtype))

    def forward(self, x: Tensor) -> Tensor:
        return F.prelu(x, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class AdaptiveMaxPool2d(Module):
    """``F.adaptive_max_pool2d(x, output_size, return_indices)`` as a layer."""

    def __init__(self, output_size: Any, return_indices: bool = False) -> None:
        self.output_size, self.return_indices = output_size, bool(return_indices)

    def forward(self, x: Tensor) -> Any:
        return F.adaptive_max_pool2d(x, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class Dropout2d(Module):
    """Channel dropout (``F.dropout2d``) while training, the identity in evaluation."""

    def __init__(self, p: float = 0.5, rng: Any = None) -> None:
        if isinstance(p, bool) or not isinstance(p, (int, float, np.floating)) or not 0 <= p <= 1:
            raise ValueError(f"Dropout2d: p must be a probability in [0, 1], got {p!r}")
        self.p = float(p)
        self._gen = None if rng is None else _rng(rng)

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout2d(x, self.p, self.training, rng=self._gen)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Upsample(Module):
    """``F.interpolate(x, size, scale_factor, mode, align_corners)`` as a layer."""

    def __init__(self, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                 align_corners: bool | None = None) -> None:  # fmt: skip
        self.size, self.scale_factor = size, scale_factor
        self.mode, self.align_corners = mode, align_corners

    def forward(self, x: Tensor) -> Tensor:
        return F.interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners)

    def extra_repr(self) -> str:
        what = f"size={self.size}" if self.size is not None else f"scale_factor={self.scale_factor}"
        return f"{what}, mode={self.mode!r}"


class Unfold(Module):
    """``F.unfold(x, kernel_size, dilation, padding, stride)`` as a layer."""

    def __init__(self, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
                 stride: Any = 1) -> None:  # fmt: skip
        self.kernel_size, self.dilation = kernel_size, dilation
        self.padding, self.stride = padding, stride

    def forward(self, x: Tensor) -> Tensor:
        return F.unfold(x, self.kernel_size, self.dilation, self.padding, self.stride)


class Fold(Module):
    """``F.fold(x, output_size, kernel_size, dilation, padding, stride)`` as a layer."""

    def __init__(self, output_size: Any, kernel_size: Any, dilation: Any = 1,
                 padding: Any = 0, stride: Any = 1) -> None:  # fmt: skip
        self.output_size, self.kernel_size = output_size, kernel_size
        self.dilation, self.padding, self.stride = dilation, padding, stride

    def forward(self, x: Tensor) -> Tensor:
        return F.fold(
            x, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride
        )


class _ConvTranspose(Module):
    _k = 2

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        output_padding: Any = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: Any = 1,
        padding_mode: str = "zeros",
        *,
        rng: Any = None,
        dtype: Any = None,
    ) -> None:
        name = type(self).__name__
        _check_conv(name, in_channels, out_channels, groups, padding_mode, ("zeros",))
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        k = kernel_size if isinstance(kernel_size, (tuple, list)) else (kernel_size,) * self._k
        self.kernel_size = tuple(int(v) for v in k)
        self.stride, self.padding, self.output_padding = stride, padding, output_padding
        self.dilation = dilation
        dtype = np.dtype(dtype) if dtype is not None else get_default_dtype()
        g = _rng(rng)
        cout = out_channels // groups
        bound = 1.0 / math.sqrt(cout * math.prod(self.kernel_size))  # PyTorch's fan_in
        shape = (in_channels, cout) + self.kernel_size
        self.weight = Parameter(_uniform(g, bound, shape, dtype))
        self.bias = Parameter(_uniform(g, bound, (out_channels,), dtype)) if bias else None

    def forward(self, x: Tensor, output_size: Any = None) -> Tensor:
        if output_size is not None:
            raise ValueError(
                f"{type(self).__name__}: output_size= is not built; pass output_padding to "
                f"the constructor"
            )
        fn = F.conv_transpose2d if self._k == 2 else F.conv_transpose1d
        return fn(x, self.weight, self.bias, self.stride, self.padding, self.output_padding,
                  self.groups, self.dilation)  # fmt: skip

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )


class ConvTranspose2d(_ConvTranspose):
    """``F.conv_transpose2d`` as a layer: ``weight (C_in, C_out/groups, kH, kW)``,
    initialised as PyTorch's (uniform in ±1/√(C_out/groups·kH·kW), the bias too)."""


class ConvTranspose1d(_ConvTranspose):
    """``F.conv_transpose1d`` as a layer: ``weight (C_in, C_out/groups, K)``."""

    _k = 1


class MaxPool1d(Module):
    """``F.max_pool1d`` as a layer."""

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 dilation: Any = 1, return_indices: bool = False,
                 ceil_mode: bool = False) -> None:  # fmt: skip
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.dilation, self.return_indices, self.ceil_mode = dilation, return_indices, ceil_mode

    def forward(self, x: Tensor) -> Any:
        return F.max_pool1d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                            self.ceil_mode, self.return_indices)  # fmt: skip


class AvgPool1d(Module):
    """``F.avg_pool1d`` as a layer."""

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True) -> None:  # fmt: skip
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def forward(self, x: Tensor) -> Tensor:
        return F.avg_pool1d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)  # fmt: skip


class Bilinear(Module):
    """``y = x1ᵀ·A·x2 + b``: ``weight (out, in1, in2)`` and ``bias (out,)``, uniform in
    ±1/√in1, as PyTorch's."""

    def __init__(self, in1_features: int, in2_features: int, out_features: int,
                 bias: bool = True, *, rng: Any = None, dtype: Any = None) -> None:  # fmt: skip
        _check_features("Bilinear", in1_features=in1_features, in2_features=in2_features,
                        out_features=out_features)  # fmt: skip
        dtype = np.dtype(dtype) if dtype is not None else get_default_dtype()
        g = _rng(rng)
        bound = 1.0 / math.sqrt(in1_features)
        shape = (out_features, in1_features, in2_features)
        self.weight = Parameter(_uniform(g, bound, shape, dtype))
        self.bias = Parameter(_uniform(g, bound, (out_features,), dtype)) if bias else None

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return F.bilinear(x1, x2, self.weight, self.bias)


class Softmax2d(Module):
    """Softmax over the channels of ``(N, C, H, W)`` or ``(C, H, W)`` (dim −3)."""

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor) or x.ndim not in (3, 4):
            raise ValueError(
                f"Softmax2d: expected a 3-D or 4-D input, got {getattr(x, 'shape', type(x))}"
            )
        return x.softmax(-3)
