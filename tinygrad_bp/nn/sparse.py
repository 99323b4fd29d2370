"""``Embedding``: a table of vectors looked up by integer index."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import functional as F
from ..tensor import Tensor, get_default_dtype
from .linear import _check_features
from .module import Module, Parameter, _rng

__all__ = ["Embedding"]


class Embedding(Module):
    """``weight (num_embeddings, embedding_dim)`` ~ N(0, 1) as in PyTorch; ``forward(idx)``
    returns ``weight[idx]`` of shape ``idx.shape + (embedding_dim,)``.

    Examples
    --------
    >>> import numpy as np
    >>> import tinygrad_bp as tg
    >>> emb = tg.nn.Embedding(27, 8, rng=0)
    >>> emb(np.array([[1, 2, 3]])).shape
    (1, 3, 8)
    """

    def __init__(
        self, num_embeddings: int, embedding_dim: int, rng: Any = None, dtype: Any = None
    ) -> None:
        _check_features("Embedding", num_embeddings=num_embeddings, embedding_dim=embedding_dim)
        dtype = np.dtype(dtype) if dtype is not None else get_default_dtype()
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        w = _rng(rng).standard_normal((self.num_embeddings, self.embedding_dim))
        self.weight = Parameter(w.astype(dtype))

    def forward(self, indices: Any) -> Tensor:
        try:
            return F.embedding(indices, self.weight)
        except (IndexError, TypeError) as exc:
            raise type(exc)(
                f"Embedding({self.num_embeddings}, {self.embedding_dim}): {exc}"
            ) from None

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"
