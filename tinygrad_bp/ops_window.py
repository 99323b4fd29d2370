"""Window primitives (im2col and its adjoint col2im) and the few fused primitives the
layers need: ``erf`` (for the exact GELU) and ``stack`` (the recurrent layers' outputs).

Convolution and pooling are built on :func:`unfold`: the input's sliding windows as a
strided view (``numpy.lib.stride_tricks.sliding_window_view``), copied once into a
``(N, C, kH, kW, OH, OW)`` array, so a convolution is one matrix product with the weight
and a pooling is one reduction over the two kernel axes.  The derivative of ``unfold`` is
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
    out = xp.empty((n, c, kh, kw, oh, ow), dtype=xd.dtype)
    out[...] = view.transpose(0, 1, 4, 5, 2, 3)  # the one copy, rows of OW innermost
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
    oh, ow = gd.shape[4:]
    if (sh, sw) == (kh, kw) and not (ph or pw) and (oh * kh, ow * kw) == (h, w):
        # windows that tile the input exactly (pooling): col2im is a transpose
        return gd.transpose(0, 1, 4, 2, 5, 3).reshape(n, c, h, w)
    full = xp.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=gd.dtype)
    for i in range(kh):
        for j in range(kw):
            full[:, :, i : i + sh * oh : sh, j : j + sw * ow : sw] += gd[:, :, i, j]
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
    """The sliding windows of an NCHW input: ``out[n, c, p, q, i, j] =
    xpad[n, c, i·sH + p, j·sW + q]``, of shape ``(N, C, kH, kW, OH, OW)`` (so that a
    convolution's product and a pooling's reduction come out in NCHW without a copy).

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
    """col2im, the adjoint of :func:`unfold`: ``out[n, c, y, x] = Σ cols[n, c, p, q, i, j]``
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
# erf(x) = x · q(x) with q(x) = erf(x)/x smooth and even; q is evaluated piecewise, one
# polynomial per interval of width 0.25 on [0, 6] (interpolated at Chebyshev points of
# libm's erf the first time it is needed, kept in the monomial basis of t in [-1, 1], where
# its coefficients fall like 8^-n, so Horner's rule loses nothing).  Beyond 6, |x| is
# clipped to 6: erf(6) = 1 - 2e-17 is 1 in double precision.  Degree 11: relative error
# ~1e-15 everywhere, tiny x included.  float32 inputs are evaluated in float64 too: in
# float32 arithmetic, 1 + erf(x) for negative x (GELU) would lose digits.
_ERF_LIMIT = 6.0
_ERF_WIDTH = 0.25
_ERF_DEGREE = 11
_ERF_TABLE: list[Any] = []


def _erf_table() -> Any:
    if not _ERF_TABLE:
        cheb = np.polynomial.chebyshev
        m = 32  # Chebyshev points per interval; the coefficients by the cosine sum
        theta = (np.arange(m) + 0.5) * math.pi / m
        rows = []
        for k in range(int(_ERF_LIMIT / _ERF_WIDTH)):
            c = (k + 0.5) * _ERF_WIDTH
            xs = [c + math.cos(th) * _ERF_WIDTH / 2 for th in theta]
            vals = [math.erf(v) / v for v in xs]
            coef = [
                (1.0 if j == 0 else 2.0)
                / m
                * math.fsum(v * math.cos(j * th) for v, th in zip(vals, theta))
                for j in range(_ERF_DEGREE + 1)
            ]
            poly = cheb.cheb2poly(coef)
            rows.append(np.pad(poly, (0, _ERF_DEGREE + 1 - len(poly))))
        # (degree + 1, intervals), highest power first, for Horner
        _ERF_TABLE.append(np.ascontiguousarray(np.array(rows)[:, ::-1].T))
    return _ERF_TABLE[0]


def _erf_np(xd: Any) -> Any:
    x = xp.asarray(xd)
    dtype = x.dtype if x.dtype.char in "fd" else np.dtype(np.float64)
    x = x.astype(np.float64, copy=False)
    columns = _erf_table()
    ax = xp.minimum(xp.abs(x), _ERF_LIMIT).ravel()
    with np.errstate(invalid="ignore"):  # NaN: a garbage index, clipped; NaN comes out
        k = (ax * (1 / _ERF_WIDTH)).astype(np.intp)
    xp.clip(k, 0, columns.shape[1] - 1, out=k)
    t = ax * (2 / _ERF_WIDTH)
    t -= 2 * k + 1
    res = columns[0].take(k)
    for row in columns[1:]:
        res *= t
        res += row.take(k)
    res *= ax
    return xp.copysign(res.reshape(x.shape), x).astype(dtype, copy=False)


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
def max_last(x: Tensor, axis: int = -1) -> Tensor:
    """The maximum over ``axis``, its gradient to the first maximal element (as PyTorch's
    max pooling routes it): ∂/∂x = g · onehot(argmax), the one-hot a constant."""
    if not isinstance(x, Tensor):
        raise TypeError(f"max_last: expected a Tensor, got {type(x).__name__}")
    xd = x.data
    axis %= xd.ndim
    idx = xp.expand_dims(xd.argmax(axis=axis), axis)
    out = xp.take_along_axis(xd, idx, axis=axis).squeeze(axis)
    shape = [1] * xd.ndim
    shape[axis] = xd.shape[axis]
    onehot = xp.arange(xd.shape[axis]).reshape(shape) == idx
    lead = (slice(None),) * axis + (None,)

    def backward(g: Any) -> tuple[Any]:
        return (g[lead] * onehot,)

    return make_node(out, (x,), "max_last", backward)


# ---------------------------------------------------------------- LSTM gate activations
def _sigmoid_np(z: Any) -> Any:
    # σ(z) = ½ tanh(z/2) + ½: no overflow, three vectorised passes (NumPy's where() on
    # float32 costs more than all three); absolute error within an ulp of 1
    s = xp.tanh(z * 0.5)
    s *= 0.5
    s += 0.5
    return s


def lstm_gates(a: Tensor) -> Tensor:
    """The LSTM's four gate activations in one op over ``a (N, 4H)`` (PyTorch's order
    i, f, g, o): ``σ`` on the i, f and o columns, ``tanh`` on the g columns.
    ∂/∂a = g · s(1 − s) on the σ columns and g · (1 − t²) on the tanh columns, both read
    from the output."""
    ad = a.data
    if ad.ndim != 2 or ad.shape[1] % 4:
        raise ValueError(f"lstm_gates: expected shape (N, 4H), got {ad.shape}")
    h = ad.shape[1] // 4
    out = _sigmoid_np(ad)
    out[:, 2 * h : 3 * h] = xp.tanh(ad[:, 2 * h : 3 * h])
    is_tanh = xp.zeros(ad.shape[1], dtype=bool)
    is_tanh[2 * h : 3 * h] = True
    is_sig = ~is_tanh

    def backward(g: Any, out: Any = out) -> tuple[Any]:
        return (g * (out * (1 - out) * is_sig + (1 - out * out) * is_tanh),)

    return make_node(out, (a,), "lstm_gates", backward)


def _sig(z: Any) -> Any:
    return z.sigmoid() if isinstance(z, Tensor) else _sigmoid_np(z)


def _tanh(z: Any) -> Any:
    return z.tanh() if isinstance(z, Tensor) else xp.tanh(z)


def lstm_cell(a: Tensor, c: Tensor) -> Tensor:
    """One LSTM step from the gates' pre-activations ``a (N, 4H)`` (PyTorch's order i, f,
    g, o) and the cell state ``c (N, H)``; returns ``(h', c')`` stacked as ``(2, N, H)``.

    ``i, f, o = σ(a_i, a_f, a_o)``, ``g = tanh(a_g)``, ``c' = f·c + i·g``,
    ``h' = o·tanh(c')``.  With incoming ``(g_h, g_c)`` and ``γ = g_c + g_h·o·(1 − tanh²c')``:
    ∂/∂c = γ·f, ∂/∂a = [γ·g·i(1−i), γ·c·f(1−f), γ·i·(1−g²), g_h·tanh(c')·o(1−o)].
    """
    ad, cd = a.data, c.data
    if ad.ndim != 2 or cd.ndim != 2 or ad.shape != (cd.shape[0], 4 * cd.shape[1]):
        raise ValueError(
            f"lstm_cell: expected gates (N, 4H) and a cell state (N, H), got {ad.shape} and "
            f"{cd.shape}"
        )
    H = cd.shape[1]
    act = _sigmoid_np(ad)
    gg = xp.tanh(ad[:, 2 * H : 3 * H])
    i, f, o = act[:, :H], act[:, H : 2 * H], act[:, 3 * H :]
    out = xp.empty((2,) + cd.shape, dtype=np.result_type(ad.dtype, cd.dtype))
    c_new = out[1]
    xp.multiply(f, cd, out=c_new)
    c_new += i * gg
    tc = xp.tanh(c_new)
    xp.multiply(o, tc, out=out[0])

    def backward(g: Any, a: Any = ad, c: Any = cd) -> tuple[Any, Any]:
        if isinstance(g, Tensor) or isinstance(a, Tensor) or isinstance(c, Tensor):
            # recomputed from the parents, in ops, so that it can be differentiated again
            ii, ff = _sig(a[:, :H]), _sig(a[:, H : 2 * H])
            g_, oo = _tanh(a[:, 2 * H : 3 * H]), _sig(a[:, 3 * H :])
            t = _tanh(ff * c + ii * g_)
            gh, gc = g[0], g[1]
            gam = gc + gh * oo * (1 - t * t)
            parts = [gam * g_ * ii * (1 - ii), gam * c * ff * (1 - ff),
                     gam * ii * (1 - g_ * g_), gh * t * oo * (1 - oo)]  # fmt: skip
            return _concat_last(parts), gam * ff
        gh, gc = g[0], g[1]
        gam = gh * o
        gam *= 1 - tc * tc
        gam += gc
        da = xp.empty_like(ad, dtype=gam.dtype)
        xp.multiply(gam * gg, i * (1 - i), out=da[:, :H])
        xp.multiply(gam * cd, f * (1 - f), out=da[:, H : 2 * H])
        xp.multiply(gam * i, 1 - gg * gg, out=da[:, 2 * H : 3 * H])
        xp.multiply(gh * tc, o * (1 - o), out=da[:, 3 * H :])
        return da, gam * f

    return make_node(out, (a, c), "lstm_cell", backward)


def _concat_last(parts: list[Tensor]) -> Tensor:
    """Join Tensors along the last axis (the lstm_cell's second derivative needs it):
    ∂/∂parts[k] = g's k-th block of columns."""
    data = xp.concatenate([p.data for p in parts], axis=-1)
    widths = [p.data.shape[-1] for p in parts]
    starts = np.cumsum([0] + widths)

    def backward(g: Any) -> tuple[Any, ...]:
        return tuple(g[..., starts[k] : starts[k + 1]] for k in range(len(parts)))

    return make_node(data, tuple(parts), "concat", backward)
