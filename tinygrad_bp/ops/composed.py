"""PyTorch's tensor ops that are compositions of the primitives.

Each is written with the primitives (``getitem``, ``gather``, ``index_add``, ``where``,
``broadcast_to``, ``reshape``, ``prod``, ...), so its derivative, and every higher one, is
theirs; the constants (index maps, masks) are computed on the arrays first.  Semantics,
dtypes and error conditions follow PyTorch's; where PyTorch's result is unspecified (ties,
repeated indices) the docstring says what is done here.

- selecting: :func:`index_select`, :func:`index_add`,
  :func:`index_fill`, :func:`masked_select`, :func:`take`, :func:`scatter`,
  :func:`scatter_add`, :func:`unbind`, :func:`diagonal`, :func:`diag`, :func:`trace`,
  :func:`nonzero`;
- rearranging: :func:`repeat`, :func:`tile`, :func:`repeat_interleave`, :func:`roll`,
  :func:`movedim`, :func:`tril`, :func:`triu`;
- scans and products: :func:`cumprod`, :func:`outer`, :func:`dot`, :func:`mm`,
  :func:`bmm`, :func:`mv`, :func:`addmm`, :func:`baddbmm`;
- elementwise: :func:`clamp_tensors` (``clamp`` with tensor bounds), :func:`lerp`,
  :func:`round`, :func:`trunc`, :func:`frac`, :func:`nan_to_num`; :func:`broadcast_tensors`,
  :func:`meshgrid`, :func:`take_along_dim`, :func:`cdist`;
- norms: :func:`vector_norm`, :func:`matrix_norm`, :func:`linalg_norm` and :func:`norm`
  (``torch.norm`` / ``Tensor.norm``).
"""

from __future__ import annotations

import builtins
import math
from typing import Any

import numpy as np

from ..backend import xp
from ..tensor import Tensor, leaf
from ._common import check_tensor, norm_axes, one_axis, pair, to_dtype
from .elementwise import abs, add, clone, mul, pow, sqrt, sub, where
from .index import gather, getitem, index_add as _index_add, scatter as _scatter
from .index import scatter_add as _scatter_add
from .linalg import matmul
from .reduce import max, min, prod, sum
from .shape import broadcast_to, reshape, transpose

__all__ = [
    "index_select", "index_add", "index_fill", "masked_select", "take", "scatter",
    "scatter_add", "unbind", "diagonal", "diag", "trace", "nonzero", "repeat", "tile",
    "repeat_interleave", "roll", "movedim", "tril", "triu", "cumprod", "outer", "dot", "mm",
    "bmm", "mv", "addmm", "baddbmm", "clamp_tensors", "lerp", "round", "trunc", "frac",
    "nan_to_num", "broadcast_tensors", "meshgrid", "take_along_dim", "cdist",
    "vector_norm", "matrix_norm", "linalg_norm", "norm",
]  # fmt: skip


def _int_arg(v: Any, name: str, op: str) -> int:
    if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
        raise TypeError(f"{op}: {name} must be an int, got {v!r}")
    return int(v)


def _sizes(sizes: tuple[Any, ...], op: str) -> tuple[int, ...]:
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    out = tuple(_int_arg(s, "each size", op) for s in sizes)
    if builtins.any(s < 0 for s in out):
        raise ValueError(f"{op}: sizes must be non-negative, got {out}")
    return out


def _const(x: Tensor, value: Any) -> Tensor:
    """``value`` as a 0-d constant of ``x``'s dtype (so ``where`` keeps the dtype)."""
    return leaf(xp.asarray(value).astype(x.data.dtype), "const")


def _index_array(index: Any, op: str) -> Any:
    """An index as an integer array.  A float index holding whole numbers is read as
    integers, as ``gather`` and indexing do here (``Tensor([0, 2])`` is float64 by this
    library's rule, where PyTorch's would be int64)."""
    idx = index.data if isinstance(index, Tensor) else np.asarray(index)
    if idx.dtype.kind == "f" and np.all(idx == np.round(idx)):
        idx = idx.astype(np.int64)
    if idx.dtype.kind not in "iu":
        raise TypeError(
            f"{op}: index must hold integers (an int64 or int32 tensor), got dtype {idx.dtype}"
        )
    return idx


def _along(ax: int, key: Any) -> tuple[Any, ...]:
    return (slice(None),) * ax + (key,)


# ---------------------------------------------------------------- selecting
def index_select(x: Tensor, dim: int, index: Any) -> Tensor:
    """``torch.index_select``: the entries of ``x`` at ``index`` (a 1-D integer tensor)
    along ``dim``; negative indices are refused, as in PyTorch.  ∂/∂x adds g back at the
    selected places (repeated indices accumulate).

    Examples
    --------
    >>> import numpy as np
    >>> import tinygrad_bp as tg
    >>> x = tg.Tensor(np.arange(6.0).reshape(2, 3))
    >>> x.index_select(1, tg.tensor([2, 0]))
    Tensor([[2., 0.],
            [5., 3.]])
    """
    x = check_tensor(x, "index_select")
    idx = _index_array(index, "index_select")
    if idx.ndim > 1:
        raise IndexError(f"index_select: index must be a vector (1-D), got shape {idx.shape}")
    xd = x.data
    if xd.ndim == 0:
        one_axis(dim, 1, "index_select")
        if idx.size != 1 or int(idx.reshape(-1)[0]) != 0:
            raise IndexError(
                f"index_select: a 0-d tensor takes one index 0, got {idx.reshape(-1).tolist()}"
            )
        return clone(reshape(x, idx.shape))
    ax = one_axis(dim, xd.ndim, "index_select")
    flat = idx.reshape(-1)
    n = xd.shape[ax]
    if flat.size and (flat.min() < 0 or flat.max() >= n):
        bad = flat[(flat < 0) | (flat >= n)][0]
        raise IndexError(
            f"index_select: index {int(bad)} is out of range for dim {dim} of size {n} "
            f"(valid: 0..{n - 1}; negative indices are refused, as in PyTorch)"
        )
    return getitem(x, _along(ax, flat.astype(np.intp)))


def index_add(x: Tensor, dim: int, index: Any, source: Any, alpha: Any = 1) -> Tensor:
    """``torch.index_add``: ``x`` with ``alpha * source`` added at ``index`` along ``dim``
    (repeated indices accumulate).  ∂/∂x = g, ∂/∂source = alpha · g at the indices."""
    x = check_tensor(x, "index_add")
    idx = _index_array(index, "index_add").reshape(-1)
    ax = one_axis(dim, builtins.max(x.data.ndim, 1), "index_add")
    src = source if isinstance(source, Tensor) else Tensor(source, dtype=x.data.dtype)
    want = x.data.shape[:ax] + (idx.size,) + x.data.shape[ax + 1 :]
    if src.data.shape != want:
        raise ValueError(
            f"index_add: source must have shape {want} (the input's, with {idx.size} along "
            f"dim {dim}), got {src.data.shape}"
        )
    n = x.data.shape[ax]
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError(f"index_add: an index is out of range for dim {dim} of size {n}")
    if alpha != 1:
        src = mul(src, alpha)
    src = to_dtype(src, x.data.dtype)
    return add(x, _index_add(src, x.data.shape, _along(ax, idx.astype(np.intp)), True))


def index_fill(x: Tensor, dim: int, index: Any, value: Any) -> Tensor:
    """``torch.index_fill``: ``value`` at ``index`` along ``dim``; ∂/∂x = g elsewhere."""
    x = check_tensor(x, "index_fill")
    idx = _index_array(index, "index_fill").reshape(-1)
    ax = one_axis(dim, x.data.ndim, "index_fill")
    mask = xp.zeros(x.data.shape, dtype=bool)
    mask[_along(ax, idx.astype(np.intp))] = True
    v = value if isinstance(value, Tensor) else _const(x, value)
    return where(mask, v, x)


def masked_select(x: Tensor, mask: Any) -> Tensor:
    """``torch.masked_select``: the entries where ``mask`` (broadcast to ``x``) is True,
    as a 1-D tensor.  ∂/∂x = g at those places."""
    x = check_tensor(x, "masked_select")
    m = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != bool:
        raise TypeError(f"masked_select: mask must be boolean, got dtype {m.dtype}")
    try:
        shape = np.broadcast_shapes(x.data.shape, m.shape)
    except ValueError:
        raise ValueError(
            f"masked_select: mask of shape {m.shape} does not broadcast with the input's "
            f"shape {x.data.shape}"
        ) from None
    xb = x if x.data.shape == shape else broadcast_to(x, shape)
    return getitem(xb, xp.broadcast_to(m, shape))


def take(x: Tensor, index: Any) -> Tensor:
    """``torch.take``: ``x`` read as 1-D at ``index`` (negative indices count from the end);
    the result has ``index``'s shape."""
    x = check_tensor(x, "take")
    idx = _index_array(index, "take")
    n = x.data.size
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError(f"take: an index is out of range for a tensor of {n} elements")
    return getitem(reshape(x, (n,)), idx.astype(np.intp))


def scatter(x: Tensor, dim: int, index: Any, src: Any = None, *, value: Any = None,
            reduce: Any = None) -> Tensor:  # fmt: skip
    """``torch.scatter``: ``x`` with ``src[i][j][k]`` written at ``index[i][j][k]`` along
    ``dim`` (or the number ``value`` at every indexed place).  Where an index repeats,
    PyTorch leaves unspecified which value is kept; so does this.  ∂/∂x = g with the
    written places zeroed, ∂/∂src = g gathered at ``index``, as PyTorch."""
    x = check_tensor(x, "scatter")
    if reduce is not None:
        raise ValueError(
            f"scatter: reduce={reduce!r} is not built (PyTorch deprecates it); write "
            f"x.scatter_add(dim, index, src) for 'add'"
        )
    if (src is None) == (value is None):
        raise TypeError("scatter: give either src (a tensor or a number) or value")
    if value is not None:
        src = value
    if isinstance(src, Tensor):
        return _scatter(x, dim, index, src)
    if isinstance(src, np.ndarray) and src.ndim:
        raise TypeError("scatter: src must be a Tensor or a number, got a NumPy array")
    ax = one_axis(dim, x.data.ndim, "scatter")
    idx = _index_array(index, "scatter")
    from .index import _check_gather

    _check_gather(x.data.shape, ax, idx, "scatter")
    from . import dialect as D

    mask = xp.zeros(x.data.shape, dtype=bool)
    mask[D._gather_key(idx, ax)] = True
    return where(mask, _const(x, src), x)


def scatter_add(x: Tensor, dim: int, index: Any, src: Tensor) -> Tensor:
    """``torch.scatter_add``: ``x`` with ``src[i][j][k]`` added at ``index[i][j][k]`` along
    ``dim``; repeated indices accumulate.  ∂/∂x = g, ∂/∂src = g gathered at ``index``."""
    x = check_tensor(x, "scatter_add")
    src = check_tensor(src, "scatter_add")
    xd, sd = x.data, src.data
    if sd.dtype != xd.dtype:
        raise TypeError(
            f"scatter_add: src must have the input's dtype {xd.dtype}, got {sd.dtype} (as "
            f"PyTorch: cast it with .to(...))"
        )
    ax = one_axis(dim, xd.ndim, "scatter_add")
    idx = _index_array(index, "scatter_add")
    from .index import _check_gather, _check_src

    _check_gather(xd.shape, ax, idx, "scatter_add")
    _check_src(sd.shape, idx, "scatter_add")
    part = src
    if idx.shape != sd.shape:
        part = getitem(src, tuple(slice(0, m) for m in idx.shape))
    return add(x, _scatter_add(part, xd.shape, ax, idx))


def unbind(x: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    """``torch.unbind``: the slices along ``dim``, each a view of ``x``."""
    x = check_tensor(x, "unbind")
    ax = one_axis(dim, x.data.ndim, "unbind")
    return tuple(getitem(x, _along(ax, i)) for i in range(x.data.shape[ax]))


def diagonal(x: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """``torch.diagonal``: the diagonal of the (``dim1``, ``dim2``) planes, moved to the
    last axis.  ∂/∂x = g on that diagonal."""
    x = check_tensor(x, "diagonal")
    nd = x.data.ndim
    if nd < 2:
        raise ValueError(f"diagonal: needs at least 2 dims, got shape {x.data.shape}")
    offset = _int_arg(offset, "offset", "diagonal")
    a, b = one_axis(dim1, nd, "diagonal"), one_axis(dim2, nd, "diagonal")
    if a == b:
        raise ValueError(f"diagonal: dim1 and dim2 must differ, got {dim1} and {dim2}")
    rest = [i for i in range(nd) if i not in (a, b)]
    t = transpose(x, tuple(rest) + (a, b))
    n, m = x.data.shape[a], x.data.shape[b]
    k = builtins.max(0, builtins.min(n, m - offset) if offset >= 0 else builtins.min(n + offset, m))
    i = np.arange(k) + builtins.max(-offset, 0)
    j = np.arange(k) + builtins.max(offset, 0)
    return getitem(t, (Ellipsis, i, j))


def diag(x: Tensor, diagonal: int = 0) -> Tensor:
    """``torch.diag``: a 1-D ``x`` as the ``diagonal``-th diagonal of a square matrix, or
    a 2-D ``x``'s diagonal."""
    x = check_tensor(x, "diag")
    k = _int_arg(diagonal, "diagonal", "diag")
    if x.data.ndim == 2:
        return globals()["diagonal"](x, k)
    if x.data.ndim != 1:
        raise ValueError(f"diag: expected a 1-D or 2-D tensor, got shape {x.data.shape}")
    n = x.data.shape[0] + builtins.abs(k)
    i = np.arange(x.data.shape[0])
    key = (i + builtins.max(-k, 0), i + builtins.max(k, 0))
    return _index_add(x, (n, n), key, True)


def trace(x: Tensor) -> Tensor:
    """``torch.trace``: the sum of a matrix's diagonal."""
    x = check_tensor(x, "trace")
    if x.data.ndim != 2:
        raise ValueError(f"trace: expected a matrix (2-D), got shape {x.data.shape}")
    return sum(diagonal(x))


def nonzero(x: Tensor, as_tuple: bool = False) -> Any:
    """``torch.nonzero``: the indices of the nonzero entries, an int64 tensor of shape
    ``(count, ndim)`` (or, with ``as_tuple=True``, one 1-D tensor per dim)."""
    x = check_tensor(x, "nonzero")
    xd = x.data if x.data.ndim else x.data.reshape(1)
    found = xp.nonzero(xd)
    if as_tuple:
        return tuple(leaf(f.astype(np.int64)) for f in found)
    stacked = xp.stack(found, axis=1) if found else xp.zeros((0, 0))
    return leaf(stacked.astype(np.int64).reshape(-1, x.data.ndim))


# ---------------------------------------------------------------- rearranging
def repeat(x: Tensor, *sizes: Any) -> Tensor:
    """``Tensor.repeat``: ``x`` tiled ``sizes[i]`` times along each axis (new leading axes
    where ``sizes`` is longer than ``x``'s dims).  ∂/∂x sums g's tiles.

    Examples
    --------
    >>> import tinygrad_bp as tg
    >>> tg.Tensor([1.0, 2.0]).repeat(2, 2)
    Tensor([[1., 2., 1., 2.],
            [1., 2., 1., 2.]])
    """
    x = check_tensor(x, "repeat")
    reps = _sizes(sizes, "repeat")
    if len(reps) < x.data.ndim:
        raise ValueError(
            f"repeat: needs a size for each of the tensor's {x.data.ndim} dims, got {reps} "
            f"(as PyTorch; x.tile(...) pads the sizes with leading 1s)"
        )
    shape = (1,) * (len(reps) - x.data.ndim) + x.data.shape
    inter = tuple(v for n in shape for v in (1, n))
    wide = tuple(v for r, n in zip(reps, shape) for v in (r, n))
    out = broadcast_to(reshape(x, inter), wide)
    out = reshape(out, tuple(r * n for r, n in zip(reps, shape)))
    # a new tensor, as PyTorch's (sizes of 1 leave the read-only broadcast view, which
    # shares x's memory and refuses an in-place change)
    return out if out.data.flags.writeable else clone(out)


def tile(x: Tensor, *dims: Any) -> Tensor:
    """``torch.tile``: :func:`repeat`, with ``dims`` padded with leading 1s to the
    tensor's number of dims."""
    x = check_tensor(x, "tile")
    reps = _sizes(dims, "tile")
    return repeat(x, (1,) * (x.data.ndim - len(reps)) + reps)


def repeat_interleave(x: Tensor, repeats: Any, dim: Any = None, *,
                      output_size: Any = None) -> Tensor:  # fmt: skip
    """``torch.repeat_interleave``: each entry repeated ``repeats`` times (an int, or one
    count per entry along ``dim``) along ``dim``, or along the flattened tensor when
    ``dim`` is None.  ∂/∂x sums g over each entry's copies."""
    x = check_tensor(x, "repeat_interleave")
    if dim is None:
        x = reshape(x, (-1,))
        ax = 0
    else:
        ax = one_axis(dim, builtins.max(x.data.ndim, 1), "repeat_interleave")
        if x.data.ndim == 0:
            x = reshape(x, (1,))
    n = x.data.shape[ax]
    r = repeats.data if isinstance(repeats, Tensor) else np.asarray(repeats)
    if r.dtype.kind not in "iu" or r.ndim > 1:
        raise TypeError(
            f"repeat_interleave: repeats must be an int or a 1-D integer tensor, got {repeats!r}"
        )
    if r.size == 1:
        r = np.full(n, int(r.reshape(-1)[0]))
    elif r.shape != (n,):
        raise ValueError(
            f"repeat_interleave: repeats must have one count per entry along the dim ({n}), "
            f"got shape {r.shape}"
        )
    if r.size and r.min() < 0:
        raise ValueError("repeat_interleave: repeats must be non-negative")
    if output_size is not None and int(output_size) != int(r.sum()):
        raise ValueError(
            f"repeat_interleave: output_size={output_size} differs from the repeats' sum {r.sum()}"
        )
    return getitem(x, _along(ax, np.repeat(np.arange(n), r)))


def roll(x: Tensor, shifts: Any, dims: Any = None) -> Tensor:
    """``torch.roll``: entries shifted by ``shifts`` along ``dims`` (wrapping around); the
    flattened tensor when ``dims`` is None.  ∂/∂x is g rolled back."""
    x = check_tensor(x, "roll")
    sh = tuple(shifts) if isinstance(shifts, (tuple, list)) else (shifts,)
    sh = tuple(_int_arg(s, "shifts", "roll") for s in sh)
    if dims is None:
        if len(sh) != 1:
            raise ValueError(f"roll: without dims, shifts must be one int, got {shifts!r}")
        return reshape(roll(reshape(x, (-1,)), sh[0], 0), x.data.shape)
    ds = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
    if len(ds) != len(sh):
        raise ValueError(f"roll: shifts and dims must align, got shifts {shifts!r}, dims {dims!r}")
    out = x
    for s, d in zip(sh, ds):
        ax = one_axis(d, x.data.ndim, "roll")
        n = x.data.shape[ax]
        if n and s % n:
            out = getitem(out, _along(ax, (np.arange(n) - s) % n))
    return out if out is not x else clone(x)


def movedim(x: Tensor, source: Any, destination: Any) -> Tensor:
    """``torch.movedim``: the axes ``source`` moved to ``destination``, the others in
    their order."""
    x = check_tensor(x, "movedim")
    nd = x.data.ndim
    src = norm_axes(source if isinstance(source, (tuple, list)) else (source,), nd, "movedim")
    dst = norm_axes(
        destination if isinstance(destination, (tuple, list)) else (destination,), nd, "movedim"
    )
    if len(src) != len(dst):
        raise ValueError(
            f"movedim: source {source!r} and destination {destination!r} differ in length"
        )
    placed: dict[int, int] = dict(zip(dst, src))
    rest = iter(i for i in range(nd) if i not in src)
    return transpose(x, tuple(placed[d] if d in placed else next(rest) for d in range(nd)))


def _triangle(x: Tensor, diagonal: int, op: str, lower: bool) -> Tensor:
    x = check_tensor(x, op)
    k = _int_arg(diagonal, "diagonal", op)
    if x.data.ndim < 2:
        raise ValueError(
            f"{op}: input tensor must have at least 2 dimensions, got shape {x.data.shape}"
        )
    m, n = x.data.shape[-2:]
    keep = np.tri(m, n, k, dtype=bool) if lower else ~np.tri(m, n, k - 1, dtype=bool)
    return where(keep, x, _const(x, 0))


def tril(x: Tensor, diagonal: int = 0) -> Tensor:
    """``torch.tril``: the lower triangle (on and below the ``diagonal``-th diagonal) of
    the last two axes, zeros above; ∂/∂x = g on the triangle."""
    return _triangle(x, diagonal, "tril", True)


def triu(x: Tensor, diagonal: int = 0) -> Tensor:
    """``torch.triu``: the upper triangle of the last two axes, zeros below."""
    return _triangle(x, diagonal, "triu", False)


# ---------------------------------------------------------------- scans and products
def cumprod(x: Tensor, dim: int) -> Tensor:
    """``torch.cumprod`` along ``dim`` (integers and booleans as int64, as PyTorch).  The
    running products are the products of masked rows (``prod``'s derivative, exact at
    zeros); that takes n² memory along the axis."""
    x = check_tensor(x, "cumprod")
    if x.data.dtype.kind in "biu" and x.data.dtype != np.int64:
        x = leaf(x.data.astype(np.int64))
    if x.data.ndim == 0:
        one_axis(dim, 1, "cumprod")
        return clone(x)  # a new tensor, as PyTorch's
    ax = one_axis(dim, x.data.ndim, "cumprod")
    n = x.data.shape[ax]
    moved = movedim(x, ax, -1)
    rows = broadcast_to(reshape(moved, moved.data.shape[:-1] + (1, n)), moved.data.shape + (n,))
    tri = np.tri(n, n, dtype=bool)
    return movedim(prod(where(tri, rows, _const(x, 1)), axis=-1), -1, ax)


def _check_dims(op: str, *pairs: tuple[Any, int, str]) -> None:
    for t, nd, name in pairs:
        if t.data.ndim != nd:
            raise ValueError(f"{op}: {name} must be {nd}-D, got shape {t.data.shape}")


def outer(a: Any, b: Any) -> Tensor:
    """``torch.outer``: ``a[i] * b[j]`` of two 1-D tensors."""
    a, b = pair(a, b, "outer")
    _check_dims("outer", (a, 1, "the first vector"), (b, 1, "the second vector"))
    return mul(reshape(a, (-1, 1)), reshape(b, (1, -1)))


def _same_dtype(op: str, a: Tensor, b: Tensor) -> None:
    if a.data.dtype != b.data.dtype:
        raise TypeError(
            f"{op}: expected both operands to have the same dtype, got {a.data.dtype} and "
            f"{b.data.dtype} (as PyTorch; cast one with .to(...))"
        )


def dot(a: Tensor, b: Tensor) -> Tensor:
    """``torch.dot``: the inner product of two 1-D tensors of one dtype and length."""
    a, b = check_tensor(a, "dot"), check_tensor(b, "dot")
    _check_dims("dot", (a, 1, "the first vector"), (b, 1, "the second vector"))
    _same_dtype("dot", a, b)
    if a.data.shape != b.data.shape:
        raise ValueError(
            f"dot: the vectors must have the same length, got {a.data.shape[0]} and "
            f"{b.data.shape[0]}"
        )
    return matmul(a, b)


def mm(a: Tensor, b: Tensor) -> Tensor:
    """``torch.mm``: the product of two matrices (2-D only; ``@`` broadcasts)."""
    a, b = check_tensor(a, "mm"), check_tensor(b, "mm")
    _check_dims("mm", (a, 2, "the first operand"), (b, 2, "the second operand"))
    return matmul(a, b)


def bmm(a: Tensor, b: Tensor) -> Tensor:
    """``torch.bmm``: batched matrix products of two 3-D tensors with one batch size."""
    a, b = check_tensor(a, "bmm"), check_tensor(b, "bmm")
    _check_dims("bmm", (a, 3, "batch1"), (b, 3, "batch2"))
    if a.data.shape[0] != b.data.shape[0]:
        raise ValueError(
            f"bmm: batch sizes differ: {a.data.shape} and {b.data.shape} (no broadcasting; "
            f"use @ for that)"
        )
    return matmul(a, b)


def mv(a: Tensor, v: Tensor) -> Tensor:
    """``torch.mv``: a matrix times a vector."""
    a, v = check_tensor(a, "mv"), check_tensor(v, "mv")
    _check_dims("mv", (a, 2, "the matrix"), (v, 1, "the vector"))
    return matmul(a, v)


def _scaled_add(op: str, inp: Any, prod_: Tensor, beta: Any, alpha: Any) -> Tensor:
    if alpha != 1:
        prod_ = mul(prod_, alpha)
    if beta == 0:  # as PyTorch: the input is ignored (its NaN and inf are not propagated)
        return prod_
    inp = inp if isinstance(inp, Tensor) else Tensor(inp, dtype=prod_.data.dtype)
    try:
        np.broadcast_shapes(inp.data.shape, prod_.data.shape)
    except ValueError:
        raise ValueError(
            f"{op}: input of shape {inp.data.shape} does not broadcast to the product's "
            f"shape {prod_.data.shape}"
        ) from None
    return add(inp if beta == 1 else mul(inp, beta), prod_)


def addmm(inp: Any, mat1: Tensor, mat2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """``torch.addmm``: ``beta * input + alpha * (mat1 @ mat2)``."""
    return _scaled_add("addmm", inp, mm(mat1, mat2), beta, alpha)


def baddbmm(inp: Any, batch1: Tensor, batch2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """``torch.baddbmm``: ``beta * input + alpha * bmm(batch1, batch2)``."""
    return _scaled_add("baddbmm", inp, bmm(batch1, batch2), beta, alpha)


# ---------------------------------------------------------------- elementwise
def clamp_tensors(x: Tensor, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    """``torch.clamp`` with tensor bounds (broadcast with ``x``): ``min`` where ``x <
    min``, then ``max`` where above it (so ``max`` wins where ``min > max``); a NaN bound
    gives NaN.  ∂/∂x = g where min ≤ x ≤ max, ∂/∂min = g where x < min, ∂/∂max = g where
    the result would exceed max, as PyTorch."""
    x = check_tensor(x, "clamp")
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    out = x
    for bound, below in ((min, True), (max, False)):
        if bound is None:
            continue
        out, b = pair(out, bound, "clamp")
        od, bd = out.data, b.data
        with np.errstate(invalid="ignore"):
            take = (od < bd) if below else (od > bd)
            if bd.dtype.kind == "f":
                take = take | xp.isnan(bd)
        try:
            out = where(take, b, out)
        except ValueError:
            raise ValueError(
                f"clamp: bound of shape {bd.shape} does not broadcast with the input's shape "
                f"{x.data.shape}"
            ) from None
    return out


def lerp(start: Tensor, end: Any, weight: Any) -> Tensor:
    """``torch.lerp``: ``start + weight * (end - start)`` (PyTorch's formula: from ``end``
    backwards where ``weight >= 0.5``, so ``weight = 1`` gives ``end`` exactly)."""
    start = check_tensor(start, "lerp")
    diff = sub(end, start)
    if isinstance(weight, Tensor):
        w = weight.data
        low = add(start, mul(weight, diff))
        high = sub(end, mul(diff, sub(1.0, weight)))
        return where(xp.abs(w) < 0.5, low, high)
    if builtins.abs(weight) < 0.5:
        return add(start, mul(diff, weight))
    return sub(end, mul(diff, 1.0 - weight))


def _values_only(x: Tensor, values: Any) -> Tensor:
    """``values`` (of ``x``'s shape) as a node whose gradient to ``x`` is 0 (PyTorch's
    derivative of rounding)."""
    return where(xp.zeros(x.data.shape, dtype=bool), x, leaf(values, "const"))


def round(x: Tensor, decimals: int = 0) -> Tensor:  # noqa: A001
    """``torch.round``: to the nearest integer, halves to even (or to ``decimals``
    places); a zero gradient."""
    x = check_tensor(x, "round")
    if x.data.dtype.kind != "f":
        return clone(x)  # a new tensor, as PyTorch's
    return _values_only(x, xp.round(x.data, _int_arg(decimals, "decimals", "round")))


def trunc(x: Tensor) -> Tensor:
    """``torch.trunc``: rounded towards zero; a zero gradient."""
    x = check_tensor(x, "trunc")
    if x.data.dtype.kind != "f":
        return clone(x)  # a new tensor, as PyTorch's
    return _values_only(x, xp.trunc(x.data))


def frac(x: Tensor) -> Tensor:
    """``torch.frac``: ``x - trunc(x)``; ∂/∂x = g."""
    return sub(x, trunc(x))


def nan_to_num(x: Tensor, nan: float = 0.0, posinf: Any = None, neginf: Any = None) -> Tensor:
    """``torch.nan_to_num``: NaN, +inf and -inf replaced (by 0 and the dtype's largest and
    smallest finite numbers by default); ∂/∂x = g where ``x`` was finite, 0 elsewhere."""
    x = check_tensor(x, "nan_to_num")
    xd = x.data
    if xd.dtype.kind != "f":
        return clone(x)  # a new tensor, as PyTorch's
    values = xp.nan_to_num(xd, nan=nan, posinf=posinf, neginf=neginf)
    return where(xp.isfinite(xd), x, leaf(values.astype(xd.dtype, copy=False), "const"))


def broadcast_tensors(*tensors: Tensor) -> tuple[Tensor, ...]:
    """``torch.broadcast_tensors``: each broadcast to their common shape (views)."""
    ts = [check_tensor(t, "broadcast_tensors") for t in tensors]
    try:
        shape = np.broadcast_shapes(*(t.data.shape for t in ts))
    except ValueError:
        raise ValueError(
            f"broadcast_tensors: shapes {[t.data.shape for t in ts]} do not broadcast together"
        ) from None
    return tuple(t if t.data.shape == shape else broadcast_to(t, shape) for t in ts)


def meshgrid(*tensors: Any, indexing: str | None = None) -> tuple[Tensor, ...]:
    """``torch.meshgrid`` of 1-D (or 0-d) tensors: ``indexing="ij"`` (PyTorch's default)
    or ``"xy"`` (the first two axes swapped, as NumPy's default)."""
    if len(tensors) == 1 and isinstance(tensors[0], (tuple, list)):
        tensors = tuple(tensors[0])
    ts = [check_tensor(t, "meshgrid") for t in tensors]
    if indexing is None:
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    if any(t.data.ndim > 1 for t in ts):
        raise ValueError(
            f"meshgrid: expects 0-d or 1-D tensors, got shapes {[t.data.shape for t in ts]}"
        )
    ts = [reshape(t, (-1,)) for t in ts]
    n = len(ts)
    swap = indexing == "xy" and n >= 2
    sizes = [t.data.shape[0] for t in ts]
    if swap:
        sizes[0], sizes[1] = sizes[1], sizes[0]
    out = []
    for i, t in enumerate(ts):
        shape = [1] * n
        shape[1 - i if swap and i < 2 else i] = -1
        out.append(broadcast_to(reshape(t, tuple(shape)), tuple(sizes)))
    return tuple(out)


def take_along_dim(x: Tensor, indices: Any, dim: Any = None) -> Tensor:
    """``torch.take_along_dim``: ``gather`` along ``dim`` with the other axes of ``x`` and
    ``indices`` broadcast; ``dim=None`` reads both flattened."""
    x = check_tensor(x, "take_along_dim")
    idx = _index_array(indices, "take_along_dim")
    if dim is None:
        return take(x, idx.reshape(-1))
    ax = one_axis(dim, x.data.ndim, "take_along_dim")
    if idx.ndim != x.data.ndim:
        raise ValueError(
            f"take_along_dim: indices must have the input's {x.data.ndim} dims, got shape "
            f"{idx.shape}"
        )
    xs, js = list(x.data.shape), list(idx.shape)
    xs[ax] = js[ax] = 1
    try:
        common = np.broadcast_shapes(tuple(xs), tuple(js))
    except ValueError:
        raise ValueError(
            f"take_along_dim: input shape {x.data.shape} and indices shape {idx.shape} do "
            f"not broadcast outside dim {dim}"
        ) from None
    xb = list(common)
    xb[ax] = x.data.shape[ax]
    jb = list(common)
    jb[ax] = idx.shape[ax]
    xt = x if tuple(xb) == x.data.shape else broadcast_to(x, tuple(xb))
    return gather(xt, ax, np.broadcast_to(idx, tuple(jb)))


def cdist(x1: Tensor, x2: Tensor, p: float = 2.0) -> Tensor:
    """``torch.cdist``: the ``p``-norm distance of every row of ``x1 (…, P, M)`` to every
    row of ``x2 (…, R, M)``, ``(…, P, R)``; formed from the differences (PyTorch's
    matrix-product shortcut for large inputs rounds differently)."""
    x1, x2 = check_tensor(x1, "cdist"), check_tensor(x2, "cdist")
    if x1.data.ndim < 2 or x2.data.ndim < 2 or x1.data.shape[-1] != x2.data.shape[-1]:
        raise ValueError(
            f"cdist: expected x1 (…, P, M) and x2 (…, R, M) with the same M, got shapes "
            f"{x1.data.shape} and {x2.data.shape}"
        )
    a = reshape(x1, x1.data.shape[:-1] + (1, x1.data.shape[-1]))
    b = reshape(x2, x2.data.shape[:-2] + (1,) + x2.data.shape[-2:])
    return vector_norm(sub(a, b), p, -1)


# ---------------------------------------------------------------- norms
def _floating(x: Tensor, op: str, dtype: Any) -> Tensor:
    x = check_tensor(x, op)
    if dtype is not None:
        x = to_dtype(x, np.dtype(dtype))
    if x.data.dtype.kind != "f":
        raise TypeError(
            f"{op}: expected a floating-point tensor, got dtype {x.data.dtype} (as PyTorch: "
            f"call .double() or .float() first, or pass dtype=)"
        )
    return x


def _root(s: Tensor, e: float) -> Tensor:
    """``s ** e`` with 0 at ``s = 0`` and a zero gradient there (PyTorch's norm has a zero
    subgradient at 0), without a 0·∞ anywhere in the derivatives."""
    zero = s.data == 0
    if not zero.any():
        return sqrt(s) if e == 0.5 else pow(s, e)
    safe = where(zero, _const(s, 1), s)
    return where(zero, _const(s, 0), sqrt(safe) if e == 0.5 else pow(safe, e))


def vector_norm(x: Tensor, ord: Any = 2, dim: Any = None, keepdim: bool = False, *,  # noqa: A002
                dtype: Any = None) -> Tensor:  # fmt: skip
    """``torch.linalg.vector_norm``: ``(Σ|x|^ord)^(1/ord)`` over ``dim`` (all entries when
    None); ``ord`` = inf / -inf the largest / smallest ``|x|``, ``ord`` = 0 the count of
    nonzeros.  Its gradient at a zero norm is 0, as PyTorch's.

    Examples
    --------
    >>> import tinygrad_bp as tg
    >>> tg.linalg.vector_norm(tg.Tensor([3.0, -4.0])).item()
    5.0
    >>> tg.linalg.vector_norm(tg.Tensor([3.0, -4.0]), ord=float("inf")).item()
    4.0
    """
    x = _floating(x, "vector_norm", dtype)
    if isinstance(ord, (bool, str)) or not isinstance(ord, (int, float, np.integer, np.floating)):
        raise TypeError(
            f"vector_norm: ord must be a number (or inf), got {ord!r}; for 'fro' or 'nuc' "
            f"use tg.linalg.matrix_norm"
        )
    ord = float(ord)
    axes = norm_axes(dim, x.data.ndim, "vector_norm")
    keepdim = bool(keepdim)
    if x.data.size == 0 and ord < 0 or (ord == math.inf and 0 in x.data.shape):
        if builtins.any(x.data.shape[i] == 0 for i in axes) or not axes:
            raise RuntimeError(
                f"vector_norm: cannot compute the {ord} norm of an empty dimension (shape "
                f"{x.data.shape}), as in PyTorch"
            )
    if ord == math.inf:
        return max(abs(x), axes, keepdim)
    if ord == -math.inf:
        return min(abs(x), axes, keepdim)
    if ord == 0:  # the count of nonzeros; a zero gradient (a where that never picks x)
        count = sum(leaf((x.data != 0).astype(x.data.dtype)), axes, keepdim)
        never = xp.zeros(x.data.shape, dtype=bool)
        return add(count, sum(where(never, x, _const(x, 0)), axes, keepdim))
    if ord == 1:
        return sum(abs(x), axes, keepdim)
    if ord == 2:
        return _root(sum(mul(x, x), axes, keepdim), 0.5)
    return _root(sum(pow(abs(x), ord), axes, keepdim), 1.0 / ord)


_SVD_ORDS = ("nuc", 2, -2)


def matrix_norm(x: Tensor, ord: Any = "fro", dim: Any = (-2, -1), keepdim: bool = False, *,  # noqa: A002
                dtype: Any = None) -> Tensor:  # fmt: skip
    """``torch.linalg.matrix_norm`` over the two axes ``dim``: ``'fro'`` (Frobenius),
    1 / -1 (the largest / smallest column sum of ``|x|``), inf / -inf (row sums).  The
    orders that need singular values (``'nuc'``, 2, -2) are refused by name."""
    x = _floating(x, "matrix_norm", dtype)
    if x.data.ndim < 2:
        raise ValueError(
            f"matrix_norm: the input must have at least 2 dimensions, got shape {x.data.shape}"
        )
    if not isinstance(dim, (tuple, list)) or len(dim) != 2:
        raise ValueError(f"matrix_norm: dim must be a 2-tuple, got {dim!r}")
    a, b = norm_axes(tuple(dim), x.data.ndim, "matrix_norm")
    if ord in _SVD_ORDS and not isinstance(ord, bool):
        raise ValueError(
            f"matrix_norm: ord={ord!r} needs singular values (an SVD), which tinygrad_bp does "
            f"not build; use 'fro', 1, -1, inf or -inf, or np.linalg.norm(x.numpy(), "
            f"{ord!r}) outside the graph"
        )
    if ord == "fro":
        return vector_norm(x, 2, (a, b), keepdim)
    if ord in (1, -1, math.inf, -math.inf) and not isinstance(ord, bool):
        # 1: max over columns (b) of the sums over rows (a); inf: the other way round
        inner, outer_ = (a, b) if builtins.abs(ord) == 1 else (b, a)
        sums = sum(abs(x), inner, True)
        pick = max if ord > 0 else min
        out = pick(sums, outer_, True)
        if not keepdim:
            out = reshape(out, tuple(n for i, n in enumerate(out.data.shape) if i not in (a, b)))
        return out
    raise ValueError(
        f"matrix_norm: ord must be one of 'fro', 'nuc', inf, -inf, 1, -1, 2, -2, got {ord!r}"
    )


def linalg_norm(x: Tensor, ord: Any = None, dim: Any = None, keepdim: bool = False, *,  # noqa: A002
                dtype: Any = None) -> Tensor:  # fmt: skip
    """``torch.linalg.norm``: a vector norm over one ``dim`` (or over everything when
    ``ord`` and ``dim`` are None), a matrix norm over a pair of dims (or of a 2-D input
    when ``ord`` is given without ``dim``)."""
    x = check_tensor(x, "linalg.norm")
    if dim is not None:
        d = tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)
        if len(d) == 1:
            return vector_norm(x, 2 if ord is None else ord, d, keepdim, dtype=dtype)
        if len(d) == 2:
            return matrix_norm(x, "fro" if ord is None else ord, d, keepdim, dtype=dtype)
        raise ValueError(f"linalg.norm: dim must be an int or a 1- or 2-tuple, got {dim!r}")
    if ord is None:
        return vector_norm(x, 2, None, keepdim, dtype=dtype)
    if x.data.ndim == 1:
        return vector_norm(x, ord, None, keepdim, dtype=dtype)
    if x.data.ndim == 2:
        return matrix_norm(x, ord, (-2, -1), keepdim, dtype=dtype)
    raise ValueError(
        f"linalg.norm: if dim is not given but ord is, the input must be 1-D or 2-D, got "
        f"shape {x.data.shape} (as PyTorch)"
    )


def norm(x: Tensor, p: Any = "fro", dim: Any = None, keepdim: bool = False,
         dtype: Any = None) -> Tensor:  # fmt: skip
    """``torch.norm`` / ``Tensor.norm``: a number ``p`` is the vector ``p``-norm over
    ``dim`` (all entries when None); ``'fro'`` the 2-norm over ``dim`` (one or two
    axes); ``'nuc'`` is refused (it needs an SVD).

    Examples
    --------
    >>> import tinygrad_bp as tg
    >>> tg.Tensor([[3.0, 4.0], [0.0, 0.0]]).norm(dim=1)
    Tensor([5., 0.])
    """
    x = check_tensor(x, "norm")
    if isinstance(p, str):
        if p == "nuc":
            return matrix_norm(x, "nuc", (-2, -1) if dim is None else dim, keepdim, dtype=dtype)
        if p != "fro":
            raise ValueError(f"norm: p must be a number, 'fro' or 'nuc', got {p!r}")
        if dim is not None:
            d = tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)
            if len(d) > 2:
                raise ValueError(f"norm: 'fro' takes one or two dims, got {dim!r}")
        return vector_norm(x, 2, dim, keepdim, dtype=dtype)
    if p is None:
        p = 2
    return vector_norm(x, p, dim, keepdim, dtype=dtype)
