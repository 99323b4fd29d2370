"""The recurrent layers' hot paths as fused primitives: the LSTM step, the LSTM layer and
the GRU layer."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import xp
from ._common import primitive
from ..tensor import Tensor, make_node
from . import dialect as D

__all__ = ["lstm_cell", "lstm_layer", "gru_layer"]


@primitive("recurrent", "=the LSTM's gate derivatives, one step", graph_formula=True)
def lstm_cell(a: Tensor, c: Tensor) -> Tensor:
    """One LSTM step from the gates' pre-activations ``a (N, 4H)`` (PyTorch's order i, f,
    g, o) and the cell state ``c (N, H)``; returns ``(h', c')`` stacked as ``(2, N, H)``.

    ``i, f, o = σ(a_i, a_f, a_o)``, ``g = tanh(a_g)``, ``c' = f·c + i·g``,
    ``h' = o·tanh(c')``.  With incoming ``(g_h, g_c)`` and ``γ = g_c + g_h·o·(1 − tanh²c')``:
    ∂/∂c = γ·f, ∂/∂a = [γ·g·i(1−i), γ·c·f(1−f), γ·i·(1−g²), g_h·tanh(c')·o(1−o)].

    One op instead of the dozen a composition records: the step runs 16 times per
    sequence in the names LSTM, and the fused backward reuses the forward's gates.
    """
    ad, cd = a.data, c.data
    if ad.ndim != 2 or cd.ndim != 2 or ad.shape != (cd.shape[0], 4 * cd.shape[1]):
        raise ValueError(
            f"lstm_cell: expected gates (N, 4H) and a cell state (N, H), got {ad.shape} and "
            f"{cd.shape}"
        )
    H = cd.shape[1]
    act = D.sigmoid(ad)
    gg = xp.tanh(ad[:, 2 * H : 3 * H])
    i, f, o = act[:, :H], act[:, H : 2 * H], act[:, 3 * H :]
    out = xp.empty((2,) + cd.shape, dtype=np.result_type(ad.dtype, cd.dtype))
    c_new = out[1]
    xp.multiply(f, cd, out=c_new)
    c_new += i * gg
    tc = xp.tanh(c_new)
    xp.multiply(o, tc, out=out[0])

    def backward(g: Any, a: Any, c: Any) -> tuple[Any, Any]:
        if D.is_tensor(a):  # under create_graph: the forward's gates again, as ops
            ii, ff = D.sigmoid(a[:, :H]), D.sigmoid(a[:, H : 2 * H])
            g_, oo = D.tanh(a[:, 2 * H : 3 * H]), D.sigmoid(a[:, 3 * H :])
            t = D.tanh(ff * c + ii * g_)
        else:  # a plain backward: the gates the forward computed
            ii, ff, g_, oo, t = i, f, gg, o, tc
        gh, gc = g[0], g[1]
        gam = gc + gh * oo * (1 - t * t)
        da = D.concat_last(
            [gam * g_ * ii * (1 - ii), gam * c * ff * (1 - ff), gam * ii * (1 - g_ * g_),
             gh * t * oo * (1 - oo)]
        )  # fmt: skip
        return da, gam * ff

    ac = (a, c)
    return make_node(out, ac, "lstm_cell", backward, ac)


def _gates(a: Any, H: int) -> tuple[Any, Any, Any, Any]:
    """``i, f, g, o`` of the pre-activations ``a (N, 4H)``, on arrays or Tensors."""
    return (
        D.sigmoid(a[:, :H]),
        D.sigmoid(a[:, H : 2 * H]),
        D.tanh(a[:, 2 * H : 3 * H]),
        D.sigmoid(a[:, 3 * H :]),
    )


def _lstm_backward_arrays(
    g: Any, acts: Any, tcs: Any, Cs: Any, w_hh: Any, T: int, N: int, H: int
) -> tuple[Any, Any, Any]:
    """:func:`lstm_layer`'s backward through time on arrays: ``δ_t`` = ∂/∂a_t for every
    step in one ``(T, N, 4H)`` array, and ∂/∂h0, ∂/∂c0.  The same products, in the same
    order, as the Tensor path of the closure (so the same numbers), written into
    preallocated memory.  What does not depend on the incoming gradient is computed for
    all steps at once before the loop (a few passes over ``(T, N, 4H)`` instead of a
    dozen small ones per step): the gates' ``1 − y`` and ``1 − g²``, ``1 − tanh²c``."""
    dt = np.result_type(acts.dtype, g.dtype)
    G = slice(2 * H, 3 * H)  # the g gate's block
    # δ_t's blocks are (((dc·g)·i)·(1−i), ((dc·c_{t−1})·f)·(1−f), (dc·i)·(1 − g²),
    # ((gh·tc)·o)·(1−o)): after the first product, two whole-row products by
    # y = [i, f, 1, o] and z = [1−i, 1−f, 1−g², 1−o] (a product by 1 is exact)
    y = acts.astype(dt, copy=True)
    y[..., G] = 1
    z = xp.subtract(1, acts, dtype=dt)
    zg = z[..., G]
    xp.multiply(acts[..., G], acts[..., G], out=zg)
    xp.subtract(1, zg, out=zg)
    q = xp.multiply(tcs, tcs, dtype=dt)  # 1 − tc²
    xp.subtract(1, q, out=q)
    da_all = xp.empty((T, N, 4 * H), dtype=dt)
    dc = xp.empty((N, H), dtype=dt)
    dc[...] = g[T]
    tmp = xp.empty((N, H), dtype=dt)
    gh_buf = xp.empty((N, H), dtype=dt)
    dh = xp.empty((N, H), dtype=dt)
    for t in reversed(range(T)):
        a, tc, d = acts[t], tcs[t], da_all[t]
        i, f, gg, o = a[:, :H], a[:, H : 2 * H], a[:, G], a[:, 3 * H :]
        gh = g[t] if t == T - 1 else xp.add(g[t], dh, out=gh_buf)
        # dc = dc + (gh·o)·(1 − tc²)
        xp.multiply(gh, o, out=tmp)
        tmp *= q[t]
        dc += tmp
        xp.multiply(dc, gg, out=d[:, :H])
        xp.multiply(dc, Cs[t], out=d[:, H : 2 * H])
        xp.multiply(dc, i, out=d[:, G])
        xp.multiply(gh, tc, out=d[:, 3 * H :])
        d *= y[t]
        d *= z[t]
        dc *= f
        xp.matmul(d, w_hh, out=dh)
    return da_all, dh, dc


@primitive(
    "recurrent",
    "=the LSTM's gate derivatives, every step back to the first (BPTT)",
    graph_formula=True,
)
def lstm_layer(
    x: Tensor, h0: Tensor, c0: Tensor, w_ih: Tensor, w_hh: Tensor, bias: Tensor
) -> Tensor:
    """A whole LSTM layer over a sequence as one primitive: ``x (T, N, I)``, the state
    ``h0, c0 (N, H)``, ``w_ih (4H, I)``, ``w_hh (4H, H)`` and the summed biases ``bias
    (4H,)``; returns ``(T + 1, N, H)``: rows ``0..T−1`` the ``h`` of every step, row ``T``
    the last cell state.

    Each step is :func:`lstm_cell` of ``a_t = x_t·W_ihᵀ + h_{t−1}·W_hhᵀ + b``.  The
    backward runs the steps in reverse with ``δ_t`` = ∂/∂a_t (the cell's formula, ``g_h``
    the step's output gradient plus ``δ_{t+1}·W_hh``), then ∂/∂x = δ·W_ih, ∂/∂W_ih =
    Σ_t δ_tᵀ·x_t, ∂/∂W_hh = Σ_t δ_tᵀ·h_{t−1}, ∂/∂b = Σ δ, ∂/∂h0 = δ_0·W_hh, ∂/∂c0 the
    cell gradient carried to step 0.  One node instead of ~10 per step, and the products
    with the input and the weight gradients are one matrix product each over all steps,
    as a hand-written LSTM does them.
    """
    xd, hd, cd = x.data, h0.data, c0.data
    wi, wh, bd = w_ih.data, w_hh.data, bias.data
    if xd.ndim != 3 or hd.ndim != 2 or cd.shape != hd.shape:
        raise ValueError(
            f"lstm_layer: expected x (T, N, I) and states (N, H), got {xd.shape}, {hd.shape} "
            f"and {cd.shape}"
        )
    T, N, I = xd.shape
    H = hd.shape[1]
    if T == 0:
        raise ValueError(f"lstm_layer: the sequence is empty (x of shape {xd.shape})")
    if wi.shape != (4 * H, I) or wh.shape != (4 * H, H) or bd.shape != (4 * H,):
        raise ValueError(
            f"lstm_layer: expected w_ih {(4 * H, I)}, w_hh {(4 * H, H)} and bias {(4 * H,)}, "
            f"got {wi.shape}, {wh.shape} and {bd.shape}"
        )
    dt = np.result_type(xd.dtype, hd.dtype, cd.dtype, wi.dtype, wh.dtype, bd.dtype)
    # σ(a) = ½·tanh(a/2) + ½ (D.sigmoid's form) and tanh(a) = 1·tanh(1·a) + 0: all four
    # gates in three in-place passes over the step's (N, 4H) block.  The inner ½ is
    # folded into the weights and the bias (halving is exact in floating point, so the
    # pre-activations are bit for bit ½·a), and Wₕₕᵀ·½ comes out in C order, which BLAS
    # multiplies the small (N, H) by markedly faster than the transposed view
    scale = xp.full(4 * H, 0.5, dtype=dt)
    scale[2 * H : 3 * H] = 1.0
    shift = 1.0 - scale
    shift[2 * H : 3 * H] = 0.0
    ax = xd.reshape(T * N, I) @ (wi.T * scale)
    ax += bd * scale
    ax = ax.reshape(T, N, 4 * H)
    wh_t = wh.T * scale
    Hs = xp.empty((T + 1, N, H), dtype=dt)  # Hs[t]: the h step t reads
    Cs = xp.empty((T + 1, N, H), dtype=dt)
    acts = xp.empty((T, N, 4 * H), dtype=dt)  # i, f, g, o after their nonlinearity
    tcs = xp.empty((T, N, H), dtype=dt)
    ig = xp.empty((N, H), dtype=dt)
    Hs[0], Cs[0] = hd, cd
    for t in range(T):
        act = acts[t]
        xp.matmul(Hs[t], wh_t, out=act)
        act += ax[t]
        xp.tanh(act, out=act)
        act *= scale
        act += shift
        i, f, g, o = act[:, :H], act[:, H : 2 * H], act[:, 2 * H : 3 * H], act[:, 3 * H :]
        c = Cs[t + 1]
        xp.multiply(f, Cs[t], out=c)
        xp.multiply(i, g, out=ig)
        c += ig
        xp.tanh(c, out=tcs[t])
        xp.multiply(o, tcs[t], out=Hs[t + 1])
    out = xp.empty((T + 1, N, H), dtype=dt)
    out[:T] = Hs[1:]
    out[T] = Cs[T]

    def backward(g: Any, x: Any, h0: Any, c0: Any, w_ih: Any, w_hh: Any, b: Any) -> tuple[Any, ...]:
        x2 = x.reshape((T * N, I))
        if D.is_tensor(x):  # under create_graph: the forward again, as ops
            ax2 = (x2 @ D.swap_last(w_ih) + b).reshape((T, N, 4 * H))
            hp, cp, steps = [h0], [c0], []
            for t in range(T):
                i, f, gg, o = _gates(ax2[t] + hp[t] @ D.swap_last(w_hh), H)
                c = f * cp[t] + i * gg
                tc = D.tanh(c)
                steps.append((i, f, gg, o, tc))
                hp.append(o * tc)
                cp.append(c)
            h_prev = D.concat_last([h.reshape((N * H,)) for h in hp[:T]]).reshape((T * N, H))
            dh, dc = None, g[T]
            das: list[Any] = [None] * T
            for t in reversed(range(T)):
                i, f, gg, o, tc = steps[t]
                gh = g[t] if dh is None else g[t] + dh
                dc = dc + gh * o * (1 - tc * tc)
                da = D.concat_last(
                    [dc * gg * i * (1 - i), dc * cp[t] * f * (1 - f), dc * i * (1 - gg * gg),
                     gh * tc * o * (1 - o)]
                )  # fmt: skip
                das[t] = da.reshape((N * 4 * H,))
                dc = dc * f
                dh = da @ w_hh
            da2 = D.concat_last(das).reshape((T * N, 4 * H))
        else:  # a plain backward: the same formulas on the values the forward computed,
            # each step's four gate gradients written in place into one (T, N, 4H) array
            # (no per-step joins); the order of every product is the one above
            da_all, dh, dc = _lstm_backward_arrays(g, acts, tcs, Cs, w_hh, T, N, H)
            da2 = da_all.reshape(T * N, 4 * H)
            h_prev = Hs[:T].reshape(T * N, H)
        da2_t = D.swap_last(da2)
        return (
            (da2 @ w_ih).reshape((T, N, I)),
            dh,
            dc,
            da2_t @ x2,
            da2_t @ h_prev,
            da2.sum(axis=0),
        )

    inputs = (x, h0, c0, w_ih, w_hh, bias)
    return make_node(out, inputs, "lstm_layer", backward, inputs)


def _gru_composed(
    x: Tensor, h0: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor
) -> Tensor:
    """:func:`gru_layer`'s definition as a composition of ops (PyTorch's formula, step by
    step): what its backward differentiates under ``create_graph``, so every higher
    derivative is this composition's."""
    from .shape import stack

    T, N, I = x.shape
    H = h0.shape[1]
    gx = (x.reshape((T * N, I)) @ D.swap_last(w_ih) + b_ih).reshape((T, N, 3 * H))
    w_hh_t = D.swap_last(w_hh)
    h, hs = h0, []
    for t in range(T):
        gh = h @ w_hh_t + b_hh
        gxt = gx[t]
        r = D.sigmoid(gxt[:, :H] + gh[:, :H])
        z = D.sigmoid(gxt[:, H : 2 * H] + gh[:, H : 2 * H])
        n = D.tanh(gxt[:, 2 * H :] + r * gh[:, 2 * H :])
        h = (1.0 - z) * n + z * h
        hs.append(h)
    return stack(hs, 0)


def _composed_vjp(composed: Any, ts: tuple[Tensor, ...], g: Tensor) -> tuple[Any, ...]:
    """``gᵀ·∂composed/∂t`` for each parent ``t`` as Tensors with graphs (each slot through
    its own clone, so a Tensor passed twice gets each slot's share once)."""
    from ..autograd import grad
    from .elementwise import clone

    aliases = [clone(t) if t.requires_grad else t for t in ts]
    need = [a for a, t in zip(aliases, ts) if t.requires_grad]
    if not need:
        return (None,) * len(ts)
    got = iter(grad(composed(*aliases), need, g, create_graph=True, allow_unused=True))
    return tuple(next(got) if t.requires_grad else None for t in ts)


def _gru_backward_arrays(
    g: Any, acts: Any, ghs: Any, Hs: Any, w_hh: Any, T: int, N: int, H: int
) -> tuple[Any, Any, Any]:
    """:func:`gru_layer`'s backward through time on arrays, in preallocated memory: the
    gradients of the input side's pre-activations ``x·W_ihᵀ + b_ih`` and of the hidden
    side's ``h·W_hhᵀ + b_hh``, each ``(T, N, 3H)``, and ∂/∂h0."""
    dt = acts.dtype
    dgx = xp.empty((T, N, 3 * H), dtype=dt)
    dgh = xp.empty((T, N, 3 * H), dtype=dt)
    dh = xp.empty((N, H), dtype=dt)
    tmp = xp.empty((N, H), dtype=dt)
    carry = xp.empty((N, H), dtype=dt)
    for t in reversed(range(T)):
        if t == T - 1:
            dh[...] = g[t]
        else:
            xp.add(g[t], carry, out=dh)
        a, dx, dhh = acts[t], dgx[t], dgh[t]
        r, z, n = a[:, :H], a[:, H : 2 * H], a[:, 2 * H :]
        da_r, da_z, da_n = dx[:, :H], dx[:, H : 2 * H], dx[:, 2 * H :]
        # h' = (1 − z)·n + z·h:  ∂/∂z = g·(h − n),  ∂/∂n = g·(1 − z),  ∂/∂h = g·z
        xp.subtract(1, z, out=tmp)
        xp.multiply(dh, tmp, out=da_n)
        xp.subtract(Hs[t], n, out=da_z)
        da_z *= dh
        da_z *= z
        da_z *= tmp  # σ' = z·(1 − z)
        xp.multiply(n, n, out=tmp)
        xp.subtract(1, tmp, out=tmp)
        da_n *= tmp  # tanh' = 1 − n²
        # n = tanh(a_n + r·ĝ_n), ĝ_n = h·W_hnᵀ + b_hn:  ∂/∂r = ∂/∂a_n·ĝ_n, ∂/∂ĝ_n = ∂/∂a_n·r
        xp.multiply(da_n, ghs[t][:, 2 * H :], out=da_r)
        da_r *= r
        xp.subtract(1, r, out=tmp)
        da_r *= tmp
        dhh[:, : 2 * H] = dx[:, : 2 * H]
        xp.multiply(da_n, r, out=dhh[:, 2 * H :])
        xp.matmul(dhh, w_hh, out=carry)
        dh *= z
        carry += dh
    return dgx, dgh, carry


@primitive(
    "recurrent",
    "=the GRU's gate derivatives, every step back to the first (BPTT)",
    graph_formula=True,
)
def gru_layer(
    x: Tensor, h0: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor
) -> Tensor:
    """A whole GRU layer over a sequence as one primitive, PyTorch's formula and gate
    order (r, z, n): ``x (T, N, I)``, ``h0 (N, H)``, ``w_ih (3H, I)``, ``w_hh (3H, H)``,
    ``b_ih, b_hh (3H,)``; returns the ``h`` of every step, ``(T, N, H)``.

    With ``â_t = x_t·W_ihᵀ + b_ih`` and ``ĝ_t = h_{t−1}·W_hhᵀ + b_hh`` (blocks r, z, n):
    ``r = σ(â_r + ĝ_r)``, ``z = σ(â_z + ĝ_z)``, ``n = tanh(â_n + r·ĝ_n)`` (the hidden
    side's n block, bias included, inside the reset gate, as PyTorch places it), ``h_t =
    (1 − z)·n + z·h_{t−1}``.  The backward runs the steps in reverse: with ``γ`` =
    ∂/∂h_t (the step's output gradient plus what step t+1 sends back), ∂/∂â_n = γ·(1 −
    z)·(1 − n²), ∂/∂â_z = γ·(h_{t−1} − n)·z(1 − z), ∂/∂â_r = ∂/∂â_n·ĝ_n·r(1 − r); the
    hidden side gets the same r and z blocks and ∂/∂ĝ_n = ∂/∂â_n·r; ∂/∂h_{t−1} = γ·z +
    ∂/∂ĝ·W_hh.  The products with the input and the weight gradients are one matrix
    product each over all steps.  Under ``create_graph`` the node differentiates the
    composition of ops the formula above spells, so higher derivatives are exact.
    """
    xd, hd = x.data, h0.data
    wi, wh, bi, bh = w_ih.data, w_hh.data, b_ih.data, b_hh.data
    if xd.ndim != 3 or hd.ndim != 2 or hd.shape[0] != xd.shape[1]:
        raise ValueError(
            f"gru_layer: expected x (T, N, I) and a state (N, H), got {xd.shape} and {hd.shape}"
        )
    T, N, I = xd.shape
    H = hd.shape[1]
    if T == 0:
        raise ValueError(f"gru_layer: the sequence is empty (x of shape {xd.shape})")
    G = 3 * H
    if wi.shape != (G, I) or wh.shape != (G, H) or bi.shape != (G,) or bh.shape != (G,):
        raise ValueError(
            f"gru_layer: expected w_ih {(G, I)}, w_hh {(G, H)}, b_ih {(G,)} and b_hh {(G,)}, "
            f"got {wi.shape}, {wh.shape}, {bi.shape} and {bh.shape}"
        )
    dt = np.result_type(xd.dtype, hd.dtype, wi.dtype, wh.dtype, bi.dtype, bh.dtype)
    gx = xd.reshape(T * N, I) @ wi.T
    gx += bi
    gx = gx.reshape(T, N, G)
    Hs = xp.empty((T + 1, N, H), dtype=dt)  # Hs[t]: the h step t reads
    Hs[0] = hd
    acts = xp.empty((T, N, G), dtype=dt)  # r, z, n after their nonlinearity
    ghs = xp.empty((T, N, G), dtype=dt)  # h·W_hhᵀ + b_hh, every step
    wh_t = xp.ascontiguousarray(wh.T)  # C order: faster for BLAS, T times per sequence
    for t in range(T):
        gh, a, gxt = ghs[t], acts[t], gx[t]
        xp.matmul(Hs[t], wh_t, out=gh)
        gh += bh
        rz = a[:, : 2 * H]
        xp.add(gxt[:, : 2 * H], gh[:, : 2 * H], out=rz)
        rz *= 0.5  # σ(a) = ½·tanh(a/2) + ½, r and z in one pass
        xp.tanh(rz, out=rz)
        rz *= 0.5
        rz += 0.5
        n = a[:, 2 * H :]
        xp.multiply(a[:, :H], gh[:, 2 * H :], out=n)
        n += gxt[:, 2 * H :]
        xp.tanh(n, out=n)
        h = Hs[t + 1]  # (1 − z)·n + z·h = n + z·(h − n)
        xp.subtract(Hs[t], n, out=h)
        h *= a[:, H : 2 * H]
        h += n
    out = Hs[1:].copy()  # the backward reads Hs: the output is the caller's own

    def backward(g: Any, *saved: Any) -> tuple[Any, ...]:
        if D.is_tensor(saved[0]):  # under create_graph: the composition's own derivative
            return _composed_vjp(_gru_composed, saved, g)
        # a plain backward: the hand-derived formulas on the forward's values, in place
        dgx, dgh, dh0 = _gru_backward_arrays(g, acts, ghs, Hs, wh, T, N, H)
        dgx2, dgh2 = dgx.reshape(T * N, G), dgh.reshape(T * N, G)
        return (
            (dgx2 @ wi).reshape(T, N, I),
            dh0,
            dgx2.T @ xd.reshape(T * N, I),
            dgh2.T @ Hs[:T].reshape(T * N, H),
            dgx2.sum(axis=0),
            dgh2.sum(axis=0),
        )

    inputs = (x, h0, w_ih, w_hh, b_ih, b_hh)
    return make_node(out, inputs, "gru_layer", backward, inputs)
