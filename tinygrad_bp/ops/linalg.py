"""Products: ``matmul`` (the article's ``x·W``) and ``einsum``."""

from __future__ import annotations

import string
from typing import Any

from ..backend import xp
from ..tensor import Tensor, make_node
from . import dialect as D
from ._common import primitive, as_tensor, pair

__all__ = ["matmul", "einsum"]


@primitive("products", {1: "{up}ᵀ·g", 0: "g·{vp}ᵀ"})  # (the weight's rule first)
def matmul(a: Any, b: Any) -> Tensor:
    """``a @ b`` with NumPy's rules (1-D operands, batched stacks).

    For 2-D: ∂/∂a = g·bᵀ, ∂/∂b = aᵀ·g — the article's ``∂L/∂x = ∂L/∂a·Wᵀ`` and
    ``∂L/∂W = xᵀ·∂L/∂a``.  Batch dimensions are summed back by the engine.
    """
    a, b = pair(a, b, "matmul")
    ad, bd = a.data, b.data
    if ad.ndim == 0 or bd.ndim == 0:
        raise ValueError(
            f"matmul: both operands need at least one dimension, got shapes {ad.shape} and "
            f"{bd.shape} (use * for scalars)"
        )
    try:
        out = ad @ bd
    except ValueError:
        ka = ad.shape[-1]
        kb = bd.shape[0] if bd.ndim == 1 else bd.shape[-2]
        why = (
            f"inner dimensions {ka} and {kb} differ"
            if ka != kb
            else "batch dimensions do not broadcast"
        )
        raise ValueError(
            f"matmul: cannot multiply shapes {ad.shape} and {bd.shape}: {why}"
        ) from None
    ra, rb = a.requires_grad, b.requires_grad

    # ∂/∂a reads b and ∂/∂b reads a: save only what is needed, as PyTorch does (a layer's
    # weight is saved only when its input requires grad)
    parents = (a, b)
    saved = parents if ra and rb else (b,) if ra else (a,)
    if ad.ndim == 2 and bd.ndim == 2:
        # Each gradient comes out in its operand's layout: for ``x @ weight.T`` (Linear)
        # ∂/∂(weight.T) is computed as (gᵀ·x)ᵀ, so the weight's own gradient, through the
        # transpose's backward, is a C-ordered (out, in) array: no copy when it is stored
        # in .grad, and the optimizer's elementwise update runs on matching layouts.
        # (PyTorch computes grad_weight as gᵀ·x too.)
        fa = not ad.flags.c_contiguous and ad.flags.f_contiguous
        fb = not bd.flags.c_contiguous and bd.flags.f_contiguous
        if ra and rb:

            def backward(g: Any, a: Any, b: Any) -> tuple[Any, Any]:
                return (b @ g.T).T if fa else g @ b.T, (g.T @ a).T if fb else a.T @ g

        elif ra:

            def backward(g: Any, b: Any) -> tuple[Any, Any]:  # type: ignore[misc]
                return (b @ g.T).T if fa else g @ b.T, None

        else:

            def backward(g: Any, a: Any) -> tuple[Any, Any]:  # type: ignore[misc]
                return None, (g.T @ a).T if fb else a.T @ g

    else:
        a1, b1 = ad.ndim == 1, bd.ndim == 1

        def backward(g: Any, *vals: Any) -> tuple[Any, Any]:  # type: ignore[misc]
            # Promote 1-D operands to matrices as NumPy does, then undo it.
            a: Any = vals[0] if rb else None
            b: Any = vals[-1] if ra else None
            a2 = a.reshape((1,) + a.shape) if a1 and rb else a
            b2 = b.reshape(b.shape + (1,)) if b1 and ra else b
            g2 = g
            if b1:
                g2 = g2.reshape(g2.shape + (1,))
            if a1:
                g2 = g2.reshape(g2.shape[:-1] + (1,) + g2.shape[-1:])
            ga = gb = None
            if ra:
                ga = g2 @ D.swap_last(b2)
                if a1:
                    ga = ga.reshape(ga.shape[:-2] + ga.shape[-1:])
            if rb:
                gb = D.swap_last(a2) @ g2
                if b1:
                    gb = gb.reshape(gb.shape[:-1])
            return ga, gb

    return make_node(out, parents, "matmul", backward, saved)


def _parse(subscripts: str, operands: tuple[Tensor, ...]) -> tuple[list[str], str]:
    s = subscripts.replace(" ", "")
    if "." in s:
        raise ValueError("einsum: '...' (ellipsis) is not supported; name every axis")
    if "->" in s:
        lhs, out = s.split("->")
    else:
        lhs = s
        letters = lhs.replace(",", "")
        out = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    ins = lhs.split(",")
    if len(ins) != len(operands):
        raise ValueError(f"einsum: {subscripts!r} names {len(ins)} operands, got {len(operands)}")
    for term, t in zip(ins, operands):
        if not set(term) <= set(string.ascii_letters):
            raise ValueError(f"einsum: subscripts must be letters, got {subscripts!r}")
        if len(term) != t.ndim:
            raise ValueError(
                f"einsum: operand {term!r} has {len(term)} subscripts but shape {t.shape}"
            )
        if len(set(term)) != len(term):
            raise ValueError(
                f"einsum: repeated subscripts within one operand ({term!r}, a diagonal) are "
                f"not supported"
            )
    return ins, out


@primitive("products", "g contracted with the other operands")
def einsum(subscripts: str, *operands: Any) -> Tensor:
    """Einstein summation, as ``numpy.einsum`` (explicit or implicit output, no ellipsis).

    The gradient for an operand is an einsum too: g contracted with the other operands
    onto that operand's subscripts (then broadcast over any axis only it had)."""
    ts = tuple(as_tensor(o, "einsum") for o in operands)
    if not ts:
        raise ValueError("einsum: needs at least one operand")
    ins, out_sub = _parse(subscripts, ts)
    sizes: dict[str, int] = {}
    for term, t in zip(ins, ts):
        for c, n in zip(term, t.shape):
            if sizes.setdefault(c, n) != n:
                raise ValueError(
                    f"einsum: subscript {c!r} has sizes {sizes[c]} and {n} in {subscripts!r} "
                    f"(shapes {', '.join(str(t.shape) for t in ts)})"
                )
    out = xp.einsum(f"{','.join(ins)}->{out_sub}", *[t.data for t in ts], optimize=len(ts) > 2)
    needs = [t.requires_grad for t in ts]

    def grad_for(k: int, g: Any, vals: tuple[Any, ...]) -> Any:
        others = [v for j, v in enumerate(vals) if j != k]
        other_subs = [s for j, s in enumerate(ins) if j != k]
        have = set(out_sub).union(*other_subs) if other_subs else set(out_sub)
        target = "".join(c for c in ins[k] if c in have)
        gk = D.einsum(f"{','.join([out_sub, *other_subs])}->{target}", g, *others)
        if target != ins[k]:  # axes only this operand had: g does not vary along them
            kshape = tuple(sizes[c] if c in have else 1 for c in ins[k])
            gk = D.broadcast_to(gk.reshape(kshape), tuple(sizes[c] for c in ins[k]))
        return gk

    def backward(g: Any, *vals: Any) -> tuple[Any, ...]:
        return tuple(grad_for(k, g, vals) if r else None for k, r in enumerate(needs))

    return make_node(out, ts, "einsum", backward, ts)
