"""Scaled dot-product attention, PyTorch's definition."""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from .. import ops
from ..tensor import Tensor
from ._fused import fused_node
from ._util import as_tensor

__all__ = ["scaled_dot_product_attention", "packed_self_attention", "attention_weights"]


def _swap_last(t: Tensor) -> Tensor:
    perm = list(range(t.ndim))
    perm[-1], perm[-2] = perm[-2], perm[-1]
    return ops.transpose(t, perm)


def scaled_dot_product_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    attn_mask: Any = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
) -> Tensor:
    """``softmax(q·kᵀ · scale + mask) · v`` over shapes ``(..., L, E)``, ``(..., S, E)``,
    ``(..., S, Ev)``; ``scale`` defaults to 1/√E.  A boolean ``attn_mask`` says where to
    attend (False: −∞), a float one is added; ``is_causal`` lets position i see 0..i.

    Examples
    --------
    >>> import numpy as np
    >>> import tinygrad_bp as tg
    >>> from tinygrad_bp import functional as F
    >>> q = k = v = tg.Tensor(np.eye(2)[None])
    >>> F.scaled_dot_product_attention(q, k, v, is_causal=True).data[0, 0]
    array([1., 0.])
    """
    q, k, v = (as_tensor(t, "scaled_dot_product_attention") for t in (q, k, v))
    if (
        q.ndim < 2
        or k.ndim < 2
        or v.ndim < 2
        or q.shape[-1] != k.shape[-1]
        or (k.shape[-2] != v.shape[-2])
    ):
        raise ValueError(
            f"scaled_dot_product_attention: expected q (..., L, E), k (..., S, E), "
            f"v (..., S, Ev), got {q.shape}, {k.shape}, {v.shape}"
        )
    try:
        np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except ValueError:
        raise ValueError(
            f"scaled_dot_product_attention: the batch axes of q {q.shape}, k {k.shape} and "
            f"v {v.shape} (all but the last two) do not broadcast together"
        ) from None
    if dropout_p:
        raise ValueError("scaled_dot_product_attention: dropout_p is not supported; use 0.0")
    if is_causal and attn_mask is not None:
        raise ValueError("scaled_dot_product_attention: pass attn_mask or is_causal, not both")
    s = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    if (
        attn_mask is None
        and q.shape[-2] > 0
        and k.shape[-2] > 0
        and all(t.data.dtype.kind == "f" for t in (q, k, v))
    ):  # (no mask: no row can be fully masked; is_causal always leaves column 0)
        return _attention_fused(q, k, v, float(s), bool(is_causal))
    return _attention_composed(q, k, v, attn_mask, is_causal, s)


def _attention_composed(
    q: Tensor, k: Tensor, v: Tensor, attn_mask: Any, is_causal: bool, s: float
) -> Tensor:
    """The definition, op by op (what the fused path differentiates under create_graph)."""
    L, S = q.shape[-2], k.shape[-2]
    scores = ops.matmul(q, _swap_last(k)) * s
    add = None
    if is_causal:
        add = np.where(np.tril(np.ones((L, S), dtype=bool)), 0.0, -np.inf)
    elif attn_mask is not None:
        m = attn_mask.data if isinstance(attn_mask, Tensor) else np.asarray(attn_mask)
        if m.dtype == bool:
            add = np.where(m, 0.0, -np.inf)
        elif m.dtype.kind != "f":
            raise TypeError(
                f"scaled_dot_product_attention: attn_mask must be boolean (True: may attend) "
                f"or float (added to the scores), got dtype {m.dtype}, as PyTorch refuses it; "
                f"write mask.bool() or mask.to(q.dtype)"
            )
        elif isinstance(attn_mask, Tensor) and attn_mask.requires_grad:
            _check_mask_shape(m.shape, scores.shape, "scaled_dot_product_attention")
            scores = scores + attn_mask
        else:
            add = m
    return ops.matmul(attention_weights(scores, add, "scaled_dot_product_attention"), v)


def _check_mask_shape(mshape: tuple[int, ...], sshape: tuple[int, ...], op: str) -> None:
    try:
        ok = np.broadcast_shapes(mshape, sshape) == tuple(sshape)
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(
            f"{op}: attn_mask of shape {tuple(mshape)} does not broadcast to the attention "
            f"scores' shape {tuple(sshape)} (batch..., L, S) without growing it"
        )


def attention_weights(scores: Tensor, add: Any, op: str) -> Tensor:
    """``softmax(scores + add)`` along the last axis, ``add`` a constant array (0 where a
    query may attend, −∞ where not, or any float bias).  A query row that may attend to
    nothing gets weights 0, so its output is 0 and its gradients are 0, as PyTorch's
    ``scaled_dot_product_attention`` gives (not NaN)."""
    if add is None:
        return ops.softmax(scores, -1)
    _check_mask_shape(add.shape, scores.shape, op)
    dead = np.isneginf(add).all(axis=-1, keepdims=True) if add.shape[-1:] != (0,) else None
    if dead is not None and dead.any():
        add = np.where(dead, 0.0, add)
        w = ops.softmax(scores + add.astype(scores.dtype, copy=False), -1)
        return ops.where(dead, 0.0, w)
    return ops.softmax(scores + add.astype(scores.dtype, copy=False), -1)


@functools.lru_cache(maxsize=16)
def _causal_add(L: int, S: int, char: str) -> Any:
    """The causal mask as an additive ``(L, S)`` array (0 where position i may see j ≤ i,
    −∞ above the diagonal), read-only and kept: one broadcast add on the scores, as the
    composition adds it (a boolean-index assignment costs ~12x that)."""
    a = np.where(np.tril(np.ones((L, S), dtype=bool)), 0.0, -np.inf).astype(char)
    a.flags.writeable = False
    return a


def _attention_fused(q: Tensor, k: Tensor, v: Tensor, s: float, causal: bool) -> Tensor:
    """``P = softmax(s·q·kᵀ (+ causal −∞))``, ``y = P·v`` as one primitive.  Plain
    backward on the forward's ``P``: ∂/∂v = Pᵀ·g, ``dP = g·vᵀ``, ``dS = P ⊙ (dP − Σ dP ⊙
    P)``·s, ∂/∂q = dS·k, ∂/∂k = dSᵀ·q (batch axes summed back by the engine); under
    ``create_graph`` the composition (see :mod:`._fused`)."""
    qd, kd, vd = q.data, k.data, v.data
    L, S = qd.shape[-2], kd.shape[-2]
    p = np.matmul(qd, np.swapaxes(kd, -1, -2))
    p *= s
    if causal:
        p += _causal_add(L, S, p.dtype.char)
    p -= p.max(axis=-1, keepdims=True)
    np.exp(p, out=p)
    p /= p.sum(axis=-1, keepdims=True)
    y = np.matmul(p, vd)
    nq, nk, nv = q.requires_grad, k.requires_grad, v.requires_grad

    def plain(g: Any) -> tuple[Any, Any, Any]:
        gv = np.matmul(np.swapaxes(p, -1, -2), g) if nv else None
        if not (nq or nk):
            return None, None, gv
        ds = np.matmul(g, np.swapaxes(vd, -1, -2))
        ds -= np.einsum("...ij,...ij->...i", ds, p)[..., None]
        ds *= p
        ds *= s
        gq = np.matmul(ds, kd) if nq else None
        gk = np.matmul(np.swapaxes(ds, -1, -2), qd) if nk else None
        return gq, gk, gv

    def composed(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        return _attention_composed(q, k, v, None, causal, s)

    return fused_node(y, (q, k, v), "scaled_dot_product_attention", plain, composed)


def packed_self_attention(
    qkv: Tensor, n_head: int, is_causal: bool = False, scale: float | None = None
) -> Tensor:
    """Multi-head self-attention on a packed ``(N, T, 3C)`` projection, heads merged back:
    exactly PyTorch's ::

        q, k, v = qkv.split(C, dim=2)
        q, k, v = (z.view(N, T, n_head, C // n_head).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=is_causal, scale=scale)
        y = y.transpose(1, 2).reshape(N, T, C)

    as one primitive: the heads are read in place from ``qkv`` and the backward writes
    the three gradients into one ``(N, T, 3C)`` array (no zero-filled adjoint per slice,
    no copies for the head split and merge).  Under ``create_graph`` it differentiates
    that composition, so higher derivatives are the composition's.

    Examples
    --------
    >>> import numpy as np
    >>> import tinygrad_bp as tg
    >>> from tinygrad_bp import functional as F
    >>> qkv = tg.Tensor(np.ones((2, 3, 12)), requires_grad=True)
    >>> F.packed_self_attention(qkv, n_head=2, is_causal=True).shape
    (2, 3, 4)
    """
    op = "packed_self_attention"
    qkv = as_tensor(qkv, op)
    if isinstance(n_head, bool) or not isinstance(n_head, (int, np.integer)) or n_head <= 0:
        raise ValueError(f"{op}: n_head must be a positive int, got {n_head!r}")
    if qkv.ndim != 3 or qkv.shape[-1] % (3 * n_head):
        raise ValueError(
            f"{op}: expected qkv of shape (N, T, 3·C) with C divisible by n_head={n_head}, "
            f"got shape {qkv.shape}"
        )
    if qkv.data.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating-point qkv, got dtype {qkv.data.dtype}")
    n, t, c3 = qkv.shape
    c = c3 // 3
    s = 1.0 / math.sqrt(c // n_head) if scale is None else float(scale)
    causal = bool(is_causal)

    def composed(qkv: Tensor) -> Tensor:
        q, k, v = (_heads_composed(qkv, i, c, int(n_head)) for i in range(3))
        y = _attention_composed(q, k, v, None, causal, s)
        return ops.reshape(ops.transpose(y, 0, 2, 1, 3), n, t, c)

    if t == 0 or n == 0 or c == 0:
        return composed(qkv)
    return _packed_fused(qkv, int(n_head), s, causal, composed)


def _heads_composed(qkv: Tensor, i: int, c: int, h: int) -> Tensor:
    n, t, _ = qkv.shape
    part = qkv[:, :, i * c : (i + 1) * c]
    return ops.transpose(ops.reshape(part, n, t, h, c // h), 0, 2, 1, 3)


def _head_views(a: Any, h: int) -> tuple[Any, Any, Any]:
    """The q, k, v head views ``(N, H, T, D)`` of a packed ``(N, T, 3C)`` array."""
    n, t, c3 = a.shape
    c = c3 // 3
    v = a.reshape(n, t, 3, h, c // h)
    return tuple(v[:, :, i].transpose(0, 2, 1, 3) for i in range(3))  # type: ignore[return-value]


def _packed_fused(qkv: Tensor, h: int, s: float, causal: bool, composed: Any) -> Tensor:
    """The plain path of :func:`packed_self_attention`: the arithmetic of
    :func:`_attention_fused`, on views of the packed array."""
    a = qkv.data
    n, t, c3 = a.shape
    c = c3 // 3
    qd, kd, vd = _head_views(a, h)
    p = np.matmul(qd, np.swapaxes(kd, -1, -2))
    p *= s
    if causal:
        p += _causal_add(t, t, p.dtype.char)
    p -= p.max(axis=-1, keepdims=True)
    np.exp(p, out=p)
    p /= p.sum(axis=-1, keepdims=True)
    y = np.empty((n, t, c), dtype=p.dtype)
    np.matmul(p, vd, out=y.reshape(n, t, h, c // h).transpose(0, 2, 1, 3))

    def plain(g: Any) -> tuple[Any]:
        gh = g.reshape(n, t, h, c // h).transpose(0, 2, 1, 3)
        out = np.empty(a.shape, dtype=np.result_type(a.dtype, g.dtype))
        gq, gk, gv = _head_views(out, h)
        np.matmul(np.swapaxes(p, -1, -2), gh, out=gv)
        ds = np.matmul(gh, np.swapaxes(vd, -1, -2))
        ds -= np.einsum("...ij,...ij->...i", ds, p)[..., None]
        ds *= p
        ds *= s
        np.matmul(ds, kd, out=gq)
        np.matmul(np.swapaxes(ds, -1, -2), qd, out=gk)
        return (out,)

    return fused_node(y, (qkv,), "packed_self_attention", plain, composed)
