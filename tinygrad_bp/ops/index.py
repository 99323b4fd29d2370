"""Indexing: ``x[key]`` and ``gather``, and their adjoints (scatter-adds into zeros).

Each pair is the other's backward, so indexing can be differentiated to any order.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from ..backend import xp
from ..tensor import Tensor, as_view, make_node
from . import dialect as D
from ._common import primitive, one_axis

__all__ = ["getitem", "index_add", "gather", "scatter_add", "index_put", "index_key", "scatter"]


def _index_key(index: Any) -> Any:
    """Unwrap tensors in an index; boolean masks select; float index arrays must hold
    integers."""
    if isinstance(index, tuple):
        return tuple(_index_key(i) for i in index)
    if isinstance(index, Tensor):
        index = index.data
    if isinstance(index, list):
        index = np.asarray(index)
    if isinstance(index, np.ndarray) and index.dtype.kind == "f":
        if not np.all(index == np.round(index)):
            raise IndexError(f"getitem: index arrays must hold integers, got {index.dtype} values")
        index = index.astype(np.intp)
    return index


def index_key(index: Any) -> Any:
    """An index as NumPy takes it: tensors unwrapped, integer-valued floats as integers."""
    return _index_key(index)


def _is_advanced(key: Any) -> bool:
    items = key if isinstance(key, tuple) else (key,)
    return builtins.any(isinstance(i, np.ndarray) for i in items)


@primitive("index", "g scattered into zeros")
def getitem(x: Tensor, index: Any) -> Tensor:
    """``x[index]``: basic slicing, integer arrays and boolean masks, as in NumPy.
    ∂/∂x scatters g back into zeros; repeated indices accumulate (``np.add.at``)."""
    key = _index_key(index)
    xd = x.data
    try:
        out = xd[key]
    except IndexError as exc:
        raise IndexError(f"getitem: {exc} (tensor shape {xd.shape}, index {index!r})") from None
    advanced = _is_advanced(key)
    shape = xd.shape

    def backward(g: Any) -> tuple[Any]:
        return (D.index_add(shape, key, g, advanced),)

    if advanced:
        return make_node(xp.asarray(out), (x,), "getitem", backward)
    # basic indexing is a view of x's memory, as in PyTorch (with ... at the end, a full
    # integer index gives a 0-d view rather than a NumPy scalar)
    if not isinstance(out, np.ndarray) or out.base is None:
        key = (key if isinstance(key, tuple) else (key,)) + (Ellipsis,)
        out = xd[key]
    return as_view(make_node(out, (x,), "getitem", backward), x, _getitem_view, key)


def _getitem_view(a: Any, key: Any) -> Any:
    return a[key]


@primitive("index", ("g, 0 where written", "g at the written places"), op="setitem")
def index_put(x: Tensor, key: Any, value: Any) -> Tensor:
    """``x`` with ``x[key] = value`` (a new array): what ``t[key] = v`` records in a graph.
    ∂/∂x = g with the written places zeroed; ∂/∂value = g[key] (summed over the axes
    ``value`` was broadcast along, by the engine)."""
    from ._common import pair

    x, value = pair(x, value, "setitem")
    xd = x.data
    out = xd.copy()
    out[key] = value.data
    mask = xp.zeros(xd.shape, dtype=bool)
    mask[key] = True
    vshape = value.data.shape
    rx, rv = x.requires_grad, value.requires_grad

    def backward(g: Any) -> tuple[Any, Any]:
        gv = None
        if rv:
            gv = g[key]
            if len(vshape) > gv.ndim:  # value had leading axes of size 1
                gv = gv.reshape((1,) * (len(vshape) - gv.ndim) + gv.shape)
        return (D.where(mask, 0.0, g) if rx else None), gv

    return make_node(out, (x, value), "setitem", backward)


@primitive("index", "g at the indexed places")
def index_add(g: Tensor, shape: tuple[int, ...], key: Any, advanced: bool) -> Tensor:
    """Zeros of ``shape`` with ``g`` added at ``key``: the adjoint of ``x[key]``.
    ∂/∂g = (incoming gradient)[key]."""
    out = D.index_add(shape, key, g.data, advanced)

    def backward(gg: Any) -> tuple[Any]:
        return (gg[key],)

    return make_node(out, (g,), "index_add", backward)


def _check_gather(xshape: tuple[int, ...], axis: int, idx: Any, op: str) -> None:
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{op}: index must hold integers, got dtype {idx.dtype}")
    if idx.ndim != len(xshape):
        raise ValueError(
            f"{op}: index must have as many dims as the input ({len(xshape)}), got index "
            f"shape {idx.shape} for input shape {xshape}"
        )
    for d, (n, m) in enumerate(zip(xshape, idx.shape)):
        if d != axis and m > n:
            raise ValueError(
                f"{op}: index shape {idx.shape} is larger than input shape {xshape} at dim {d}"
            )
    if idx.size and (idx.min() < 0 or idx.max() >= xshape[axis]):
        bad = idx[(idx < 0) | (idx >= xshape[axis])].flat[0]
        raise IndexError(
            f"{op}: index {int(bad)} is out of range for axis {axis} of size {xshape[axis]} "
            f"(valid: 0..{xshape[axis] - 1})"
        )


@primitive("index", "g added back at the gathered places")
def gather(x: Tensor, axis: int, index: Any) -> Tensor:
    """``out[i][j][k] = x[index[i][j][k]][j][k]`` along ``axis`` (``torch.gather``).
    ∂/∂x adds g back at the gathered places; repeated indices accumulate."""
    xd = x.data
    ax = one_axis(axis, xd.ndim, "gather")
    idx = index.data if isinstance(index, Tensor) else np.asarray(index)
    if idx.dtype.kind == "f" and np.all(idx == np.round(idx)):
        idx = idx.astype(np.intp)
    _check_gather(xd.shape, ax, idx, "gather")
    key = D._gather_key(idx, ax)
    out = xd[key]
    shape = xd.shape

    def backward(g: Any) -> tuple[Any]:
        return (D.scatter_add(shape, ax, idx, g),)

    return make_node(out, (x,), "gather", backward)


@primitive("index", "g gathered")
def scatter_add(g: Tensor, shape: tuple[int, ...], axis: int, index: Any) -> Tensor:
    """Zeros of ``shape`` with ``g`` added along ``axis`` at ``index``: the adjoint of
    ``gather``.  ∂/∂g = gather of the incoming gradient."""
    out = D.scatter_add(shape, axis, index, g.data)
    key = D._gather_key(index, axis)

    def backward(gg: Any) -> tuple[Any]:
        return (gg[key],)

    return make_node(out, (g,), "scatter_add", backward)


def _check_src(src_shape: tuple[int, ...], idx: Any, op: str) -> None:
    if len(src_shape) != idx.ndim or builtins.any(m > n for m, n in zip(idx.shape, src_shape)):
        raise ValueError(
            f"{op}: index shape {idx.shape} must not be larger than src shape {src_shape} "
            f"at any dim (as PyTorch)"
        )


@primitive("index", ("g, 0 where written", "g gathered"))
def scatter(x: Tensor, axis: int, index: Any, src: Tensor) -> Tensor:
    """``torch.scatter`` with a tensor ``src``: ``x`` with ``src[i][j][k]`` written at
    ``index[i][j][k]`` along ``axis`` (a new array).  Where an index repeats, which value
    is kept is unspecified, as in PyTorch.  ∂/∂x = g with the written places zeroed,
    ∂/∂src = g gathered at ``index`` (PyTorch's rule)."""
    xd, sd = x.data, src.data
    if sd.dtype != xd.dtype:
        raise TypeError(
            f"scatter: src must have the input's dtype {xd.dtype}, got {sd.dtype} (as "
            f"PyTorch: cast it with .to(...))"
        )
    ax = one_axis(axis, xd.ndim, "scatter")
    idx = index.data if isinstance(index, Tensor) else np.asarray(index)
    _check_gather(xd.shape, ax, idx, "scatter")
    _check_src(sd.shape, idx, "scatter")
    key = D._gather_key(idx, ax)
    part = tuple(slice(0, m) for m in idx.shape)
    out = xd.copy()
    out[key] = sd[part]
    mask = xp.zeros(xd.shape, dtype=bool)
    mask[key] = True
    sshape = sd.shape
    whole = idx.shape == sshape
    rx, rs = x.requires_grad, src.requires_grad

    def backward(g: Any) -> tuple[Any, Any]:
        gs = None
        if rs:
            gs = g[key]
            if not whole:  # src's entries beyond the index's shape were not read
                gs = D.index_add(sshape, part, gs, False)
        return (D.where(mask, 0.0, g) if rx else None), gs

    return make_node(out, (x, src), "scatter", backward)
