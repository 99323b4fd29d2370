"""More of PyTorch's layer functions, composed of the primitives: ``conv1d`` (a
``conv2d`` of height 1), ``adaptive_avg_pool1d``/``adaptive_avg_pool2d`` (products with
constant averaging matrices), ``group_norm``, ``instance_norm`` and ``prelu``."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import ops
from ..tensor import Tensor
from ._util import float_tensor
from .conv import conv2d

__all__ = [
    "conv1d", "adaptive_avg_pool1d", "adaptive_avg_pool2d", "group_norm", "instance_norm",
    "prelu",
]  # fmt: skip


def _one(v: Any, name: str, op: str) -> int:
    if isinstance(v, (tuple, list)):
        if len(v) != 1:
            raise TypeError(f"{op}: {name} must be an int or a 1-tuple, got {v!r}")
        v = v[0]
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{op}: {name} must be an int, got {v!r}")
    return int(v)


def conv1d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Tensor:
    """1-D convolution (cross-correlation, as PyTorch): ``x (N, C_in, L)`` (or ``(C_in,
    L)``), ``weight (C_out, C_in/groups, K)`` -> ``(N, C_out, L_out)``; ``padding`` an
    int, ``"same"`` or ``"valid"``.  A :func:`conv2d` of height 1.

    Examples
    --------
    >>> import numpy as np
    >>> import tinygrad_bp as tg
    >>> from tinygrad_bp import functional as F
    >>> F.conv1d(tg.Tensor(np.ones((1, 2, 5))), tg.Tensor(np.ones((3, 2, 2)))).shape
    (1, 3, 4)
    """
    x, weight = float_tensor(x, "conv1d"), float_tensor(weight, "conv1d")
    if x.ndim == 2:  # unbatched (C, L), as PyTorch
        return conv1d(ops.unsqueeze(x, 0), weight, bias, stride, padding, dilation, groups)[0]
    if x.ndim != 3:
        raise ValueError(f"conv1d: expected an input of shape (N, C, L), got shape {x.shape}")
    if weight.ndim != 3:
        raise ValueError(
            f"conv1d: weight must have shape (C_out, C_in/groups, K), got shape {weight.shape}"
        )
    s = _one(stride, "stride", "conv1d")
    d = _one(dilation, "dilation", "conv1d")
    p = padding if isinstance(padding, str) else (0, _one(padding, "padding", "conv1d"))
    y = conv2d(ops.unsqueeze(x, 2), ops.unsqueeze(weight, 2), bias, (1, s), p, (1, d), groups)
    return ops.squeeze(y, 2)


def _averaging(n_in: int, n_out: int, dtype: Any) -> np.ndarray:
    """PyTorch's adaptive bins as an ``(n_out, n_in)`` matrix: row i averages
    ``[floor(i·n_in/n_out), ceil((i+1)·n_in/n_out))``."""
    a = np.zeros((n_out, n_in), dtype=dtype)
    for i in range(n_out):
        lo, hi = (i * n_in) // n_out, -(-((i + 1) * n_in) // n_out)
        a[i, lo:hi] = 1.0 / (hi - lo)
    return a


def _sizes(output_size: Any, shape: tuple[int, ...], k: int, op: str) -> tuple[int, ...]:
    sizes = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size,) * k
    if len(sizes) != k:
        raise ValueError(f"{op}: output_size must be an int or {k} ints, got {output_size!r}")
    out = []
    for s, n in zip(sizes, shape):
        if s is None:
            s = n
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1:
            raise ValueError(f"{op}: output sizes must be positive ints, got {output_size!r}")
        out.append(int(s))
    return tuple(out)


def adaptive_avg_pool2d(x: Tensor, output_size: Any) -> Tensor:
    """The mean over PyTorch's adaptive bins of ``(…, H, W)`` giving ``output_size`` (an
    int, a pair, None keeping that size): ``A_h · x · A_wᵀ`` with constant averaging
    matrices, so the gradient spreads g evenly over each bin.

    Examples
    --------
    >>> import numpy as np
    >>> import tinygrad_bp as tg
    >>> from tinygrad_bp import functional as F
    >>> F.adaptive_avg_pool2d(tg.Tensor(np.arange(16.0).reshape(1, 1, 4, 4)), 1).data
    array([[[[7.5]]]])
    """
    x = float_tensor(x, "adaptive_avg_pool2d")
    if x.ndim not in (3, 4):
        raise ValueError(f"adaptive_avg_pool2d: expected a 3-D or 4-D input, got shape {x.shape}")
    oh, ow = _sizes(output_size, x.shape[-2:], 2, "adaptive_avg_pool2d")
    ah = _averaging(x.shape[-2], oh, x.dtype)
    aw = _averaging(x.shape[-1], ow, x.dtype)
    return ops.matmul(ops.matmul(ah, x), aw.T)


def adaptive_avg_pool1d(x: Tensor, output_size: Any) -> Tensor:
    """The mean over PyTorch's adaptive bins of ``(…, L)`` giving ``output_size``."""
    x = float_tensor(x, "adaptive_avg_pool1d")
    if x.ndim not in (2, 3):
        raise ValueError(f"adaptive_avg_pool1d: expected a 2-D or 3-D input, got shape {x.shape}")
    (ol,) = _sizes(output_size, x.shape[-1:], 1, "adaptive_avg_pool1d")
    return ops.matmul(x, _averaging(x.shape[-1], ol, x.dtype).T)


def _affine(y: Tensor, weight: Any, bias: Any, c: int, op: str) -> Tensor:
    shape = (c,) + (1,) * (y.ndim - 2)
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and tuple(np.shape(p.data if isinstance(p, Tensor) else p)) != (c,):
            raise ValueError(f"{op}: {name} must have shape ({c},), got {np.shape(p)}")
    if weight is not None:
        y = (
            y * ops.reshape(weight, shape)
            if isinstance(weight, Tensor)
            else y * np.reshape(weight, shape)
        )
    if bias is not None:
        y = (
            y + ops.reshape(bias, shape)
            if isinstance(bias, Tensor)
            else y + np.reshape(bias, shape)
        )
    return y


def group_norm(x: Tensor, num_groups: int, weight: Any = None, bias: Any = None,
               eps: float = 1e-5) -> Tensor:  # fmt: skip
    """``torch.nn.functional.group_norm``: ``x (N, C, *)``'s channels in ``num_groups``
    groups, each normalised over its channels and positions (biased variance), then
    ``weight`` and ``bias`` per channel."""
    x = float_tensor(x, "group_norm")
    if x.ndim < 2:
        raise ValueError(f"group_norm: expected an input of shape (N, C, *), got {x.shape}")
    n, c = x.shape[:2]
    if (
        isinstance(num_groups, bool)
        or not isinstance(num_groups, (int, np.integer))
        or (num_groups < 1 or c % num_groups)
    ):
        raise ValueError(
            f"group_norm: num_groups must be a positive int dividing the {c} channels, got "
            f"{num_groups!r}"
        )
    g = ops.reshape(x, (n, int(num_groups), -1))
    d = g - ops.mean(g, -1, True)
    v = ops.mean(d * d, -1, True)
    y = ops.reshape(d / ops.sqrt(v + eps), x.shape)
    return _affine(y, weight, bias, c, "group_norm")


def instance_norm(x: Tensor, running_mean: Any = None, running_var: Any = None,
                  weight: Any = None, bias: Any = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:  # fmt: skip
    """``torch.nn.functional.instance_norm`` with the input's own statistics: each
    channel of each sample normalised over its positions (``group_norm`` with one group
    per channel).  Running statistics are not built: they are refused by name."""
    if running_mean is not None or running_var is not None or not use_input_stats:
        raise ValueError(
            "instance_norm: running statistics are not built (PyTorch's InstanceNorm keeps "
            "none by default); normalise with the input's own statistics"
        )
    x = float_tensor(x, "instance_norm")
    if x.ndim < 3:
        raise ValueError(f"instance_norm: expected an input of shape (N, C, *), got {x.shape}")
    return group_norm(x, x.shape[1], weight, bias, eps)


def prelu(x: Tensor, weight: Tensor) -> Tensor:
    """``x`` where ``x > 0``, else ``weight · x``; ``weight`` has one entry, or one per
    channel (dim 1), as PyTorch's."""
    x = float_tensor(x, "prelu")
    w = weight if isinstance(weight, Tensor) else Tensor(np.asarray(weight, dtype=x.dtype))
    k = w.data.size
    if w.ndim > 1 or (k != 1 and (x.ndim < 2 or x.shape[1] != k)):
        raise ValueError(
            f"prelu: weight must have 1 entry or one per channel (dim 1 of {x.shape}), got "
            f"shape {w.shape}"
        )
    if k != 1:
        w = ops.reshape(w, (k,) + (1,) * (x.ndim - 2))
    with np.errstate(invalid="ignore"):
        pos = x.data > 0
    return ops.where(pos, x, w * x)
