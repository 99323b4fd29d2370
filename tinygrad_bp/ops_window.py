"""Window primitives (im2col and its adjoint col2im) and the few fused primitives the
layers need: ``erf`` (for the exact GELU) and ``stack`` (the recurrent layers' outputs).

Convolution and pooling are built on :func:`unfold`: the input's sliding windows as a
strided view (``numpy.lib.stride_tricks.sliding_window_view``), copied once into a
``(N, OH, OW, C, kH, kW)`` array, so a convolution is one matrix product with the weight
and a pooling is one reduction over the last two axes.  The derivative of ``unfold`` is
:func:`fold` (col2im: each window's gradient added back where the window came from), and
the derivative of ``fold`` is ``unfold``: the pair are each other's adjoint, so
gradients of any order stay inside these two functions.

Each ``backward`` closure takes its differentiable values as default arguments and works
on both arrays and Tensors (under ``create_graph=True`` the engine calls it with Tensors),
as every primitive does.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .backend import xp
from .tensor import Tensor, make_node

__all__ = ["unfold", "fold", "erf", "stack", "max_last", "window_shape"]


def _pair(v: Any, name: str, op: str, minimum: int) -> tuple[int, int]:
    """An int or a pair of ints, each >= ``minimum``, as a pair."""
    vals = tuple(v) if isinstance(v, (tuple, list)) else (v, v)
    if len(vals) != 2 or not all(
        isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in vals
    ):
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {v!r}")
    if any(a < minimum for a in vals):
        raise ValueError(f"{op}: {name} must be >= {minimum}, got {v!r}")
    return int(vals[0]), int(vals[1])


def window_shape(
    in_hw: tuple[int, int],
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    op: str,
) -> tuple[int, int]:
    """The output height and width; refuses a kernel larger than the padded input."""
    (h, w), (kh, kw), (sh, sw), (ph, pw) = in_hw, kernel, stride, padding
    hp, wp = h + 2 * ph, w + 2 * pw
    if kh > hp or kw > wp:
        raise ValueError(
            f"{op}: kernel size ({kh}, {kw}) is larger than the padded input ({hp}, {wp}) "
            f"(input ({h}, {w}), padding ({ph}, {pw}))"
        )
    return (hp - kh) // sh + 1, (wp - kw) // sw + 1


def _im2col(
    xd: Any,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    pad_value: float,
) -> Any:
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    if ph or pw:
        xd = xp.pad(xd, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=pad_value)
    n, c, hp, wp = xd.shape
    oh, ow = (hp - kh) // sh + 1, (wp - kw) // sw + 1
    view = sliding_window_view(xd, (kh, kw), axis=(2, 3))  # (N, C, Hp-kh+1, Wp-kw+1, kh, kw)
    view = view[:, :, : (oh - 1) * sh + 1 : sh, : (ow - 1) * sw + 1 : sw]
    out = xp.empty((n, oh, ow, c, kh, kw), dtype=xd.dtype)
    out[...] = view.transpose(0, 2, 3, 1, 4, 5)  # the one copy
    return out


def _col2im(
    gd: Any,
    in_shape: tuple[int, ...],
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
) -> Any:
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    n, c, h, w = in_shape
    _, oh, ow = gd.shape[:3]
    full = xp.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=gd.dtype)
    g6 = gd.transpose(0, 3, 4, 5, 1, 2)  # (N, C, kh, kw, OH, OW)
    for i in range(kh):
        for j in range(kw):
            full[:, :, i : i + sh * oh : sh, j : j + sw * ow : sw] += g6[:, :, i, j]
    if ph or pw:
        full = full[:, :, ph : ph + h, pw : pw + w]
    return full


def unfold(
    x: Tensor,
    kernel_size: Any,
    stride: Any = 1,
    padding: Any = 0,
    pad_value: float = 0.0,
    op: str = "unfold",
) -> Tensor:
    """The sliding windows of an NCHW input: ``out[n, i, j, c, p, q] =
    xpad[n, c, i·sH + p, j·sW + q]``, of shape ``(N, OH, OW, C, kH, kW)``.

    ``xpad`` is ``x`` padded with ``pad_value`` (0 for convolutions and average pooling,
    −∞ for max pooling).  The map is linear in ``x``; its derivative is its adjoint:
    ∂/∂x = fold(g), each window's gradient added back where the window was taken
    (padding drops its share).
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    xd = x.data
    if xd.ndim != 4:
        raise ValueError(f"{op}: expected an input of shape (N, C, H, W), got shape {xd.shape}")
    kernel = _pair(kernel_size, "kernel_size", op, 1)
    strides = _pair(stride, "stride", op, 1)
    pads = _pair(padding, "padding", op, 0)
    window_shape(xd.shape[2:], kernel, strides, pads, op)
    out = _im2col(xd, kernel, strides, pads, pad_value)
    in_shape = xd.shape

    def backward(g: Any) -> tuple[Any]:
        if isinstance(g, Tensor):
            return (fold(g, in_shape, kernel, strides, pads),)
        return (_col2im(g, in_shape, kernel, strides, pads),)

    return make_node(out, (x,), "unfold", backward)


def fold(
    cols: Tensor, in_shape: tuple[int, ...], kernel_size: Any, stride: Any = 1, padding: Any = 0
) -> Tensor:
    """col2im, the adjoint of :func:`unfold`: ``out[n, c, y, x] = Σ cols[n, i, j, c, p, q]``
    over the windows ``(i, j)`` and offsets ``(p, q)`` with ``i·sH + p − pH = y`` and
    ``j·sW + q − pW = x``.  Linear; ∂/∂cols = unfold(g) (zero padding)."""
    kernel = _pair(kernel_size, "kernel_size", "fold", 1)
    strides = _pair(stride, "stride", "fold", 1)
    pads = _pair(padding, "padding", "fold", 0)
    in_shape = tuple(in_shape)
    out = _col2im(cols.data, in_shape, kernel, strides, pads)

    def backward(g: Any) -> tuple[Any]:
        if isinstance(g, Tensor):
            return (unfold(g, kernel, strides, pads),)
        return (_im2col(g, kernel, strides, pads, 0.0),)

    return make_node(out, (cols,), "fold", backward)


# ---------------------------------------------------------------- erf
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_SERIES_LIMIT = 3.0
# erf(x) = 2/√π · e^{-x²} · Σ_n (2x²)^n · x / (1·3·…·(2n+1)): every term positive, so no
# cancellation; for |x| < 3 the terms fall below 1e-17 of the sum by n = 48.
_SERIES_TERMS = 48
_RECIPROCALS = tuple(1.0 / (2 * n + 3) for n in range(_SERIES_TERMS))
_math_erf = np.frompyfunc(math.erf, 1, 1)


def _erf_np(xd: Any) -> Any:
    x = xp.asarray(xd)
    dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
    x64 = x.astype(np.float64, copy=False)
    big = xp.abs(x64) >= _SERIES_LIMIT
    xs = xp.where(big, 0.0, x64)
    x2 = 2.0 * xs * xs
    t = xs.copy()
    s = xs.copy()
    for r in _RECIPROCALS:
        t *= x2
        t *= r
        s += t
    out = s * xp.exp(-0.5 * x2) * _TWO_OVER_SQRT_PI
    if big.any():  # the tails, one call of libm's erf each (rare for activations)
        out[big] = _math_erf(x64[big]).astype(np.float64)
    return out.astype(dtype, copy=False)


def erf(x: Tensor) -> Tensor:
    """The error function ``erf(x) = 2/√π ∫₀ˣ e^{−t²} dt``.  ∂/∂x = g · 2/√π · e^{−x²}."""
    if not isinstance(x, Tensor):
        raise TypeError(f"erf: expected a Tensor, got {type(x).__name__}")
    xd = x.data
    out = _erf_np(xd)

    def backward(g: Any, x: Any = xd) -> tuple[Any]:
        return (
            g
            * ((-(x * x)).exp() if isinstance(x, Tensor) else xp.exp(-(x * x)))
            * _TWO_OVER_SQRT_PI,
        )

    return make_node(out, (x,), "erf", backward)


# ---------------------------------------------------------------- stack
def stack(tensors: Any, axis: int = 0) -> Tensor:
    """Join tensors of one shape along a new axis.  ∂/∂tensors[i] = g taken at index i of
    that axis."""
    tensors = list(tensors)
    if not tensors or not all(isinstance(t, Tensor) for t in tensors):
        raise TypeError("stack: expected a non-empty sequence of Tensors")
    shapes = {t.data.shape for t in tensors}
    if len(shapes) != 1:
        raise ValueError(f"stack: every tensor must have the same shape, got {sorted(shapes)}")
    nd = tensors[0].data.ndim + 1
    if not -nd <= axis < nd:
        raise ValueError(f"stack: axis {axis} is out of range for {nd} dims")
    axis %= nd
    out = xp.stack([t.data for t in tensors], axis=axis)
    lead = (slice(None),) * axis
    count = len(tensors)

    def backward(g: Any) -> tuple[Any, ...]:
        return tuple(g[lead + (i,)] for i in range(count))

    return make_node(out, tuple(tensors), "stack", backward)


# ---------------------------------------------------------------- max over windows
def max_last(x: Tensor) -> Tensor:
    """The maximum over the last axis, its gradient to the first maximal element (as
    PyTorch's max pooling routes it): ∂/∂x = g · onehot(argmax), the one-hot a constant."""
    if not isinstance(x, Tensor):
        raise TypeError(f"max_last: expected a Tensor, got {type(x).__name__}")
    xd = x.data
    idx = xd.argmax(axis=-1)
    out = xp.take_along_axis(xd, idx[..., None], axis=-1)[..., 0]
    onehot = xp.zeros(xd.shape, dtype=bool)
    xp.put_along_axis(onehot, idx[..., None], True, axis=-1)

    def backward(g: Any) -> tuple[Any]:
        return (g[..., None] * onehot,)

    return make_node(out, (x,), "max_last", backward)
