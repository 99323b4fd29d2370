"""Factories with PyTorch's names: ``tg.tensor``, ``tg.zeros``, ``tg.randn``, ...

Random tensors come from one NumPy generator that :func:`manual_seed` reseeds (as
``torch.manual_seed``); the same seed gives the same numbers on every machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .tensor import Tensor, get_default_dtype

__all__ = [
    "tensor", "zeros", "ones", "full", "zeros_like", "ones_like", "arange", "linspace",
    "randn", "rand", "manual_seed", "default_generator",
]  # fmt: skip

_generator = np.random.default_rng()


def default_generator() -> np.random.Generator:
    """The generator :func:`manual_seed` reseeds: :func:`randn`, :func:`rand`, the layers'
    initial weights (when no ``rng`` is given), dropout's masks and the data loader's
    shuffling all draw from it, as everything random in PyTorch draws from
    ``torch.default_generator``."""
    return _generator


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the generator behind :func:`randn`, :func:`rand`, parameter initialisation,
    dropout and shuffling (:func:`default_generator`); returns it.

    Examples
    --------
    >>> import tinygrad_bp as tg
    >>> _ = tg.manual_seed(0); a = tg.randn(3)
    >>> _ = tg.manual_seed(0); b = tg.randn(3)
    >>> bool((a.data == b.data).all())
    True
    """
    global _generator
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"manual_seed: seed must be a non-negative int, got {seed!r}")
    _generator = np.random.default_rng(int(seed))
    return _generator


def _shape(op: str, size: tuple[Any, ...]) -> tuple[int, ...]:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    if not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) for n in size):
        raise TypeError(f"{op}: sizes must be ints, got {size!r}")
    if any(n < 0 for n in size):
        raise ValueError(f"{op}: sizes must be non-negative, got {size!r}")
    return tuple(int(n) for n in size)


def _dtype(dtype: Any) -> Any:
    return get_default_dtype() if dtype is None else np.dtype(dtype)


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """``Tensor(data, requires_grad, dtype)`` under PyTorch's factory name."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def zeros(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.zeros(_shape("zeros", size), _dtype(dtype)), requires_grad, dtype)


def ones(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones(_shape("ones", size), _dtype(dtype)), requires_grad, dtype)


def full(size: Sequence[int], fill_value: float, dtype: Any = None,
         requires_grad: bool = False) -> Tensor:  # fmt: skip
    """``size`` filled with ``fill_value``, of ``dtype``; without one, PyTorch's choice:
    bool for a bool, int64 for an int, the default float dtype for a float."""
    if dtype is None:
        if isinstance(fill_value, (bool, np.bool_)):
            dtype = np.bool_
        elif isinstance(fill_value, (int, np.integer)):
            dtype = np.int64
    d = _dtype(dtype)
    return Tensor(np.full(_shape("full", (size,)), fill_value, d), requires_grad, d)


def zeros_like(t: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    d = np.asarray(t.data if isinstance(t, Tensor) else t)
    return Tensor(np.zeros(d.shape, dtype or d.dtype), requires_grad, dtype or d.dtype)


def ones_like(t: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    d = np.asarray(t.data if isinstance(t, Tensor) else t)
    return Tensor(np.ones(d.shape, dtype or d.dtype), requires_grad, dtype or d.dtype)


def arange(start: float, end: float | None = None, step: float = 1, dtype: Any = None,
           requires_grad: bool = False) -> Tensor:  # fmt: skip
    """Values from ``start`` up to (not including) ``end``.  Integer arguments give an
    int64 tensor, as in PyTorch; floats the default float dtype."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    ints = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
    d = np.dtype(dtype) if dtype is not None else (np.dtype(np.int64) if ints else None)
    return Tensor(np.arange(start, end, step, dtype=d or get_default_dtype()), requires_grad,
                  d or get_default_dtype())  # fmt: skip


def linspace(start: float, end: float, steps: int, dtype: Any = None,
             requires_grad: bool = False) -> Tensor:  # fmt: skip
    if not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"linspace: steps must be a non-negative int, got {steps!r}")
    d = _dtype(dtype)
    return Tensor(np.linspace(start, end, int(steps), dtype=d), requires_grad, d)


def randn(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples from the generator :func:`manual_seed` sets."""
    shape = _shape("randn", size)
    return Tensor(_generator.standard_normal(shape).astype(_dtype(dtype)), requires_grad)


def rand(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform samples on [0, 1) from the generator :func:`manual_seed` sets."""
    shape = _shape("rand", size)
    return Tensor(_generator.random(shape).astype(_dtype(dtype)), requires_grad)
