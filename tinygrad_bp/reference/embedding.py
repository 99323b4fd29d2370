"""An embedding table by hand.

The forward is a row lookup, ``y[..., :] = W[idx[...], :]``; it is the product of a
one-hot matrix with ``W``, so the gradient of row ``v`` of the table is the sum of the
output gradients of every position that looked ``v`` up (repeated indices accumulate):

    ∂L/∂W[v] = Σ_{positions p with idx[p] = v} ∂L/∂y[p]

Examples
--------
>>> import numpy as np
>>> from tinygrad_bp.reference import Embedding
>>> emb = Embedding(5, 2, rng=0)
>>> emb.forward(np.array([[1, 1, 4]])).shape
(1, 3, 2)
>>> emb.backward(np.ones((1, 3, 2)))["weight"][:, 0]
array([0., 2., 0., 0., 1.])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._base import Grads, HandLayer, as_rng, positive_int

__all__ = ["Embedding"]


class Embedding(HandLayer):
    """``nn.Embedding(num_embeddings, embedding_dim)`` by hand; ``weight (V, D)`` drawn
    from ``N(0, 1)`` as PyTorch does.  The indices are not differentiable, so
    ``backward(dout)`` returns ``{"weight"}`` only."""

    param_names = ("weight",)

    def __init__(
        self, num_embeddings: int, embedding_dim: int, rng: Any = None, dtype: Any = np.float64
    ) -> None:
        super().__init__()
        self.num_embeddings = positive_int("Embedding", "num_embeddings", num_embeddings)
        self.embedding_dim = positive_int("Embedding", "embedding_dim", embedding_dim)
        shape = (self.num_embeddings, self.embedding_dim)
        self.weight = as_rng(rng).standard_normal(shape).astype(dtype)

    def forward(self, indices: Any) -> np.ndarray:
        """``weight[indices]``: shape ``indices.shape + (D,)``."""
        idx = np.asarray(indices)
        if idx.dtype.kind not in "iu":
            raise TypeError(f"Embedding: indices must be integers, got dtype {idx.dtype}")
        v = self.num_embeddings
        if idx.size and (idx.min() < 0 or idx.max() >= v):
            raise ValueError(
                f"Embedding({v}, {self.embedding_dim}): index out of range: expected 0..{v - 1}, "
                f"got values from {idx.min()} to {idx.max()}"
            )
        self.cache = idx
        return self.weight[idx]

    def backward(self, dout: Any) -> Grads:
        """Scatter-add each position's gradient into the row it read."""
        idx = self.saved()
        g = self.grad_in(dout, idx.shape + (self.embedding_dim,), self.weight.dtype)
        dw = np.zeros_like(self.weight)
        np.add.at(dw, idx.ravel(), g.reshape(-1, self.embedding_dim))
        return {"weight": dw}

    def __repr__(self) -> str:
        return f"Embedding({self.num_embeddings}, {self.embedding_dim})"
