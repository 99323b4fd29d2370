"""``MultiheadAttention`` with PyTorch's parameters (``in_proj_weight (3E, E)``,
``in_proj_bias (3E,)``, ``out_proj.weight``, ``out_proj.bias``), batch first by default."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import ops
from ..functional.attention import attention_weights
from ..tensor import Tensor, get_default_dtype
from .linear import Linear, _check_features, _uniform
from .module import Module, Parameter, _rng

__all__ = ["MultiheadAttention"]


class MultiheadAttention(Module):
    """``softmax(q·kᵀ/√d + mask)·v`` in ``num_heads`` heads of ``d = embed_dim/num_heads``,
    then ``out_proj``.  ``forward(query, key, value, attn_mask=None, need_weights=True,
    is_causal=False)`` returns ``(output, weights averaged over the heads or None)``; a
    boolean ``attn_mask`` is True where attention is *not* allowed, as in PyTorch's module.

    Examples
    --------
    >>> import numpy as np
    >>> import tinygrad_bp as tg
    >>> mha = tg.nn.MultiheadAttention(8, 2, rng=0)
    >>> x = tg.Tensor(np.ones((3, 5, 8)))
    >>> out, w = mha(x, x, x)
    >>> out.shape, w.shape
    ((3, 5, 8), (3, 5, 5))
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        bias: bool = True,
        batch_first: bool = True,
        rng: Any = None,
        dtype: Any = None,
    ) -> None:
        _check_features("MultiheadAttention", embed_dim=embed_dim, num_heads=num_heads)
        if embed_dim % num_heads:
            raise ValueError(
                f"MultiheadAttention: embed_dim {embed_dim} is not divisible by num_heads "
                f"{num_heads}"
            )
        self.embed_dim, self.num_heads = int(embed_dim), int(num_heads)
        self.head_dim = self.embed_dim // self.num_heads
        self.batch_first = bool(batch_first)
        dtype = np.dtype(dtype) if dtype is not None else get_default_dtype()
        g = _rng(rng)
        e = self.embed_dim
        bound = math.sqrt(6.0 / (e + 3 * e))  # xavier_uniform on (3E, E), as PyTorch
        self.in_proj_weight = Parameter(_uniform(g, bound, (3 * e, e), dtype))
        self.in_proj_bias = Parameter(np.zeros(3 * e, dtype=dtype)) if bias else None
        self.out_proj = Linear(e, e, bias=bias, rng=g, dtype=dtype)
        if bias:
            assert self.out_proj.bias is not None  # (Linear made it: bias=True)
            self.out_proj.bias.data[...] = 0.0

    def _project(self, x: Tensor, k: int) -> Tensor:
        e = self.embed_dim
        w = self.in_proj_weight[k * e : (k + 1) * e]
        y = ops.matmul(x, ops.transpose(w))
        if self.in_proj_bias is not None:
            y = y + self.in_proj_bias[k * e : (k + 1) * e]
        n, t = x.shape[0], x.shape[1]
        return ops.transpose(ops.reshape(y, n, t, self.num_heads, self.head_dim), 0, 2, 1, 3)

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        attn_mask: Any = None,
        need_weights: bool = True,
        is_causal: bool = False,
        average_attn_weights: bool = True,
    ) -> tuple[Tensor, Tensor | None]:
        where = f"MultiheadAttention({self.embed_dim}, {self.num_heads})"
        order = "(N, L, E)" if self.batch_first else "(L, N, E)"
        note = (
            "batch_first=True is this layer's default (PyTorch's is False): pass "
            "batch_first=False for (L, N, E) inputs"
            if self.batch_first
            else "batch_first=False: inputs are (L, N, E)"
        )
        for name, t in (("query", query), ("key", key), ("value", value)):
            if not isinstance(t, Tensor):
                raise TypeError(f"{where}: expected {name} as a Tensor, got {type(t).__name__}")
            if t.ndim != 3 or t.shape[-1] != self.embed_dim:
                raise ValueError(
                    f"{where}: expected {name} of shape {order.replace('E', str(self.embed_dim))}"
                    f", got {t.shape} ({note})"
                )
        bq = 0 if self.batch_first else 1
        if key.shape != value.shape:
            raise ValueError(
                f"{where}: key and value must have the same shape, got {key.shape} and "
                f"{value.shape} ({note})"
            )
        if query.shape[bq] != key.shape[bq]:
            raise ValueError(
                f"{where}: query {query.shape} and key {key.shape} disagree on the batch size "
                f"N (axis {bq} of {order}; {note})"
            )
        if not self.batch_first:
            query, key, value = (ops.transpose(t, 1, 0, 2) for t in (query, key, value))
        n, L = query.shape[0], query.shape[1]
        S = key.shape[1]
        q, k, v = self._project(query, 0), self._project(key, 1), self._project(value, 2)
        scores = ops.matmul(q, ops.transpose(k, 0, 1, 3, 2)) * (1.0 / math.sqrt(self.head_dim))
        add = None
        if is_causal and attn_mask is None:
            add = np.where(np.tril(np.ones((L, S), dtype=bool)), 0.0, -np.inf)
        elif attn_mask is not None:
            m = attn_mask.data if isinstance(attn_mask, Tensor) else np.asarray(attn_mask)
            if m.shape not in ((L, S), (n * self.num_heads, L, S)):
                raise ValueError(
                    f"{where}: attn_mask must have shape (L, S) = {(L, S)} or (N·num_heads, L, "
                    f"S) = {(n * self.num_heads, L, S)}, got {m.shape}"
                )
            if m.dtype != bool and m.dtype.kind != "f":
                raise TypeError(
                    f"{where}: attn_mask must be boolean (True: not allowed) or floating (added "
                    f"to the scores), got dtype {m.dtype}"
                )
            if m.ndim == 3:
                m = m.reshape(n, self.num_heads, L, S)
            add = np.where(m, -np.inf, 0.0) if m.dtype == bool else m
        if need_weights:  # PyTorch's module: a row that may attend to nothing is NaN here
            if add is not None:
                scores = scores + add.astype(scores.dtype, copy=False)
            w = ops.softmax(scores, -1)
        else:  # and 0 here (its scaled_dot_product_attention path): so both, as PyTorch
            w = attention_weights(scores, add, "MultiheadAttention")
        out = ops.matmul(w, v)  # (N, h, L, d)
        out = ops.reshape(ops.transpose(out, 0, 2, 1, 3), n, L, self.embed_dim)
        out = self.out_proj(out)
        if not self.batch_first:
            out = ops.transpose(out, 1, 0, 2)
        if not need_weights:
            return out, None
        return out, (ops.mean(w, axis=1) if average_attn_weights else w)

    def extra_repr(self) -> str:
        return f"{self.embed_dim}, num_heads={self.num_heads}"
