"""Normalisation by hand: BatchNorm1d, BatchNorm2d (training and evaluation) and LayerNorm.

Both normalise ``x̂ = (x − μ) / σ`` with ``σ = √(var + ε)`` (the *biased* variance, as
PyTorch), then scale and shift, ``y = γ·x̂ + β``.  BatchNorm takes ``μ`` and ``var`` per
channel over the batch (and over H, W for images); LayerNorm per sample over its last
dimensions.  Because ``μ`` and ``σ`` depend on every value they are taken over, the
gradient of one ``x`` gathers from all of them; with ``m`` values per statistic it folds
into one line (the "compact" formula):

    ∂L/∂x = γ / (m·σ) · (m·∂L/∂y − Σ ∂L/∂y − x̂ · Σ(∂L/∂y · x̂))

Examples
--------
>>> import numpy as np
>>> from tinygrad_bp.reference import BatchNorm1d
>>> bn = BatchNorm1d(3)
>>> y = bn.forward(np.arange(12.0).reshape(4, 3))
>>> np.allclose(y.mean(axis=0), 0), np.allclose(y.var(axis=0), 1, atol=1e-4)
(True, True)
>>> bn.running_mean
array([0.45, 0.55, 0.65])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._base import Grads, HandLayer, positive_int

__all__ = ["BatchNorm1d", "BatchNorm2d", "LayerNorm"]


def _check_eps(name: str, eps: Any) -> float:
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not eps > 0:
        raise ValueError(f"{name}: eps must be a positive number, got {eps!r}")
    return float(eps)


class _BatchNorm(HandLayer):
    ndims: tuple[int, ...] = ()

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = True,
        dtype: Any = np.float64,
    ) -> None:
        super().__init__()
        name = self.name
        self.num_features = positive_int(name, "num_features", num_features)
        self.eps = _check_eps(name, eps)
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float)):
            raise TypeError(f"{name}: momentum must be a number, got {momentum!r}")
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"{name}: momentum must be in [0, 1], got {momentum}")
        self.momentum = float(momentum)
        c = self.num_features
        self.affine = bool(affine)
        self.weight = np.ones(c, dtype=dtype)
        self.bias = np.zeros(c, dtype=dtype)
        self.running_mean = np.zeros(c, dtype=dtype)
        self.running_var = np.ones(c, dtype=dtype)
        self.param_names = ("weight", "bias") if affine else ()
        self.buffer_names = ("running_mean", "running_var")

    def _check(self, x: np.ndarray) -> None:
        if x.ndim not in self.ndims:
            want = " or ".join(f"{d}-D" for d in self.ndims)
            raise ValueError(f"{self.name}: expected a {want} input, got shape {x.shape}")
        if x.shape[1] != self.num_features:
            raise ValueError(
                f"{self.name}({self.num_features}): expected {self.num_features} channels "
                f"(axis 1), got input of shape {x.shape}"
            )

    def forward(self, x: Any) -> np.ndarray:
        """Training: normalise by this batch's statistics and update the running ones
        (momentum ``0.1``, the running variance unbiased, as PyTorch).  Evaluation:
        normalise by the running statistics."""
        x = self.input(x, self.weight.dtype)
        self._check(x)
        axes = (0,) + tuple(range(2, x.ndim))  # every axis but the channels
        shape = (1, -1) + (1,) * (x.ndim - 2)  # a per-channel vector, broadcast
        m = x.size // self.num_features  # values per channel
        if self.training:
            if m <= 1:
                raise ValueError(
                    f"{self.name}: expected more than 1 value per channel when training, "
                    f"got input of shape {x.shape}"
                )
            mean = x.mean(axis=axes)
            var = x.var(axis=axes)  # biased: what normalises
            mo = self.momentum
            self.running_mean[...] = (1 - mo) * self.running_mean + mo * mean
            self.running_var[...] = (1 - mo) * self.running_var + mo * var * (m / (m - 1))
        else:
            mean, var = self.running_mean, self.running_var
        inv_std = 1.0 / np.sqrt(var + self.eps)
        xhat = (x - mean.reshape(shape)) * inv_std.reshape(shape)
        self.cache = (xhat, inv_std, axes, shape, m, self.training)
        if not self.affine:
            return xhat
        return xhat * self.weight.reshape(shape) + self.bias.reshape(shape)

    def backward(self, dout: Any) -> Grads:
        """The compact formula in training mode; in evaluation mode ``μ``, ``σ`` are
        constants and ``∂L/∂x = γ/σ · ∂L/∂y``."""
        xhat, inv_std, axes, shape, m, training = self.saved()
        dy = self.grad_in(dout, xhat.shape, xhat.dtype)
        sum_dy = dy.sum(axis=axes)
        sum_dy_xhat = (dy * xhat).sum(axis=axes)
        gamma = self.weight if self.affine else np.ones_like(self.weight)
        scale = (gamma * inv_std).reshape(shape)
        if training:
            dx = (scale / m) * (m * dy - sum_dy.reshape(shape) - xhat * sum_dy_xhat.reshape(shape))
        else:
            dx = scale * dy
        grads: Grads = {"x": dx}
        if self.affine:
            grads["weight"] = sum_dy_xhat
            grads["bias"] = sum_dy
        return grads

    def __repr__(self) -> str:
        return f"{self.name}({self.num_features}, eps={self.eps}, momentum={self.momentum})"


class BatchNorm1d(_BatchNorm):
    """``nn.BatchNorm1d(num_features, eps=1e-5, momentum=0.1, affine=True)`` by hand:
    input ``(N, C)`` or ``(N, C, L)``.  ``backward`` returns ``{"x", "weight", "bias"}``.
    """

    ndims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """``nn.BatchNorm2d(num_features, eps=1e-5, momentum=0.1, affine=True)`` by hand:
    input ``(N, C, H, W)``, statistics over N, H and W.  ``backward`` returns ``{"x",
    "weight", "bias"}``."""

    ndims = (4,)


class LayerNorm(HandLayer):
    """``nn.LayerNorm(normalized_shape, eps=1e-5, elementwise_affine=True)`` by hand: each
    sample normalised over its last ``len(normalized_shape)`` dimensions; ``weight`` and
    ``bias`` have ``normalized_shape``.  ``backward`` returns ``{"x", "weight", "bias"}``.
    """

    def __init__(
        self,
        normalized_shape: int | tuple[int, ...],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        dtype: Any = np.float64,
    ) -> None:
        super().__init__()
        shape = (
            (normalized_shape,)
            if isinstance(normalized_shape, (int, np.integer))
            else tuple(normalized_shape)
        )
        if not shape:
            raise ValueError("LayerNorm: normalized_shape must name at least one dimension")
        self.normalized_shape = tuple(
            positive_int("LayerNorm", "normalized_shape", d) for d in shape
        )
        self.eps = _check_eps("LayerNorm", eps)
        self.affine = bool(elementwise_affine)
        self.weight = np.ones(self.normalized_shape, dtype=dtype)
        self.bias = np.zeros(self.normalized_shape, dtype=dtype)
        self.param_names = ("weight", "bias") if self.affine else ()

    def forward(self, x: Any) -> np.ndarray:
        """``y = γ·(x − μ)/σ + β``, ``μ``, ``σ`` per sample over the normalised dims."""
        x = self.input(x, self.weight.dtype)
        k = len(self.normalized_shape)
        if x.shape[x.ndim - k :] != self.normalized_shape or x.ndim < k:
            raise ValueError(
                f"LayerNorm{self.normalized_shape}: expected an input ending in "
                f"{self.normalized_shape}, got shape {x.shape}"
            )
        axes = tuple(range(x.ndim - k, x.ndim))
        mean = x.mean(axis=axes, keepdims=True)
        var = x.var(axis=axes, keepdims=True)
        inv_std = 1.0 / np.sqrt(var + self.eps)
        xhat = (x - mean) * inv_std
        self.cache = (xhat, inv_std, axes)
        return xhat * self.weight + self.bias if self.affine else xhat

    def backward(self, dout: Any) -> Grads:
        """The compact formula per sample, with ``γ`` inside the sums (it varies along
        the normalised dims): ``g = γ·∂L/∂y``,
        ``∂L/∂x = (D·g − Σg − x̂·Σ(g·x̂)) / (D·σ)``."""
        xhat, inv_std, axes = self.saved()
        dy = self.grad_in(dout, xhat.shape, xhat.dtype)
        d = int(np.prod(self.normalized_shape))
        g = dy * self.weight if self.affine else dy
        dx = (inv_std / d) * (
            d * g
            - g.sum(axis=axes, keepdims=True)
            - xhat * (g * xhat).sum(axis=axes, keepdims=True)
        )
        grads: Grads = {"x": dx}
        if self.affine:
            batch_axes = tuple(range(xhat.ndim - len(axes)))
            grads["weight"] = (dy * xhat).sum(axis=batch_axes)
            grads["bias"] = dy.sum(axis=batch_axes)
        return grads

    def __repr__(self) -> str:
        return f"LayerNorm({self.normalized_shape}, eps={self.eps})"
