"""``Embedding``: a table of vectors looked up by integer index."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import functional as F
from .. import ops
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
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        *,
        rng: Any = None,
        dtype: Any = None,
        _weight: Any = None,
    ) -> None:
        _check_features("Embedding", num_embeddings=num_embeddings, embedding_dim=embedding_dim)
        dtype = np.dtype(dtype) if dtype is not None else get_default_dtype()
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        if padding_idx is not None:
            if isinstance(padding_idx, bool) or not isinstance(padding_idx, (int, np.integer)):
                raise TypeError(
                    f"Embedding: padding_idx must be an int or None, got {padding_idx!r}"
                )
            if not -self.num_embeddings <= padding_idx < self.num_embeddings:
                raise ValueError(
                    f"Embedding: padding_idx must be within num_embeddings "
                    f"({-self.num_embeddings}..{self.num_embeddings - 1}), got {padding_idx}"
                )
            padding_idx = int(padding_idx) % self.num_embeddings
        self.padding_idx = padding_idx
        w = _rng(rng).standard_normal((self.num_embeddings, self.embedding_dim))
        if padding_idx is not None:
            w[padding_idx] = 0.0  # the padding row starts at zero, as PyTorch's
        self.weight = Parameter(w.astype(dtype))

    def forward(self, indices: Any) -> Tensor:
        try:
            out = F.embedding(indices, self.weight)
        except (IndexError, TypeError, ValueError) as exc:
            raise type(exc)(
                f"Embedding({self.num_embeddings}, {self.embedding_dim}): {exc}"
            ) from None
        pad = self.padding_idx
        if pad is None:
            return out
        # the padding row's value as it is, but no gradient to it (PyTorch's padding_idx)
        idx = np.asarray(indices.data if isinstance(indices, Tensor) else indices)
        is_pad = (idx == pad)[..., None]
        if not is_pad.any():
            return out
        return ops.where(is_pad, self.weight.data[pad], out)

    @classmethod
    def from_pretrained(
        cls, embeddings: Any, freeze: bool = True, padding_idx: int | None = None
    ) -> Embedding:
        """An embedding holding ``embeddings (num_embeddings, embedding_dim)`` (copied), not
        trained when ``freeze`` (its weight stays a parameter, with ``requires_grad``
        False), as PyTorch's."""
        w = np.array(embeddings.data if isinstance(embeddings, Tensor) else embeddings)
        if w.ndim != 2 or w.dtype.kind != "f":
            raise ValueError(
                f"Embedding.from_pretrained: embeddings must be a 2-D floating array, got "
                f"shape {w.shape} and dtype {w.dtype}"
            )
        emb = cls(w.shape[0], w.shape[1], padding_idx, rng=0, dtype=w.dtype)
        emb.weight = Parameter(w, requires_grad=not freeze)
        return emb

    def extra_repr(self) -> str:
        pad = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}"
