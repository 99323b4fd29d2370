"""What every hand-written layer shares: parameters by name, the saved cache, argument checks.

NumPy only, like the rest of the package.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

Grads = dict[str, np.ndarray]


def as_rng(seed: Any) -> np.random.Generator:
    """``seed`` itself if it is a Generator, else ``np.random.default_rng(seed)``."""
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def positive_int(where: str, label: str, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
        raise ValueError(f"{where}: {label} must be a positive int, got {v!r}")
    return int(v)


def pair(where: str, label: str, v: Any, minimum: int) -> tuple[int, int]:
    """An int or a pair of ints, each at least ``minimum``, as a pair (PyTorch's ``_pair``)."""
    vals = tuple(v) if isinstance(v, (tuple, list)) else (v, v)
    if len(vals) != 2 or any(
        isinstance(a, bool) or not isinstance(a, (int, np.integer)) or a < minimum for a in vals
    ):
        what = "positive" if minimum > 0 else "non-negative"
        raise ValueError(f"{where}: {label} must be a {what} int or a pair of them, got {v!r}")
    return int(vals[0]), int(vals[1])


def uniform(rng: np.random.Generator, bound: float, shape: tuple[int, ...], dtype: Any) -> Any:
    """``U(-bound, bound)``: PyTorch's default initialisation of Linear, Conv and RNN weights
    (its ``kaiming_uniform_(a=√5)`` works out to ``bound = 1/√fan_in``)."""
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


def fan_in_bound(fan_in: int) -> float:
    return 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0


class HandLayer:
    """The base of the hand-written layers.

    A layer holds its parameters as NumPy arrays under PyTorch's names (``param_names``),
    and its buffers (``buffer_names``, e.g. BatchNorm's running statistics).  ``forward``
    saves what ``backward`` needs in ``self.cache``; ``backward(dout)`` returns a dict of
    gradients: ``"x"`` for the input and one entry per parameter, under its name.
    """

    param_names: tuple[str, ...] = ()
    buffer_names: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.cache: Any = None
        self.training = True

    @property
    def name(self) -> str:
        return type(self).__name__

    def train(self, mode: bool = True) -> HandLayer:
        """Training mode (the default) or, with ``mode=False``, evaluation mode."""
        self.training = bool(mode)
        return self

    def eval(self) -> HandLayer:
        return self.train(False)

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of the parameters and buffers, under PyTorch's names."""
        return {k: getattr(self, k).copy() for k in self.param_names + self.buffer_names}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Copy parameters (and buffers) in, e.g. from ``torch_module.state_dict()`` turned
        into NumPy arrays; every name must be there, with the layer's shape."""
        expected = set(self.param_names + self.buffer_names)
        given = {k for k in state if k != "num_batches_tracked"}  # PyTorch's BatchNorm count
        missing, unexpected = sorted(expected - given), sorted(given - expected)
        if missing or unexpected:
            raise KeyError(
                f"{self.name}.load_state_dict: missing keys {missing}, unexpected keys {unexpected}"
            )
        arrays = {}
        for k in sorted(expected):
            arr = np.asarray(state[k])
            cur = getattr(self, k)
            if arr.shape != cur.shape:
                raise ValueError(
                    f"{self.name}.load_state_dict: {k} has shape {arr.shape}, the layer {cur.shape}"
                )
            arrays[k] = arr
        for k, arr in arrays.items():  # all checked first: a failed load changes nothing
            getattr(self, k)[...] = arr

    def parameters(self) -> dict[str, np.ndarray]:
        """The parameter arrays themselves (not copies), by name."""
        return {k: getattr(self, k) for k in self.param_names}

    def saved(self) -> Any:
        """The cache of the last forward, or a RuntimeError saying forward comes first."""
        if self.cache is None:
            raise RuntimeError(f"{self.name}.backward: call forward() first")
        return self.cache

    def input(self, x: Any, dtype: Any) -> np.ndarray:
        """``x`` as an array of ``dtype``; numbers only."""
        arr = np.asarray(x)
        if arr.dtype.kind not in "fiub":
            raise TypeError(f"{self.name}: the input must be numeric, got dtype {arr.dtype}")
        return arr.astype(dtype, copy=False)

    def grad_in(self, dout: Any, shape: tuple[int, ...], dtype: Any, what: str = "output") -> Any:
        """The incoming gradient, checked against the shape of what forward returned."""
        g = np.asarray(dout, dtype=dtype)
        if g.shape != shape:
            raise ValueError(
                f"{self.name}.backward: expected a gradient of shape {shape} (the layer's "
                f"{what}), got {g.shape}"
            )
        return g
