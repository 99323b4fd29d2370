"""Window primitives for convolution and pooling: im2col (``unfold``), its adjoint col2im
(``fold``), and the maximum of each window with PyTorch's routing (``max_last``).

Convolution and pooling are built on :func:`unfold`: the input's sliding windows copied
once into a ``(N, C, kH, kW, OH, OW)`` array (one strided copy per kernel offset), so a
convolution is one matrix product with the weight and a pooling is one reduction over
the two kernel axes.  The derivative of ``unfold`` is
:func:`fold` (col2im: each window's gradient added back where the window came from), and
the derivative of ``fold`` is ``unfold``: the pair are each other's adjoint, so
gradients of any order stay inside these two functions.

Each ``backward`` closure takes its differentiable values as default arguments and works
on both arrays and Tensors (under ``create_graph=True`` the engine calls it with Tensors),
as every primitive does.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import numpy as np

from ..backend import xp
from ..tensor import Tensor, make_node
from . import dialect as D
from ._common import primitive

__all__ = ["unfold", "fold", "max_last", "max_pool", "window_shape", "check_memory"]

_NCKO = (0, 1, 2, 3, 4, 5)  # the logical order (N, C, kH, kW, OH, OW): rows of OW innermost
#: memory orders :func:`unfold` can be asked for (the result's shape is the same)
LAYOUTS = {
    "nckhw": _NCKO,
    "ckn": (1, 2, 3, 0, 4, 5),  # (C, kH, kW, N, OH, OW): conv2d's (C·kH·kW, N·OH·OW) matrix
    "nchwk": (0, 1, 4, 5, 2, 3),  # (N, C, OH, OW, kH, kW): pooling's windows innermost
    # (C, kH, kW, OH, OW, N): conv2d's (C·kH·kW, OH·OW·N) matrix, the images innermost,
    # so that every copy and add over windows runs over OW·N contiguous elements
    "ckhwn": (1, 2, 3, 4, 5, 0),
}


def _plain(d: Any) -> bool:
    """Whether ``d`` is the default 1 or (1, 1) (checked without NumPy's comparisons)."""
    return (d.__class__ is int and d == 1) or (d.__class__ is tuple and d == (1, 1))


def _pair(v: Any, name: str, op: str, minimum: int) -> tuple[int, int]:
    """An int or a pair of ints, each >= ``minimum``, as a pair."""
    cls = v.__class__
    if cls is int:  # the common cases first, without the generic checks' generators
        if v >= minimum:
            return v, v
    elif cls is tuple and len(v) == 2 and v[0].__class__ is int and v[1].__class__ is int:
        if v[0] >= minimum and v[1] >= minimum:
            return v
    vals = tuple(v) if isinstance(v, (tuple, list)) else (v, v)
    if len(vals) != 2 or not all(
        isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in vals
    ):
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {v!r}")
    if any(a < minimum for a in vals):
        raise ValueError(f"{op}: {name} must be >= {minimum}, got {v!r}")
    return int(vals[0]), int(vals[1])


def window_shape(
    in_hw: tuple[int, ...],
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    op: str,
    dilation: tuple[int, int] = (1, 1),
) -> tuple[int, int]:
    """The output height and width; refuses a kernel (its dilated extent
    ``d·(k − 1) + 1``) larger than the padded input."""
    (h, w), (kh, kw), (sh, sw), (ph, pw) = in_hw, kernel, stride, padding
    (dh, dw) = dilation
    ekh, ekw = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    hp, wp = h + 2 * ph, w + 2 * pw
    if ekh > hp or ekw > wp:
        what = f"kernel size ({kh}, {kw})" + (
            f" dilated by ({dh}, {dw}) to ({ekh}, {ekw})" if (dh, dw) != (1, 1) else ""
        )
        raise ValueError(
            f"{op}: {what} is larger than the padded input ({hp}, {wp}) "
            f"(input ({h}, {w}), padding ({ph}, {pw}))"
        )
    return (hp - ekh) // sh + 1, (wp - ekw) // sw + 1


@functools.lru_cache(maxsize=1)
def _physical_memory() -> int | None:
    """The machine's memory in bytes, or None where the system does not say."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def check_memory(nbytes: int, op: str, what: str) -> None:
    """Refuse, naming ``op``, an array of ``nbytes`` larger than the machine's memory,
    before NumPy is asked for it (its own error names neither the op nor the cause)."""
    if nbytes < 2**30:  # (no machine this runs on has less; the common case costs nothing)
        return
    total = _physical_memory()
    if total is not None and nbytes > total:
        raise ValueError(
            f"{op}: {what} would need {nbytes / 2**30:.1f} GiB, more than this machine's "
            f"{total / 2**30:.1f} GiB of memory (use a smaller batch, a smaller input or a "
            f"larger stride)"
        )


def _mem_perm(a: Any, axes: tuple[int, ...] = (0, 1, 2, 3)) -> tuple[int, ...]:
    """The NCHW axes (``axes`` of ``a``, in that order) from the outermost in memory to
    the innermost: ``(0, 1, 2, 3)`` for a C-order array, ``(1, 2, 3, 0)`` for conv2d's
    output (memory ``(C, H, W, N)``).  New arrays made in that order keep every later pass
    over them walking one layout."""
    strides = [a.strides[ax] if a.shape[ax] > 1 else 0 for ax in axes]
    return tuple(sorted(range(4), key=lambda k: -strides[k]))


def _empty_nchw(shape: tuple[int, ...], dtype: Any, perm: tuple[int, ...], fill: Any = None) -> Any:
    """An NCHW array laid out in memory with its axes in the order ``perm``."""
    mem_shape = tuple(shape[a] for a in perm)
    mem = xp.empty(mem_shape, dtype=dtype) if fill is None else xp.full(mem_shape, fill, dtype)
    return mem.transpose(np.argsort(perm))


def _pad_hw(xd: Any, ph: int, pw: int, value: float, perm: tuple[int, ...]) -> Any:
    """``xd`` with ``ph`` rows and ``pw`` columns of ``value`` on each side, laid out as
    ``perm`` says (``numpy.pad`` costs tens of microseconds in Python per call)."""
    n, c, h, w = xd.shape
    out = _empty_nchw((n, c, h + 2 * ph, w + 2 * pw), xd.dtype, perm, value)
    out[:, :, ph : ph + h, pw : pw + w] = xd
    return out


def _im2col(
    xd: Any,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    pad_value: float,
    order: tuple[int, ...] = _NCKO,
    dilation: tuple[int, int] = (1, 1),
    op: str = "unfold",
) -> Any:
    """The windows, logical shape ``(N, C, kH, kW, OH, OW)``, copied once into memory laid
    out in ``order`` (a permutation of those six axes) and returned as a view in the
    logical order: the consumer picks the layout its next step reads without a copy."""
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    if ph or pw:  # padded in the memory order of the columns' N, C, OH, OW axes
        xd = _pad_hw(
            xd, ph, pw, pad_value, tuple(a - 2 * (a > 3) for a in order if a not in (2, 3))
        )
    n, c, hp, wp = xd.shape
    dh, dw = dilation
    oh, ow = (hp - dh * (kh - 1) - 1) // sh + 1, (wp - dw * (kw - 1) - 1) // sw + 1
    shape = (n, c, kh, kw, oh, ow)
    check_memory(n * c * kh * kw * oh * ow * xd.dtype.itemsize, op, f"the windows {shape}")
    mem = xp.empty(tuple(shape[a] for a in order), dtype=xd.dtype)
    cols = mem.transpose(np.argsort(order))
    # one strided copy per kernel offset (the pixel at that offset of every window): as
    # many elements as one 6-D copy from a sliding-window view, in far fewer, longer runs
    for i in range(kh):
        for j in range(kw):
            y, x = i * dh, j * dw
            cols[:, :, i, j] = xd[
                :, :, y : y + sh * (oh - 1) + 1 : sh, x : x + sw * (ow - 1) + 1 : sw
            ]
    return cols


def _col2im(
    gd: Any,
    in_shape: tuple[int, ...],
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int] = (1, 1),
) -> Any:
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    n, c, h, w = in_shape
    oh, ow = gd.shape[4:]
    plain = (dh, dw) == (1, 1)
    if plain and (sh, sw) == (kh, kw) and not (ph or pw) and (oh * kh, ow * kw) == (h, w):
        # windows that tile the input exactly (pooling): col2im is a transpose
        return gd.transpose(0, 1, 4, 2, 5, 3).reshape(n, c, h, w)
    # the sum made in the memory order of the columns (channel-major for conv2d's), so
    # that each of the kH·kW adds walks both operands alike
    full = _empty_nchw((n, c, h + 2 * ph, w + 2 * pw), gd.dtype, _mem_perm(gd, (0, 1, 4, 5)), 0)
    for i in range(kh):
        for j in range(kw):
            y, x = i * dh, j * dw
            full[:, :, y : y + sh * (oh - 1) + 1 : sh, x : x + sw * (ow - 1) + 1 : sw] += gd[
                :, :, i, j
            ]
    if ph or pw:
        full = full[:, :, ph : ph + h, pw : pw + w]
    return full


@primitive("window", "fold(g): each window's g added back onto its pixels", graph_formula=True)
def unfold(
    x: Tensor,
    kernel_size: Any,
    stride: Any = 1,
    padding: Any = 0,
    pad_value: float = 0.0,
    op: str = "unfold",
    layout: str = "nckhw",
    dilation: Any = 1,
) -> Tensor:
    """The sliding windows of an NCHW input: ``out[n, c, p, q, i, j] =
    xpad[n, c, i·sH + p, j·sW + q]``, of shape ``(N, C, kH, kW, OH, OW)`` (so that a
    convolution's product and a pooling's reduction come out in NCHW without a copy).

    ``xpad`` is ``x`` padded with ``pad_value`` (0 for convolutions and average pooling,
    −∞ for max pooling).  The map is linear in ``x``; its derivative is its adjoint:
    ∂/∂x = fold(g), each window's gradient added back where the window was taken
    (padding drops its share).

    ``layout`` only chooses how the one copy is laid out in memory (a key of
    :data:`LAYOUTS`; the result is a view of it in the logical order): ``"ckhwn"`` (what
    conv2d uses) and ``"ckn"`` make a ``(C·kH·kW, OH·OW·N)`` or ``(C·kH·kW, N·OH·OW)``
    matrix a free reshape, ``"nchwk"`` puts each pooling window in contiguous memory.
    ``dilation`` spaces the kernel's taps: ``xpad[n, c, i·sH + p·dH, j·sW + q·dW]``.
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    xd = x.data
    if xd.ndim != 4:
        raise ValueError(f"{op}: expected an input of shape (N, C, H, W), got shape {xd.shape}")
    kernel = _pair(kernel_size, "kernel_size", op, 1)
    strides = _pair(stride, "stride", op, 1)
    pads = _pair(padding, "padding", op, 0)
    dil = (
        (1, 1)
        if dilation.__class__ is int and dilation == 1
        else _pair(dilation, "dilation", op, 1)
    )
    window_shape(xd.shape[2:], kernel, strides, pads, op, dil)
    if layout not in LAYOUTS:
        raise ValueError(f"{op}: layout must be one of {sorted(LAYOUTS)}, got {layout!r}")
    out = _im2col(xd, kernel, strides, pads, pad_value, LAYOUTS[layout], dil, op)
    in_shape = xd.shape

    def backward(g: Any) -> tuple[Any]:
        if D.is_tensor(g):  # under create_graph: fold as an op
            return (fold(g, in_shape, kernel, strides, pads, dil),)
        return (_col2im(g, in_shape, kernel, strides, pads, dil),)

    return make_node(out, (x,), "unfold", backward)


@primitive("window", "unfold(g): g's window at each position", graph_formula=True)
def fold(
    cols: Tensor,
    in_shape: tuple[int, ...],
    kernel_size: Any,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
) -> Tensor:
    """col2im, the adjoint of :func:`unfold`: ``out[n, c, y, x] = Σ cols[n, c, p, q, i, j]``
    over the windows ``(i, j)`` and offsets ``(p, q)`` with ``i·sH + p − pH = y`` and
    ``j·sW + q − pW = x``.  Linear; ∂/∂cols = unfold(g) (zero padding)."""
    kernel = _pair(kernel_size, "kernel_size", "fold", 1)
    strides = _pair(stride, "stride", "fold", 1)
    pads = _pair(padding, "padding", "fold", 0)
    dil = _pair(dilation, "dilation", "fold", 1)
    in_shape = tuple(in_shape)
    out = _col2im(cols.data, in_shape, kernel, strides, pads, dil)

    def backward(g: Any) -> tuple[Any]:
        if D.is_tensor(g):  # under create_graph: unfold as an op
            return (unfold(g, kernel, strides, pads, dilation=dil),)
        return (_im2col(g, kernel, strides, pads, 0.0, dilation=dil),)

    return make_node(out, (cols,), "fold", backward)


# ---------------------------------------------------------------- max over windows
_RUNNING_MAX = 16  # up to this many elements a running maximum beats a strided argmax


def _running_max(slices: list[Any], last_nan: bool = False) -> tuple[Any, Any]:
    """The elementwise maximum of equal-shaped ``slices`` and the index of the first
    slice holding it, as ``argmax`` and ``max`` over a stacked axis give them (NaN
    propagates; the first NaN takes the index, or the last with ``last_nan``, as
    PyTorch's max pooling routes it), by one pass over each whole slice: ``argmax`` over
    a non-last axis, or over a short last one, walks memory an element at a time."""
    out, arg = _max_pass(slices, False, last_nan)
    if out.dtype.kind in "fc" and bool(xp.isnan(out).any()):  # NaN propagated to out
        out, arg = _max_pass(slices, True, last_nan)
    return out, arg


def _max_pass(slices: list[Any], has_nan: bool, last_nan: bool) -> tuple[Any, Any]:
    # out in the slices' own memory order (a copy in C order would make every pass below
    # walk two layouts at once); arg as small as the number of slices allows
    out = xp.empty_like(slices[0])
    out[...] = slices[0]
    k_max = len(slices) - 1
    kind = xp.uint8 if k_max <= 255 else xp.intp
    arg = xp.zeros_like(out, dtype=kind)
    better = xp.empty_like(out, dtype=bool)
    for k in range(1, len(slices)):
        v = slices[k]
        xp.greater(v, out, out=better)
        if has_nan:  # a NaN takes over from a number (and from an earlier NaN if last_nan)
            better |= xp.isnan(v) if last_nan else xp.isnan(v) & ~xp.isnan(out)
        xp.maximum(out, v, out=out)  # NaN propagates
        # k exceeds every index so far: moves arg to k exactly where v is better
        xp.maximum(arg, better * kind(k), out=arg)
    return out, arg


def _fold_any(
    cols: Any, in_shape: tuple[int, ...], kernel: Any, stride: Any, pads: Any, dil: Any = (1, 1)
) -> Any:
    """col2im on an array, :func:`fold` on a Tensor (under create_graph)."""
    if isinstance(cols, Tensor):
        return fold(cols, in_shape, kernel, stride, pads, dil)
    return _col2im(cols, in_shape, kernel, stride, pads, dil)


@primitive(
    "window",
    "g to the maximum of each window (the first, on ties)",
    op="max_pool2d",
    graph_formula=True,
)
def max_pool(
    x: Tensor, kernel_size: Any, stride: Any, padding: Any = 0, dilation: Any = 1
) -> Tensor:
    """The maximum of each window of an NCHW input (padding counts as −∞), its gradient
    to the first maximal element of the window in row-major order (to the last NaN where
    the window holds NaNs), as PyTorch routes it:
    ∂/∂x = fold(g · onehot(argmax)), the one-hot over the ``kH·kW`` offsets a constant.

    The same as :func:`max_last` over :func:`unfold`'s kernel axes, without copying the
    windows out: the maximum runs over the ``kH·kW`` strided views of the padded input.
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"max_pool2d: expected a Tensor, got {type(x).__name__}")
    xd = x.data
    if xd.ndim != 4:
        raise ValueError(f"max_pool2d: expected an input of shape (N, C, H, W), got {xd.shape}")
    kernel = _pair(kernel_size, "kernel_size", "max_pool2d", 1)
    strides = _pair(stride, "stride", "max_pool2d", 1)
    pads = _pair(padding, "padding", "max_pool2d", 0)
    dil = (
        (1, 1)
        if dilation.__class__ is int and dilation == 1
        else _pair(dilation, "dilation", "max_pool2d", 1)
    )
    oh, ow = window_shape(xd.shape[2:], kernel, strides, pads, "max_pool2d", dil)
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, strides, pads, dil
    xpad = xd
    if ph or pw:
        xpad = _pad_hw(xd, ph, pw, -xp.inf, _mem_perm(xd))
    slices = [
        xpad[
            :, :, p * dh : p * dh + sh * (oh - 1) + 1 : sh, q * dw : q * dw + sw * (ow - 1) + 1 : sw
        ]
        for p in range(kh)
        for q in range(kw)
    ]
    out, arg = _running_max(slices, last_nan=True)
    n, c, h, w = in_shape = xd.shape
    # windows that tile the input exactly (the usual MaxPool2d(k)): on arrays the
    # gradient is g upsampled (each value repeated over its window) times the mask of the
    # winners, two contiguous passes; col2im of the one-hot windows gives the same numbers
    tiles = (
        (sh, sw) == (kh, kw)
        and not (ph or pw)
        and (dh, dw) == (1, 1)
        and (oh * kh, ow * kw) == (h, w)
    )
    perm = _mem_perm(xd)

    def onehot() -> Any:
        """``(N, C, kH·kW, OH, OW)``: which offset of each window took the maximum."""
        return xp.arange(kh * kw, dtype=arg.dtype).reshape(1, 1, kh * kw, 1, 1) == arg[:, :, None]

    def backward(g: Any) -> tuple[Any]:
        if tiles and not D.is_tensor(g):  # the fast path on arrays alone
            offset = xp.arange(kh, dtype=arg.dtype)[:, None] * kw + xp.arange(kw, dtype=arg.dtype)
            # made in the input's memory order (the layout the next backward reads)
            tile = xp.tile(offset, (oh, ow))[None, None].transpose(perm)
            ah, aw = perm.index(2), perm.index(3)
            winner = arg.transpose(perm).repeat(kw, axis=aw).repeat(kh, axis=ah) == tile
            up = g.transpose(perm).repeat(kw, axis=aw).repeat(kh, axis=ah)
            up *= winner
            return (up.transpose(np.argsort(perm)),)
        cols = (g[:, :, None] * onehot()).reshape((n, c, kh, kw, oh, ow))
        return (_fold_any(cols, in_shape, kernel, strides, pads, dil),)

    return make_node(out, (x,), "max_pool2d", backward)


@primitive("window", "g to the maximum along the last axis")
def max_last(x: Tensor, axis: int = -1) -> Tensor:
    """The maximum over ``axis``, its gradient to the first maximal element (as PyTorch's
    max pooling routes it): ∂/∂x = g · onehot(argmax), the one-hot a constant."""
    if not isinstance(x, Tensor):
        raise TypeError(f"max_last: expected a Tensor, got {type(x).__name__}")
    xd = x.data
    axis %= xd.ndim
    if 0 < xd.shape[axis] <= _RUNNING_MAX:
        lead0 = (slice(None),) * axis
        out, arg = _running_max([xd[lead0 + (k,)] for k in range(xd.shape[axis])])
    else:
        arg = xd.argmax(axis=axis)
        out = xd.max(axis=axis)  # the value at arg (a NaN where argmax found one)
    idx = xp.expand_dims(arg, axis)
    shape = [1] * xd.ndim
    shape[axis] = xd.shape[axis]
    onehot = xp.arange(xd.shape[axis]).reshape(shape) == idx
    lead = (slice(None),) * axis + (None,)

    def backward(g: Any) -> tuple[Any]:
        return (g[lead] * onehot,)

    return make_node(out, (x,), "max_last", backward)
