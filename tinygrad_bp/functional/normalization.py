"""Normalisation and dropout: batch_norm, layer_norm, dropout (PyTorch's definitions)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import ops
from ..autograd import no_grad
from ..creation import default_generator
from ..tensor import Tensor
from ._fused import fused_node
from ._util import as_tensor

__all__ = ["batch_norm", "layer_norm", "dropout"]


def _array(t: Any) -> Any:
    return t.data if isinstance(t, Tensor) else t


def batch_norm(
    x: Tensor,
    running_mean: Any,
    running_var: Any,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise each channel (axis 1) over the batch (and spatial axes).

    Training: ``(x − mean) / √(var + eps)`` with the batch's mean and *biased* variance,
    and the running estimates (arrays or Tensors, updated in place, if given) move by
    ``momentum`` towards the batch mean and the *unbiased* variance.  Evaluation: the
    running estimates normalise.  Then ``· weight + bias`` per channel.

    Examples
    --------
    >>> import numpy as np
    >>> import tinygrad_bp as tg
    >>> from tinygrad_bp import functional as F
    >>> x = tg.Tensor([[1.0], [3.0]])
    >>> rm, rv = np.zeros(1), np.ones(1)
    >>> F.batch_norm(x, rm, rv, training=True, eps=0.0).data.ravel()
    array([-1.,  1.])
    >>> rm, rv  # moved by 0.1 towards mean 2 and unbiased variance 2
    (array([0.2]), array([1.1]))
    """
    x = as_tensor(x, "batch_norm")
    xd = x.data
    if xd.ndim < 2:
        raise ValueError(f"batch_norm: expected an input of shape (N, C, ...), got {xd.shape}")
    c = xd.shape[1]
    axes = (0,) + tuple(range(2, xd.ndim))
    shape = (1, c) + (1,) * (xd.ndim - 2)
    for label, t in (
        ("running_mean", running_mean),
        ("running_var", running_var),
        ("weight", weight),
        ("bias", bias),
    ):
        if t is not None and tuple(np.shape(_array(t))) != (c,):
            raise ValueError(
                f"batch_norm: {label} must have shape ({c},) for an input of shape {xd.shape}, "
                f"got {tuple(np.shape(_array(t)))}"
            )
    if training:
        count = xd.size // c
        if count <= 1:
            raise ValueError(
                f"batch_norm: expected more than 1 value per channel when training, got input "
                f"of shape {xd.shape}"
            )
        mu = ops.mean(x, axis=axes, keepdims=True)
        d = x - mu
        var = ops.mean(d * d, axis=axes, keepdims=True)
        xhat = d * (var + eps) ** -0.5
        with no_grad():  # the running estimates are buffers, never part of the graph
            if running_mean is not None:
                rm = _array(running_mean)
                rm *= 1.0 - momentum
                rm += momentum * mu.data.reshape(c)
            if running_var is not None:
                rv = _array(running_var)
                rv *= 1.0 - momentum
                rv += momentum * var.data.reshape(c) * (count / (count - 1))
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: evaluation mode needs running_mean and running_var")
        rm = _array(running_mean).reshape(shape)
        rstd = 1.0 / np.sqrt(_array(running_var).reshape(shape) + eps)
        xhat = (x - rm.astype(xd.dtype, copy=False)) * rstd.astype(xd.dtype, copy=False)
    if weight is not None:
        xhat = xhat * ops.reshape(weight, shape)
    if bias is not None:
        xhat = xhat + ops.reshape(bias, shape)
    return xhat


def layer_norm(
    x: Tensor,
    normalized_shape: Any,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise over the last ``len(normalized_shape)`` axes (biased variance), then
    ``· weight + bias`` elementwise over those axes.

    Examples
    --------
    >>> import tinygrad_bp as tg
    >>> from tinygrad_bp import functional as F
    >>> F.layer_norm(tg.Tensor([[1.0, 3.0]]), (2,), eps=0.0).data
    array([[-1.,  1.]])
    """
    x = as_tensor(x, "layer_norm")
    ns = (
        (normalized_shape,)
        if isinstance(normalized_shape, (int, np.integer))
        else tuple(normalized_shape)
    )
    k = len(ns)
    if k == 0 or tuple(x.shape[-k:]) != ns:
        raise ValueError(
            f"layer_norm: normalized_shape {ns} must match the last axes of the input, got "
            f"input shape {x.shape}"
        )
    for label, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(np.shape(_array(t))) != ns:
            raise ValueError(
                f"layer_norm: {label} must have the normalized shape {ns}, got "
                f"{tuple(np.shape(_array(t)))} (as in PyTorch)"
            )
    if isinstance(eps, bool) or not isinstance(eps, (int, float, np.floating)) or not eps >= 0:
        raise ValueError(f"layer_norm: eps must be a number >= 0, got {eps!r}")
    axes = tuple(range(x.ndim - k, x.ndim))

    def composed(x: Tensor, *wb: Tensor) -> Tensor:
        mu = ops.mean(x, axis=axes, keepdims=True)
        d = x - mu
        var = ops.mean(d * d, axis=axes, keepdims=True)
        y = d * (var + eps) ** -0.5
        it = iter(wb)
        if weight is not None:
            y = y * next(it)
        if bias is not None:
            y = y + next(it)
        return y

    affine = [t for t in (weight, bias) if t is not None]
    xd = x.data
    if (
        xd.dtype.kind != "f"
        or xd.size == 0
        or any(not isinstance(t, Tensor) or t.data.shape != ns for t in affine)
    ):
        return composed(x, *affine)
    return _layer_norm_fused(x, weight, bias, ns, float(eps), composed)


def _layer_norm_fused(
    x: Tensor,
    weight: Tensor | None,
    bias: Tensor | None,
    ns: tuple[int, ...],
    eps: float,
    composed: Any,
) -> Tensor:
    """Layer norm as one primitive over the rows of ``x`` viewed as ``(M, D)``:
    ``x̂ = (x − μ)/σ``, ``y = x̂·γ + β``.  Plain backward with ``h = γ·g``:
    ``∂/∂x = (h − mean(h) − x̂·mean(h·x̂))/σ``, ``∂/∂γ = Σ g·x̂``, ``∂/∂β = Σ g`` (sums
    over the rows); under ``create_graph`` the composition (see :mod:`._fused`)."""
    xd = x.data
    d = int(np.prod(ns))
    x2 = xd.reshape(-1, d)
    mu = x2.mean(axis=1, keepdims=True)
    xhat = x2 - mu
    var = np.einsum("ij,ij->i", xhat, xhat)[:, None]
    var *= 1.0 / d
    var += eps
    rstd = np.sqrt(var, out=var)
    np.divide(1.0, rstd, out=rstd)
    xhat *= rstd
    w2 = weight.data.reshape(d) if weight is not None else None
    y = xhat * w2 if w2 is not None else xhat.copy()
    if bias is not None:
        y += bias.data.reshape(d)
    parents = [t for t in (x, weight, bias) if t is not None]
    need = [t.requires_grad for t in parents]

    def plain(g: Any) -> tuple[Any, ...]:
        g2 = g.reshape(-1, d)
        out: list[Any] = []
        if need[0]:
            h = g2 * w2 if w2 is not None else g2.copy()
            mh = h.mean(axis=1, keepdims=True)
            mhx = np.einsum("ij,ij->i", h, xhat)[:, None]
            mhx *= 1.0 / d
            h -= mh
            h -= xhat * mhx
            h *= rstd
            out.append(h.reshape(xd.shape))
        else:
            out.append(None)
        if weight is not None:
            out.append((g2 * xhat).sum(axis=0).reshape(ns) if need[len(out)] else None)
        if bias is not None:
            out.append(g2.sum(axis=0).reshape(ns) if need[len(out)] else None)
        return tuple(out)

    return fused_node(y.reshape(xd.shape), parents, "layer_norm", plain, composed)


def dropout(x: Tensor, p: float = 0.5, training: bool = True, rng: Any = None) -> Tensor:
    """Inverted dropout: each value zeroed with probability ``p``, the rest scaled by
    ``1/(1 − p)``; the identity when not training.  ``rng`` (a seed or a NumPy Generator)
    makes the mask reproducible.

    Examples
    --------
    >>> import numpy as np
    >>> import tinygrad_bp as tg
    >>> from tinygrad_bp import functional as F
    >>> F.dropout(tg.Tensor(np.ones(6)), 0.5, rng=0).data
    array([2., 0., 0., 0., 2., 2.])
    """
    x = as_tensor(x, "dropout")
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating)) or not 0 <= p < 1:
        raise ValueError(f"dropout: p must be a probability in [0, 1), got {p!r}")
    if not training or p == 0:
        return x
    if x.data.dtype.kind != "f":
        raise TypeError(
            f"dropout: expected a floating tensor, got dtype {x.data.dtype} (as in PyTorch: "
            f"the scaled values cannot be stored in integers); convert with .float()"
        )
    g = (
        rng
        if isinstance(rng, np.random.Generator)
        else (default_generator() if rng is None else np.random.default_rng(rng))
    )
    keep = g.random(x.shape) >= p
    scale = (keep * (1.0 / (1.0 - p))).astype(x.dtype, copy=False)
    return ops.mul(x, scale)
