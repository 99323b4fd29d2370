"""The built-in engine twins: each layer family written once more with Tensors.

A twin takes the input and the layer's parameters (as Tensors, under the family's own
names, in the family's own layout) and the learner's layer (for its settings: stride,
eps, activation, ...), and returns the output Tensor.  Each family lists the attribute
names it accepts for each parameter, with the layout: the tutorial's ``W (in, out)`` or
PyTorch's ``weight (out, in)`` (transposed on the way in).

The activations go through :func:`activate`, so the checker can ask for a variant of the
engine whose activation derivative is left out or taken at the output: two slips it then
recognises in a learner's gradient.
"""

from __future__ import annotations

import contextvars
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import functional as F
from .. import ops
from ..autograd import Function
from ..tensor import Tensor

# how the activation's derivative is taken: "right", "none" (left out), "output" (at h),
# or (variant, tag): that variant for the activations tagged so only (one gate of the
# LSTM: "i", "f", "g", "o", or "c" for tanh(c)); a context variable, so that checks running
# in two threads (the live page serves several) each see their own variant
VARIANT: contextvars.ContextVar[Any] = contextvars.ContextVar(
    "tinygrad_bp_check_variant", default="right"
)
# the LSTM's tagged activations, as the diagnosis names them
LSTM_GATES = {
    "i": ("the input gate i = σ(a_i)", "i·(1 − i)"),
    "f": ("the forget gate f = σ(a_f)", "f·(1 − f)"),
    "g": ("the cell candidate g = tanh(a_g)", "1 − g²"),
    "o": ("the output gate o = σ(a_o)", "o·(1 − o)"),
    "c": ("tanh(c) in h = o·tanh(c)", "1 − tanh²(c)"),
}


def _sigmoid(a: np.ndarray) -> np.ndarray:
    z = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + z), z / (1.0 + z))


_ACTS: dict[str, tuple[Callable[[Any], Any], Callable[[Any, Any], Any]]] = {
    # name: (f, f'(a) given (a, f(a)))
    "sigmoid": (_sigmoid, lambda a, h: h * (1 - h)),
    "tanh": (np.tanh, lambda a, h: 1 - h * h),
    "relu": (lambda a: np.maximum(a, 0.0), lambda a, h: (a > 0).astype(a.dtype)),
    "linear": (lambda a: a, lambda a, h: np.ones_like(a)),
}
ACTIVATIONS = ("sigmoid", "tanh", "relu", "linear")
_ALIASES = {None: "linear", "identity": "linear", "none": "linear"}


def activation_name(where: str, act: Any) -> str:
    act = _ALIASES.get(act, act)
    if act not in _ACTS:
        raise ValueError(
            f"{where}: unknown activation {act!r}; the built-in twins know "
            f"{', '.join(ACTIVATIONS)} (or None for none)"
        )
    return str(act)


def activate(name: str, a: Tensor, tag: str | None = None) -> Tensor:
    """``f(a)`` as one op whose derivative follows the current variant (a tagged variant
    only where ``tag`` is its tag)."""
    f, df = _ACTS[name]
    variant = VARIANT.get()
    if variant.__class__ is tuple:
        variant = variant[0] if variant[1] == tag else "right"

    class Act(Function):
        @staticmethod
        def forward(ctx: Any, t: Tensor) -> Any:
            h = f(t.data)
            ctx.a, ctx.h = t.data, h
            return h

        @staticmethod
        def backward(ctx: Any, g: Tensor) -> Any:
            if variant == "none":
                d = np.ones_like(ctx.a)
            elif variant == "output":  # f' evaluated at h = f(a) instead of at a
                d = df(ctx.h, f(ctx.h))
            else:
                d = df(ctx.a, ctx.h)
            return g * Tensor(d)

    Act.__name__ = name
    return Act.apply(a)


@dataclass
class Slot:
    """One parameter of a family: the names a layer may give it, each with whether it is
    stored transposed relative to the twin's layout (PyTorch's ``(out, in)``)."""

    key: str
    names: tuple[tuple[str, bool], ...]
    optional: bool = False


@dataclass
class Family:
    name: str
    slots: tuple[Slot, ...]
    fn: Callable[..., Tensor]
    batch_axis: int = 0
    integer_input: bool = False
    activation: bool = False  # the family's twin has activations (slips "activation")
    doc: str = ""
    settings: dict[str, Any] = field(default_factory=dict)


def _setting(layer: Any, names: tuple[str, ...], default: Any) -> Any:
    for n in names:
        if hasattr(layer, n):
            return getattr(layer, n)
    return default


def _dense(x: Tensor, p: dict[str, Tensor], layer: Any) -> Tensor:
    a = x @ p["W"]
    if "b" in p:
        a = a + p["b"]
    return activate(activation_name("dense", _setting(layer, ("activation",), None)), a)


def dense_through(x: Tensor, p: dict[str, Tensor], layer: Any, w_new: Any) -> Tensor:
    """The dense twin whose input gradient goes through ``w_new`` (the weights after an
    update inside backward: the tutorial's order) while its values use ``W``."""
    w2 = Tensor(np.asarray(w_new, dtype=np.float64))
    a = x @ w2 + (x @ p["W"] - x @ w2).detach()
    if "b" in p:
        a = a + p["b"]
    return activate(activation_name("dense", _setting(layer, ("activation",), None)), a)


def _conv2d(x: Tensor, p: dict[str, Tensor], layer: Any) -> Tensor:
    stride = _setting(layer, ("stride",), 1)
    padding = _setting(layer, ("padding", "pad"), 0)
    return F.conv2d(x, p["weight"], p.get("bias"), stride=stride, padding=padding)


def _pool_args(layer: Any, fam: str) -> tuple[Any, Any, Any]:
    k = _setting(layer, ("kernel_size", "pool_size", "size", "k"), None)
    if k is None:
        raise ValueError(
            f"check: the {fam!r} twin needs the window size on the layer, as self.kernel_size"
        )
    return k, _setting(layer, ("stride",), None) or k, _setting(layer, ("padding", "pad"), 0)


def _maxpool2d(x: Tensor, p: dict[str, Tensor], layer: Any) -> Tensor:
    k, s, pad = _pool_args(layer, "maxpool2d")
    return F.max_pool2d(x, k, s, pad)


def _avgpool2d(x: Tensor, p: dict[str, Tensor], layer: Any) -> Tensor:
    k, s, pad = _pool_args(layer, "avgpool2d")
    return F.avg_pool2d(x, k, s, pad)


def _batchnorm(x: Tensor, p: dict[str, Tensor], layer: Any) -> Tensor:
    eps = float(_setting(layer, ("eps",), 1e-5))
    axes = (0,) if x.ndim == 2 else (0,) + tuple(range(2, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) * (x - mean)).mean(axis=axes, keepdims=True)
    xhat = (x - mean) / (var + eps).sqrt()
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return xhat * p["gamma"].reshape(shape) + p["beta"].reshape(shape)


def _layernorm(x: Tensor, p: dict[str, Tensor], layer: Any) -> Tensor:
    eps = float(_setting(layer, ("eps",), 1e-5))
    g = p["gamma"]
    axes = tuple(range(x.ndim - g.ndim, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) * (x - mean)).mean(axis=axes, keepdims=True)
    return (x - mean) / (var + eps).sqrt() * g + p["beta"]


def _dropout(x: Tensor, p: dict[str, Tensor], layer: Any) -> Tensor:
    mask = _setting(layer, ("mask",), None)
    if mask is None:
        raise ValueError(
            "check: the 'dropout' twin uses your layer's mask: keep it as self.mask in forward "
            "(booleans or 0/1, scaled by 1/(1 − p) here; or already scaled)"
        )
    m = np.asarray(mask)
    if m.shape != x.shape:
        raise ValueError(f"check: your self.mask has shape {m.shape}, the input {x.shape}")
    if m.dtype == bool or np.isin(m, (0, 1)).all():
        keep = float(_setting(layer, ("p",), 0.5))
        m = m.astype(np.float64) / (1.0 - keep)
    return x * Tensor(m.astype(np.float64))


def _embedding(x: Any, p: dict[str, Tensor], layer: Any) -> Tensor:
    return F.embedding(np.asarray(x), p["weight"])


def _recurrent(x: Tensor, p: dict[str, Tensor], layer: Any, lstm: bool) -> Tensor:
    t_len, n = x.shape[0], x.shape[1]
    hidden = p["Wh"].shape[0]
    h = Tensor(np.zeros((n, hidden)))
    c = Tensor(np.zeros((n, hidden)))
    outs = []
    for t in range(t_len):
        a = x[t] @ p["Wx"] + h @ p["Wh"]
        for k in ("b", "b2"):
            if k in p:
                a = a + p[k]
        if lstm:
            H = hidden
            i = activate("sigmoid", a[:, :H], "i")
            f = activate("sigmoid", a[:, H : 2 * H], "f")
            g = activate("tanh", a[:, 2 * H : 3 * H], "g")
            o = activate("sigmoid", a[:, 3 * H :], "o")
            c = f * c + i * g
            h = o * activate("tanh", c, "c")
        else:
            h = activate("tanh", a)
        outs.append(h)
    return ops.stack(outs, 0)


def _attention(x: Tensor, p: dict[str, Tensor], layer: Any) -> Tensor:
    e = x.shape[-1]
    if "Wqkv" in p:  # PyTorch's stacked in-projection (3E, E), transposed to (E, 3E)
        qkv = x @ p["Wqkv"]
        if "bqkv" in p:
            qkv = qkv + p["bqkv"]
        q, k, v = qkv[..., :e], qkv[..., e : 2 * e], qkv[..., 2 * e :]
    else:
        q, k, v = x @ p["Wq"], x @ p["Wk"], x @ p["Wv"]
        q = q + p["bq"] if "bq" in p else q
        k = k + p["bk"] if "bk" in p else k
        v = v + p["bv"] if "bv" in p else v
    s = q @ k.transpose(0, 2, 1) / math.sqrt(e)
    if _setting(layer, ("causal", "is_causal"), True):
        t_len = x.shape[1]
        future = np.triu(np.ones((t_len, t_len), dtype=bool), k=1)
        s = ops.where(future, Tensor(np.full((t_len, t_len), -np.inf)), s)
    z = ops.softmax(s, -1) @ v
    y = z @ p["Wo"]
    return y + p["bo"] if "bo" in p else y


def _s(key: str, *names: tuple[str, bool], optional: bool = False) -> Slot:
    return Slot(key, tuple(names), optional)


T, N = True, False  # stored transposed (PyTorch's layout) or not

FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family(
            "dense",
            (_s("W", ("W", N), ("weight", T)), _s("b", ("b", N), ("bias", N), optional=True)),
            _dense,
            activation=True,
            doc="h = act(x·W + b): W (in, out) or PyTorch's weight (out, in); self.activation",
        ),
        Family(
            "conv2d",
            (
                _s("weight", ("weight", N), ("W", N)),
                _s("bias", ("bias", N), ("b", N), optional=True),
            ),
            _conv2d,
            doc="weight (C_out, C_in, kH, kW), bias (C_out,); self.stride, self.padding",
        ),
        Family("maxpool2d", (), _maxpool2d, doc="self.kernel_size, self.stride, self.padding"),
        Family("avgpool2d", (), _avgpool2d, doc="self.kernel_size, self.stride, self.padding"),
        Family(
            "batchnorm",
            (_s("gamma", ("gamma", N), ("weight", N)), _s("beta", ("beta", N), ("bias", N))),
            _batchnorm,
            doc="batch statistics over N (and H, W); gamma/beta or weight/bias; self.eps",
        ),
        Family(
            "layernorm",
            (_s("gamma", ("gamma", N), ("weight", N)), _s("beta", ("beta", N), ("bias", N))),
            _layernorm,
            doc="over the trailing axes of gamma's shape; gamma/beta or weight/bias; self.eps",
        ),
        Family("dropout", (), _dropout, doc="x · mask: self.mask (and self.p)"),
        Family(
            "embedding",
            (_s("weight", ("weight", N), ("W", N)),),
            _embedding,
            integer_input=True,
            doc="weight[indices]: weight (V, D)",
        ),
        Family(
            "rnn",
            (
                _s("Wx", ("Wx", N), ("weight_ih", T), ("weight_ih_l0", T)),
                _s("Wh", ("Wh", N), ("weight_hh", T), ("weight_hh_l0", T)),
                _s("b", ("b", N), ("bias_ih", N), ("bias_ih_l0", N), optional=True),
                _s("b2", ("bias_hh", N), ("bias_hh_l0", N), optional=True),
            ),
            lambda x, p, layer: _recurrent(x, p, layer, lstm=False),
            batch_axis=1,
            activation=True,
            doc="x (T, N, I) → h (T, N, H), h₀ = 0: h_t = tanh(x_t·Wx + h_{t−1}·Wh + b)",
        ),
        Family(
            "lstm",
            (
                _s("Wx", ("Wx", N), ("weight_ih", T), ("weight_ih_l0", T)),
                _s("Wh", ("Wh", N), ("weight_hh", T), ("weight_hh_l0", T)),
                _s("b", ("b", N), ("bias_ih", N), ("bias_ih_l0", N), optional=True),
                _s("b2", ("bias_hh", N), ("bias_hh_l0", N), optional=True),
            ),
            lambda x, p, layer: _recurrent(x, p, layer, lstm=True),
            batch_axis=1,
            activation=True,
            doc="x (T, N, I) → h (T, N, H), gates i, f, g, o in that order (PyTorch's)",
        ),
        Family(
            "attention",
            (
                _s("Wqkv", ("in_proj_weight", T), optional=True),
                _s("bqkv", ("in_proj_bias", N), optional=True),
                _s("Wq", ("Wq", N), optional=True),
                _s("Wk", ("Wk", N), optional=True),
                _s("Wv", ("Wv", N), optional=True),
                _s("bq", ("bq", N), optional=True),
                _s("bk", ("bk", N), optional=True),
                _s("bv", ("bv", N), optional=True),
                _s("Wo", ("Wo", N), ("out_proj_weight", T)),
                _s("bo", ("bo", N), ("out_proj_bias", N), optional=True),
            ),
            _attention,
            doc="one causal head, x (N, T, E): Wq, Wk, Wv, Wo (E, E) or PyTorch's in_proj_weight",
        ),
    )
}

NAMES = tuple(FAMILIES)
