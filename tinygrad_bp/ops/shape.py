"""Shape ops: views and rearrangements whose gradient is the inverse rearrangement."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..backend import xp
from ..tensor import Tensor, as_view, make_node
from . import dialect as D
from ._common import as_tensor, norm_axes, one_axis, primitive, promote_types, to_dtype

__all__ = [
    "reshape", "transpose", "broadcast_to", "squeeze", "unsqueeze", "flatten", "cat",
    "stack", "split", "pad", "flip", "cast",
]  # fmt: skip


def _shape_arg(shape: tuple[Any, ...]) -> tuple[Any, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return shape


@primitive("shape", "g reshaped back")
def reshape(x: Tensor, *shape: Any) -> Tensor:
    """A view with a new shape.  ∂/∂x = g reshaped back."""
    shape = _shape_arg(shape)
    xd = x.data
    try:
        out = xd.reshape(shape)
    except (ValueError, TypeError):
        raise ValueError(
            f"reshape: cannot reshape a tensor of shape {xd.shape} ({xd.size} elements) "
            f"into {shape}"
        ) from None
    in_shape = xd.shape

    def backward(g: Any) -> tuple[Any]:
        return (g.reshape(in_shape),)

    t = make_node(out, (x,), "reshape", backward)
    base = xd.base
    if out.base is (xd if base is None else base) and out.size:  # no copy: a view
        as_view(t, x, _reshape_view, out.shape)
    return t


def _reshape_view(a: Any, shape: tuple[int, ...]) -> Any:
    return a.reshape(shape)


def _transpose_view(a: Any, perm: tuple[int, ...]) -> Any:
    return a.transpose(perm)


def _broadcast_view(a: Any, shape: tuple[int, ...]) -> Any:
    return D.broadcast_to(a, shape)


@primitive("shape", "g transposed back")
def transpose(x: Tensor, *axes: Any) -> Tensor:
    """Permute axes as NumPy's ``transpose(*axes)`` does (reverse them when none are
    given); PyTorch's two-axis ``transpose(a, b)`` is :meth:`Tensor.swapaxes`.
    ∂/∂x = g with the inverse permutation."""
    two_ints = len(axes) == 2 and not isinstance(axes[0], (tuple, list))
    axes = _shape_arg(axes)
    xd = x.data
    if not axes:
        perm = tuple(range(xd.ndim))[::-1]
    else:
        nd = xd.ndim
        ok = (
            builtins.all(isinstance(a, (int, np.integer)) and -nd <= a < nd for a in axes)
            and len(axes) == nd
        )
        perm = tuple(int(a) % nd for a in axes) if ok else ()
        if not ok or sorted(perm) != list(range(nd)):
            raise ValueError(
                f"transpose: axes {axes} are not a permutation of the {xd.ndim} axes of a "
                f"tensor of shape {xd.shape} (NumPy's transpose(*axes); for PyTorch's "
                f"transpose(dim0, dim1) use swapaxes)"
            )
    if two_ints and xd.ndim == 2 and perm == (0, 1):
        # NumPy's m.transpose(0, 1) is m itself; PyTorch's swaps the two axes.  Either
        # reading would silently surprise someone: refuse, and name both spellings.
        raise ValueError(
            f"transpose: transpose({axes[0]}, {axes[1]}) of a tensor of shape {xd.shape} is "
            f"the identity in NumPy (transpose(*axes) permutes all axes) but swaps the axes "
            f"in PyTorch; write .T, swapaxes({axes[0]}, {axes[1]}) or permute(1, 0) to swap, "
            f"transpose((0, 1)) for the identity"
        )
    inverse = tuple(sorted(range(len(perm)), key=perm.__getitem__))  # argsort, in Python

    def backward(g: Any) -> tuple[Any]:
        return (g.transpose(inverse),)

    return as_view(
        make_node(xd.transpose(perm), (x,), "transpose", backward), x, _transpose_view, perm
    )


@primitive("shape", "g summed back")
def broadcast_to(x: Tensor, shape: Sequence[int]) -> Tensor:
    """``x`` broadcast to ``shape`` (a read-only view).  ∂/∂x = g summed back to x's shape,
    which the engine's un-broadcast does."""
    shape = tuple(shape)
    try:
        out = xp.broadcast_to(x.data, shape)
    except (ValueError, TypeError):
        raise ValueError(f"broadcast_to: cannot broadcast shape {x.shape} to {shape}") from None

    def backward(g: Any) -> tuple[Any]:
        return (g,)

    return as_view(make_node(out, (x,), "broadcast_to", backward), x, _broadcast_view, shape)


def squeeze(x: Tensor, axis: Any = None) -> Tensor:
    """Drop axes of size 1 (all of them, or those in ``axis``); a reshape."""
    shape = x.shape
    if axis is None:
        axes = tuple(i for i, n in enumerate(shape) if n == 1)
    else:
        axes = norm_axes(axis, x.ndim, "squeeze")
        # PyTorch leaves an axis whose size is not 1 as it is
        axes = tuple(i for i in axes if shape[i] == 1)
    return reshape(x, tuple(n for i, n in enumerate(shape) if i not in axes))


def unsqueeze(x: Tensor, axis: int) -> Tensor:
    """Insert an axis of size 1 at ``axis`` (−ndim−1 ≤ axis ≤ ndim, as PyTorch); a reshape."""
    nd = x.ndim
    if (
        not isinstance(axis, (int, np.integer))
        or isinstance(axis, bool)
        or not (-nd - 1 <= axis <= nd)
    ):
        raise ValueError(
            f"unsqueeze: axis {axis!r} is out of range for a tensor with {nd} dims "
            f"(expected {-nd - 1}..{nd})"
        )
    ax = int(axis) % (nd + 1)
    shape = x.shape
    return reshape(x, shape[:ax] + (1,) + shape[ax:])


def flatten(x: Tensor, start_axis: int = 0, end_axis: int = -1) -> Tensor:
    """Merge axes ``start_axis..end_axis`` into one; a reshape."""
    nd = x.ndim
    if nd == 0:
        return reshape(x, (1,))
    s = one_axis(start_axis, nd, "flatten")
    e = one_axis(end_axis, nd, "flatten")
    if s > e:
        raise ValueError(f"flatten: start_axis {start_axis} comes after end_axis {end_axis}")
    shape = x.shape
    merged = int(np.prod(shape[s : e + 1]))
    return reshape(x, shape[:s] + (merged,) + shape[e + 1 :])


@primitive("shape", "g's slice that {x} became")
def cat(tensors: Sequence[Any], axis: int = 0, *, dim: int | None = None) -> Tensor:
    """Join tensors along an existing ``axis`` (or PyTorch's ``dim``).  ∂/∂xₖ = the slice
    of g that xₖ became."""
    if dim is not None:
        axis = dim
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)) or not tensors:
        raise TypeError("cat: expected a non-empty list or tuple of tensors")
    ts = _promoted(tuple(as_tensor(t, "cat") for t in tensors))
    nd = ts[0].ndim
    ax = one_axis(axis, nd, "cat")
    shapes = [t.shape for t in ts]
    for s in shapes:
        if len(s) != nd or s[:ax] + s[ax + 1 :] != shapes[0][:ax] + shapes[0][ax + 1 :]:
            raise ValueError(
                f"cat: tensors must have the same shape except along axis {ax}; got shapes "
                f"{', '.join(str(s) for s in shapes)}"
            )
    out = xp.concatenate([t.data for t in ts], axis=ax)
    bounds = np.cumsum([0] + [s[ax] for s in shapes])
    keys = [(slice(None),) * ax + (slice(int(lo), int(hi)),) for lo, hi in zip(bounds, bounds[1:])]
    needs = [t.requires_grad for t in ts]

    def backward(g: Any) -> tuple[Any, ...]:
        return tuple(g[k] if r else None for k, r in zip(keys, needs))

    return make_node(out, ts, "cat", backward)


@primitive("shape", "g at {x}'s index")
def stack(tensors: Sequence[Any], axis: int = 0, *, dim: int | None = None) -> Tensor:
    """Join tensors of one shape along a new ``axis`` (or PyTorch's ``dim``).
    ∂/∂tensors[k] = g at index k of that axis."""
    if dim is not None:
        axis = dim
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)) or not tensors:
        raise TypeError("stack: expected a non-empty list or tuple of tensors")
    ts = _promoted(tuple(as_tensor(t, "stack") for t in tensors))
    shapes = {t.shape for t in ts}
    if len(shapes) > 1:
        raise ValueError(
            f"stack: every tensor must have the same shape; got shapes "
            f"{', '.join(str(t.shape) for t in ts)}"
        )
    nd = ts[0].ndim
    if (
        not isinstance(axis, (int, np.integer))
        or isinstance(axis, bool)
        or not (-nd - 1 <= axis <= nd)
    ):
        raise ValueError(f"stack: axis {axis!r} is out of range for {nd + 1} dims")
    ax = int(axis) % (nd + 1)
    out = xp.stack([t.data for t in ts], axis=ax)
    lead = (slice(None),) * ax
    needs = [t.requires_grad for t in ts]

    def backward(g: Any) -> tuple[Any, ...]:
        return tuple(g[lead + (k,)] if r else None for k, r in enumerate(needs))

    return make_node(out, ts, "stack", backward)


def split(
    x: Tensor, split_size_or_sections: Any, axis: int = 0, *, dim: int | None = None
) -> tuple[Tensor, ...]:
    """Pieces of ``x`` along ``axis`` (or ``dim``), as ``torch.split``: an int is each
    piece's size (the last may be smaller), a list gives the sizes (they must add up to
    the axis)."""
    if dim is not None:
        axis = dim
    ax = one_axis(axis, x.ndim, "split")
    n = x.shape[ax]
    s = split_size_or_sections
    if isinstance(s, (int, np.integer)) and not isinstance(s, bool):
        if s <= 0:
            raise ValueError(f"split: split_size must be positive, got {s}")
        sizes = [builtins.min(int(s), n - i) for i in range(0, n, int(s))] or [0]
    elif isinstance(s, (list, tuple)):
        sizes = [int(v) for v in s]
        if builtins.any(v < 0 for v in sizes) or builtins.sum(sizes) != n:
            raise ValueError(
                f"split: sizes {list(s)} must be non-negative and add up to {n}, the size of "
                f"axis {ax} of shape {x.shape}"
            )
    else:
        raise TypeError(f"split: expected an int or a list of ints, got {s!r}")
    pieces = []
    start = 0
    for size in sizes:
        key = (slice(None),) * ax + (slice(start, start + size),)
        pieces.append(x[key])
        start += size
    return tuple(pieces)


@primitive("shape", "the centre of g")
def pad(x: Tensor, pad_width: Any, value: float = 0.0) -> Tensor:
    """Pad with a constant, NumPy's ``pad_width`` (an int, a pair, or a pair per axis).
    ∂/∂x = the centre of g (the slice the input became)."""
    xd = x.data
    try:
        widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (xd.ndim, 2))
    except ValueError:
        raise ValueError(
            f"pad: pad_width {pad_width!r} does not fit a tensor with {xd.ndim} dims "
            f"(NumPy's form: an int, (before, after), or one pair per axis)"
        ) from None
    if (widths < 0).any():
        raise ValueError(f"pad: pad widths must be non-negative, got {pad_width!r}")
    out = xp.pad(xd, widths, mode="constant", constant_values=value)
    key = tuple(slice(int(lo), int(lo) + n) for (lo, _), n in zip(widths, xd.shape))

    def backward(g: Any) -> tuple[Any]:
        return (g[key],)

    return make_node(out, (x,), "pad", backward)


@primitive("shape", "g flipped back")
def flip(x: Tensor, axis: Any = None) -> Tensor:
    """Reverse the order along ``axis`` (all axes when None).  ∂/∂x = g flipped back."""
    axes = norm_axes(axis, x.ndim, "flip")
    out = xp.flip(x.data, axes).copy()

    def backward(g: Any) -> tuple[Any]:
        return (D.flip(g, axes),)

    return make_node(out, (x,), "flip", backward)


@primitive("shape", "g cast back")
def cast(x: Tensor, dtype: Any) -> Tensor:
    """Change dtype.  ∂/∂x = g cast back (the engine does the cast)."""
    d = np.dtype(dtype)
    if x.requires_grad and d.kind != "f":
        raise TypeError(f"cast: a tensor that requires grad can only be cast to floats, got {d}")

    def backward(g: Any) -> tuple[Any]:
        return (g,)

    return make_node(x.data.astype(d), (x,), "cast", backward)


def _promoted(ts: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    """cat's and stack's operands in one dtype, PyTorch's (``promote_types`` over them
    all: int64 with float32 is float32, not NumPy's float64), by differentiable casts."""
    dt = ts[0].data.dtype
    for t in ts[1:]:
        dt = promote_types(dt, t.data.dtype)
    return tuple(to_dtype(t, dt) for t in ts)
