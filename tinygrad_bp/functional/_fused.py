"""Fused fast paths: one primitive each, exact at every order of differentiation.

Layer norm, GELU and scaled dot-product attention each record a single node.  Its
plain backward is derived by hand and works on the arrays the forward kept (the
normalised input, the GELU's Φ(x), the attention weights), in place where it can.  Under
``create_graph=True`` the same node differentiates its *composed definition* instead (the
functional's composition of ops, recorded anew on the parents' Tensors), so its gradient
is itself a graph and every higher derivative is the composition's, exactly: the fused
formula is never differentiated a second time.  (PyTorch's fused layer norm gets the third
derivative wrong that way; ``tests/test_fused.py`` checks ours against the written-out
formulas and finite differences.)

The node names its parents as its saved values (``make_node(..., saved=parents)``): the
engine hands the closure their Tensors under ``create_graph``, their arrays otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import ops
from ..tensor import Tensor, make_node

__all__ = ["fused_node", "erf_float32", "gelu_array", "gelu_tanh_array"]

Plain = Callable[[Any], tuple[Any, ...]]


def fused_node(
    out: Any,
    parents: Sequence[Tensor],
    op: str,
    plain: Plain,
    composed: Callable[..., Tensor],
) -> Tensor:
    """A node whose plain backward is ``plain(g)`` (arrays) and whose backward under
    ``create_graph`` is the vector-Jacobian product of ``composed(*parents)``."""

    def backward(g: Any, *saved: Any) -> tuple[Any, ...]:
        if isinstance(saved[0], Tensor):  # under create_graph: the parents' Tensors
            return composed_vjp(composed, saved, g)
        return plain(g)  # (the forward's own arrays, kept by the closure)

    parents = tuple(parents)
    return make_node(out, parents, op, backward, parents)


def composed_vjp(composed: Callable[..., Tensor], ts: Sequence[Tensor], g: Tensor) -> tuple:
    """``gᵀ·∂composed/∂t`` for each ``t`` in ``ts``, as Tensors with graphs.  Each slot gets
    its own alias (a clone), so an input passed twice (self-attention's q = k = v) gets
    each slot's share once, as the node's parents do."""
    from ..autograd import grad

    aliases = [ops.clone(t) if t.requires_grad else t for t in ts]
    need = [a for a, t in zip(aliases, ts) if t.requires_grad]
    if not need:
        return (None,) * len(ts)
    got = iter(grad(composed(*aliases), need, g, create_graph=True, allow_unused=True))
    return tuple(next(got) if t.requires_grad else None for t in ts)


# ----------------------------------------------------------------------------- erf, GELU
# erf(x) ≈ x·P(x²)/Q(x²) on |x| ≤ 4 (±1 beyond, to float32 precision), fitted to SciPy's
# erf by iterated least squares on the absolute error: 8e-8 in exact arithmetic, about
# 4e-7 evaluated in float32 (a few float32 ulps of 1).  Float64 arrays go to SciPy.
_ERF_P = (1.1283787978916731, 0.21391957314169063, 0.052435108639603038,
          0.0042948093572462561, 0.00015569484569136595, -1.9929554287111129e-06,
          1.9243568405435951e-08)  # fmt: skip
_ERF_Q = (1.0, 0.52290962875731906, 0.12079278478307601, 0.015553222853117967,
          0.0010988675938809851)  # fmt: skip
_P32 = tuple(np.float32(c) for c in _ERF_P)
_Q32 = tuple(np.float32(c) for c in _ERF_Q)


def erf_float32(x: np.ndarray) -> np.ndarray:
    """erf of a float32 array, a fresh float32 array (a rational approximation, ~4e-7)."""
    t = np.clip(x, np.float32(-4.0), np.float32(4.0))
    z = t * t
    p = z * _P32[-1]
    for c in _P32[-2:0:-1]:
        p += c
        p *= z
    p += _P32[0]
    q = z * _Q32[-1]
    for c in _Q32[-2:0:-1]:
        q += c
        q *= z
    q += _Q32[0]
    p *= t
    p /= q
    return p


def _erf(x: np.ndarray) -> np.ndarray:
    if x.dtype == np.float32:
        return erf_float32(x)
    from scipy.special import erf

    return erf(x)


_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TANH_C = math.sqrt(2.0 / math.pi)


def gelu_array(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(x·Φ(x), Φ(x))`` with ``Φ(x) = ½(1 + erf(x/√2))``."""
    cdf = _erf(x * x.dtype.type(_INV_SQRT2))
    cdf += 1
    cdf *= 0.5
    return x * cdf, cdf


def gelu_tanh_array(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(½x(1 + t), t)`` with ``t = tanh(√(2/π)(x + 0.044715x³))``."""
    t = x * x if x.ndim else np.array(x * x)  # (0-d: NumPy gives a scalar; tanh writes into t)
    t *= 0.044715
    t += 1
    t *= x
    t *= _TANH_C
    np.tanh(t, out=t)
    y = t + 1
    y *= x
    y *= 0.5
    return y, t
