"""``Dropout``: inverted dropout in training mode, the identity in evaluation mode."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import functional as F
from ..tensor import Tensor
from .module import Module, _rng

__all__ = ["Dropout"]


class Dropout(Module):
    """Zero each value with probability ``p`` (the rest scaled by 1/(1−p)) while training.
    ``rng`` (a seed or a NumPy Generator) makes the masks reproducible.

    Examples
    --------
    >>> import numpy as np
    >>> import tinygrad_bp as tg
    >>> drop = tg.nn.Dropout(0.5, rng=0)
    >>> drop(tg.Tensor(np.ones(6))).data
    array([2., 0., 0., 0., 2., 2.])
    >>> drop.eval()(tg.Tensor(np.ones(3))).data
    array([1., 1., 1.])
    """

    def __init__(self, p: float = 0.5, rng: Any = None) -> None:
        if isinstance(p, bool) or not isinstance(p, (int, float, np.floating)) or not 0 <= p < 1:
            raise ValueError(f"Dropout: p must be a probability in [0, 1), got {p!r}")
        self.p = float(p)
        # None: the library's generator at each call, so tg.manual_seed seeds the masks
        self._gen = None if rng is None else _rng(rng)

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training, rng=self._gen)

    def extra_repr(self) -> str:
        return f"p={self.p}"
