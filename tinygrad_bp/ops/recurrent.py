"""The LSTM step as one fused primitive (the recurrent layers' hot path)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..backend import xp
from ..tensor import Tensor, make_node
from . import dialect as D

__all__ = ["lstm_cell"]


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

    def backward(g: Any, a: Any = ad, c: Any = cd) -> tuple[Any, Any]:
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

    return make_node(out, (a, c), "lstm_cell", backward)
