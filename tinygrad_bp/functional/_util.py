"""Small checks shared by the functional families."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor


def as_tensor(x: Any, op: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    return x


def float_tensor(x: Any, op: str) -> Tensor:
    """A floating Tensor operand; an integer or boolean one is refused, as PyTorch does
    (its constants would otherwise be cast to integers)."""
    x = as_tensor(x, op)
    if x.data.dtype.kind != "f":
        raise TypeError(
            f"{op}: expected a floating tensor, got dtype {x.data.dtype} (as in PyTorch); "
            f"convert with .float() or .double()"
        )
    return x


def index_array(indices: Any, op: str) -> np.ndarray:
    """Integer indices as an int64 array (a float array of whole numbers is accepted)."""
    d = indices.data if isinstance(indices, Tensor) else np.asarray(indices)
    if d.dtype.kind == "f":
        if not np.all(d == np.round(d)):
            raise TypeError(f"{op}: indices must be integers, got non-integer {d.dtype} values")
    elif d.dtype.kind not in "iu":
        raise TypeError(f"{op}: indices must be integers, got dtype {d.dtype}")
    return d.astype(np.int64, copy=False)


def check_reduction(reduction: str, op: str) -> None:
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss
