"""``tg.linalg``: PyTorch's ``torch.linalg`` norms (the ones without an SVD).

- :func:`norm`: ``torch.linalg.norm``, a vector or matrix norm by ``ord`` and ``dim``;
- :func:`vector_norm`: ``(Σ|x|^ord)^(1/ord)``, inf, -inf, 0;
- :func:`matrix_norm`: ``'fro'``, 1, -1, inf, -inf (``'nuc'``, 2, -2 need singular values
  and are refused by name).

All are compositions of the primitives (their gradient at a zero norm is 0, as PyTorch's).
"""

from __future__ import annotations

from .ops.composed import linalg_norm as norm
from .ops.composed import matrix_norm, vector_norm

__all__ = ["norm", "vector_norm", "matrix_norm"]
