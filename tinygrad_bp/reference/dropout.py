"""Inverted dropout by hand.

In training each value is kept with probability ``1 − p`` and scaled by ``1/(1 − p)``,
so the expected output is the input and evaluation needs no rescaling (evaluation mode is
the identity).  With the mask ``M`` (``M_i ∈ {0, 1}``) saved by the forward:

    y = x · M / (1 − p),        ∂L/∂x = ∂L/∂y · M / (1 − p)

Examples
--------
>>> import numpy as np
>>> from tinygrad_bp.reference import Dropout
>>> drop = Dropout(0.5, rng=0)
>>> y = drop.forward(np.ones((2, 4)))
>>> sorted(set(y.ravel().tolist()))
[0.0, 2.0]
>>> bool((drop.backward(np.ones((2, 4)))["x"] == y).all())
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._base import Grads, HandLayer, as_rng

__all__ = ["Dropout"]


class Dropout(HandLayer):
    """``nn.Dropout(p=0.5)`` by hand; the random mask comes from ``rng`` (a
    ``numpy.random.Generator``, or a seed for one).

    ``p = 1`` drops everything (the output and gradient are zeros), as in PyTorch.
    ``backward(dout)`` returns ``{"x"}``.
    """

    def __init__(self, p: float = 0.5, rng: Any = None) -> None:
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float, np.floating)):
            raise TypeError(f"Dropout: p must be a number, got {p!r}")
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be a probability in [0, 1], got {p}")
        self.p = float(p)
        self.rng = as_rng(rng)

    def forward(self, x: Any) -> np.ndarray:
        """A fresh mask each call in training mode; the identity in evaluation mode."""
        arr = np.asarray(x)
        x = self.input(arr, arr.dtype if arr.dtype.kind == "f" else np.float64)
        if not self.training or self.p == 0.0:
            scale = np.ones_like(x)
        elif self.p == 1.0:
            scale = np.zeros_like(x)
        else:
            keep = self.rng.random(x.shape) >= self.p  # P(keep) = 1 − p
            scale = keep.astype(x.dtype) * x.dtype.type(1.0 / (1.0 - self.p))
        self.cache = scale  # the mask, already scaled: M / (1 − p)
        return x * scale

    @property
    def mask(self) -> np.ndarray:
        """The last forward's mask ``M`` (booleans: True where a value was kept)."""
        return self.saved() != 0

    def backward(self, dout: Any) -> Grads:
        """``∂L/∂x = ∂L/∂y · M / (1 − p)``: the same mask, the same scale."""
        scale = self.saved()
        return {"x": self.grad_in(dout, scale.shape, scale.dtype) * scale}

    def __repr__(self) -> str:
        return f"Dropout(p={self.p})"
