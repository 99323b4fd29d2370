"""``clip_grad_norm_``: scale gradients so that their joint norm is at most ``max_norm``."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from ..tensor import Tensor

__all__ = ["clip_grad_norm_"]


def clip_grad_norm_(
    parameters: Iterable[Tensor] | Tensor, max_norm: float, norm_type: float = 2.0
) -> Tensor:
    """Scale every ``.grad`` in place by ``max_norm / (total + 1e-6)`` when that is below 1,
    as PyTorch does; returns the total norm (of all gradients together) as a 0-d Tensor.

    Examples
    --------
    >>> import numpy as np
    >>> import tinygrad_bp as tg
    >>> w = tg.Tensor(np.zeros(2), requires_grad=True)
    >>> w.grad = np.array([3.0, 4.0])
    >>> tg.nn.utils.clip_grad_norm_([w], 1.0).item()
    5.0
    >>> np.round(w.grad, 6)
    array([0.6, 0.8])
    """
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    grads = [p.grad for p in params if p.grad is not None]
    if max_norm is None or not max_norm > 0 and max_norm != 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be a number >= 0, got {max_norm!r}")
    if not grads:
        return Tensor(np.asarray(0.0))
    if norm_type == math.inf:
        total = max(np.abs(g).max().item() for g in grads)
    else:
        # (.item(), not float(): tg.compile follows the number through the arithmetic)
        total = sum((np.abs(g) ** norm_type).sum().item() for g in grads) ** (1.0 / norm_type)
    coef = max_norm / (total + 1e-6)
    if coef < 1.0:
        for p in params:
            if p.grad is not None:
                p.grad *= np.asarray(coef, dtype=p.grad.dtype)
    return Tensor(np.asarray(total, dtype=grads[0].dtype))
