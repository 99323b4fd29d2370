"""Normalising and comparing vectors: normalize, cosine_similarity, pairwise_distance, as
PyTorch's, composed of the norms (:mod:`tinygrad_bp.ops.composed`)."""

from __future__ import annotations

import numpy as np

from .. import ops
from ..ops.composed import vector_norm
from ..tensor import Tensor, leaf
from ._util import float_tensor

__all__ = ["normalize", "cosine_similarity", "pairwise_distance"]


def normalize(x: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """``x / max(‖x‖_p, eps)`` along ``dim``, as ``torch.nn.functional.normalize``.

    Examples
    --------
    >>> import tinygrad_bp as tg
    >>> from tinygrad_bp import functional as F
    >>> F.normalize(tg.Tensor([[3.0, 4.0]])).data
    array([[0.6, 0.8]])
    """
    x = float_tensor(x, "normalize")
    return x / ops.clamp(vector_norm(x, p, dim, True), min=eps)


def _clamp_min_quietly(n: Tensor, eps: float) -> Tensor:
    """``n`` raised to at least ``eps`` in value only: the gradient is ``n``'s (PyTorch
    clamps the norms in cosine_similarity under no_grad)."""
    lifted = np.maximum(n.data, eps).astype(n.data.dtype) - n.data
    return ops.add(n, leaf(lifted, "const"))


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """``Σ (x1/‖x1‖)·(x2/‖x2‖)`` along ``dim`` (each norm at least ``eps``), PyTorch's
    formula: the inputs broadcast, each is divided by its norm first."""
    x1 = float_tensor(x1, "cosine_similarity")
    x2 = float_tensor(x2, "cosine_similarity")
    try:
        shape = np.broadcast_shapes(x1.shape, x2.shape)
    except ValueError:
        raise ValueError(
            f"cosine_similarity: shapes {x1.shape} and {x2.shape} do not broadcast"
        ) from None
    a = x1 if x1.shape == shape else ops.broadcast_to(x1, shape)
    b = x2 if x2.shape == shape else ops.broadcast_to(x2, shape)
    na = _clamp_min_quietly(vector_norm(a, 2, dim, True), eps)
    nb = _clamp_min_quietly(vector_norm(b, 2, dim, True), eps)
    return ops.sum((a / na) * (b / nb), dim)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:  # fmt: skip
    """``‖x1 − x2 + eps‖_p`` along the last dim, as PyTorch's."""
    x1 = float_tensor(x1, "pairwise_distance")
    x2 = float_tensor(x2, "pairwise_distance")
    d = x1 - x2 + eps
    if d.ndim == 0:
        raise ValueError("pairwise_distance: needs inputs with at least one dim")
    return vector_norm(d, p, -1, keepdim)
