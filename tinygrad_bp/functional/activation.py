"""Activations beyond the tutorial's three: leaky_relu, gelu (exact), silu, softplus, elu."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import ops
from ..backend import xp
from ..ops import dialect as D
from ..tensor import Tensor, make_node
from ._fused import fused_node, gelu_array, gelu_tanh_array
from ._util import float_tensor

__all__ = ["leaky_relu", "gelu", "silu", "softplus", "elu"]

_INV_SQRT2 = 1.0 / math.sqrt(2.0)


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """``x`` where ``x > 0``, else ``negative_slope · x``.  ∂/∂x = 1 or ``negative_slope``
    (``negative_slope`` at 0, as in PyTorch).

    Examples
    --------
    >>> import tinygrad_bp as tg
    >>> from tinygrad_bp import functional as F
    >>> F.leaky_relu(tg.Tensor([-2.0, 3.0]), 0.1).data
    array([-0.2,  3. ])
    """
    x = float_tensor(x, "leaky_relu")
    if isinstance(negative_slope, bool) or not isinstance(negative_slope, (int, float, np.number)):
        raise TypeError(
            f"leaky_relu: negative_slope must be a number, got {negative_slope!r} (as in PyTorch)"
        )
    slope = xp.where(x.data > 0, 1.0, negative_slope).astype(x.data.dtype)
    return ops.mul(x, slope)  # the slope is a constant: its derivative is itself


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """``x · Φ(x) = ½ x (1 + erf(x/√2))``, exact (PyTorch's default), or with
    ``approximate="tanh"`` ``½ x (1 + tanh(√(2/π)(x + 0.044715 x³)))``.

    One fused primitive: ∂/∂x = Φ(x) + x·φ(x) (tanh form: ½(1 + t) + ½x(1 − t²)·√(2/π)(1 +
    3·0.044715x²)) on the forward's Φ (or t) in a plain backward; under ``create_graph``
    the composition above, through :func:`~tinygrad_bp.ops.elementwise.erf`, so every
    higher derivative is exact.  In float32 the forward's erf is a rational approximation
    good to about 4e-7 (SciPy's erf in float64).

    Examples
    --------
    >>> import tinygrad_bp as tg
    >>> from tinygrad_bp import functional as F
    >>> round(F.gelu(tg.Tensor([1.0])).item(), 6)
    0.841345
    >>> round(F.gelu(tg.Tensor([1.0]), approximate="tanh").item(), 6)
    0.841192
    """
    x = float_tensor(x, "gelu")
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    composed = _gelu_tanh_composed if approximate == "tanh" else _gelu_composed
    xd = x.data
    if xd.dtype.kind != "f":
        return composed(x)  # (which says what it expected)
    if approximate == "none":
        y, cdf = gelu_array(xd)

        def plain(g: Any) -> tuple[Any]:
            d = xd * xd if xd.ndim else xp.array(xd * xd)  # (0-d: NumPy gives a scalar)
            d *= -0.5
            xp.exp(d, out=d)
            d *= xd
            d *= _INV_SQRT_2PI
            d += cdf  # Φ(x) + x·φ(x)
            d *= g
            return (d,)

    else:
        y, t = gelu_tanh_array(xd)

        def plain(g: Any) -> tuple[Any]:
            d = xd * xd if xd.ndim else xp.array(xd * xd)
            d *= 3 * _TANH_K
            d += 1
            d *= 1 - t * t
            d *= xd
            d *= _TANH_C  # x(1 − t²)·√(2/π)(1 + 3k x²)
            d += t
            d += 1
            d *= 0.5
            d *= g
            return (d,)

    return fused_node(y, (x,), "gelu", plain, composed)


_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TANH_C = math.sqrt(2.0 / math.pi)
_TANH_K = 0.044715


def _gelu_composed(x: Tensor) -> Tensor:
    return x * (ops.erf(x * _INV_SQRT2) + 1.0) * 0.5


def _gelu_tanh_composed(x: Tensor) -> Tensor:
    return x * (ops.tanh((x + x * x * x * _TANH_K) * _TANH_C) + 1.0) * 0.5


def silu(x: Tensor) -> Tensor:
    """``x · sigmoid(x)`` (swish).  ∂/∂x = s + x·s·(1 − s), from the engine."""
    x = float_tensor(x, "silu")
    return x * ops.sigmoid(x)


def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + e^{βx}) / β``, and ``x`` where ``βx > threshold`` (PyTorch's rule).
    ∂/∂x = sigmoid(βx) (1 where linear)."""
    x = float_tensor(x, "softplus")
    if beta <= 0:
        raise ValueError(f"softplus: beta must be > 0, got {beta}")
    xd = x.data
    bx = xd * beta
    linear = bx > threshold
    out = xp.where(linear, xd, xp.logaddexp(0.0, bx) / beta).astype(xd.dtype, copy=False)
    keep = ~linear

    def backward(g: Any, x: Any) -> tuple[Any]:
        s = D.sigmoid(x * beta)
        return (g * (s * keep + linear),)

    return make_node(out, (x,), "softplus", backward, (x,))


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """``x`` where ``x > 0``, else ``α (e^x − 1)``.  ∂/∂x = 1 or ``α e^x``.

    At x = 0 PyTorch's derivative is the left one, α, and its second derivative the right
    one, 0 (its backward tests x <= 0, its double backward x < 0): so are these."""
    x = float_tensor(x, "elu")
    xd = x.data
    pos = xd > 0
    # exp of x only where x < 0 (elsewhere exp(0) = 1, and the branch is not taken): no
    # overflow, and where routes the gradient, so elu(−∞) = −α with gradient 0, not NaN;
    # at x = 0 the exponential's gradient is cut and z = where(x == 0, x, 0), 0 in value,
    # gives the first derivative α and nothing beyond
    neg = ops.exp(ops.where(xd < 0, x, 0.0)) - 1.0
    if (xd == 0).any():
        neg = neg + ops.where(xd == 0, x, 0.0)
    return ops.where(pos, x, neg * alpha)
