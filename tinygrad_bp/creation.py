"""Factories with PyTorch's names: ``tg.tensor``, ``tg.zeros``, ``tg.randn``, ...

Random tensors come from one NumPy generator that :func:`manual_seed` reseeds (as
``torch.manual_seed``); the same seed gives the same numbers on every machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .tensor import Tensor, device, get_default_dtype

__all__ = [
    "tensor", "zeros", "ones", "full", "zeros_like", "ones_like", "arange", "linspace",
    "randn", "rand", "manual_seed", "default_generator", "full_like", "empty", "empty_like",
    "rand_like", "randn_like", "randint", "randperm", "eye", "from_numpy", "as_tensor",
    "is_tensor", "device",
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


def _like(op: str, t: Any, dtype: Any) -> tuple[tuple[int, ...], np.dtype]:
    d = np.asarray(t.data if isinstance(t, Tensor) else t)
    return d.shape, np.dtype(dtype) if dtype is not None else d.dtype


def full_like(t: Any, fill_value: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """``t``'s shape filled with ``fill_value``, of ``t``'s dtype unless ``dtype`` is given."""
    shape, d = _like("full_like", t, dtype)
    return Tensor(np.full(shape, fill_value, d), requires_grad, d)


def empty(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """PyTorch's ``empty``: here filled with zeros (never uninitialised memory)."""
    return Tensor(np.zeros(_shape("empty", size), _dtype(dtype)), requires_grad, dtype)


def empty_like(t: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """PyTorch's ``empty_like``: zeros of ``t``'s shape and dtype."""
    return zeros_like(t, dtype, requires_grad)


def _random_like(op: str, t: Any, dtype: Any) -> tuple[tuple[int, ...], np.dtype]:
    shape, d = _like(op, t, dtype)
    if d.kind != "f":
        raise TypeError(
            f"{op}: needs a floating-point dtype, got {d} (as PyTorch: pass dtype=np.float64 "
            f"or a float tensor)"
        )
    return shape, d


def rand_like(t: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform samples on [0, 1) of ``t``'s shape and (floating) dtype."""
    shape, d = _random_like("rand_like", t, dtype)
    return Tensor(_generator.random(shape).astype(d), requires_grad, d)


def randn_like(t: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples of ``t``'s shape and (floating) dtype."""
    shape, d = _random_like("randn_like", t, dtype)
    return Tensor(_generator.standard_normal(shape).astype(d), requires_grad, d)


def randint(low: int, high: Any = None, size: Any = None, dtype: Any = None,
            requires_grad: bool = False) -> Tensor:  # fmt: skip
    """Integers uniform on ``[low, high)`` (``randint(high, size)`` from 0), int64 by
    default, as ``torch.randint``."""
    if size is None:
        if high is None:
            raise TypeError("randint: size is required, as in PyTorch: randint(low, high, size)")
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    shape = _shape("randint", (size,))
    if not low < high:
        raise ValueError(f"randint: needs low < high, got low={low}, high={high}")
    d = np.dtype(np.int64) if dtype is None else np.dtype(dtype)
    return Tensor(_generator.integers(low, high, size=shape).astype(d), requires_grad, d)


def randperm(n: int, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A random permutation of ``0..n-1`` (int64 by default)."""
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
        raise ValueError(f"randperm: n must be a non-negative int, got {n!r}")
    d = np.dtype(np.int64) if dtype is None else np.dtype(dtype)
    return Tensor(_generator.permutation(int(n)).astype(d), requires_grad, d)


def eye(n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """The ``n × m`` identity matrix (``m = n`` by default)."""
    shape = _shape("eye", (n,) if m is None else (n, m))
    d = _dtype(dtype)
    return Tensor(np.eye(shape[0], shape[-1], dtype=d), requires_grad, d)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor of ``array``'s dtype (any numeric dtype, integers kept), as
    ``torch.from_numpy``."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a NumPy array, got {type(array).__name__}")
    return Tensor(array, dtype=array.dtype)


def as_tensor(data: Any, dtype: Any = None) -> Tensor:
    """``torch.as_tensor``: a Tensor as it is (cast where ``dtype`` differs), a NumPy
    array with its dtype, other data as :class:`Tensor` reads it."""
    if isinstance(data, Tensor):
        return data if dtype is None else data.to(dtype)
    if isinstance(data, np.ndarray) and dtype is None:
        return Tensor(data, dtype=data.dtype)
    return Tensor(data, dtype=dtype)


def is_tensor(obj: Any) -> bool:
    return isinstance(obj, Tensor)


def _on_cpu(op: str, where: Any) -> None:
    if where is not None and str(where).split(":")[0] != "cpu":
        raise RuntimeError(
            f"{op}: tinygrad_bp runs on NumPy on the CPU only; there is no device {str(where)!r} "
            f"(drop device=, or use 'cpu')"
        )


def _takes_device(fn: Any) -> Any:
    """PyTorch's ``device=`` keyword on a factory: ``"cpu"`` (or a ``tg.device``) is
    accepted, another device refused by name."""
    import functools

    @functools.wraps(fn)
    def factory(*args: Any, device: Any = None, **kwargs: Any) -> Tensor:
        _on_cpu(fn.__name__, device)
        return fn(*args, **kwargs)

    return factory


for _name in (
    "tensor", "zeros", "ones", "full", "zeros_like", "ones_like", "arange", "linspace",
    "randn", "rand", "full_like", "empty", "empty_like", "rand_like", "randn_like", "randint",
    "randperm", "eye",
):  # fmt: skip
    globals()[_name] = _takes_device(globals()[_name])
del _name


# Tensor's methods that draw random numbers live here, beside the generator they draw
# from (tensor.py sits below this module and cannot import it)
def _uniform_(self: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill with uniform samples on ``[a, b)`` from the generator ``tg.manual_seed`` sets
    (in place; not differentiable, as PyTorch's)."""
    return self.copy_(_generator.uniform(a, b, size=self.data.shape).astype(self.data.dtype))


def _normal_(self: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill with normal samples (in place), from the generator ``tg.manual_seed`` sets."""
    return self.copy_(_generator.normal(mean, std, size=self.data.shape).astype(self.data.dtype))


def _bernoulli(self: Tensor) -> Tensor:
    """``torch.bernoulli``: 1 with probability ``self`` (each entry), else 0; a constant
    of this tensor's dtype."""
    p = self.data
    if p.size and (p.min() < 0 or p.max() > 1):
        raise ValueError("bernoulli: the probabilities must be in [0, 1]")
    return Tensor((_generator.random(p.shape) < p).astype(p.dtype), dtype=p.dtype)


Tensor.uniform_ = _uniform_  # type: ignore[attr-defined]
Tensor.normal_ = _normal_  # type: ignore[attr-defined]
Tensor.bernoulli = _bernoulli  # type: ignore[attr-defined]
