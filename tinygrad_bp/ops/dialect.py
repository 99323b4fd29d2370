"""The dialect the backward closures are written in: one formula for arrays and Tensors.

A closure's derivative is written once.  In a plain ``backward()`` the engine calls it with
NumPy arrays (the incoming gradient and the values the op saved), and it computes arrays,
as fast as hand-written NumPy.  Under ``create_graph=True`` the engine calls the *same*
closure with Tensors in their place, and the same lines then record a graph, so the
gradient can be differentiated again.  What both kinds of value speak natively, closures
use directly: the operators ``+ - * / ** @``, comparisons (a boolean mask is a constant),
``.T``, ``.sum(axis=, keepdims=)``, ``.reshape``, ``.transpose``, indexing.  For the rest
they call the functions here, which dispatch on their argument: the NumPy function for an
array, the op (whose own backward is written the same way) for a Tensor.
"""

from __future__ import annotations

from typing import Any

from ..backend import xp
from ..tensor import Tensor

__all__ = [
    "is_tensor",
    "scalar",
    "exp",
    "log",
    "sin",
    "cos",
    "sign",
    "sqrt",
    "power",
    "tanh",
    "sigmoid",
    "concat_last",
    "where",
    "where_positive",
    "broadcast_to",
    "index_add",
    "scatter_add",
    "flip",
    "cumsum",
    "einsum",
    "swap_last",
    "zeros_like",
]


def is_tensor(x: Any) -> bool:
    """Whether a closure runs under ``create_graph`` (it got a Tensor).  The one spelling of
    "this rule has a second formula", used only by the primitives declared with
    ``graph_formula=True``."""
    return isinstance(x, Tensor)


def scalar(g: Any) -> Any:
    """A 0-d gradient as a Python float (so a float32 array times it stays float32), or
    the 0-d Tensor itself under create_graph."""
    return g if isinstance(g, Tensor) else float(g)


def exp(x: Any) -> Any:
    return x.exp() if isinstance(x, Tensor) else xp.exp(x)


def log(x: Any) -> Any:
    return x.log() if isinstance(x, Tensor) else xp.log(x)


def sin(x: Any) -> Any:
    return x.sin() if isinstance(x, Tensor) else xp.sin(x)


def cos(x: Any) -> Any:
    return x.cos() if isinstance(x, Tensor) else xp.cos(x)


def sign(x: Any) -> Any:
    """The sign, 0 for NaN (PyTorch's)."""
    if isinstance(x, Tensor):
        return x.sign()
    out = xp.sign(x)
    if out.dtype.kind == "f" and xp.isnan(out).any():
        out = xp.where(xp.isnan(out), 0, out).astype(out.dtype, copy=False)
    return out


def sqrt(x: Any) -> Any:
    return x.sqrt() if isinstance(x, Tensor) else xp.sqrt(x)


def power(a: Any, b: Any) -> Any:
    """``a ** b`` with PyTorch's values at the edges: for a Python number ``b`` its
    special cases (``** 0.5`` is sqrt, ``** -0.5`` is 1/sqrt, ``** -1`` 1/x, ``** 2`` x·x,
    ``** 3`` x·x·x, ``** -2`` 1/(x·x): (-inf) ** -0.5 is NaN, (-0.0) ** -0.5 is -inf),
    for an array ``b`` C's ``pow`` everywhere (NumPy takes a broadcast exponent of 0.5 as
    sqrt, PyTorch's tensor ** tensor does not: (-inf) ** 0.5 is inf)."""
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return a**b
    if not isinstance(b, (xp.ndarray, xp.generic)):  # a Python number
        p = float(b)
        if p == 0.5:
            return xp.sqrt(a)
        if p == -0.5:
            return 1.0 / xp.sqrt(a)
        if p == -1.0:
            return 1.0 / a
        if p == 2.0:
            return a * a
        if p == 3.0:
            return a * a * a
        if p == -2.0:
            return 1.0 / (a * a)
        return xp.power(a, xp.asarray(p, dtype=a.dtype))
    out = xp.power(a, b)
    half = b == 0.5  # (NumPy's sqrt for an exponent of stride 0, C's pow here: |a| at ±0, -inf)
    if xp.any(half):
        out = xp.where(half & ((a == 0) | (a == -xp.inf)), xp.abs(a), out)
    return out


def tanh(x: Any) -> Any:
    return x.tanh() if isinstance(x, Tensor) else xp.tanh(x)


def sigmoid(x: Any) -> Any:
    """σ(x); on arrays as ½·tanh(x/2) + ½: three vectorised passes with no overflow and an
    absolute error within an ulp of 1 (what a gate needs; ``ops.sigmoid`` keeps relative
    precision far into the negative tail instead)."""
    if isinstance(x, Tensor):
        return x.sigmoid()
    s = xp.tanh(x * 0.5)
    s *= 0.5
    s += 0.5
    return s


def concat_last(parts: list[Any]) -> Any:
    """Join along the last axis."""
    if any(isinstance(p, Tensor) for p in parts):
        from .shape import cat

        return cat(parts, axis=-1)
    return xp.concatenate(parts, axis=-1)


def where(cond: Any, a: Any, b: Any) -> Any:
    """``a`` where ``cond`` else ``b``; ``cond`` is a constant mask (array or boolean Tensor)."""
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        from .elementwise import where as where_op

        return where_op(cond, a, b)
    if isinstance(cond, Tensor):
        cond = cond.data
    return xp.where(cond, a, b)


# a float dtype's integer twin, its width − 1, and the mask of all bits but the sign's
_BITS: dict[Any, tuple[Any, int, int]] = {
    xp.dtype(xp.float32): (xp.int32, 31, 2**31 - 1),
    xp.dtype(xp.float64): (xp.int64, 63, 2**63 - 1),
}


def where_positive(y: Any, g: Any) -> Any:
    """``g`` where ``y > 0`` or ``y`` is NaN, else 0, for ``y`` ≥ 0 or NaN (a relu's
    output): 0 even where ``g`` is infinite or NaN (PyTorch's threshold_backward,
    ``where(y <= 0, 0, g)``).  On float arrays of one dtype and shape, by the bits, as fast
    as ``g * (y > 0)`` (which gives ∞·0 = NaN where the unit is off): |y|'s bits as an
    integer are > 0 exactly where g passes, and −bits >> (width − 1) is then all ones,
    else 0.  (``np.where`` on a random mask is 10x slower.)"""
    if isinstance(g, Tensor) or isinstance(y, Tensor):
        yd = y.data if isinstance(y, Tensor) else y
        return where(~(yd <= 0), g, 0.0)
    bits = _BITS.get(getattr(y, "dtype", None))
    if (
        bits is None
        or not isinstance(g, xp.ndarray)
        or g.dtype != y.dtype
        or g.shape != y.shape
        or not isinstance(y, xp.ndarray)
        or not y.ndim  # (0-d: NumPy's & gives a scalar)
    ):
        return xp.where(~(y <= 0), g, 0)
    it, shift, magnitude = bits
    m = y.view(it) & magnitude  # |y| (a NaN of either sign is > 0), a new array
    xp.negative(m, out=m)
    m >>= shift
    m &= g.view(it)
    return m.view(y.dtype)


def broadcast_to(x: Any, shape: tuple[int, ...]) -> Any:
    if isinstance(x, Tensor):
        from .shape import broadcast_to as broadcast_op

        return broadcast_op(x, shape)
    return xp.broadcast_to(x, shape)


def index_add(shape: tuple[int, ...], key: Any, g: Any, advanced: bool) -> Any:
    """Zeros of ``shape`` with ``g`` added at ``key`` (repeated indices accumulate): the
    adjoint of ``x[key]``."""
    if isinstance(g, Tensor):
        from .index import index_add as index_add_op

        return index_add_op(g, shape, key, advanced)
    full = xp.zeros(shape, dtype=g.dtype)
    if advanced:
        rows = key[0] if isinstance(key, tuple) and len(key) == 1 else key
        if isinstance(rows, xp.ndarray) and rows.dtype.kind in "iu" and rows.size:
            _add_rows(full, rows, g)
        else:
            xp.add.at(full, key, g)
    else:
        full[key] += g
    return full


def _add_rows(full: Any, rows: Any, g: Any) -> None:
    """``full[rows[k]] += g[k]`` for every k, repeated rows accumulating, by a stable sort
    and one ``add.reduceat`` over each run of equal rows: ``np.add.at``'s sums (added in
    another order, so equal to rounding), 25x faster than it where ``g`` has trailing
    axes (an embedding's backward)."""
    i = rows.ravel()
    if i.min() < 0:
        i = xp.where(i < 0, i + full.shape[0], i)
    g2 = g.reshape((i.size,) + full.shape[1:])
    order = xp.argsort(i, kind="stable")
    s = i[order]
    starts = xp.flatnonzero(xp.concatenate(([True], s[1:] != s[:-1])))
    full[s[starts]] = xp.add.reduceat(g2[order], starts, axis=0)


def scatter_add(shape: tuple[int, ...], axis: int, index: Any, g: Any) -> Any:
    """Zeros of ``shape`` with ``g`` added along ``axis`` at ``index``: the adjoint of
    ``gather``."""
    if isinstance(g, Tensor):
        from .index import scatter_add as scatter_op

        return scatter_op(g, shape, axis, index)
    full = xp.zeros(shape, dtype=g.dtype)
    xp.add.at(full, _gather_key(index, axis), g)
    return full


def _gather_key(index: Any, axis: int) -> tuple[Any, ...]:
    """The advanced-indexing key that picks ``x[..., index[i], ...]`` along ``axis``."""
    grids = xp.ogrid[tuple(slice(0, n) for n in index.shape)]
    return tuple(index if d == axis else grids[d] for d in range(index.ndim))


def flip(x: Any, axes: tuple[int, ...]) -> Any:
    return x.flip(axes) if isinstance(x, Tensor) else xp.flip(x, axes)


def cumsum(x: Any, axis: int) -> Any:
    return x.cumsum(axis) if isinstance(x, Tensor) else xp.cumsum(x, axis=axis)


def einsum(subscripts: str, *operands: Any) -> Any:
    if any(isinstance(o, Tensor) for o in operands):
        from .linalg import einsum as einsum_op

        return einsum_op(subscripts, *operands)
    return xp.einsum(subscripts, *operands, optimize=len(operands) > 2)


def swap_last(x: Any) -> Any:
    """``x`` with its last two axes swapped (a matrix transpose over a batch)."""
    perm = tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2)
    return x.transpose(perm)


def zeros_like(x: Any) -> Any:
    if isinstance(x, Tensor):
        from ..tensor import leaf

        return leaf(xp.zeros(x.shape, dtype=x.dtype), "const")
    return xp.zeros_like(x)
