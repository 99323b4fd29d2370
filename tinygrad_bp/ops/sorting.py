"""Sorting: ``sort``, ``argsort``, ``topk``, as PyTorch's, composed of ``gather``.

The order is found on the array (NumPy's stable sort); the values are then gathered from
the input at those indices, so their gradient is ``gather``'s (g added back at the places
the values came from) and can be differentiated to any order.  The indices are int64
tensors that never require grad.

Ties: ``sort(stable=True)`` keeps equal elements in their original order, as PyTorch's.
PyTorch does not specify the order of ties for ``stable=False`` (on the CPU it differs from
the stable order on longer inputs) nor which of several equal elements ``topk`` picks;
here both take the stable order (for ``topk``: the first of equal elements, in their
original order), so the values always agree with PyTorch's and the indices do wherever
there are no ties.  NaN sorts above every number, as in PyTorch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import xp
from ..tensor import Tensor, ValuesIndices, leaf
from ._common import check_tensor, one_axis
from .index import gather
from .elementwise import clone

__all__ = ["sort", "argsort", "topk"]


def _order(xd: Any, ax: int, descending: bool) -> Any:
    """Stable sorting indices along ``ax`` (NaN above every number; equal elements keep
    their order, in both directions)."""
    if not descending:
        return xp.argsort(xd, axis=ax, kind="stable")
    # descending and stable: the ascending stable order of the reversed input, reversed
    n = xd.shape[ax]
    rev = xp.argsort(xp.flip(xd, ax), axis=ax, kind="stable")
    return (n - 1) - xp.flip(rev, ax)


def _dim(x: Tensor, dim: Any, op: str) -> int | None:
    """``dim`` as a non-negative axis, or None for a 0-d tensor (which takes 0 or -1)."""
    if x.data.ndim == 0:
        one_axis(dim, 1, op)
        return None
    return one_axis(dim, x.data.ndim, op)


def _check_bool(value: Any, name: str, op: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{op}: {name} must be a bool, got {value!r}")
    return bool(value)


def argsort(x: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    """The indices that sort ``x`` along ``dim`` (``torch.argsort``): an int64 tensor.

    Examples
    --------
    >>> import tinygrad_bp as tg
    >>> tg.argsort(tg.Tensor([3.0, 1.0, 2.0]))
    Tensor([1, 2, 0], dtype=int64)
    """
    x = check_tensor(x, "argsort")
    descending = _check_bool(descending, "descending", "argsort")
    _check_bool(stable, "stable", "argsort")
    ax = _dim(x, dim, "argsort")
    if ax is None:
        return leaf(xp.zeros((), np.int64))
    return leaf(_order(x.data, ax, descending).astype(np.int64, copy=False))


def sort(x: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Any:
    """``torch.sort``: ``(values, indices)`` along ``dim`` (ascending unless
    ``descending``); ties keep their original order (see the module's note on
    ``stable=False``).  ∂/∂x adds g back at the places the values came from.

    Examples
    --------
    >>> import tinygrad_bp as tg
    >>> x = tg.Tensor([3.0, 1.0, 2.0], requires_grad=True)
    >>> values, indices = x.sort(descending=True)
    >>> values, indices
    (Tensor([3., 2., 1.], op=gather), Tensor([0, 2, 1], dtype=int64))
    >>> (values * tg.Tensor([1.0, 10.0, 100.0])).sum().backward()
    >>> x.grad
    array([  1., 100.,  10.])
    """
    x = check_tensor(x, "sort")
    descending = _check_bool(descending, "descending", "sort")
    _check_bool(stable, "stable", "sort")
    ax = _dim(x, dim, "sort")
    if ax is None:
        return ValuesIndices(clone(x), leaf(xp.zeros((), np.int64)))
    idx = _order(x.data, ax, descending).astype(np.int64, copy=False)
    return ValuesIndices(gather(x, ax, idx), leaf(idx))


def topk(x: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:  # noqa: A002
    """``torch.topk``: the ``k`` largest (or with ``largest=False`` smallest) elements along
    ``dim`` as ``(values, indices)``, largest first (smallest first).  Of equal elements
    the first ones are taken; PyTorch leaves that choice unspecified.  ``sorted=False``
    gives them in the same (sorted) order, one of the orders PyTorch allows.
    ∂/∂x adds g back at the places the values came from.

    Examples
    --------
    >>> import tinygrad_bp as tg
    >>> tg.Tensor([1.0, 5.0, 3.0, 4.0]).topk(2)
    (values=Tensor([5., 4.]), indices=Tensor([1, 3], dtype=int64))
    """
    x = check_tensor(x, "topk")
    largest = _check_bool(largest, "largest", "topk")
    _check_bool(sorted, "sorted", "topk")
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool):
        raise TypeError(f"topk: k must be an int, got {k!r}")
    ax = _dim(x, dim, "topk")
    n = 1 if ax is None else x.data.shape[ax]
    if not 0 <= k <= n:
        raise RuntimeError(
            f"topk: selected index k={k} out of range: dim {dim} has {n} elements "
            f"(tensor shape {x.data.shape}); k must be in 0..{n}"
        )
    if ax is None:
        return ValuesIndices(clone(x), leaf(xp.zeros((), np.int64)))
    idx = _order(x.data, ax, largest)
    idx = idx[(slice(None),) * ax + (slice(0, int(k)),)].astype(np.int64)
    return ValuesIndices(gather(x, ax, idx), leaf(idx))
