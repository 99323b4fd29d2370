"""A fully connected layer in PyTorch's layout, and the softmax cross-entropy, by hand.

``nn.Linear`` keeps ``weight (out, in)`` (the tutorial's :class:`~.dense.Layer` keeps
``W (in, out)``), so ``y = x·Wᵀ + b`` and

    ∂L/∂x = ∂L/∂y · W,   ∂L/∂W = (∂L/∂y)ᵀ · x,   ∂L/∂b = Σ ∂L/∂y

summed over every leading axis of ``x``.

Examples
--------
>>> import numpy as np
>>> from tinygrad_bp.reference import Linear, softmax_cross_entropy
>>> lin = Linear(3, 2, rng=0)
>>> z = lin.forward(np.ones((4, 3)))
>>> loss, dz = softmax_cross_entropy(z, np.array([0, 1, 1, 0]))
>>> sorted(lin.backward(dz)), bool(np.allclose(dz.sum(axis=1), 0))
(['bias', 'weight', 'x'], True)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._base import Grads, HandLayer, as_rng, fan_in_bound, positive_int, uniform

__all__ = ["Linear", "softmax_cross_entropy"]


class Linear(HandLayer):
    """``nn.Linear(in_features, out_features, bias=True)`` by hand: ``x (..., in) → (...,
    out)``, initialised ``U(−1/√in, 1/√in)`` as PyTorch.  ``backward(dout)`` returns
    ``{"x", "weight", "bias"}``."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        rng: Any = None,
        dtype: Any = np.float64,
    ) -> None:
        super().__init__()
        self.in_features = positive_int("Linear", "in_features", in_features)
        self.out_features = positive_int("Linear", "out_features", out_features)
        g = as_rng(rng)
        bound = fan_in_bound(self.in_features)
        self.weight = uniform(g, bound, (self.out_features, self.in_features), dtype)
        self.bias = uniform(g, bound, (self.out_features,), dtype) if bias else None
        self.param_names = ("weight", "bias") if bias else ("weight",)

    def forward(self, x: Any) -> np.ndarray:
        x = self.input(x, self.weight.dtype)
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"Linear({self.in_features}, {self.out_features}): expected input of shape "
                f"(..., {self.in_features}), got {x.shape}"
            )
        self.cache = x
        y = x @ self.weight.T
        return y + self.bias if self.bias is not None else y

    def backward(self, dout: Any) -> Grads:
        x = self.saved()
        g = self.grad_in(dout, x.shape[:-1] + (self.out_features,), x.dtype)
        g2 = g.reshape(-1, self.out_features)
        grads: Grads = {"x": g @ self.weight, "weight": g2.T @ x.reshape(-1, self.in_features)}
        if self.bias is not None:
            grads["bias"] = g2.sum(axis=0)
        return grads

    def __repr__(self) -> str:
        return f"Linear({self.in_features}, {self.out_features}, bias={self.bias is not None})"


def softmax_cross_entropy(logits: Any, target: Any) -> tuple[float, np.ndarray]:
    """The mean cross-entropy of ``logits (M, C)`` against class indices ``target (M,)``
    and its gradient ``(softmax(logits) − onehot) / M``, through logsumexp (stable)."""
    z = np.asarray(logits)
    y = np.asarray(target)
    if z.ndim != 2 or y.shape != (z.shape[0],):
        raise ValueError(
            f"softmax_cross_entropy: expected logits (M, C) and targets (M,), got {z.shape} "
            f"and {y.shape}"
        )
    if y.dtype.kind not in "iu":
        raise TypeError(f"softmax_cross_entropy: targets must be integers, got dtype {y.dtype}")
    m, c = z.shape
    if y.size and (y.min() < 0 or y.max() >= c):
        raise ValueError(
            f"softmax_cross_entropy: targets out of range: expected 0..{c - 1}, got values "
            f"from {y.min()} to {y.max()}"
        )
    rows = np.arange(m)
    shifted = z - z.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    s = e.sum(axis=1, keepdims=True)
    loss = float(np.log(s[:, 0]).mean() - shifted[rows, y].mean())
    grad = e / s
    grad[rows, y] -= 1
    grad /= m
    return loss, grad
