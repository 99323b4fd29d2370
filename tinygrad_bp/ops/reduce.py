"""Reductions and the ops that normalise along an axis (softmax, log_softmax, logsumexp).

A reduced gradient is given back its reduced axes (as size 1) by a reshape, then
broadcast: both speak the dialect, so every reduction's backward can be differentiated
again.
"""

from __future__ import annotations

import builtins
import math
import warnings
from typing import Any

import numpy as np

from ..backend import xp
from ..tensor import OUT, SAVE_OUT, Tensor, make_node
from . import dialect as D
from ._common import check_tensor, floating, kept_shape, norm_axes, one_axis, primitive

__all__ = [
    "sum", "mean", "max", "min", "prod", "cumsum", "logsumexp", "var", "std", "softmax",
    "log_softmax",
]  # fmt: skip


@primitive("reduce", "g broadcast back")
def sum(x: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Sum over ``axis``.  ∂/∂x = g broadcast back over the summed axes."""
    xd = x.data
    axes = norm_axes(axis, xd.ndim, "sum")
    out = xd.sum(axis=axes, keepdims=keepdims)
    shape = xd.shape
    kshape = kept_shape(shape, axes)

    def backward(g: Any) -> tuple[Any]:
        return (D.broadcast_to(g.reshape(kshape), shape),)

    return make_node(out, (x,), "sum", backward)


@primitive("reduce", "g/n broadcast back")
def mean(x: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Mean over ``axis``.  ∂/∂x = g / n broadcast back, n the number of averaged elements."""
    x = floating(x, "mean")
    xd = x.data
    axes = norm_axes(axis, xd.ndim, "mean")
    n = math.prod(xd.shape[i] for i in axes) if axes else 1
    if n == 0:  # the mean of nothing is NaN, as in PyTorch
        kept = tuple(m for i, m in enumerate(xd.shape) if i not in axes)
        out = xp.full(kept_shape(xd.shape, axes) if keepdims else kept, xp.nan, xd.dtype)
    else:
        out = xd.mean(axis=axes, keepdims=keepdims)
    shape = xd.shape
    kshape = kept_shape(shape, axes)

    def backward(g: Any) -> tuple[Any]:  # (n = 0: the input is empty, and so is this)
        return (D.broadcast_to(g.reshape(kshape) / (n or 1), shape),)

    return make_node(out, (x,), "mean", backward)


def _extreme(x: Tensor, axis: Any, keepdims: bool, op: str) -> Tensor:
    xd = x.data
    axes = norm_axes(axis, xd.ndim, op)
    if xd.size == 0 and (not axes or any(xd.shape[i] == 0 for i in axes)):
        raise ValueError(
            f"{op}: cannot reduce an empty axis of a tensor of shape {xd.shape} (as in "
            f"PyTorch: the {op} of nothing is undefined)"
        )
    kept = (xd.max if op == "max" else xd.min)(axis=axes, keepdims=True)
    kshape = kept.shape
    whole = axis is None
    out = kept if keepdims else kept.reshape([n for i, n in enumerate(xd.shape) if i not in axes])

    # (x and the output are declared saved: the mask below reads their memory, so an
    # in-place change of either after this refuses the backward, as PyTorch's amax does)
    def backward(g: Any, *saved: Any) -> tuple[Any]:
        mask = xd == kept  # a constant: which elements are extremal (ties share evenly)
        if whole and xd.dtype.kind == "f":  # a NaN maximum of the whole tensor: the NaNs
            nan = xp.isnan(kept)  # take the gradient (PyTorch's max(); per axis it is NaN)
            if nan.any():
                mask = mask | (xp.isnan(xd) & nan)
            # g / count at the extrema and 0 elsewhere, even for a g that is not finite
            # (PyTorch's max() puts g / count there, into zeros; amax multiplies by the mask)
            return (D.where(mask, g.reshape(kshape) / int(mask.sum()), 0.0),)
        return (g.reshape(kshape) * (mask / mask.sum(axis=axes, keepdims=True)),)

    return make_node(out, (x,), op, backward, (x, OUT))


@primitive("reduce", "g to the max entries")
def max(x: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Maximum over ``axis``.  The gradient goes to the maximal elements, split evenly
    between ties (PyTorch's ``amax`` rule)."""
    return _extreme(x, axis, keepdims, "max")


@primitive("reduce", "g to the min entries")
def min(x: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Minimum over ``axis``.  The gradient goes to the minimal elements, split evenly
    between ties (PyTorch's ``amin`` rule)."""
    return _extreme(x, axis, keepdims, "min")


def max_min_dim(x: Tensor, dim: int, keepdim: bool, op: str) -> Any:
    """PyTorch's ``max(dim)`` / ``min(dim)``: ``(values, indices)``.  The indices are an
    int64 tensor (the first extremum, NaN counting as the extremum, as PyTorch); the
    values are gathered at them, so their gradient goes to that one element (PyTorch's
    rule for this form; :func:`max` without indices splits ties)."""
    from ..tensor import ValuesIndices, leaf
    from .index import gather
    from .shape import reshape

    xd = x.data
    if xd.ndim == 0:
        one_axis(dim, 1, op)
        return ValuesIndices(reshape(x, ()), leaf(xp.zeros((), np.int64)))
    ax = one_axis(dim, xd.ndim, op)
    if xd.shape[ax] == 0:
        raise ValueError(
            f"{op}: cannot reduce dim {dim} of size 0 (shape {xd.shape}), as in PyTorch"
        )
    idx = (xp.argmax if op == "max" else xp.argmin)(xd, axis=ax, keepdims=True)
    nan = xp.isnan(xd) if xd.dtype.kind == "f" else None
    if nan is not None and nan.any():  # NumPy's argmax already picks the first NaN;
        idx = xp.where(nan.any(axis=ax, keepdims=True), xp.argmax(nan, axis=ax, keepdims=True), idx)
    idx = idx.astype(np.int64, copy=False)
    values = gather(x, ax, idx)
    if not keepdim:
        shape = xd.shape[:ax] + xd.shape[ax + 1 :]
        values = reshape(values, shape)
        idx = idx.reshape(shape)
    return ValuesIndices(values, leaf(idx))


@primitive("reduce", "g·{y}/{x}")
def prod(x: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Product over ``axis``.  ∂/∂xᵢ = g·Πⱼ≠ᵢ xⱼ, which is g·out/xᵢ when no factor is 0.

    With a zero factor the product of the others is formed directly (exclusive
    cumulative products from both ends), so the gradient stays exact there too."""
    xd = x.data
    axes = norm_axes(axis, xd.ndim, "prod")
    out = xd.prod(axis=axes, keepdims=keepdims)
    if xd.ndim == 0:  # one number: itself (bool as int64), ∂ = g even at ±inf (PyTorch's)
        return make_node(out, (x,), "prod", _identity)
    kshape = kept_shape(xd.shape, axes)
    has_zero = bool((xd == 0).any())

    def backward(g: Any, x: Any, out: Any) -> tuple[Any]:
        g = g.reshape(kshape)
        if not has_zero:
            return (g * (out.reshape(kshape) / x),)
        return (g * _others(x, axes),)

    return make_node(out, (x,), "prod", backward, (x, OUT))


def _identity(g: Any) -> tuple[Any]:
    return (g,)


def _others(x: Any, axes: tuple[int, ...]) -> Any:
    """Πⱼ≠ᵢ xⱼ over ``axes`` for every i, without dividing (dialect: arrays or Tensors)."""
    if not axes:
        return x * 0.0 + 1.0
    rest = [i for i in range(x.ndim) if i not in axes]
    perm = tuple(rest) + axes
    lead = tuple(x.shape[i] for i in rest)
    n = math.prod(x.shape[i] for i in axes)
    flat = x.transpose(perm).reshape(lead + (n,))
    cols = [flat[..., k : k + 1] for k in range(n)]
    left = [None] * n  # left[k] = Π_{j<k}, right[k] = Π_{j>k}
    right = [None] * n
    acc = None
    for k in range(n):
        left[k] = acc
        acc = cols[k] if acc is None else acc * cols[k]
    acc = None
    for k in reversed(range(n)):
        right[k] = acc
        acc = cols[k] if acc is None else acc * cols[k]
    parts = []
    for k in range(n):
        lk, rk = left[k], right[k]
        parts.append(cols[k] * 0.0 + 1.0 if lk is None and rk is None else
                     lk if rk is None else rk if lk is None else lk * rk)  # fmt: skip
    joined: Any
    if isinstance(x, Tensor):
        from .shape import cat

        joined = cat(parts, axis=-1)
    else:
        joined = xp.concatenate(parts, axis=-1)
    inverse = tuple(np.argsort(perm))
    return joined.reshape(tuple(x.shape[i] for i in perm)).transpose(inverse)


@primitive("reduce", "g summed from the end")
def cumsum(x: Tensor, axis: int) -> Tensor:
    """Cumulative sum along ``axis``.  ∂/∂x = the reversed cumulative sum of g."""
    xd = x.data
    if xd.ndim == 0:  # PyTorch: the cumulative sum of one number (dim 0 or -1) is itself
        one_axis(axis, 1, "cumsum")
        return _zero_d(x, lambda t, a: cumsum(t, a))
    ax = one_axis(axis, xd.ndim, "cumsum")

    def backward(g: Any) -> tuple[Any]:
        return (D.flip(D.cumsum(D.flip(g, (ax,)), ax), (ax,)),)

    return make_node(xp.cumsum(xd, axis=ax), (x,), "cumsum", backward)


@primitive("reduce", "g·softmax({x})")
def logsumexp(x: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
    """``log Σ exp(x)`` over ``axis``, computed stably (shifted by the maximum).
    ∂/∂x = g·exp(x − out) = g·softmax(x)."""
    x = floating(x, "logsumexp")
    xd = x.data
    axes = norm_axes(axis, xd.ndim, "logsumexp")
    # the log of an empty sum is -inf, as in PyTorch (max's initial value covers it)
    m = (
        xd.max(axis=axes, keepdims=True, initial=-xp.inf)
        if xd.size
        else xd.sum(axis=axes, keepdims=True)
    )
    m = xp.where(xp.isfinite(m), m, 0)
    with np.errstate(divide="ignore"):
        kept = xp.log(xp.exp(xd - m).sum(axis=axes, keepdims=True)) + m
    kshape = kept.shape
    out = kept if keepdims else kept.reshape([n for i, n in enumerate(xd.shape) if i not in axes])

    def backward(g: Any, x: Any, out: Any) -> tuple[Any]:
        return (g.reshape(kshape) * D.exp(x - out.reshape(kshape)),)

    return make_node(out, (x,), "logsumexp", backward, (x, OUT))


def _ddof(op: str, ddof: Any, unbiased: Any, correction: Any) -> int:
    if unbiased is not None:
        ddof = 1 if unbiased else 0
    if correction is not None:
        ddof = correction
    if not isinstance(ddof, (int, np.integer)) or isinstance(ddof, bool) or ddof < 0:
        raise ValueError(f"{op}: ddof must be a non-negative int, got {ddof!r}")
    return int(ddof)


def var(
    x: Tensor,
    axis: Any = None,
    keepdims: bool = False,
    ddof: int = 0,
    *,
    unbiased: bool | None = None,
    correction: int | None = None,
) -> Tensor:
    """Variance ``Σ (x − mean)² / (n − ddof)`` over ``axis`` (NumPy's ``ddof=0`` by
    default; PyTorch's ``unbiased=``/``correction=`` are accepted).  Composed of mean,
    sub, mul and sum, so its derivatives of every order come from theirs."""
    ddof = _ddof("var", ddof, unbiased, correction)
    axes = norm_axes(axis, x.ndim, "var")
    n = math.prod(x.shape[i] for i in axes) if axes else 1
    d = x - x.mean(axis=axes, keepdims=True)
    if n - ddof <= 0:  # PyTorch warns and divides by max(0, n - ddof): so do we
        warnings.warn(
            f"var: {n} element(s) over axis {axis!r} of shape {x.shape} with ddof={ddof}: "
            f"degrees of freedom is <= 0, the result is inf (NaN where the spread is 0)",
            RuntimeWarning,
            stacklevel=3,
        )
        with np.errstate(invalid="ignore"):  # (Σ d² / 0: ∞, and 0 / 0 = NaN)
            return (d * d).sum(axis=axes, keepdims=keepdims) * np.inf
    return (d * d).sum(axis=axes, keepdims=keepdims) / (n - ddof)


def std(
    x: Tensor,
    axis: Any = None,
    keepdims: bool = False,
    ddof: int = 0,
    *,
    unbiased: bool | None = None,
    correction: int | None = None,
) -> Tensor:
    """Standard deviation: ``sqrt(var(...))`` with the same arguments.  Its gradient where
    the spread is zero is 0, as PyTorch's (the square root's own would be 0·∞ = NaN)."""
    return _std_sqrt(var(x, axis, keepdims, ddof, unbiased=unbiased, correction=correction))


def _std_sqrt(v: Tensor) -> Tensor:
    """``√v``.  ∂/∂v = g / (2·out), and 0 where out = 0 (PyTorch's ``std`` rule)."""
    vd = v.data
    with np.errstate(invalid="ignore"):
        out = xp.sqrt(vd)
    zero = out == 0

    def backward(g: Any, out: Any) -> tuple[Any]:
        safe = D.where(zero, 1.0, out * 2.0)  # never divide by 0, at any order
        return (D.where(zero, 0.0, g / safe),)

    return make_node(out, (v,), "sqrt", backward, SAVE_OUT)


@primitive("reduce", "{y}·(g − Σ g·{y})")
def softmax(x: Tensor, axis: int = -1, *, dim: int | None = None) -> Tensor:
    """``s = exp(x − max) / Σ exp(x − max)`` along ``axis`` (or PyTorch's ``dim``).
    ∂/∂x = s·(g − Σ g·s)."""
    if dim is not None:
        axis = dim
    x = floating(check_tensor(x, "softmax"), "softmax")
    xd = x.data
    if xd.ndim == 0:  # PyTorch: the softmax of one number is 1 (dim 0 or -1)
        one_axis(axis, 1, "softmax")
        return _zero_d(x, softmax)
    axis = one_axis(axis, xd.ndim, "softmax")
    if xd.size == 0:
        out = xd.copy()
    else:
        e = xp.exp(xd - xd.max(axis=axis, keepdims=True))
        out = e / e.sum(axis=axis, keepdims=True)

    def backward(g: Any, out: Any) -> tuple[Any]:
        return (out * (g - (g * out).sum(axis=axis, keepdims=True)),)

    return make_node(out, (x,), "softmax", backward, SAVE_OUT)


def _zero_d(x: Tensor, op: Any) -> Tensor:
    """``op`` of a 0-d tensor along its one implicit axis, as PyTorch computes it."""
    from .shape import reshape

    return reshape(op(reshape(x, (1,)), 0), ())


def _log_softmax(xd: Any, axis: int) -> Any:
    shifted = xd - xd.max(axis=axis, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))


@primitive("reduce", "g − softmax({x})·Σ g")
def log_softmax(x: Tensor, axis: int = -1, *, dim: int | None = None) -> Tensor:
    """``x − logsumexp(x)`` along ``axis`` (or PyTorch's ``dim``).  ∂/∂x = g − softmax·Σ g."""
    if dim is not None:
        axis = dim
    x = floating(check_tensor(x, "log_softmax"), "log_softmax")
    xd = x.data
    if xd.ndim == 0:  # PyTorch: 0 (dim 0 or -1)
        one_axis(axis, 1, "log_softmax")
        return _zero_d(x, log_softmax)
    axis = one_axis(axis, xd.ndim, "log_softmax")
    out = _log_softmax(xd, axis) if xd.size else xd.copy()

    def backward(g: Any, out: Any) -> tuple[Any]:
        return (g - D.exp(out) * g.sum(axis=axis, keepdims=True),)

    return make_node(out, (x,), "log_softmax", backward, SAVE_OUT)


del builtins
