"""Convolution and pooling by hand: Conv2d through im2col and col2im, MaxPool2d, AvgPool2d.

Images are NCHW and the weight is ``(C_out, C_in, kH, kW)``, as in PyTorch, so weights
copy across.  With the input padded to ``xp`` and strides ``(sH, sW)``, the output is

    out[n, o, i, j] = b[o] + Σ_{c, r, s} W[o, c, r, s] · xp[n, c, i·sH + r, j·sW + s]

im2col lays every window out as a row of a matrix (here a strided *view* of ``xp``, copied
once into rows), so the convolution is one matrix product; its backward is two more, and
col2im adds each row's gradient back onto the pixels that window read (windows overlap
when the stride is smaller than the kernel, so the adds accumulate).

Examples
--------
>>> import numpy as np
>>> from tinygrad_bp.reference import Conv2d
>>> conv = Conv2d(3, 4, 3, padding=1, rng=0)
>>> x = np.random.default_rng(1).normal(size=(2, 3, 5, 5))
>>> conv.forward(x).shape
(2, 4, 5, 5)
>>> g = conv.backward(np.ones((2, 4, 5, 5)))
>>> g["x"].shape, g["weight"].shape, g["bias"].shape
((2, 3, 5, 5), (4, 3, 3, 3), (4,))
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._base import Grads, HandLayer, as_rng, fan_in_bound, pair, positive_int, uniform

__all__ = ["Conv2d", "MaxPool2d", "AvgPool2d", "im2col", "col2im", "output_size"]


def output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """``⌊(size + 2·padding − kernel) / stride⌋ + 1`` (PyTorch's, without ceil_mode)."""
    return (size + 2 * padding - kernel) // stride + 1


def _check_image(name: str, x: np.ndarray, kernel: tuple[int, int], padding: tuple[int, int]):
    if x.ndim != 4:
        raise ValueError(f"{name}: expected a 4-D input (N, C, H, W), got shape {x.shape}")
    h, w = x.shape[2] + 2 * padding[0], x.shape[3] + 2 * padding[1]
    if kernel[0] > h or kernel[1] > w:
        raise ValueError(
            f"{name}: kernel {kernel} is larger than the padded input ({h}, {w}) "
            f"(input {tuple(x.shape[2:])}, padding {padding})"
        )


def im2col(xp: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int]) -> np.ndarray:
    """The windows of the padded image ``xp (N, C, Hp, Wp)`` as a strided view of shape
    ``(N, OH, OW, C, kH, kW)``: no copy; ``reshape(N·OH·OW, C·kH·kW)`` makes the rows."""
    win = sliding_window_view(xp, kernel, axis=(2, 3))  # (N, C, Hp-kH+1, Wp-kW+1, kH, kW)
    win = win[:, :, :: stride[0], :: stride[1]]  # (N, C, OH, OW, kH, kW)
    return win.transpose(0, 2, 3, 1, 4, 5)


def col2im(
    dwin: np.ndarray, padded_shape: tuple[int, ...], stride: tuple[int, int]
) -> np.ndarray:
    """The adjoint of :func:`im2col`: add each window's gradient ``dwin (N, OH, OW, C, kH,
    kW)`` back onto the pixels it was read from, giving ``(N, C, Hp, Wp)``.

    One strided slice per kernel offset ``(r, s)``: the offset's pixels of all windows at
    once; overlapping windows accumulate through ``+=``."""
    n, oh, ow, c, kh, kw = dwin.shape
    sh, sw = stride
    dxp = np.zeros(padded_shape, dtype=dwin.dtype)
    dwin = dwin.transpose(0, 3, 4, 5, 1, 2)  # (N, C, kH, kW, OH, OW)
    for r in range(kh):
        for s in range(kw):
            dxp[:, :, r : r + sh * oh : sh, s : s + sw * ow : sw] += dwin[:, :, r, s]
    return dxp


def _pad(x: np.ndarray, padding: tuple[int, int], value: float = 0.0) -> np.ndarray:
    ph, pw = padding
    if not ph and not pw:
        return x
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def _crop(dxp: np.ndarray, padding: tuple[int, int]) -> np.ndarray:
    ph, pw = padding
    return dxp[:, :, ph : dxp.shape[2] - ph, pw : dxp.shape[3] - pw]


class Conv2d(HandLayer):
    """``nn.Conv2d(in_channels, out_channels, kernel_size, stride=1, padding=0,
    bias=True)`` by hand; ``weight (C_out, C_in, kH, kW)``, ``bias (C_out,)``.

    Initialised as PyTorch does, ``U(−1/√fan_in, 1/√fan_in)`` with ``fan_in = C_in·kH·kW``.
    ``backward(dout)`` returns ``{"x", "weight", "bias"}`` (no ``"bias"`` without one).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        bias: bool = True,
        rng: Any = None,
        dtype: Any = np.float64,
    ) -> None:
        super().__init__()
        self.in_channels = positive_int("Conv2d", "in_channels", in_channels)
        self.out_channels = positive_int("Conv2d", "out_channels", out_channels)
        self.kernel_size = pair("Conv2d", "kernel_size", kernel_size, 1)
        self.stride = pair("Conv2d", "stride", stride, 1)
        self.padding = pair("Conv2d", "padding", padding, 0)
        g = as_rng(rng)
        kh, kw = self.kernel_size
        bound = fan_in_bound(self.in_channels * kh * kw)
        self.weight = uniform(g, bound, (self.out_channels, self.in_channels, kh, kw), dtype)
        self.bias = uniform(g, bound, (self.out_channels,), dtype) if bias else None
        self.param_names = ("weight", "bias") if bias else ("weight",)

    def forward(self, x: Any) -> np.ndarray:
        """``out = im2col(xp) · W_flatᵀ + b``, back to ``(N, C_out, OH, OW)``."""
        x = self.input(x, self.weight.dtype)
        _check_image("Conv2d", x, self.kernel_size, self.padding)
        if x.shape[1] != self.in_channels:
            raise ValueError(
                f"Conv2d: the input has {x.shape[1]} channels, the weight "
                f"{tuple(self.weight.shape)} expects {self.in_channels} (input shape {x.shape})"
            )
        xp = _pad(x, self.padding)
        win = im2col(xp, self.kernel_size, self.stride)
        n, oh, ow = win.shape[:3]
        cols = win.reshape(n * oh * ow, -1)  # the one copy: every window as a row
        out = cols @ self.weight.reshape(self.out_channels, -1).T  # (N·OH·OW, C_out)
        if self.bias is not None:
            out += self.bias
        self.cache = (cols, xp.shape, x.shape)
        return out.reshape(n, oh, ow, self.out_channels).transpose(0, 3, 1, 2)

    def backward(self, dout: Any) -> Grads:
        """``dW = doutᵀ · cols``, ``db = Σ dout``, ``dx = col2im(dout · W_flat)``."""
        cols, padded_shape, x_shape = self.saved()
        n, _, hp, wp = padded_shape
        oh = output_size(x_shape[2], self.kernel_size[0], self.stride[0], self.padding[0])
        ow = output_size(x_shape[3], self.kernel_size[1], self.stride[1], self.padding[1])
        g = self.grad_in(dout, (n, self.out_channels, oh, ow), self.weight.dtype)
        g2 = g.transpose(0, 2, 3, 1).reshape(n * oh * ow, self.out_channels)
        w2 = self.weight.reshape(self.out_channels, -1)
        grads: Grads = {"weight": (g2.T @ cols).reshape(self.weight.shape)}
        if self.bias is not None:
            grads["bias"] = g2.sum(axis=0)
        dwin = (g2 @ w2).reshape(n, oh, ow, self.in_channels, *self.kernel_size)
        grads["x"] = _crop(col2im(dwin, padded_shape, self.stride), self.padding)
        return grads

    def __repr__(self) -> str:
        return (
            f"Conv2d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None})"
        )


class _Pool(HandLayer):
    def __init__(
        self,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] | None = None,
        padding: int | tuple[int, int] = 0,
    ) -> None:
        super().__init__()
        name = self.name
        self.kernel_size = pair(name, "kernel_size", kernel_size, 1)
        self.stride = self.kernel_size if stride is None else pair(name, "stride", stride, 1)
        self.padding = pair(name, "padding", padding, 0)
        if any(2 * p > k for p, k in zip(self.padding, self.kernel_size)):
            raise ValueError(  # PyTorch's rule: a window must not lie in the padding only
                f"{name}: padding {self.padding} must be at most half the kernel "
                f"{self.kernel_size}"
            )

    def _windows(self, x: Any, pad_value: float) -> tuple[np.ndarray, np.ndarray]:
        arr = np.asarray(x)
        x = self.input(arr, arr.dtype if arr.dtype.kind == "f" else np.float64)
        _check_image(self.name, x, self.kernel_size, self.padding)
        xp = _pad(x, self.padding, pad_value)
        return xp, im2col(xp, self.kernel_size, self.stride)  # (N, OH, OW, C, kH, kW)

    def __repr__(self) -> str:
        return (
            f"{self.name}(kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding})"
        )


class MaxPool2d(_Pool):
    """``nn.MaxPool2d(kernel_size, stride=None, padding=0)`` by hand (stride defaults to
    the kernel; the padding counts as −∞).

    The gradient of a window goes to its maximum; where several pixels tie, to the first
    in row-major order, as PyTorch does (``argmax`` picks the first).  ``backward(dout)``
    returns ``{"x"}``.
    """

    def forward(self, x: Any) -> np.ndarray:
        xp, win = self._windows(x, -np.inf)
        n, oh, ow, c, kh, kw = win.shape
        flat = win.reshape(n, oh, ow, c, kh * kw)
        arg = flat.argmax(axis=-1)  # (N, OH, OW, C): the first maximum of each window
        out = np.take_along_axis(flat, arg[..., None], axis=-1)[..., 0]
        self.cache = (arg, xp.shape, xp.dtype)
        return out.transpose(0, 3, 1, 2)

    def backward(self, dout: Any) -> Grads:
        """Each output's gradient to its window's (first) maximum, then col2im."""
        arg, padded_shape, dtype = self.saved()
        n, oh, ow, c = arg.shape
        g = self.grad_in(dout, (n, c, oh, ow), dtype)
        g = g.transpose(0, 2, 3, 1)  # (N, OH, OW, C) like arg
        kh, kw = self.kernel_size
        onehot = arg[..., None] == np.arange(kh * kw)  # (N, OH, OW, C, kH·kW)
        dwin = (onehot * g[..., None]).reshape(n, oh, ow, c, kh, kw)
        if self.stride == self.kernel_size and padded_shape[2] == oh * kh:
            # windows tile the image exactly: no overlap, so col2im is a pure reshape
            if padded_shape[3] == ow * kw:
                dxp = dwin.transpose(0, 3, 1, 4, 2, 5).reshape(padded_shape)
                return {"x": _crop(dxp, self.padding)}
        return {"x": _crop(col2im(dwin, padded_shape, self.stride), self.padding)}


class AvgPool2d(_Pool):
    """``nn.AvgPool2d(kernel_size, stride=None, padding=0)`` by hand, with PyTorch's
    defaults ``count_include_pad=True`` and ``ceil_mode=False``: every window is divided by
    ``kH·kW``, zeros of the padding included.  ``backward(dout)`` returns ``{"x"}``.
    """

    def forward(self, x: Any) -> np.ndarray:
        xp, win = self._windows(x, 0.0)
        out = win.mean(axis=(4, 5))  # (N, OH, OW, C)
        self.cache = (xp.shape, out.shape, xp.dtype)
        return out.transpose(0, 3, 1, 2)

    def backward(self, dout: Any) -> Grads:
        """Each output's gradient, divided by ``kH·kW``, to every pixel of its window."""
        padded_shape, (n, oh, ow, c), dtype = self.saved()
        g = self.grad_in(dout, (n, c, oh, ow), dtype)
        kh, kw = self.kernel_size
        share = g.transpose(0, 2, 3, 1) / (kh * kw)
        dwin = np.broadcast_to(share[..., None, None], (n, oh, ow, c, kh, kw))
        return {"x": _crop(col2im(dwin, padded_shape, self.stride), self.padding)}
