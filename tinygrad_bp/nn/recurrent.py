"""Recurrent layers with PyTorch's parameter names and shapes, so weights copy across:
``RNNCell``, ``LSTMCell``, ``GRUCell`` and ``LSTM`` (``weight_ih (G·H, I)``,
``weight_hh (G·H, H)``, ``bias_ih``, ``bias_hh``; gates in PyTorch's order: i, f, g, o for
the LSTM, r, z, n for the GRU).  Every parameter starts uniform in ±1/√hidden_size."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import ops
from ..ops import lstm_cell, stack
from ..ops.recurrent import lstm_layer
from ..tensor import Tensor, get_default_dtype
from .linear import _check_features, _uniform
from .module import Module, Parameter, _rng

__all__ = ["RNNCell", "LSTMCell", "GRUCell", "LSTM"]


def _as_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


class _Cell(Module):
    _gates = 1
    _name = ""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        rng: Any = None,
        dtype: Any = None,
    ) -> None:
        _check_features(self._name, input_size=input_size, hidden_size=hidden_size)
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        dtype = np.dtype(dtype) if dtype is not None else get_default_dtype()
        g = _rng(rng)
        k = 1.0 / math.sqrt(self.hidden_size)
        gh = self._gates * self.hidden_size
        self.weight_ih = Parameter(_uniform(g, k, (gh, self.input_size), dtype))
        self.weight_hh = Parameter(_uniform(g, k, (gh, self.hidden_size), dtype))
        self.bias_ih = Parameter(_uniform(g, k, (gh,), dtype)) if bias else None
        self.bias_hh = Parameter(_uniform(g, k, (gh,), dtype)) if bias else None

    def _check(self, x: Tensor, states: tuple[Any, ...]) -> tuple[Tensor, bool, int]:
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(
                f"{self._name}({self.input_size}, {self.hidden_size}): expected an input of "
                f"shape (N, {self.input_size}) or ({self.input_size},), got shape {x.shape}"
            )
        batched = x.ndim == 2
        n = x.shape[0] if batched else 1
        for s in states:
            if s is not None:
                want = (n, self.hidden_size) if batched else (self.hidden_size,)
                if tuple(s.shape) != want:
                    raise ValueError(
                        f"{self._name}: expected a hidden state of shape {want}, got "
                        f"{tuple(s.shape)}"
                    )
        return (x if batched else ops.reshape(x, 1, -1)), batched, n

    def _zeros(self, n: int, dtype: Any) -> Tensor:
        return Tensor(np.zeros((n, self.hidden_size), dtype=dtype))

    def _state(self, s: Any, n: int, batched: bool, dtype: Any) -> Tensor:
        if s is None:
            return self._zeros(n, dtype)
        s = _as_tensor(s)
        return s if batched else ops.reshape(s, 1, -1)

    def _gates_x(self, x: Tensor) -> Tensor:
        y = ops.matmul(x, ops.transpose(self.weight_ih))
        return y if self.bias_ih is None else ops.add(y, self.bias_ih)

    def _gates_h(self, h: Tensor) -> Tensor:
        y = ops.matmul(h, ops.transpose(self.weight_hh))
        return y if self.bias_hh is None else ops.add(y, self.bias_hh)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}"


def _unbatch(t: Tensor, batched: bool) -> Tensor:
    return t if batched else ops.reshape(t, -1)


class RNNCell(_Cell):
    """``h' = act(x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh)``, ``act`` tanh or relu.

    Examples
    --------
    >>> import numpy as np
    >>> import tinygrad_bp as tg
    >>> cell = tg.nn.RNNCell(3, 5, rng=0)
    >>> cell(tg.Tensor(np.ones((2, 3)))).shape
    (2, 5)
    """

    _name = "RNNCell"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        rng: Any = None,
        dtype: Any = None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(
                f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}"
            )
        super().__init__(input_size, hidden_size, bias, rng, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, x: Any, hx: Any = None) -> Tensor:
        x = _as_tensor(x)
        x2, batched, n = self._check(x, (hx,))
        h = self._state(hx, n, batched, x.dtype)
        a = self._gates_x(x2) + self._gates_h(h)
        out = ops.tanh(a) if self.nonlinearity == "tanh" else ops.relu(a)
        return _unbatch(out, batched)


class LSTMCell(_Cell):
    """``i, f, g, o`` = σ, σ, tanh, σ of the four slices of ``x·W_ihᵀ + b_ih + h·W_hhᵀ +
    b_hh``; ``c' = f·c + i·g``, ``h' = o·tanh(c')``.  Returns ``(h', c')``."""

    _gates = 4
    _name = "LSTMCell"

    def forward(self, x: Any, hx: Any = None) -> tuple[Tensor, Tensor]:
        x = _as_tensor(x)
        h0, c0 = (None, None) if hx is None else hx
        x2, batched, n = self._check(x, (h0, c0))
        h = self._state(h0, n, batched, x.dtype)
        c = self._state(c0, n, batched, x.dtype)
        h, c = self._step(self._gates_x(x2) + self._gates_h(h), c)
        return _unbatch(h, batched), _unbatch(c, batched)

    def _step(self, a: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
        """One step from the gates' pre-activations ``a (N, 4H)`` and the cell state: the
        gates, ``c'`` and ``h'`` in one op (:func:`~tinygrad_bp.ops.recurrent.lstm_cell`)."""
        hc = lstm_cell(a, c)
        return hc[0], hc[1]


class GRUCell(_Cell):
    """``r, z = σ(x·W_i{r,z}ᵀ + b_i{r,z} + h·W_h{r,z}ᵀ + b_h{r,z})``,
    ``n = tanh(x·W_inᵀ + b_in + r·(h·W_hnᵀ + b_hn))``, ``h' = (1 − z)·n + z·h``."""

    _gates = 3
    _name = "GRUCell"

    def forward(self, x: Any, hx: Any = None) -> Tensor:
        x = _as_tensor(x)
        x2, batched, n = self._check(x, (hx,))
        h = self._state(hx, n, batched, x.dtype)
        H = self.hidden_size
        gx, gh = self._gates_x(x2), self._gates_h(h)
        r = ops.sigmoid(gx[:, :H] + gh[:, :H])
        z = ops.sigmoid(gx[:, H : 2 * H] + gh[:, H : 2 * H])
        nn_ = ops.tanh(gx[:, 2 * H :] + r * gh[:, 2 * H :])
        out = (1.0 - z) * nn_ + z * h
        return _unbatch(out, batched)


class LSTM(Module):
    """A (stack of) LSTM layer(s) over a sequence: input ``(T, N, I)`` (``(N, T, I)`` with
    ``batch_first=True``) -> ``(output, (h_n, c_n))``, ``output`` the last layer's ``h`` at
    every step, ``h_n`` and ``c_n`` of shape ``(num_layers, N, H)``.  Parameters
    ``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0``, ... as in PyTorch.

    Examples
    --------
    >>> import numpy as np
    >>> import tinygrad_bp as tg
    >>> lstm = tg.nn.LSTM(4, 8, rng=0)
    >>> out, (h, c) = lstm(tg.Tensor(np.zeros((5, 2, 4))))
    >>> out.shape, h.shape, c.shape
    ((5, 2, 8), (1, 2, 8), (1, 2, 8))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        rng: Any = None,
        dtype: Any = None,
    ) -> None:
        _check_features(
            "LSTM", input_size=input_size, hidden_size=hidden_size, num_layers=num_layers
        )
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.num_layers, self.batch_first = int(num_layers), bool(batch_first)
        g = _rng(rng)
        # one generator, PyTorch's order: layer by layer, w_ih, w_hh, b_ih, b_hh
        self._cells = [
            LSTMCell(
                self.input_size if k == 0 else self.hidden_size,
                self.hidden_size,
                bias,
                rng=g,
                dtype=dtype,
            )
            for k in range(self.num_layers)
        ]
        for k, cell in enumerate(self._cells):
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                p = getattr(cell, name)
                if p is not None:
                    setattr(self, f"{name}_l{k}", p)

    def named_children(self) -> Any:
        return iter(())  # the cells are an implementation detail: names are PyTorch's

    def forward(self, x: Any, hx: Any = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        x = _as_tensor(x)
        if x.ndim != 3 or x.shape[-1] != self.input_size:
            order = "(N, T, I)" if self.batch_first else "(T, N, I)"
            raise ValueError(
                f"LSTM({self.input_size}, {self.hidden_size}): expected an input of shape "
                f"{order} with I = {self.input_size} (input_size), got shape {x.shape}"
            )
        if self.batch_first:
            x = ops.transpose(x, 1, 0, 2)
        T, n = x.shape[0], x.shape[1]
        L, H = self.num_layers, self.hidden_size
        if hx is not None:
            h0, c0 = (_as_tensor(s) for s in hx)
            for s in (h0, c0):
                if s.shape != (L, n, H):
                    raise ValueError(
                        f"LSTM: expected h_0 and c_0 of shape {(L, n, H)}, got {s.shape}"
                    )
        hs, cs = [], []
        seq = x
        for k, cell in enumerate(self._cells):
            if hx is None:
                h, c = cell._zeros(n, x.dtype), cell._zeros(n, x.dtype)
            else:
                h, c = h0[k], c0[k]
            # the whole layer is one primitive (ops.recurrent.lstm_layer): one node for the
            # sequence, the input's product and the weights' gradients one matrix product
            # each over all steps
            if cell.bias_ih is not None:
                bias = cell.bias_ih + cell.bias_hh
            else:
                bias = Tensor(np.zeros(4 * H, dtype=cell.weight_ih.dtype))
            y = lstm_layer(seq, h, c, cell.weight_ih, cell.weight_hh, bias)
            seq, h, c = y[:T], y[T - 1], y[T]
            hs.append(h)
            cs.append(c)
        out = ops.transpose(seq, 1, 0, 2) if self.batch_first else seq
        return out, (stack(hs, 0), stack(cs, 0))

    def extra_repr(self) -> str:
        extra = f", num_layers={self.num_layers}" if self.num_layers != 1 else ""
        return f"{self.input_size}, {self.hidden_size}{extra}, batch_first={self.batch_first}"
