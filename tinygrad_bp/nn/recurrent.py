"""Recurrent layers with PyTorch's parameter names and shapes, so weights copy across:
``RNNCell``, ``LSTMCell``, ``GRUCell`` and ``LSTM`` (``weight_ih (G·H, I)``,
``weight_hh (G·H, H)``, ``bias_ih``, ``bias_hh``; gates in PyTorch's order: i, f, g, o for
the LSTM, r, z, n for the GRU).  Every parameter starts uniform in ±1/√hidden_size."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import functional as F
from .. import ops
from ..ops import lstm_cell, stack
from ..ops.recurrent import gru_layer, lstm_layer
from ..tensor import Tensor, get_default_dtype
from ._checks import as_input
from .linear import _check_features, _uniform
from .module import Module, Parameter, _rng

__all__ = ["RNNCell", "LSTMCell", "GRUCell", "RNN", "GRU", "LSTM"]


def _as_tensor(x: Any, layer: str = "recurrent layer") -> Tensor:
    return x if isinstance(x, Tensor) else as_input(x, layer)


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
        s = _as_tensor(s, self._name)
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
        x = _as_tensor(x, self._name)
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
        x = _as_tensor(x, self._name)
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            got = f"a {type(hx).__name__}" + (
                f" of {len(hx)}" if isinstance(hx, (tuple, list)) else ""
            )
            raise TypeError(f"LSTMCell: expected hx as a pair (h_0, c_0), got {got}")
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


def _gru_weights(w_ih: Tensor, w_hh: Tensor, b_ih: Any, b_hh: Any) -> tuple[Tensor, ...]:
    """:func:`~tinygrad_bp.ops.recurrent.gru_layer`'s weights; zeros for absent biases
    (``bias=False``), constants."""
    if b_ih is None:
        b_ih = b_hh = Tensor(np.zeros(w_ih.shape[0], dtype=w_ih.dtype))
    return w_ih, w_hh, b_ih, b_hh


class GRUCell(_Cell):
    """``r, z = σ(x·W_i{r,z}ᵀ + b_i{r,z} + h·W_h{r,z}ᵀ + b_h{r,z})``,
    ``n = tanh(x·W_inᵀ + b_in + r·(h·W_hnᵀ + b_hn))``, ``h' = (1 − z)·n + z·h``; one
    step of :func:`~tinygrad_bp.ops.recurrent.gru_layer`, one node."""

    _gates = 3
    _name = "GRUCell"

    def forward(self, x: Any, hx: Any = None) -> Tensor:
        x = _as_tensor(x, self._name)
        x2, batched, n = self._check(x, (hx,))
        h = self._state(hx, n, batched, x.dtype)
        # one step of the fused layer (ops.recurrent.gru_layer) over a sequence of one
        w = _gru_weights(self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        y = gru_layer(ops.reshape(x2, 1, n, self.input_size), h, *w)
        return _unbatch(ops.reshape(y, n, self.hidden_size), batched)


_MODES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


class _RNNBase(Module):
    """A stack of recurrent layers over a sequence, PyTorch's ``nn.RNN``/``nn.GRU``/
    ``nn.LSTM``: parameters ``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``,
    ``bias_hh_l{k}`` (and ``..._reverse`` for the backward direction), in PyTorch's order
    and shapes, each uniform in ±1/√hidden_size drawn in that order."""

    _name = ""
    _mode = ""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        *,
        rng: Any = None,
        dtype: Any = None,
    ) -> None:
        name = self._name
        _check_features(name, input_size=input_size, hidden_size=hidden_size, num_layers=num_layers)
        for label, flag in (("bias", bias), ("batch_first", batch_first),
                            ("bidirectional", bidirectional)):  # fmt: skip
            if not isinstance(flag, (bool, np.bool_)):
                raise TypeError(f"{name}: {label} must be a bool, got {flag!r}")
        if (
            isinstance(dropout, bool)
            or not isinstance(dropout, (int, float, np.floating))
            or not 0 <= dropout <= 1
        ):
            raise ValueError(f"{name}: dropout must be a probability in [0, 1], got {dropout!r}")
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.num_layers, self.batch_first = int(num_layers), bool(batch_first)
        self.bias, self.dropout = bool(bias), float(dropout)
        self.bidirectional = bool(bidirectional)
        dtype = np.dtype(dtype) if dtype is not None else get_default_dtype()
        g = _rng(rng)
        k = 1.0 / math.sqrt(self.hidden_size)
        gh = _MODES[self._mode] * self.hidden_size
        D = 2 if self.bidirectional else 1
        # one generator, PyTorch's order: layer by layer, direction by direction,
        # w_ih, w_hh, b_ih, b_hh
        for layer in range(self.num_layers):
            width = self.input_size if layer == 0 else self.hidden_size * D
            for suffix in ("", "_reverse")[:D]:
                shapes: list[tuple[str, tuple[int, ...]]] = [
                    ("weight_ih", (gh, width)),
                    ("weight_hh", (gh, self.hidden_size)),
                ]
                if self.bias:
                    shapes += [("bias_ih", (gh,)), ("bias_hh", (gh,))]
                for pname, shape in shapes:
                    setattr(
                        self, f"{pname}_l{layer}{suffix}", Parameter(_uniform(g, k, shape, dtype))
                    )

    def _weights(self, layer: int, suffix: str) -> tuple[Any, ...]:
        get = self.__dict__.get
        return tuple(
            get(f"{p}_l{layer}{suffix}") for p in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        )

    def _check_input(self, x: Any) -> tuple[Tensor, bool]:
        if not isinstance(x, Tensor):
            if isinstance(x, (list, tuple)):
                raise TypeError(
                    f"{self._name}: expected the input sequence as one Tensor, got a "
                    f"{type(x).__name__} (stack it first: tg.stack(seq))"
                )
            x = as_input(x, self._name)
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            order = "(N, T, I)" if self.batch_first else "(T, N, I)"
            raise ValueError(
                f"{self._name}({self.input_size}, {self.hidden_size}): expected an input of "
                f"shape {order} or (T, I) with I = {self.input_size} (input_size), got shape "
                f"{x.shape}"
            )
        if x.data.dtype.kind != "f":
            raise TypeError(f"{self._name}: expected a floating input, got dtype {x.dtype}")
        if 0 in x.shape[:-1]:
            raise ValueError(f"{self._name}: the input is empty (shape {x.shape})")
        return x, x.ndim == 3

    def _check_state(self, s: Any, label: str, n: int, batched: bool) -> Tensor:
        D = 2 if self.bidirectional else 1
        want: tuple[int, ...] = (D * self.num_layers, n, self.hidden_size)
        if not batched:
            want = (want[0], want[2])
        if not isinstance(s, Tensor):
            if isinstance(s, (tuple, list)):
                raise TypeError(
                    f"{self._name}: expected {label} as one Tensor of shape {want}, got a "
                    f"{type(s).__name__} of {len(s)}"
                )
            s = Tensor(s)
        if tuple(s.shape) != want:
            raise ValueError(
                f"{self._name}: expected {label} of shape {want} (num_layers·directions, N, "
                f"hidden_size), got {tuple(s.shape)}"
            )
        return s if batched else ops.reshape(s, want[0], 1, want[1])

    def _states(self, hx: Any, n: int, batched: bool) -> tuple[Any, Any]:
        raise NotImplementedError

    def _layer(
        self, x: Tensor, h: Tensor, c: Any, w: tuple[Any, ...]
    ) -> tuple[Tensor, Tensor, Any]:
        """One direction of one layer over ``x (T, N, I)``: ``(outputs (T, N, H), h_T,
        c_T or None)``."""
        raise NotImplementedError

    def _run(self, x: Any, hx: Any) -> tuple[Tensor, Tensor, Any]:
        x, batched = self._check_input(x)
        if not batched:
            x = ops.reshape(x, x.shape[0], 1, x.shape[1])
        elif self.batch_first:
            x = ops.transpose(x, 1, 0, 2)
        n = x.shape[1]
        h0, c0 = self._states(hx, n, batched)
        D = 2 if self.bidirectional else 1
        hs, cs = [], []
        seq = x
        for layer in range(self.num_layers):
            if layer and self.dropout and self.training:
                seq = F.dropout(seq, self.dropout, True)
            outs = []
            for d, suffix in enumerate(("", "_reverse")[:D]):
                i = layer * D + d
                h = self._zeros(n, x.dtype) if h0 is None else h0[i]
                c = None
                if self._mode == "LSTM":
                    c = self._zeros(n, x.dtype) if c0 is None else c0[i]
                inp = seq if d == 0 else ops.flip(seq, 0)
                y, h, c = self._layer(inp, h, c, self._weights(layer, suffix))
                outs.append(y if d == 0 else ops.flip(y, 0))
                hs.append(h)
                cs.append(c)
            seq = outs[0] if D == 1 else ops.cat(outs, -1)
        out = seq
        h_n = stack(hs, 0)
        c_n = stack(cs, 0) if self._mode == "LSTM" else None
        if not batched:
            out = ops.reshape(out, out.shape[0], out.shape[2])
            h_n = ops.reshape(h_n, h_n.shape[0], h_n.shape[2])
            c_n = None if c_n is None else ops.reshape(c_n, c_n.shape[0], c_n.shape[2])
        elif self.batch_first:
            out = ops.transpose(out, 1, 0, 2)
        return out, h_n, c_n

    def _zeros(self, n: int, dtype: Any) -> Tensor:
        return Tensor(np.zeros((n, self.hidden_size), dtype=dtype))

    def extra_repr(self) -> str:
        extra = f", num_layers={self.num_layers}" if self.num_layers != 1 else ""
        if not self.bias:
            extra += ", bias=False"
        if self.dropout:
            extra += f", dropout={self.dropout}"
        if self.bidirectional:
            extra += ", bidirectional=True"
        return f"{self.input_size}, {self.hidden_size}{extra}, batch_first={self.batch_first}"


def _project(x: Tensor, w: Tensor, b: Any) -> Tensor:
    """``x (T, N, I) @ wᵀ + b`` as one matrix product over every step."""
    T, n = x.shape[0], x.shape[1]
    y = ops.matmul(ops.reshape(x, T * n, x.shape[2]), ops.transpose(w))
    if b is not None:
        y = ops.add(y, b)
    return ops.reshape(y, T, n, w.shape[0])


class RNN(_RNNBase):
    """Elman RNN layers, ``h_t = act(x_t·W_ihᵀ + b_ih + h_{t−1}·W_hhᵀ + b_hh)``, ``act``
    tanh or relu, as ``torch.nn.RNN``: ``forward(x, h_0=None) -> (output, h_n)``, input
    ``(T, N, I)`` (``(N, T, I)`` with ``batch_first=True``, or unbatched ``(T, I)``),
    ``output (T, N, D·H)``, ``h_n (D·num_layers, N, H)`` (``D`` = 2 if bidirectional).

    Examples
    --------
    >>> import numpy as np
    >>> import tinygrad_bp as tg
    >>> rnn = tg.nn.RNN(4, 8, num_layers=2, bidirectional=True, rng=0)
    >>> out, h = rnn(tg.Tensor(np.zeros((5, 3, 4))))
    >>> out.shape, h.shape
    ((5, 3, 16), (4, 3, 8))
    """

    _name = "RNN"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        *,
        rng: Any = None,
        dtype: Any = None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        self._mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
            rng=rng, dtype=dtype,
        )  # fmt: skip

    def _states(self, hx: Any, n: int, batched: bool) -> tuple[Any, Any]:
        return (None if hx is None else self._check_state(hx, "h_0", n, batched)), None

    def _layer(
        self, x: Tensor, h: Tensor, c: Any, w: tuple[Any, ...]
    ) -> tuple[Tensor, Tensor, Any]:
        w_ih, w_hh, b_ih, b_hh = w
        ax = _project(x, w_ih, b_ih)
        act = ops.tanh if self._mode == "RNN_TANH" else ops.relu
        w_hh_t = ops.transpose(w_hh)
        hs = []
        for t in range(x.shape[0]):
            a = ops.add(ax[t], ops.matmul(h, w_hh_t))
            if b_hh is not None:
                a = ops.add(a, b_hh)
            h = act(a)
            hs.append(h)
        return stack(hs, 0), h, None

    def forward(self, x: Any, hx: Any = None) -> tuple[Tensor, Tensor]:
        out, h_n, _ = self._run(x, hx)
        return out, h_n


class GRU(_RNNBase):
    """GRU layers as ``torch.nn.GRU`` (gates r, z, n in PyTorch's order and formula,
    ``n = tanh(x·W_inᵀ + b_in + r·(h·W_hnᵀ + b_hn))``, ``h' = (1 − z)·n + z·h``):
    ``forward(x, h_0=None) -> (output, h_n)``, shapes as :class:`RNN`.  Each layer and
    direction is one primitive (:func:`~tinygrad_bp.ops.recurrent.gru_layer`).

    Examples
    --------
    >>> import numpy as np
    >>> import tinygrad_bp as tg
    >>> gru = tg.nn.GRU(4, 8, batch_first=True, rng=0)
    >>> out, h = gru(tg.Tensor(np.zeros((3, 5, 4))))
    >>> out.shape, h.shape
    ((3, 5, 8), (1, 3, 8))
    """

    _name = "GRU"
    _mode = "GRU"

    def _states(self, hx: Any, n: int, batched: bool) -> tuple[Any, Any]:
        return (None if hx is None else self._check_state(hx, "h_0", n, batched)), None

    def _layer(
        self, x: Tensor, h: Tensor, c: Any, w: tuple[Any, ...]
    ) -> tuple[Tensor, Tensor, Any]:
        # the whole layer is one primitive (ops.recurrent.gru_layer), as the LSTM's is
        y = gru_layer(x, h, *_gru_weights(*w))
        return y, y[x.shape[0] - 1], None

    def forward(self, x: Any, hx: Any = None) -> tuple[Tensor, Tensor]:
        out, h_n, _ = self._run(x, hx)
        return out, h_n


class LSTM(_RNNBase):
    """LSTM layers as ``torch.nn.LSTM``: input ``(T, N, I)`` (``(N, T, I)`` with
    ``batch_first=True``, or unbatched ``(T, I)``) -> ``(output, (h_n, c_n))``, ``output``
    the last layer's ``h`` at every step (both directions side by side when
    bidirectional), ``h_n`` and ``c_n`` of shape ``(D·num_layers, N, H)``.  Parameters
    ``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0``,
    ``weight_ih_l0_reverse``, ... as in PyTorch, so weights copy across.  Each layer and
    direction is one primitive (:func:`~tinygrad_bp.ops.recurrent.lstm_layer`).

    Examples
    --------
    >>> import numpy as np
    >>> import tinygrad_bp as tg
    >>> lstm = tg.nn.LSTM(4, 8, rng=0)
    >>> out, (h, c) = lstm(tg.Tensor(np.zeros((5, 2, 4))))
    >>> out.shape, h.shape, c.shape
    ((5, 2, 8), (1, 2, 8), (1, 2, 8))
    """

    _name = "LSTM"
    _mode = "LSTM"

    def _states(self, hx: Any, n: int, batched: bool) -> tuple[Any, Any]:
        if hx is None:
            return None, None
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            got = (
                f"a {type(hx).__name__} of {len(hx)}"
                if isinstance(hx, (tuple, list))
                else f"a {type(hx).__name__}"
            )
            raise TypeError(f"LSTM: expected hx as a pair (h_0, c_0), got {got}")
        return (
            self._check_state(hx[0], "h_0", n, batched),
            self._check_state(hx[1], "c_0", n, batched),
        )

    def _layer(
        self, x: Tensor, h: Tensor, c: Any, w: tuple[Any, ...]
    ) -> tuple[Tensor, Tensor, Any]:
        w_ih, w_hh, b_ih, b_hh = w
        T = x.shape[0]
        # the whole layer is one primitive (ops.recurrent.lstm_layer): one node for the
        # sequence, the input's product and the weights' gradients one matrix product
        # each over all steps
        if b_ih is not None:
            bias = b_ih + b_hh
        else:
            bias = Tensor(np.zeros(w_ih.shape[0], dtype=w_ih.dtype))
        y = lstm_layer(x, h, c, w_ih, w_hh, bias)
        return y[:T], y[T - 1], y[T]

    def forward(self, x: Any, hx: Any = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        out, h_n, c_n = self._run(x, hx)
        return out, (h_n, c_n)
