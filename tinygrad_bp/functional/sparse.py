"""Embedding lookups and one-hot encoding."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import ops
from ..tensor import Tensor
from ._util import as_tensor, index_array

__all__ = ["embedding", "one_hot"]


def embedding(indices: Any, weight: Tensor) -> Tensor:
    """Rows of ``weight (num_embeddings, dim)`` picked by integer ``indices`` of any shape;
    the result has shape ``indices.shape + (dim,)``.  ∂/∂weight adds each row's gradient
    to the row it came from (repeated indices accumulate).

    Examples
    --------
    >>> import numpy as np
    >>> import tinygrad_bp as tg
    >>> from tinygrad_bp import functional as F
    >>> w = tg.Tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    >>> F.embedding(np.array([[2, 0]]), w).data
    array([[[4., 5.],
            [0., 1.]]])
    """
    weight = as_tensor(weight, "embedding")
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be (num_embeddings, dim), got {weight.shape}")
    idx = index_array(indices, "embedding")
    v = weight.shape[0]
    if idx.size and (idx.min() < 0 or idx.max() >= v):
        bad = idx[(idx < 0) | (idx >= v)].ravel()[0]
        raise IndexError(
            f"embedding: index {bad} is out of range for {v} embeddings (valid 0..{v - 1})"
        )
    return ops.getitem(weight, idx)


def one_hot(indices: Any, num_classes: int = -1) -> Tensor:
    """An integer (int64) tensor with a 1 at each index along a new last axis, as
    ``torch.nn.functional.one_hot``; a constant.  ``num_classes=-1`` takes max + 1.

    Examples
    --------
    >>> from tinygrad_bp import functional as F
    >>> F.one_hot([0, 2], 3).data
    array([[1, 0, 0],
           [0, 0, 1]])
    """
    idx = index_array(indices, "one_hot")
    if num_classes == -1:
        num_classes = int(idx.max()) + 1 if idx.size else 0
    if idx.size and (idx.min() < 0 or idx.max() >= num_classes):
        raise ValueError(
            f"one_hot: indices must lie in 0..{num_classes - 1}, got values from {idx.min()} "
            f"to {idx.max()}"
        )
    out = np.zeros(idx.shape + (num_classes,), dtype=np.int64)
    np.put_along_axis(out, idx[..., None], 1, axis=-1)
    return Tensor(out, dtype=np.int64)
