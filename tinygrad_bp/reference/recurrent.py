"""Recurrent cells by hand, and backpropagation through time.

The cells use PyTorch's layouts, so weights copy across: ``weight_ih (G·H, I)``,
``weight_hh (G·H, H)``, ``bias_ih``, ``bias_hh (G·H,)`` with ``G`` gates stacked in
PyTorch's order (RNN: one; LSTM: i, f, g, o; GRU: r, z, n).

A cell is one step, ``state' = cell(x, state)``; a sequence runs the *same* weights at
every step.  Backprop through time walks the steps backwards: the gradient reaching the
state of step ``t`` is what the output of step ``t`` receives plus what step ``t + 1``
sends back through its ``state`` input, and every parameter's gradient is the sum over
the steps of its gradient at that step.

Each cell has ``forward``/``backward`` for one step and a pure pair ``step(x, state) ->
(state', cache)`` / ``step_backward(cache, dstate') -> (dx, dstate, dparams)`` which
:class:`Unroll` calls at every step, keeping one cache per step.  :class:`LSTM` is the
same computation for a whole sequence written for speed: the input projections of all
steps in one matrix product before the loop, the weight gradients in one product each
after it.

Examples
--------
>>> import numpy as np
>>> from tinygrad_bp.reference import LSTMCell, Unroll
>>> run = Unroll(LSTMCell(3, 5, rng=0))
>>> xs = np.random.default_rng(1).normal(size=(7, 2, 3))  # (T, N, I)
>>> out, (h, c) = run.forward(xs)
>>> out.shape, h.shape
((7, 2, 5), (2, 5))
>>> g = run.backward(np.ones((7, 2, 5)))
>>> g["x"].shape, g["h0"].shape, g["weight_hh"].shape
((7, 2, 3), (2, 5), (20, 5))
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._base import Grads, HandLayer, as_rng, fan_in_bound, positive_int, uniform

__all__ = ["RNNCell", "LSTMCell", "GRUCell", "Unroll", "LSTM", "sigmoid"]

PARAMS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def sigmoid(a: np.ndarray) -> np.ndarray:
    """``1/(1 + e^{−a})`` as ``(1 + tanh(a/2))/2``: the same function, no overflow."""
    return 0.5 * (1.0 + np.tanh(0.5 * a))


class _Cell(HandLayer):
    gates = 1
    nonlinearity = "tanh"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        rng: Any = None,
        dtype: Any = np.float64,
    ) -> None:
        super().__init__()
        name = self.name
        self.input_size = positive_int(name, "input_size", input_size)
        self.hidden_size = positive_int(name, "hidden_size", hidden_size)
        g, h, i = as_rng(rng), self.hidden_size, self.input_size
        bound = fan_in_bound(h)  # PyTorch: every weight and bias U(−1/√H, 1/√H)
        gh = self.gates * h
        self.weight_ih = uniform(g, bound, (gh, i), dtype)
        self.weight_hh = uniform(g, bound, (gh, h), dtype)
        # Without a bias the two are zeros that never change (backward leaves them out).
        self.bias_ih = uniform(g, bound, (gh,), dtype) if bias else np.zeros(gh, dtype)
        self.bias_hh = uniform(g, bound, (gh,), dtype) if bias else np.zeros(gh, dtype)
        self.has_bias = bool(bias)
        self.param_names = PARAMS if bias else PARAMS[:2]

    @property
    def dtype(self) -> np.dtype:
        return self.weight_ih.dtype

    def check_input(self, x: Any) -> np.ndarray:
        x = self.input(x, self.dtype)
        if x.ndim != 2 or x.shape[1] != self.input_size:
            raise ValueError(
                f"{self.name}({self.input_size}, {self.hidden_size}): expected input of shape "
                f"(batch, {self.input_size}), got {x.shape}"
            )
        return x

    def check_hidden(self, h: Any, n: int, label: str = "h") -> np.ndarray:
        if h is None:
            return np.zeros((n, self.hidden_size), dtype=self.dtype)
        h = self.input(h, self.dtype)
        if h.shape != (n, self.hidden_size):
            raise ValueError(
                f"{self.name}({self.input_size}, {self.hidden_size}): expected {label} of shape "
                f"({n}, {self.hidden_size}) for a batch of {n}, got {h.shape}"
            )
        return h

    def _param_grads(self, da_ih: np.ndarray, da_hh: np.ndarray, x: Any, h: Any) -> Grads:
        """The gradients of the four parameters from those of the two pre-activations
        ``a_ih = x·W_ihᵀ + b_ih`` and ``a_hh = h·W_hhᵀ + b_hh``."""
        grads = {"weight_ih": da_ih.T @ x, "weight_hh": da_hh.T @ h}
        if self.has_bias:
            grads["bias_ih"] = da_ih.sum(axis=0)
            grads["bias_hh"] = da_hh.sum(axis=0)
        return grads

    def __repr__(self) -> str:
        return f"{self.name}({self.input_size}, {self.hidden_size})"


class RNNCell(_Cell):
    """``nn.RNNCell(input_size, hidden_size, bias=True, nonlinearity="tanh")`` by hand:
    ``h' = act(x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh)``, ``act`` tanh or ReLU.

    ``forward(x, h=None)`` (zeros when ``h`` is None) returns ``h'``; ``backward(dh')``
    returns ``{"x", "h", "weight_ih", "weight_hh", "bias_ih", "bias_hh"}``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        rng: Any = None,
        dtype: Any = np.float64,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(
                f"RNNCell: unknown nonlinearity {nonlinearity!r}; expected 'tanh' or 'relu'"
            )
        super().__init__(input_size, hidden_size, bias, rng, dtype)
        self.nonlinearity = nonlinearity

    def step(self, x: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, Any]:
        a = x @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T + self.bias_hh
        h_new = np.tanh(a) if self.nonlinearity == "tanh" else np.maximum(a, 0)
        return h_new, (x, h, h_new)

    def step_backward(self, cache: Any, dh_new: np.ndarray) -> tuple[Any, Any, Grads]:
        x, h, h_new = cache
        if self.nonlinearity == "tanh":
            da = dh_new * (1 - h_new * h_new)
        else:
            da = dh_new * (h_new > 0)
        return da @ self.weight_ih, da @ self.weight_hh, self._param_grads(da, da, x, h)

    def forward(self, x: Any, h: Any = None) -> np.ndarray:
        x = self.check_input(x)
        out, self.cache = self.step(x, self.check_hidden(h, x.shape[0]))
        return out

    def backward(self, dh: Any) -> Grads:
        cache = self.saved()
        g = self.grad_in(dh, cache[2].shape, self.dtype)
        dx, dh_prev, grads = self.step_backward(cache, g)
        return {"x": dx, "h": dh_prev, **grads}


class LSTMCell(_Cell):
    """``nn.LSTMCell(input_size, hidden_size, bias=True)`` by hand, gates in PyTorch's
    order i, f, g, o::

        i, f, g, o = σ(a_i), σ(a_f), tanh(a_g), σ(a_o)   a = x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh
        c' = f·c + i·g,   h' = o·tanh(c')

    ``forward(x, state=None)`` with ``state = (h, c)`` (zeros when None) returns
    ``(h', c')``; ``backward(dh', dc'=None)`` returns ``{"x", "h", "c", "weight_ih",
    "weight_hh", "bias_ih", "bias_hh"}``.
    """

    gates = 4

    def step(self, x: np.ndarray, state: Any) -> tuple[Any, Any]:
        h, c = state
        n = self.hidden_size
        a = x @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T + self.bias_hh
        i, f, o = (sigmoid(a[:, k * n : (k + 1) * n]) for k in (0, 1, 3))
        g = np.tanh(a[:, 2 * n : 3 * n])
        c_new = f * c + i * g
        tc = np.tanh(c_new)
        h_new = o * tc
        return (h_new, c_new), (x, h, c, i, f, g, o, tc)

    def step_backward(self, cache: Any, dstate: Any) -> tuple[Any, Any, Grads]:
        x, h, c, i, f, g, o, tc = cache
        dh_new, dc_new = dstate
        do = dh_new * tc
        dc = dc_new + dh_new * o * (1 - tc * tc)  # c' reaches the loss directly and via h'
        da = np.concatenate(
            [
                dc * g * i * (1 - i),  # ∂/∂a_i
                dc * c * f * (1 - f),  # ∂/∂a_f
                dc * i * (1 - g * g),  # ∂/∂a_g
                do * o * (1 - o),  # ∂/∂a_o
            ],
            axis=1,
        )
        dh = da @ self.weight_hh
        return da @ self.weight_ih, (dh, dc * f), self._param_grads(da, da, x, h)

    def forward(self, x: Any, state: Any = None) -> tuple[np.ndarray, np.ndarray]:
        x = self.check_input(x)
        n = x.shape[0]
        if state is None:
            h = c = None
        elif isinstance(state, (tuple, list)) and len(state) == 2:
            h, c = state
        else:
            raise TypeError("LSTMCell: state must be a pair (h, c) or None")
        state = (self.check_hidden(h, n, "h"), self.check_hidden(c, n, "c"))
        out, self.cache = self.step(x, state)
        return out

    def backward(self, dh: Any, dc: Any = None) -> Grads:
        cache = self.saved()
        shape = cache[7].shape
        g_h = self.grad_in(dh, shape, self.dtype, "h'")
        g_c = (
            np.zeros(shape, self.dtype) if dc is None else self.grad_in(dc, shape, self.dtype, "c'")
        )
        dx, (dh_prev, dc_prev), grads = self.step_backward(cache, (g_h, g_c))
        return {"x": dx, "h": dh_prev, "c": dc_prev, **grads}


class GRUCell(_Cell):
    """``nn.GRUCell(input_size, hidden_size, bias=True)`` by hand, gates in PyTorch's
    order r, z, n::

        r = σ(x·W_irᵀ + b_ir + h·W_hrᵀ + b_hr),   z = σ(x·W_izᵀ + b_iz + h·W_hzᵀ + b_hz)
        n = tanh(x·W_inᵀ + b_in + r·(h·W_hnᵀ + b_hn)),   h' = (1 − z)·n + z·h

    ``forward(x, h=None)`` returns ``h'``; ``backward(dh')`` returns ``{"x", "h",
    "weight_ih", "weight_hh", "bias_ih", "bias_hh"}``.
    """

    gates = 3

    def step(self, x: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, Any]:
        n_ = self.hidden_size
        ai = x @ self.weight_ih.T + self.bias_ih
        ah = h @ self.weight_hh.T + self.bias_hh
        r = sigmoid(ai[:, :n_] + ah[:, :n_])
        z = sigmoid(ai[:, n_ : 2 * n_] + ah[:, n_ : 2 * n_])
        hn = ah[:, 2 * n_ :]  # h·W_hnᵀ + b_hn, which r scales
        n = np.tanh(ai[:, 2 * n_ :] + r * hn)
        h_new = (1 - z) * n + z * h
        return h_new, (x, h, r, z, n, hn)

    def step_backward(self, cache: Any, dh_new: np.ndarray) -> tuple[Any, Any, Grads]:
        x, h, r, z, n, hn = cache
        dan = dh_new * (1 - z) * (1 - n * n)  # ∂/∂(pre-activation of n)
        daz = dh_new * (h - n) * z * (1 - z)
        dar = dan * hn * r * (1 - r)
        da_ih = np.concatenate([dar, daz, dan], axis=1)
        da_hh = np.concatenate([dar, daz, dan * r], axis=1)  # r multiplies h·W_hnᵀ + b_hn
        dh = da_hh @ self.weight_hh + dh_new * z
        return da_ih @ self.weight_ih, dh, self._param_grads(da_ih, da_hh, x, h)

    def forward(self, x: Any, h: Any = None) -> np.ndarray:
        x = self.check_input(x)
        out, self.cache = self.step(x, self.check_hidden(h, x.shape[0]))
        return out

    def backward(self, dh: Any) -> Grads:
        cache = self.saved()
        g = self.grad_in(dh, cache[4].shape, self.dtype)
        dx, dh_prev, grads = self.step_backward(cache, g)
        return {"x": dx, "h": dh_prev, **grads}


class Unroll(HandLayer):
    """A cell stepped over a sequence ``xs (T, N, I)``, with backprop through time.

    ``forward(xs, state0=None)`` returns ``(outputs (T, N, H), final_state)``; the
    outputs are each step's ``h`` and the state is ``h`` (or ``(h, c)`` for an LSTM cell).
    ``backward(douts, dstate=None)`` takes the gradient of every output (and optionally of
    the final state) and returns ``{"x": (T, N, I), "h0", ["c0",] <the cell's parameter
    names>}``, each parameter's gradient summed over the steps.
    """

    def __init__(self, cell: _Cell) -> None:
        super().__init__()
        if not isinstance(cell, _Cell):
            raise TypeError(f"Unroll: expected an RNNCell, LSTMCell or GRUCell, got {cell!r}")
        self.cell = cell
        self.lstm = isinstance(cell, LSTMCell)
        self.param_names = cell.param_names

    def __getattr__(self, name: str) -> Any:  # the cell's parameters, as attributes
        if name in PARAMS and "cell" in self.__dict__:
            return getattr(self.cell, name)
        raise AttributeError(name)

    def forward(self, xs: Any, state0: Any = None) -> tuple[np.ndarray, Any]:
        cell = self.cell
        xs = cell.input(xs, cell.dtype)
        if xs.ndim != 3 or xs.shape[2] != cell.input_size:
            raise ValueError(
                f"Unroll({cell!r}): expected a sequence of shape (T, batch, "
                f"{cell.input_size}), got {xs.shape}"
            )
        t_len, n = xs.shape[:2]
        if self.lstm:
            if state0 is not None and not (isinstance(state0, (tuple, list)) and len(state0) == 2):
                raise TypeError("Unroll(LSTMCell): state0 must be a pair (h0, c0) or None")
            h0, c0 = (None, None) if state0 is None else state0
            state = (cell.check_hidden(h0, n, "h0"), cell.check_hidden(c0, n, "c0"))
        else:
            state = cell.check_hidden(state0, n, "h0")
        outs = np.empty((t_len, n, cell.hidden_size), dtype=cell.dtype)
        caches = []
        for t in range(t_len):
            state, cache = cell.step(xs[t], state)
            caches.append(cache)
            outs[t] = state[0] if self.lstm else state
        self.cache = caches
        return outs, state

    def backward(self, douts: Any, dstate: Any = None) -> Grads:
        caches = self.saved()
        cell = self.cell
        t_len = len(caches)
        n = caches[0][0].shape[0]
        shape = (n, cell.hidden_size)
        g = self.grad_in(douts, (t_len,) + shape, cell.dtype, "outputs")
        zeros = np.zeros(shape, cell.dtype)
        if self.lstm:
            dh, dc = (zeros, zeros) if dstate is None else dstate
            carry: Any = (
                self.grad_in(dh, shape, cell.dtype, "h"),
                self.grad_in(dc, shape, cell.dtype, "c"),
            )
        else:
            carry = zeros if dstate is None else self.grad_in(dstate, shape, cell.dtype, "h")
        dxs = np.empty((t_len, n, cell.input_size), dtype=cell.dtype)
        total = {k: np.zeros_like(v) for k, v in cell.parameters().items()}
        for t in reversed(range(t_len)):
            # what reaches h at step t: from its output, and from step t + 1 through `carry`
            dstate_t = (carry[0] + g[t], carry[1]) if self.lstm else carry + g[t]
            dxs[t], carry, grads = cell.step_backward(caches[t], dstate_t)
            for k, v in grads.items():
                total[k] += v
        out: Grads = {"x": dxs}
        if self.lstm:
            out["h0"], out["c0"] = carry
        else:
            out["h0"] = carry
        return {**out, **total}


class LSTM(HandLayer):
    """``nn.LSTM(input_size, hidden_size, batch_first=False)`` (one layer) by hand,
    written for speed; parameters ``weight_ih_l0 (4H, I)``, ``weight_hh_l0 (4H, H)``,
    ``bias_ih_l0``, ``bias_hh_l0 (4H,)``, PyTorch's names.

    ``forward(xs, state0=None)``: ``xs (T, N, I)`` (``(N, T, I)`` with ``batch_first``),
    ``state0 = (h0, c0)`` each ``(1, N, H)`` as PyTorch, zeros when None; returns
    ``(output, (h_n, c_n))``.  ``backward(dout, dstate=None)`` (``dstate = (dh_n, dc_n)``)
    returns ``{"x", "h0", "c0", "weight_ih_l0", "weight_hh_l0", "bias_ih_l0",
    "bias_hh_l0"}`` (``h0``, ``c0`` shaped ``(1, N, H)``).

    The same arithmetic as :class:`Unroll` of an :class:`LSTMCell`, rearranged: the
    input's share of every step's pre-activations is one ``(T·N, I) × (I, 4H)`` product
    before the loop, and after the backward loop ``∂L/∂W_ih``, ``∂L/∂W_hh`` and ``∂L/∂x``
    are one product each over all steps; only ``h·W_hhᵀ`` and its adjoint stay in the loop.
    """

    param_names = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        batch_first: bool = False,
        rng: Any = None,
        dtype: Any = np.float64,
    ) -> None:
        super().__init__()
        self.input_size = positive_int("LSTM", "input_size", input_size)
        self.hidden_size = positive_int("LSTM", "hidden_size", hidden_size)
        self.batch_first = bool(batch_first)
        g, h = as_rng(rng), self.hidden_size
        bound = fan_in_bound(h)
        self.weight_ih_l0 = uniform(g, bound, (4 * h, self.input_size), dtype)
        self.weight_hh_l0 = uniform(g, bound, (4 * h, h), dtype)
        self.bias_ih_l0 = uniform(g, bound, (4 * h,), dtype)
        self.bias_hh_l0 = uniform(g, bound, (4 * h,), dtype)
        # σ(a) = (1 + tanh(a/2))/2 for i, f, o and tanh(a) for g: one tanh over all gates
        half = np.full(4 * h, 0.5, dtype=dtype)
        half[2 * h : 3 * h] = 1.0
        self._scale = half  # tanh(scale·a)·scale + shift gives σ or tanh gate by gate
        self._shift = np.where(half == 0.5, 0.5, 0.0).astype(dtype)

    def _state(self, s: Any, n: int, label: str) -> np.ndarray:
        shape = (1, n, self.hidden_size)
        if s is None:
            return np.zeros(shape, self.weight_ih_l0.dtype)
        s = self.input(s, self.weight_ih_l0.dtype)
        if s.shape != shape:
            raise ValueError(f"LSTM: expected {label} of shape {shape}, got {s.shape}")
        return s

    def forward(self, xs: Any, state0: Any = None) -> tuple[np.ndarray, Any]:
        dtype = self.weight_ih_l0.dtype
        xs = self.input(xs, dtype)
        if xs.ndim != 3 or xs.shape[2] != self.input_size:
            layout = "(batch, T, " if self.batch_first else "(T, batch, "
            raise ValueError(
                f"LSTM({self.input_size}, {self.hidden_size}): expected input of shape "
                f"{layout}{self.input_size}), got {xs.shape}"
            )
        if self.batch_first:
            xs = xs.transpose(1, 0, 2)
        t_len, n, _ = xs.shape
        h4 = 4 * self.hidden_size
        hs = self.hidden_size
        if state0 is not None and not (isinstance(state0, (tuple, list)) and len(state0) == 2):
            raise TypeError("LSTM: state0 must be a pair (h0, c0) or None")
        h0, c0 = (None, None) if state0 is None else state0
        h0, c0 = self._state(h0, n, "h0"), self._state(c0, n, "c0")
        x2 = np.ascontiguousarray(xs).reshape(t_len * n, self.input_size)
        ax = (x2 @ self.weight_ih_l0.T + (self.bias_ih_l0 + self.bias_hh_l0)).reshape(t_len, n, h4)
        H = np.empty((t_len + 1, n, hs), dtype)  # H[t] is the h that step t reads
        C = np.empty((t_len + 1, n, hs), dtype)
        acts = np.empty((t_len, n, h4), dtype)  # i, f, g, o after their nonlinearity
        tcs = np.empty((t_len, n, hs), dtype)
        H[0], C[0] = h0[0], c0[0]
        w_hh_t = self.weight_hh_l0.T
        scale, shift = self._scale, self._shift
        for t in range(t_len):
            a = H[t] @ w_hh_t
            a += ax[t]
            a *= scale
            act = acts[t]
            np.tanh(a, out=act)
            act *= scale
            act += shift
            i, f, g, o = act[:, :hs], act[:, hs : 2 * hs], act[:, 2 * hs : 3 * hs], act[:, 3 * hs :]
            c = C[t + 1]
            np.multiply(f, C[t], out=c)
            c += i * g
            np.tanh(c, out=tcs[t])
            np.multiply(o, tcs[t], out=H[t + 1])
        self.cache = (x2, H, C, acts, tcs, xs.shape)
        out = H[1:]
        out = out.transpose(1, 0, 2) if self.batch_first else out
        return out, (H[t_len][None].copy(), C[t_len][None].copy())

    def backward(self, dout: Any, dstate: Any = None) -> Grads:
        x2, H, C, acts, tcs, (t_len, n, i_size) = self.saved()
        dtype = self.weight_ih_l0.dtype
        hs = self.hidden_size
        shape = (n, t_len, hs) if self.batch_first else (t_len, n, hs)
        g = self.grad_in(dout, shape, dtype, "output")
        if self.batch_first:
            g = g.transpose(1, 0, 2)
        if dstate is None:
            dh = np.zeros((n, hs), dtype)
            dc = np.zeros((n, hs), dtype)
        else:
            dh = self.grad_in(dstate[0], (1, n, hs), dtype, "h_n")[0].copy()
            dc = self.grad_in(dstate[1], (1, n, hs), dtype, "c_n")[0].copy()
        da = np.empty((t_len, n, 4 * hs), dtype)  # ∂L/∂(pre-activations), every step
        w_hh = self.weight_hh_l0
        for t in reversed(range(t_len)):
            act = acts[t]
            i, f, gg, o = (
                act[:, :hs],
                act[:, hs : 2 * hs],
                act[:, 2 * hs : 3 * hs],
                act[:, 3 * hs :],
            )
            tc = tcs[t]
            dh += g[t]  # from this step's output, and from step t + 1
            dc += dh * o * (1 - tc * tc)
            d = da[t]
            np.multiply(dc * gg, i * (1 - i), out=d[:, :hs])
            np.multiply(dc * C[t], f * (1 - f), out=d[:, hs : 2 * hs])
            np.multiply(dc * i, 1 - gg * gg, out=d[:, 2 * hs : 3 * hs])
            np.multiply(dh * tc, o * (1 - o), out=d[:, 3 * hs :])
            dc *= f  # to step t − 1's c
            dh = d @ w_hh  # to step t − 1's h
        da2 = da.reshape(t_len * n, 4 * hs)
        db = da2.sum(axis=0)
        dx = (da2 @ self.weight_ih_l0).reshape(t_len, n, i_size)
        return {
            "x": dx.transpose(1, 0, 2) if self.batch_first else dx,
            "h0": dh[None],
            "c0": dc[None],
            "weight_ih_l0": da2.T @ x2,
            "weight_hh_l0": da2.T @ H[:-1].reshape(t_len * n, hs),
            "bias_ih_l0": db,
            "bias_hh_l0": db.copy(),
        }

    def __repr__(self) -> str:
        return f"LSTM({self.input_size}, {self.hidden_size}, batch_first={self.batch_first})"
