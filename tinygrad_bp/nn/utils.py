"""``clip_grad_norm_``: scale gradients so that their joint norm is at most ``max_norm``."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from ..tensor import Tensor

__all__ = [
    "clip_grad_norm_", "clip_grad_value_", "parameters_to_vector", "vector_to_parameters",
]  # fmt: skip


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


def clip_grad_value_(parameters: Iterable[Tensor] | Tensor, clip_value: float) -> None:
    """Clip every ``.grad`` to ``[-clip_value, clip_value]`` in place, as PyTorch's."""
    if isinstance(clip_value, bool) or not isinstance(clip_value, (int, float)):
        raise TypeError(f"clip_grad_value_: clip_value must be a number, got {clip_value!r}")
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    for p in params:
        if p.grad is not None:
            np.clip(p.grad, -clip_value, clip_value, out=p.grad)


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened into one 1-D tensor (differentiable), as PyTorch's."""
    from .. import ops

    return ops.cat([ops.reshape(p, (-1,)) for p in parameters], 0)


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of ``vec`` into the parameters' values (in place)."""
    from ..autograd import no_grad

    params = list(parameters)
    data = vec.data if isinstance(vec, Tensor) else np.asarray(vec)
    need = sum(p.data.size for p in params)
    if data.ndim != 1 or data.size != need:
        raise ValueError(
            f"vector_to_parameters: expected a 1-D vector of {need} values, got shape {data.shape}"
        )
    start = 0
    with no_grad():
        for p in params:
            n = p.data.size
            p.copy_(data[start : start + n].reshape(p.data.shape))
            start += n
