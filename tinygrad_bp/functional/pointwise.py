"""More of PyTorch's activations, composed of the primitives: hardtanh, relu6, hardsigmoid,
hardswish, selu, celu, mish, softsign, logsigmoid, tanhshrink, threshold, softmin, glu.

Where PyTorch's derivative at a kink differs from the one-sided limit a composition would
give (hardtanh passes no gradient *at* its bounds, hardswish's is 0 at ``x = −3`` and 1 at
``x = 3``), the masks are PyTorch's, so the gradients agree everywhere.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import ops
from ..backend import xp
from ..ops._common import one_axis
from ..tensor import Tensor, leaf
from ._util import float_tensor
from .activation import elu, softplus

__all__ = [
    "hardtanh", "relu6", "hardsigmoid", "hardswish", "selu", "celu", "mish", "softsign",
    "logsigmoid", "tanhshrink", "threshold", "softmin", "glu",
]  # fmt: skip

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _number(v: Any, name: str, op: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.number)):
        raise TypeError(f"{op}: {name} must be a number, got {v!r}")
    return float(v)


def _inside(x: Tensor, value: Tensor, lo: float, hi: float, outside: Any) -> Tensor:
    """``value`` strictly between ``lo`` and ``hi``, the constant ``outside`` elsewhere
    (so no gradient at or beyond the bounds, and none at NaN: PyTorch's masks)."""
    xd = x.data
    with np.errstate(invalid="ignore"):
        inside = (xd > lo) & (xd < hi)
    return ops.where(inside, value, leaf(xp.asarray(outside, dtype=xd.dtype), "const"))


def hardtanh(x: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """``x`` clipped to ``[min_val, max_val]``; ∂/∂x = 1 strictly inside, else 0
    (PyTorch's: no gradient at the bounds, unlike ``clamp``).

    Examples
    --------
    >>> import tinygrad_bp as tg
    >>> from tinygrad_bp import functional as F
    >>> F.hardtanh(tg.Tensor([-2.0, 0.5, 3.0])).data
    array([-1. ,  0.5,  1. ])
    """
    x = float_tensor(x, "hardtanh")
    lo, hi = _number(min_val, "min_val", "hardtanh"), _number(max_val, "max_val", "hardtanh")
    if lo > hi:
        raise ValueError(f"hardtanh: min_val {lo} must not exceed max_val {hi}")
    return _inside(x, x, lo, hi, np.clip(x.data, lo, hi))


def relu6(x: Tensor) -> Tensor:
    """``min(max(0, x), 6)``: :func:`hardtanh` on ``[0, 6]``, as PyTorch's."""
    return hardtanh(float_tensor(x, "relu6"), 0.0, 6.0)


def hardsigmoid(x: Tensor) -> Tensor:
    """``relu6(x + 3) / 6``; ∂/∂x = 1/6 strictly inside ``(−3, 3)``."""
    x = float_tensor(x, "hardsigmoid")
    with np.errstate(invalid="ignore"):
        outside = np.clip(x.data + 3.0, 0.0, 6.0) / 6.0
    return _inside(x, (x + 3.0) / 6.0, -3.0, 3.0, outside)


def hardswish(x: Tensor) -> Tensor:
    """``x · relu6(x + 3) / 6`` (PyTorch's formula, so ``−∞`` gives NaN as there);
    ∂/∂x = 0 up to −3, ``(2x + 3)/6`` on ``(−3, 3)``, 1 from 3 on (PyTorch's masks)."""
    x = float_tensor(x, "hardswish")
    xd = x.data
    with np.errstate(invalid="ignore"):
        low, mid = xd <= -3.0, xd < 3.0
        below = leaf((xd * np.clip(xd + 3.0, 0.0, 6.0) / 6.0).astype(xd.dtype), "const")
    xm = ops.where(mid & ~low, x, 0.0)  # (the middle's x only there: at −∞, 0·∞ was NaN)
    return ops.where(low, below, ops.where(mid, xm * (xm + 3.0) / 6.0, x))


def selu(x: Tensor) -> Tensor:
    """``scale · elu(x, alpha)`` with PyTorch's constants (α ≈ 1.6733, scale ≈ 1.0507)."""
    return elu(float_tensor(x, "selu"), _SELU_ALPHA) * _SELU_SCALE


def celu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """``max(0, x) + min(0, α (e^{x/α} − 1))``."""
    x = float_tensor(x, "celu")
    a = _number(alpha, "alpha", "celu")
    if a == 0:
        raise ValueError("celu: alpha must not be 0")
    return elu(x * (1.0 / a)) * a


def mish(x: Tensor) -> Tensor:
    """``x · tanh(softplus(x))``."""
    x = float_tensor(x, "mish")
    return x * ops.tanh(softplus(x))


def softsign(x: Tensor) -> Tensor:
    """``x / (1 + |x|)``."""
    x = float_tensor(x, "softsign")
    return x / (ops.abs(x) + 1.0)


def logsigmoid(x: Tensor) -> Tensor:
    """``log σ(x) = −softplus(−x)``, stable for any ``x``."""
    x = float_tensor(x, "logsigmoid")
    return -softplus(-x, 1.0, math.inf)  # (no linear piece: every derivative exact)


def tanhshrink(x: Tensor) -> Tensor:
    """``x − tanh(x)``."""
    x = float_tensor(x, "tanhshrink")
    return x - ops.tanh(x)


def threshold(x: Tensor, threshold: float, value: float) -> Tensor:
    """``x`` where ``x > threshold``, else ``value``."""
    x = float_tensor(x, "threshold")
    t = _number(threshold, "threshold", "threshold")
    v = leaf(xp.asarray(_number(value, "value", "threshold"), dtype=x.data.dtype), "const")
    with np.errstate(invalid="ignore"):
        keep = x.data > t
    return ops.where(keep, x, v)


def softmin(x: Tensor, dim: Any = None) -> Tensor:
    """``softmax(−x)`` along ``dim``."""
    x = float_tensor(x, "softmin")
    if dim is None:
        raise TypeError("softmin: pass dim (PyTorch's implicit choice of dim is deprecated)")
    return ops.softmax(-x, dim)


def glu(x: Tensor, dim: int = -1) -> Tensor:
    """The gated linear unit: ``a · σ(b)`` of the two halves of ``x`` along ``dim``."""
    x = float_tensor(x, "glu")
    if x.data.ndim == 0:
        raise ValueError("glu: does not support 0-d tensors")
    ax = one_axis(dim, x.data.ndim, "glu")
    n = x.data.shape[ax]
    if n % 2:
        raise ValueError(f"glu: halving dimension must be even, but dimension {dim} is size {n}")
    a, b = ops.split(x, n // 2, ax)
    return a * ops.sigmoid(b)
