"""Normalisation layers: ``BatchNorm1d``, ``BatchNorm2d`` (running statistics as buffers)
and ``LayerNorm``."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import functional as F
from ..tensor import Tensor, get_default_dtype
from ._checks import as_input
from .module import Module, Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "LayerNorm"]


class _BatchNorm(Module):
    _name = ""
    _ndims: tuple[int, ...] = ()
    # buffers (register_buffer), with track_running_stats; annotated for the type checker
    running_mean: Tensor
    running_var: Tensor
    num_batches_tracked: Tensor

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        dtype: Any = None,
    ) -> None:
        if (
            isinstance(num_features, bool)
            or not isinstance(num_features, (int, np.integer))
            or (num_features <= 0)
        ):
            raise ValueError(
                f"{self._name}: num_features must be a positive int, got {num_features!r}"
            )
        if (
            isinstance(eps, bool)
            or not isinstance(eps, (int, float, np.floating))
            or not (0 <= eps < np.inf)
        ):
            raise ValueError(f"{self._name}: eps must be a number >= 0, got {eps!r}")
        if momentum is not None and (
            isinstance(momentum, bool)
            or not isinstance(momentum, (int, float, np.floating))
            or not 0 <= momentum <= 1
        ):
            raise ValueError(
                f"{self._name}: momentum must be a number in [0, 1] or None (a cumulative "
                f"average), got {momentum!r}"
            )
        dtype = np.dtype(dtype) if dtype is not None else get_default_dtype()
        self.num_features, self.eps, self.momentum = int(num_features), eps, momentum
        self.weight = Parameter(np.ones(num_features, dtype=dtype)) if affine else None
        self.bias = Parameter(np.zeros(num_features, dtype=dtype)) if affine else None
        self.track_running_stats = track_running_stats
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", np.ones(num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            x = as_input(x, self._name)
        if x.ndim not in self._ndims or x.shape[1] != self.num_features:
            want = " or ".join(
                {2: "(N, C)", 3: "(N, C, L)", 4: "(N, C, H, W)"}[d] for d in self._ndims
            )
            raise ValueError(
                f"{self._name}({self.num_features}): expected an input of shape {want} with "
                f"C = {self.num_features}, got shape {x.shape}"
            )
        use_batch = self.training or not self.track_running_stats
        momentum = 0.0
        if self.training and self.track_running_stats:
            # None: the cumulative average, factor 1/(number of batches seen), as PyTorch
            momentum = (
                1.0 / (self.num_batches_tracked.data.item() + 1.0)
                if self.momentum is None
                else self.momentum
            )
        rm = self.running_mean if self.track_running_stats else None
        rv = self.running_var if self.track_running_stats else None
        out = F.batch_norm(
            x,
            rm,
            rv,
            self.weight,
            self.bias,
            training=use_batch,
            momentum=momentum,
            eps=self.eps,
        )
        if self.training and self.track_running_stats:  # after F.batch_norm's checks passed
            self.num_batches_tracked.data += 1
        return out

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


class BatchNorm1d(_BatchNorm):
    """Batch norm over ``(N, C)`` or ``(N, C, L)``; buffers ``running_mean``,
    ``running_var``, ``num_batches_tracked`` (in the state dict, as in PyTorch).

    Examples
    --------
    >>> from tinygrad_bp import nn
    >>> list(nn.BatchNorm1d(3).state_dict())
    ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']
    """

    _name = "BatchNorm1d"
    _ndims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch norm over ``(N, C, H, W)``, per channel."""

    _name = "BatchNorm2d"
    _ndims = (4,)


class LayerNorm(Module):
    """Normalise over the last axes ``normalized_shape``; ``weight`` ones, ``bias`` zeros.

    Examples
    --------
    >>> import numpy as np
    >>> import tinygrad_bp as tg
    >>> tg.nn.LayerNorm(4)(tg.Tensor(np.arange(8.0).reshape(2, 4))).shape
    (2, 4)
    """

    def __init__(
        self,
        normalized_shape: Any,
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        dtype: Any = None,
    ) -> None:
        ns = (
            (normalized_shape,)
            if isinstance(normalized_shape, (int, np.integer))
            else tuple(normalized_shape)
        )
        if not ns or not all(isinstance(n, (int, np.integer)) and n > 0 for n in ns):
            raise ValueError(
                f"LayerNorm: normalized_shape must be positive ints, got {normalized_shape!r}"
            )
        if (
            isinstance(eps, bool)
            or not isinstance(eps, (int, float, np.floating))
            or not (0 <= eps < np.inf)
        ):
            raise ValueError(f"LayerNorm: eps must be a number >= 0, got {eps!r}")
        dtype = np.dtype(dtype) if dtype is not None else get_default_dtype()
        self.normalized_shape = tuple(int(n) for n in ns)
        self.eps = eps
        self.weight = Parameter(np.ones(ns, dtype=dtype)) if elementwise_affine else None
        self.bias = Parameter(np.zeros(ns, dtype=dtype)) if elementwise_affine and bias else None

    def forward(self, x: Tensor) -> Tensor:
        k = len(self.normalized_shape)
        x = as_input(x, "LayerNorm")
        if x.ndim < k or tuple(x.shape[-k:]) != self.normalized_shape:
            raise ValueError(
                f"LayerNorm{self.normalized_shape}: expected an input ending in "
                f"{self.normalized_shape}, got shape {getattr(x, 'shape', None)}"
            )
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}"
