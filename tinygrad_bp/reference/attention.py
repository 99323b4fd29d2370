"""Single-head causal self-attention by hand.

For ``x (N, T, E)``, with PyTorch's ``nn.MultiheadAttention(E, 1, batch_first=True)``
parameters (``in_proj_weight (3E, E)`` stacking the q, k, v projections, ``in_proj_bias
(3E,)``, ``out_proj.weight (E, E)``, ``out_proj.bias (E,)``)::

    q, k, v = x·W_qᵀ + b_q,  x·W_kᵀ + b_k,  x·W_vᵀ + b_v           (N, T, E) each
    S = q·kᵀ / √E,  with S[t, s] = −∞ for s > t (the causal mask)  (N, T, T)
    P = softmax(S) along s
    y = (P·v)·W_oᵀ + b_o

The backward runs the same lines upwards.  The one that is not a product is the softmax:
each row of ``P`` depends on the whole row of ``S``, and its Jacobian
``diag(P) − P·Pᵀ`` applied to ``∂L/∂P`` is

    ∂L/∂S = P ⊙ (∂L/∂P − Σ_s ∂L/∂P ⊙ P)

The masked entries have ``P = 0``, so they get no gradient and the mask needs no backward
of its own.

Examples
--------
>>> import numpy as np
>>> from tinygrad_bp.reference import CausalSelfAttention
>>> att = CausalSelfAttention(4, rng=0)
>>> x = np.random.default_rng(1).normal(size=(2, 3, 4))
>>> y = att.forward(x)
>>> bool(np.allclose(att.cache[3][0], np.tril(att.cache[3][0])))  # P is lower triangular
True
>>> sorted(att.backward(np.ones_like(y)))
['in_proj_bias', 'in_proj_weight', 'out_proj.bias', 'out_proj.weight', 'x']
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._base import Grads, HandLayer, as_rng, positive_int, uniform

__all__ = ["CausalSelfAttention", "softmax", "softmax_backward"]


def softmax(s: np.ndarray) -> np.ndarray:
    """Softmax along the last axis, shifted by the row maximum (−∞ entries give 0)."""
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def softmax_backward(p: np.ndarray, dp: np.ndarray) -> np.ndarray:
    """``∂L/∂S = P ⊙ (∂L/∂P − Σ_s ∂L/∂P ⊙ P)``: the softmax Jacobian times ``∂L/∂P``."""
    return p * (dp - (dp * p).sum(axis=-1, keepdims=True))


class CausalSelfAttention(HandLayer):
    """One head of causal self-attention, ``x (N, T, E) → y (N, T, E)``, by hand; the
    parameters of ``nn.MultiheadAttention(E, 1, batch_first=True)`` under its names.

    Equal to PyTorch's ``mha(x, x, x, attn_mask=causal, need_weights=False)[0]``.
    ``backward(dout)`` returns ``{"x", "in_proj_weight", "in_proj_bias",
    "out_proj.weight", "out_proj.bias"}``.
    """

    param_names = ("in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias")

    def __init__(self, embed_dim: int, rng: Any = None, dtype: Any = np.float64) -> None:
        super().__init__()
        e = self.embed_dim = positive_int("CausalSelfAttention", "embed_dim", embed_dim)
        g = as_rng(rng)
        # PyTorch: xavier_uniform_ on the stacked (3E, E) in-projection, zero biases, and
        # the out-projection a Linear's default U(−1/√E, 1/√E) with a zero bias
        bound = math.sqrt(6.0 / (e + 3 * e))
        self.in_proj_weight = uniform(g, bound, (3 * e, e), dtype)
        self.in_proj_bias = np.zeros(3 * e, dtype)
        self.out_proj_weight = uniform(g, 1.0 / math.sqrt(e), (e, e), dtype)
        self.out_proj_bias = np.zeros(e, dtype)

    # "out_proj.weight" is not an attribute name: map the dotted names onto attributes
    def __getattr__(self, name: str) -> Any:
        if name.startswith("out_proj."):
            return self.__dict__["out_proj_" + name[len("out_proj.") :]]
        raise AttributeError(name)

    def forward(self, x: Any) -> np.ndarray:
        dtype = self.in_proj_weight.dtype
        x = self.input(x, dtype)
        e = self.embed_dim
        if x.ndim != 3 or x.shape[2] != e:
            raise ValueError(
                f"CausalSelfAttention({e}): expected input of shape (batch, T, {e}), got {x.shape}"
            )
        t_len = x.shape[1]
        qkv = x @ self.in_proj_weight.T + self.in_proj_bias  # (N, T, 3E)
        q, k, v = qkv[..., :e], qkv[..., e : 2 * e], qkv[..., 2 * e :]
        s = q @ k.transpose(0, 2, 1) / math.sqrt(e)  # (N, T, T)
        future = np.triu(np.ones((t_len, t_len), dtype=bool), k=1)  # s > t
        s[:, future] = -np.inf
        p = softmax(s)
        z = p @ v  # (N, T, E)
        self.cache = (x, q, k, p, v, z)
        return z @ self.out_proj_weight.T + self.out_proj_bias

    def backward(self, dout: Any) -> Grads:
        x, q, k, p, v, z = self.saved()
        e = self.embed_dim
        dy = self.grad_in(dout, x.shape, x.dtype)
        n, t_len, _ = x.shape
        dy2 = dy.reshape(n * t_len, e)
        d_wo = dy2.T @ z.reshape(n * t_len, e)
        d_bo = dy2.sum(axis=0)
        dz = dy @ self.out_proj_weight  # (N, T, E)
        dp = dz @ v.transpose(0, 2, 1)  # (N, T, T)
        dv = p.transpose(0, 2, 1) @ dz
        ds = softmax_backward(p, dp) / math.sqrt(e)
        dq = ds @ k
        dk = ds.transpose(0, 2, 1) @ q
        dqkv = np.concatenate([dq, dk, dv], axis=-1).reshape(n * t_len, 3 * e)
        return {
            "x": (dqkv @ self.in_proj_weight).reshape(x.shape),
            "in_proj_weight": dqkv.T @ x.reshape(n * t_len, e),
            "in_proj_bias": dqkv.sum(axis=0),
            "out_proj.weight": d_wo,
            "out_proj.bias": d_bo,
        }

    def __repr__(self) -> str:
        return f"CausalSelfAttention({self.embed_dim})"
