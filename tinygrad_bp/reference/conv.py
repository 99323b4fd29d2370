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
    ``(N, C, kH, kW, OH, OW)``, no copy: ``reshape(N, C·kH·kW, OH·OW)`` makes each window
    a column, so that ``W_flat · cols`` is the convolution."""
    win = sliding_window_view(xp, kernel, axis=(2, 3))  # (N, C, Hp-kH+1, Wp-kW+1, kH, kW)
    win = win[:, :, :: stride[0], :: stride[1]]  # (N, C, OH, OW, kH, kW)
    return win.transpose(0, 1, 4, 5, 2, 3)


def col2im(dcols: np.ndarray, padded_shape: tuple[int, ...], stride: tuple[int, int]) -> np.ndarray:
    """The adjoint of :func:`im2col`: add the gradient of every window ``dcols (N, C, kH,
    kW, OH, OW)`` back onto the pixels it was read from, giving ``(N, C, Hp, Wp)``.

    One strided slice per kernel offset ``(r, s)``: the pixel at that offset of every
    window at once; where windows overlap, ``+=`` accumulates."""
    n, c, kh, kw, oh, ow = dcols.shape
    sh, sw = stride
    dxp = np.zeros(padded_shape, dtype=dcols.dtype)
    for r in range(kh):
        for s in range(kw):
            dxp[:, :, r : r + sh * oh : sh, s : s + sw * ow : sw] += dcols[:, :, r, s]
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
        """``out[n] = W_flat · cols[n] + b``: ``(C_out, C_in·kH·kW) × (C_in·kH·kW, OH·OW)``
        for each image, which is already ``(N, C_out, OH, OW)``."""
        x = self.input(x, self.weight.dtype)
        _check_image("Conv2d", x, self.kernel_size, self.padding)
        if x.shape[1] != self.in_channels:
            raise ValueError(
                f"Conv2d: the input has {x.shape[1]} channels, the weight "
                f"{tuple(self.weight.shape)} expects {self.in_channels} (input shape {x.shape})"
            )
        xp = _pad(x, self.padding)
        win = im2col(xp, self.kernel_size, self.stride)
        n, oh, ow = win.shape[0], win.shape[4], win.shape[5]
        cols = win.reshape(n, -1, oh * ow)  # the one copy: every window as a column
        out = self.weight.reshape(self.out_channels, -1) @ cols  # (N, C_out, OH·OW)
        if self.bias is not None:
            out += self.bias[:, None]
        self.cache = (cols, xp.shape)
        return out.reshape(n, self.out_channels, oh, ow)

    def backward(self, dout: Any, input_grad: bool = True) -> Grads:
        """``dW = Σ_n dout[n] · cols[n]ᵀ``, ``db = Σ dout``, ``dx = col2im(W_flatᵀ ·
        dout[n])``.

        With ``input_grad=False`` the ``"x"`` entry is left out, and not computed (a first
        layer, whose input is data)."""
        cols, padded_shape = self.saved()
        n = padded_shape[0]
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        oh, ow = (padded_shape[2] - kh) // sh + 1, (padded_shape[3] - kw) // sw + 1
        g = self.grad_in(dout, (n, self.out_channels, oh, ow), self.weight.dtype)
        g3 = g.reshape(n, self.out_channels, oh * ow)
        w2 = self.weight.reshape(self.out_channels, -1)
        # one product over the batch and the positions together
        grads: Grads = {"weight": np.tensordot(g3, cols, axes=([0, 2], [0, 2]))}
        grads["weight"] = grads["weight"].reshape(self.weight.shape)
        if self.bias is not None:
            grads["bias"] = g3.sum(axis=(0, 2))
        if not input_grad:
            return grads
        dcols = (w2.T @ g3).reshape(n, self.in_channels, kh, kw, oh, ow)
        grads["x"] = _crop(col2im(dcols, padded_shape, self.stride), self.padding)
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
                f"{name}: padding {self.padding} must be at most half the kernel {self.kernel_size}"
            )

    def _padded(self, x: Any, pad_value: float) -> tuple[np.ndarray, int, int]:
        arr = np.asarray(x)
        x = self.input(arr, arr.dtype if arr.dtype.kind == "f" else np.float64)
        _check_image(self.name, x, self.kernel_size, self.padding)
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        oh = output_size(x.shape[2], kh, sh, ph)
        ow = output_size(x.shape[3], kw, sw, pw)
        return _pad(x, self.padding, pad_value), oh, ow

    def _offsets(self, oh: int, ow: int):
        """``(k, slices)`` for every kernel offset ``(r, s)``, ``k = r·kW + s``: the slices
        of the padded image holding pixel ``(r, s)`` of every window, ``(N, C, OH, OW)``."""
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        for r in range(kh):
            for s in range(kw):
                yield r * kw + s, (..., slice(r, r + sh * oh, sh), slice(s, s + sw * ow, sw))

    def __repr__(self) -> str:
        return (
            f"{self.name}(kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding})"
        )


class MaxPool2d(_Pool):
    """``nn.MaxPool2d(kernel_size, stride=None, padding=0)`` by hand (stride defaults to
    the kernel; the padding counts as −∞).

    The gradient of a window goes to its maximum; where several pixels tie, to the first
    in row-major order, as PyTorch does.  ``backward(dout)`` returns ``{"x"}``.
    """

    def forward(self, x: Any) -> np.ndarray:
        """A running maximum over the kernel offsets, remembering which offset won: a
        later pixel takes over only when strictly larger (so ties stay with the first),
        or when it is NaN (NaN propagates, as in PyTorch)."""
        xp, oh, ow = self._padded(x, -np.inf)
        out = np.empty(xp.shape[:2] + (oh, ow), dtype=xp.dtype)
        arg = np.zeros(out.shape, dtype=np.int32)  # offset of each window's maximum
        has_nan = bool(np.isnan(xp).any())
        for k, sl in self._offsets(oh, ow):
            v = xp[sl]
            if k == 0:
                out[...] = v
                continue
            better = v > out
            if has_nan:
                better |= np.isnan(v)
            np.maximum(out, v, out=out)  # np.maximum propagates NaN, as PyTorch does
            # k exceeds every offset seen so far: the maximum of arg and better·k moves
            # arg to k exactly where this offset is strictly better
            np.maximum(arg, better * np.int32(k), out=arg)
        self.cache = (arg, xp.shape, xp.dtype)
        return out

    def backward(self, dout: Any) -> Grads:
        """Each output's gradient to the pixel its maximum came from (col2im of a one-hot
        window): at each kernel offset, the outputs whose maximum sits there."""
        arg, padded_shape, dtype = self.saved()
        g = self.grad_in(dout, arg.shape, dtype)
        dxp = np.zeros(padded_shape, dtype=g.dtype)
        finite = bool(np.isfinite(g).all())  # else g·0 would put NaN where 0 belongs
        for k, sl in self._offsets(*arg.shape[2:]):
            dxp[sl] += g * (arg == k) if finite else np.where(arg == k, g, 0)
        return {"x": _crop(dxp, self.padding)}


class AvgPool2d(_Pool):
    """``nn.AvgPool2d(kernel_size, stride=None, padding=0)`` by hand, with PyTorch's
    defaults ``count_include_pad=True`` and ``ceil_mode=False``: every window is divided by
    ``kH·kW``, zeros of the padding included.  ``backward(dout)`` returns ``{"x"}``.
    """

    def forward(self, x: Any) -> np.ndarray:
        xp, oh, ow = self._padded(x, 0.0)
        out = np.zeros(xp.shape[:2] + (oh, ow), dtype=xp.dtype)
        for _, sl in self._offsets(oh, ow):
            out += xp[sl]
        out /= self.kernel_size[0] * self.kernel_size[1]
        self.cache = (xp.shape, out.shape, xp.dtype)
        return out

    def backward(self, dout: Any) -> Grads:
        """Each output's gradient, divided by ``kH·kW``, to every pixel of its window."""
        padded_shape, out_shape, dtype = self.saved()
        g = self.grad_in(dout, out_shape, dtype)
        share = g / (self.kernel_size[0] * self.kernel_size[1])
        dxp = np.zeros(padded_shape, dtype=g.dtype)
        for _, sl in self._offsets(*out_shape[2:]):
            dxp[sl] += share
        return {"x": _crop(dxp, self.padding)}
