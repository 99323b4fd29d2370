"""``nn.init``: fill a parameter in place, as ``torch.nn.init``.

Every function takes a Tensor (a :class:`~tinygrad_bp.nn.Parameter` usually), writes new
values into its array without recording a graph, and returns it, so that the PyTorch
habit works unchanged::

    def init_weights(m):
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)

    model.apply(init_weights)

The random ones draw from the library's generator (:func:`tinygrad_bp.manual_seed` seeds
it), or from ``generator=`` (a NumPy ``Generator``).  The fans, gains and bounds are
PyTorch's; the random numbers themselves are NumPy's, not PyTorch's.

Examples
--------
>>> import numpy as np
>>> from tinygrad_bp import nn
>>> w = nn.Parameter(np.empty((3, 5)))
>>> _ = nn.init.constant_(w, 0.5)
>>> w.data[0]
array([0.5, 0.5, 0.5, 0.5, 0.5])
>>> round(nn.init.calculate_gain("relu"), 6)
1.414214
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..autograd import no_grad
from ..creation import default_generator
from ..tensor import Tensor

__all__ = [
    "calculate_gain",
    "uniform_",
    "normal_",
    "constant_",
    "ones_",
    "zeros_",
    "xavier_uniform_",
    "xavier_normal_",
    "kaiming_uniform_",
    "kaiming_normal_",
    "orthogonal_",
    "trunc_normal_",
    "eye_",
]


def _tensor(t: Any, op: str) -> Tensor:
    if not isinstance(t, Tensor):
        raise TypeError(f"nn.init.{op}: expected a Tensor (a Parameter), got {type(t).__name__}")
    if t.data.dtype.kind != "f":
        raise TypeError(f"nn.init.{op}: expected a floating tensor, got dtype {t.data.dtype}")
    return t


def _gen(generator: Any, op: str) -> np.random.Generator:
    if generator is None:
        return default_generator()
    if not isinstance(generator, np.random.Generator):
        raise TypeError(
            f"nn.init.{op}: generator must be a numpy.random.Generator or None, got "
            f"{type(generator).__name__}"
        )
    return generator


def _number(v: Any, label: str, op: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise TypeError(f"nn.init.{op}: {label} must be a number, got {v!r}")
    if not math.isfinite(v):
        raise ValueError(f"nn.init.{op}: {label} must be finite, got {v!r}")
    return float(v)


def _fill(t: Tensor, values: Any) -> Tensor:
    # in place, as PyTorch's trailing underscore says, recording no graph (and counted
    # as a change by the version check, as copy_ counts it)
    with no_grad():
        t.copy_(np.broadcast_to(np.asarray(values, dtype=t.data.dtype), t.data.shape))
    return t


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity, PyTorch's table: 1 for linear, conv and
    sigmoid, 5/3 for tanh, √2 for relu, √(2/(1 + slope²)) for leaky_relu (slope 0.01 by
    default), 3/4 for selu."""
    linear = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
              "conv_transpose3d", "sigmoid")  # fmt: skip
    if nonlinearity in linear:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else _number(param, "param", "calculate_gain")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(
        f"nn.init.calculate_gain: unsupported nonlinearity {nonlinearity!r}; expected one "
        f"of {list(linear) + ['tanh', 'relu', 'leaky_relu', 'selu']}"
    )


def _fans(t: Tensor, op: str) -> tuple[int, int]:
    shape = t.data.shape
    if len(shape) < 2:
        raise ValueError(
            f"nn.init.{op}: fan in and fan out can not be computed for a tensor with fewer "
            f"than 2 dimensions (shape {shape})"
        )
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator: Any = None) -> Tensor:
    """Uniform values on ``[a, b)``."""
    t = _tensor(tensor, "uniform_")
    a, b = _number(a, "a", "uniform_"), _number(b, "b", "uniform_")
    if a > b:
        raise ValueError(f"nn.init.uniform_: expected a <= b, got a={a}, b={b}")
    return _fill(t, _gen(generator, "uniform_").uniform(a, b, size=t.data.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator: Any = None) -> Tensor:
    """Normal values of the given mean and standard deviation."""
    t = _tensor(tensor, "normal_")
    mean, std = _number(mean, "mean", "normal_"), _number(std, "std", "normal_")
    if std < 0:
        raise ValueError(f"nn.init.normal_: std must be >= 0, got {std}")
    return _fill(t, _gen(generator, "normal_").normal(mean, std, size=t.data.shape))


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Every value ``val``."""
    t = _tensor(tensor, "constant_")
    return _fill(t, _number(val, "val", "constant_"))


def ones_(tensor: Tensor) -> Tensor:
    """Every value 1."""
    return _fill(_tensor(tensor, "ones_"), 1.0)


def zeros_(tensor: Tensor) -> Tensor:
    """Every value 0."""
    return _fill(_tensor(tensor, "zeros_"), 0.0)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator: Any = None) -> Tensor:
    """Glorot uniform: ``U(−a, a)``, ``a = gain·√(6/(fan_in + fan_out))``."""
    t = _tensor(tensor, "xavier_uniform_")
    fan_in, fan_out = _fans(t, "xavier_uniform_")
    std = _number(gain, "gain", "xavier_uniform_") * math.sqrt(2.0 / float(fan_in + fan_out))
    a = math.sqrt(3.0) * std
    return _fill(t, _gen(generator, "xavier_uniform_").uniform(-a, a, size=t.data.shape))


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator: Any = None) -> Tensor:
    """Glorot normal: ``N(0, std²)``, ``std = gain·√(2/(fan_in + fan_out))``."""
    t = _tensor(tensor, "xavier_normal_")
    fan_in, fan_out = _fans(t, "xavier_normal_")
    std = _number(gain, "gain", "xavier_normal_") * math.sqrt(2.0 / float(fan_in + fan_out))
    return _fill(t, _gen(generator, "xavier_normal_").normal(0.0, std, size=t.data.shape))


def _kaiming_std(t: Tensor, a: float, mode: str, nonlinearity: str, op: str) -> float:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"nn.init.{op}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _fans(t, op)
    fan = fan_in if mode == "fan_in" else fan_out
    if fan == 0:
        raise ValueError(f"nn.init.{op}: initializing a zero-element tensor (shape {t.shape})")
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(
    tensor: Tensor,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: Any = None,
) -> Tensor:
    """He uniform: ``U(−b, b)``, ``b = gain·√(3/fan)`` (``fan`` by ``mode``, the gain of
    ``nonlinearity`` with negative slope ``a``)."""
    t = _tensor(tensor, "kaiming_uniform_")
    bound = math.sqrt(3.0) * _kaiming_std(t, a, mode, nonlinearity, "kaiming_uniform_")
    return _fill(t, _gen(generator, "kaiming_uniform_").uniform(-bound, bound, t.data.shape))


def kaiming_normal_(
    tensor: Tensor,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: Any = None,
) -> Tensor:
    """He normal: ``N(0, std²)``, ``std = gain/√fan``."""
    t = _tensor(tensor, "kaiming_normal_")
    std = _kaiming_std(t, a, mode, nonlinearity, "kaiming_normal_")
    return _fill(t, _gen(generator, "kaiming_normal_").normal(0.0, std, size=t.data.shape))


def orthogonal_(tensor: Tensor, gain: float = 1.0, generator: Any = None) -> Tensor:
    """A (semi-)orthogonal matrix (Saxe et al.), PyTorch's recipe: the Q of the QR
    decomposition of a normal ``(rows, numel/rows)`` matrix, its columns' signs fixed by
    ``R``'s diagonal, times ``gain``."""
    t = _tensor(tensor, "orthogonal_")
    if t.data.ndim < 2:
        raise ValueError(
            f"nn.init.orthogonal_: only tensors with 2 or more dimensions are supported, got "
            f"shape {t.shape}"
        )
    if t.data.size == 0:
        return t
    rows = t.data.shape[0]
    cols = t.data.size // rows
    flat = _gen(generator, "orthogonal_").standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(t, _number(gain, "gain", "orthogonal_") * q.reshape(t.data.shape))


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0,
                  b: float = 2.0, generator: Any = None) -> Tensor:  # fmt: skip
    """Normal samples ``N(mean, std²)`` cut to ``[a, b]``, in place, drawn as PyTorch's
    (the inverse CDF of a uniform draw between the bounds' CDFs)."""
    from scipy.special import erfinv

    t = _tensor(tensor, "trunc_normal_")
    mean, std = _number(mean, "mean", "trunc_normal_"), _number(std, "std", "trunc_normal_")
    a, b = _number(a, "a", "trunc_normal_"), _number(b, "b", "trunc_normal_")
    if std <= 0 or a >= b:
        raise ValueError(f"nn.init.trunc_normal_: needs std > 0 and a < b, got {std}, {a}, {b}")

    def cdf(x: float) -> float:
        return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0

    lo, hi = cdf((a - mean) / std), cdf((b - mean) / std)
    u = _gen(generator, "trunc_normal_").uniform(2 * lo - 1, 2 * hi - 1, size=t.data.shape)
    return _fill(t, np.clip(erfinv(u) * std * math.sqrt(2.0) + mean, a, b))


def eye_(tensor: Tensor) -> Tensor:
    """The identity matrix (ones on the diagonal of a 2-d tensor), in place."""
    t = _tensor(tensor, "eye_")
    if t.data.ndim != 2:
        raise ValueError(f"nn.init.eye_: only 2-d tensors, got shape {t.data.shape}")
    return _fill(t, np.eye(*t.data.shape))
