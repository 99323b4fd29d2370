"""Whole training steps written by hand from the package's layers: the benchmark baselines.

Three networks, fixed (the engine's benchmark builds the same ones):

- **digits CNN** (W5): ``x (64, 1, 8, 8)`` → Conv2d(1, 16, 3, padding=1) → ReLU →
  MaxPool2d(2) → Conv2d(16, 32, 3, padding=1) → ReLU → MaxPool2d(2) → flatten (128) →
  Linear(128, 10) → softmax cross-entropy (mean over the batch).  Parameters under
  ``nn.Sequential``'s names: ``0.weight``, ``0.bias``, ``3.weight``, ``3.bias``,
  ``7.weight``, ``7.bias``.
- **names LSTM** (W6): token ids ``(32, 16)`` in ``0..26`` → Embedding(27, 32) → a
  one-layer LSTM, hidden 128, over the 16 steps from a zero state → Linear(128, 27) at
  every step → cross-entropy averaged over all 32·16 positions.  Parameters:
  ``embed.weight``, ``lstm.weight_ih_l0``, ``lstm.weight_hh_l0``, ``lstm.bias_ih_l0``,
  ``lstm.bias_hh_l0``, ``head.weight``, ``head.bias``.
- **names transformer** (W7, :class:`NamesTransformer`): makemore's, 4 blocks of 4-head
  causal attention and a GELU MLP, 64 channels, block 16, stepped by :class:`AdamW`
  (``build_names_transformer``); its weights under the engine's ``models`` names.

Each ``build_*(inputs, targets, weights, lr=0.01)`` returns ``(step, params)`` in the
style of :mod:`tinygrad_bp.commands._bench_impls`: ``step()`` does one full SGD step and returns the
loss of the weights it started from; ``params()`` returns copies of the current weights,
in the order of the ``*_PARAMS`` tuple.  The model classes' ``loss_and_grads`` gives the
gradients themselves, for checking.

Examples
--------
>>> import numpy as np
>>> from tinygrad_bp.reference import steps
>>> w = steps.init_digits_cnn(rng=0)
>>> x = np.random.default_rng(1).normal(size=(64, 1, 8, 8)).astype(np.float32)
>>> y = np.random.default_rng(2).integers(0, 10, size=64)
>>> step, params = steps.build_digits_cnn(x, y, w)
>>> first = step()
>>> [p.shape for p in params()][:2]
[(16, 1, 3, 3), (16,)]
>>> step() < first
True
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ._base import as_rng
from .conv import Conv2d, MaxPool2d
from .embedding import Embedding
from .linear import Linear, softmax_cross_entropy
from .recurrent import LSTM

__all__ = [
    "DIGITS_CNN_PARAMS",
    "NAMES_LSTM_PARAMS",
    "DigitsCNN",
    "NamesLSTM",
    "init_digits_cnn",
    "init_names_lstm",
    "build_digits_cnn",
    "build_names_lstm",
    "NamesTransformer",
    "AdamW",
    "erf",
    "build_names_transformer",
]

LR = 0.01
DIGITS_CNN_PARAMS = ("0.weight", "0.bias", "3.weight", "3.bias", "7.weight", "7.bias")
NAMES_LSTM_PARAMS = (
    "embed.weight",
    "lstm.weight_ih_l0",
    "lstm.weight_hh_l0",
    "lstm.bias_ih_l0",
    "lstm.bias_hh_l0",
    "head.weight",
    "head.bias",
)
Step = Callable[[], float]
Params = Callable[[], list[np.ndarray]]


class _Model:
    """Named sub-layers; ``weights`` and ``load`` by ``"<layer>.<param>"`` names."""

    layers: dict[str, Any]
    names: tuple[str, ...]

    def _param(self, name: str) -> np.ndarray:
        layer, _, pname = name.partition(".")
        return getattr(self.layers[layer], pname)

    def load(self, weights: dict[str, Any]) -> None:
        missing = sorted(set(self.names) - set(weights))
        unexpected = sorted(set(weights) - set(self.names))
        if missing or unexpected:
            raise KeyError(
                f"{type(self).__name__}: missing weights {missing}, unexpected {unexpected}"
            )
        for name in self.names:
            p = self._param(name)
            w = np.asarray(weights[name])
            if w.shape != p.shape:
                raise ValueError(
                    f"{type(self).__name__}: {name} must have shape {p.shape}, got {w.shape}"
                )
        for name in self.names:
            self._param(name)[...] = weights[name]

    def weights(self) -> dict[str, np.ndarray]:
        return {name: self._param(name).copy() for name in self.names}

    def sgd(self, grads: dict[str, np.ndarray], lr: float) -> None:
        """``p -= lr·∂L/∂p`` in place, for every parameter."""
        for name in self.names:
            p = self._param(name)
            p -= p.dtype.type(lr) * grads[name]


class DigitsCNN(_Model):
    """The W5 network from the package's layers; see the module docstring."""

    names = DIGITS_CNN_PARAMS

    def __init__(self, rng: Any = None, dtype: Any = np.float32) -> None:
        g = as_rng(rng)
        self.layers = {
            "0": Conv2d(1, 16, 3, padding=1, rng=g, dtype=dtype),
            "2": MaxPool2d(2),
            "3": Conv2d(16, 32, 3, padding=1, rng=g, dtype=dtype),
            "5": MaxPool2d(2),
            "7": Linear(128, 10, rng=g, dtype=dtype),
        }

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray) -> tuple[float, dict[str, Any]]:
        """The mean cross-entropy on ``(x, y)`` and its gradient for every parameter."""
        conv1, pool1, conv2, pool2, fc = self.layers.values()
        a1 = conv1.forward(x)
        h1 = pool1.forward(np.maximum(a1, 0))
        a2 = conv2.forward(h1)
        h2 = pool2.forward(np.maximum(a2, 0))
        z = fc.forward(h2.reshape(h2.shape[0], -1))
        loss, dz = softmax_cross_entropy(z, y)
        g_fc = fc.backward(dz)
        da2 = pool2.backward(g_fc["x"].reshape(h2.shape))["x"]
        da2 *= a2 > 0  # ReLU
        g2 = conv2.backward(da2)
        da1 = pool1.backward(g2["x"])["x"]
        da1 *= a1 > 0
        g1 = conv1.backward(da1, input_grad=False)  # the images need no gradient
        grads = {
            "0.weight": g1["weight"],
            "0.bias": g1["bias"],
            "3.weight": g2["weight"],
            "3.bias": g2["bias"],
            "7.weight": g_fc["weight"],
            "7.bias": g_fc["bias"],
        }
        return loss, grads


class NamesLSTM(_Model):
    """The W6 network from the package's layers; see the module docstring."""

    names = NAMES_LSTM_PARAMS

    def __init__(self, rng: Any = None, dtype: Any = np.float32) -> None:
        g = as_rng(rng)
        self.layers = {
            "embed": Embedding(27, 32, rng=g, dtype=dtype),
            "lstm": LSTM(32, 128, rng=g, dtype=dtype),
            "head": Linear(128, 27, rng=g, dtype=dtype),
        }

    def loss_and_grads(self, ids: np.ndarray, targets: np.ndarray) -> tuple[float, dict[str, Any]]:
        """``ids``, ``targets (N, T)``: the cross-entropy averaged over all N·T positions
        and its gradient for every parameter."""
        emb, lstm, head = self.layers.values()
        x = emb.forward(ids.T)  # time-major (T, N, 32): each step's batch contiguous
        out, _ = lstm.forward(x)
        t_len, n, hs = out.shape
        z = head.forward(out.reshape(t_len * n, hs))
        loss, dz = softmax_cross_entropy(z, targets.T.reshape(-1))
        g_head = head.backward(dz)
        g_lstm = lstm.backward(g_head["x"].reshape(t_len, n, hs))
        g_emb = emb.backward(g_lstm["x"])
        grads = {
            "embed.weight": g_emb["weight"],
            "head.weight": g_head["weight"],
            "head.bias": g_head["bias"],
        }
        for k in LSTM.param_names:
            grads["lstm." + k] = g_lstm[k]
        return loss, grads


def init_digits_cnn(rng: Any = 0, dtype: Any = np.float32) -> dict[str, np.ndarray]:
    """PyTorch's default initialisation of the W5 network's layers, seeded."""
    return DigitsCNN(rng, dtype).weights()


def init_names_lstm(rng: Any = 0, dtype: Any = np.float32) -> dict[str, np.ndarray]:
    """PyTorch's default initialisation of the W6 network's layers, seeded."""
    return NamesLSTM(rng, dtype).weights()


def _build(model: _Model, inputs: Any, targets: Any, lr: float) -> tuple[Step, Params]:
    def step() -> float:
        loss, grads = model.loss_and_grads(inputs, targets)
        model.sgd(grads, lr)
        return loss

    def params() -> list[np.ndarray]:
        return [model._param(name).copy() for name in model.names]

    return step, params


def _dtype_of(weights: dict[str, Any]) -> np.dtype:
    return np.asarray(next(iter(weights.values()))).dtype


def build_digits_cnn(
    x: Any, y: Any, weights: dict[str, Any], lr: float = LR
) -> tuple[Step, Params]:
    """One SGD step of the digits CNN on ``x (64, 1, 8, 8)``, ``y (64,)`` from ``weights``
    (the names of :data:`DIGITS_CNN_PARAMS`, copied; the dtype is theirs)."""
    dtype = _dtype_of(weights)
    model = DigitsCNN(0, dtype)
    model.load(weights)
    x = np.ascontiguousarray(x, dtype=dtype)
    if x.ndim != 4 or x.shape[1:] != (1, 8, 8):
        raise ValueError(f"build_digits_cnn: expected images (N, 1, 8, 8), got {x.shape}")
    return _build(model, x, np.asarray(y, dtype=np.int64), lr)


def build_names_lstm(
    ids: Any, targets: Any, weights: dict[str, Any], lr: float = LR
) -> tuple[Step, Params]:
    """One SGD step of the names LSTM on ``ids``, ``targets (N, T)`` from ``weights`` (the
    names of :data:`NAMES_LSTM_PARAMS`, copied; the dtype is theirs)."""
    model = NamesLSTM(0, _dtype_of(weights))
    model.load(weights)
    ids, targets = np.asarray(ids, dtype=np.int64), np.asarray(targets, dtype=np.int64)
    if ids.ndim != 2 or targets.shape != ids.shape:
        raise ValueError(
            f"build_names_lstm: expected ids and targets of one shape (N, T), got {ids.shape} "
            f"and {targets.shape}"
        )
    return _build(model, ids, targets, lr)


# ----------------------------------------------------------------------------- transformer
# The float32 error function as a rational function of x² (fitted to SciPy's erf on
# [0, 4] by iterated least squares on the absolute error; about 4e-7 from the true value
# when evaluated in float32, beyond ±4 it is ±1 to float32 precision).
ERF_P = (1.1283787978916731, 0.21391957314169063, 0.052435108639603038,
         0.0042948093572462561, 0.00015569484569136595, -1.9929554287111129e-06,
         1.9243568405435951e-08)  # fmt: skip
ERF_Q = (1.0, 0.52290962875731906, 0.12079278478307601, 0.015553222853117967,
         0.0010988675938809851)  # fmt: skip


def erf(x: np.ndarray) -> np.ndarray:
    """``erf(x) ≈ x·P(x²)/Q(x²)`` on ``x`` clipped to ±4 for float32 (about 4e-7 from
    the true value); other dtypes through ``math.erf``, one value at a time (slow, exact)."""
    if x.dtype != np.float32:
        return np.vectorize(math.erf, otypes=[x.dtype])(x)
    t = np.clip(x, -4.0, 4.0)
    z = t * t
    p = np.full_like(z, ERF_P[-1])
    for c in ERF_P[-2::-1]:
        p *= z
        p += c
    q = np.full_like(z, ERF_Q[-1])
    for c in ERF_Q[-2::-1]:
        q *= z
        q += c
    p *= t
    p /= q
    return p


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float = 1e-5) -> tuple:
    mu = x.mean(axis=-1, keepdims=True)
    d = x - mu
    rstd = 1.0 / np.sqrt((d * d).mean(axis=-1, keepdims=True) + eps)
    xhat = d * rstd
    return xhat * w + b, (xhat, rstd)


def _layer_norm_backward(dy: np.ndarray, cache: tuple, w: np.ndarray) -> tuple:
    """``∂L/∂x = (g − mean(g) − x̂·mean(g·x̂))/σ`` with ``g = γ·∂L/∂y``, per row."""
    xhat, rstd = cache
    g = dy * w
    dx = g - g.mean(axis=-1, keepdims=True) - xhat * (g * xhat).mean(axis=-1, keepdims=True)
    dx *= rstd
    return dx, (dy * xhat).sum(axis=0), dy.sum(axis=0)


class NamesTransformer(_Model):
    """W7, makemore's transformer by hand: token and position embeddings, ``n_layer``
    pre-norm blocks (``x + attn(ln_1(x))``, ``x + mlp(ln_2(x))``, causal multi-head
    attention, the MLP ``Linear(C, 4C) − GELU − Linear(4C, C)``), a final LayerNorm and a
    bias-free head; the weights under the engine's ``models.NamesTransformer`` names.
    Every product is one 2-D GEMM over the ``N·T`` rows; the step is AdamW (PyTorch's)."""

    def __init__(self, block_size: int = 16, n_layer: int = 4, n_head: int = 4,
                 n_embd: int = 64, dtype: Any = np.float32) -> None:  # fmt: skip
        self.block_size, self.n_layer, self.n_head, self.n_embd = (
            block_size, n_layer, n_head, n_embd)  # fmt: skip
        c = n_embd
        shapes = {"wte.weight": (27, c), "wpe.weight": (block_size, c)}
        block = (
            ("ln_1.weight", (c,)), ("ln_1.bias", (c,)),
            ("c_attn.weight", (3 * c, c)), ("c_attn.bias", (3 * c,)),
            ("attn_proj.weight", (c, c)), ("attn_proj.bias", (c,)),
            ("ln_2.weight", (c,)), ("ln_2.bias", (c,)),
            ("c_fc.weight", (4 * c, c)), ("c_fc.bias", (4 * c,)),
            ("mlp_proj.weight", (c, 4 * c)), ("mlp_proj.bias", (c,)),
        )  # fmt: skip
        for i in range(n_layer):
            for name, shape in block:
                shapes[f"blocks.{i}.{name}"] = shape
        shapes.update({"ln_f.weight": (c,), "ln_f.bias": (c,), "lm_head.weight": (27, c)})
        self.names = tuple(shapes)
        self.params = {k: np.zeros(s, dtype) for k, s in shapes.items()}

    def _param(self, name: str) -> np.ndarray:
        return self.params[name]

    def loss_and_grads(self, ids: np.ndarray, targets: np.ndarray) -> tuple[float, dict[str, Any]]:
        """``ids``, ``targets (N, T)``: the cross-entropy averaged over all N·T positions
        and its gradient for every parameter."""
        P = self.params
        n, t = ids.shape
        c, nh = self.n_embd, self.n_head
        hd = c // nh
        m = n * t
        scale = 1.0 / math.sqrt(hd)
        x = (P["wte.weight"][ids] + P["wpe.weight"][:t]).reshape(m, c)
        future = np.triu(np.ones((t, t), dtype=bool), k=1)
        caches = []
        for i in range(self.n_layer):
            pre = f"blocks.{i}."
            a, ln1 = _layer_norm(x, P[pre + "ln_1.weight"], P[pre + "ln_1.bias"])
            qkv = a @ P[pre + "c_attn.weight"].T + P[pre + "c_attn.bias"]
            qkv = qkv.reshape(n, t, 3, nh, hd).transpose(2, 0, 3, 1, 4)  # (3, N, h, T, d)
            q, k, v = qkv[0], qkv[1], qkv[2]
            s = q @ k.transpose(0, 1, 3, 2)
            s *= scale
            s[..., future] = -np.inf
            s -= s.max(axis=-1, keepdims=True)
            p = np.exp(s)
            p /= p.sum(axis=-1, keepdims=True)
            y = (p @ v).transpose(0, 2, 1, 3).reshape(m, c)
            x1 = x + (y @ P[pre + "attn_proj.weight"].T + P[pre + "attn_proj.bias"])
            a2, ln2 = _layer_norm(x1, P[pre + "ln_2.weight"], P[pre + "ln_2.bias"])
            f = a2 @ P[pre + "c_fc.weight"].T + P[pre + "c_fc.bias"]
            cdf = erf(f * f.dtype.type(1 / math.sqrt(2)))
            cdf += 1
            cdf *= 0.5
            h = f * cdf  # GELU: x·Φ(x)
            x = x1 + (h @ P[pre + "mlp_proj.weight"].T + P[pre + "mlp_proj.bias"])
            caches.append((a, ln1, q, k, v, p, y, a2, ln2, f, cdf, h))
        af, lnf = _layer_norm(x, P["ln_f.weight"], P["ln_f.bias"])
        z = af @ P["lm_head.weight"].T
        loss, dz = softmax_cross_entropy(z, targets.reshape(-1))
        grads: dict[str, Any] = {"lm_head.weight": dz.T @ af}
        dx, grads["ln_f.weight"], grads["ln_f.bias"] = _layer_norm_backward(
            dz @ P["lm_head.weight"], lnf, P["ln_f.weight"]
        )
        for i in range(self.n_layer - 1, -1, -1):
            pre = f"blocks.{i}."
            a, ln1, q, k, v, p, y, a2, ln2, f, cdf, h = caches[i]
            # MLP: x = x1 + mlp_proj(gelu(c_fc(ln_2(x1))))
            grads[pre + "mlp_proj.weight"] = dx.T @ h
            grads[pre + "mlp_proj.bias"] = dx.sum(axis=0)
            dh = dx @ P[pre + "mlp_proj.weight"]
            # GELU' = Φ(x) + x·φ(x)
            pdf = np.exp(f * f * -0.5)
            pdf *= f
            pdf *= 1 / math.sqrt(2 * math.pi)
            pdf += cdf
            df = dh * pdf
            grads[pre + "c_fc.weight"] = df.T @ a2
            grads[pre + "c_fc.bias"] = df.sum(axis=0)
            dx1, grads[pre + "ln_2.weight"], grads[pre + "ln_2.bias"] = _layer_norm_backward(
                df @ P[pre + "c_fc.weight"], ln2, P[pre + "ln_2.weight"]
            )
            dx1 += dx
            # attention: x1 = x + attn_proj(attn(ln_1(x)))
            grads[pre + "attn_proj.weight"] = dx1.T @ y
            grads[pre + "attn_proj.bias"] = dx1.sum(axis=0)
            dy = (dx1 @ P[pre + "attn_proj.weight"]).reshape(n, t, nh, hd).transpose(0, 2, 1, 3)
            dp = dy @ v.transpose(0, 1, 3, 2)
            dqkv = np.empty((3, n, nh, t, hd), dtype=dx.dtype)
            np.matmul(p.transpose(0, 1, 3, 2), dy, out=dqkv[2])
            ds = p * (dp - (dp * p).sum(axis=-1, keepdims=True))  # softmax backward
            ds *= scale
            np.matmul(ds, k, out=dqkv[0])
            np.matmul(ds.transpose(0, 1, 3, 2), q, out=dqkv[1])
            dqkv2 = dqkv.transpose(1, 3, 0, 2, 4).reshape(m, 3 * c)
            grads[pre + "c_attn.weight"] = dqkv2.T @ a
            grads[pre + "c_attn.bias"] = dqkv2.sum(axis=0)
            dx, grads[pre + "ln_1.weight"], grads[pre + "ln_1.bias"] = _layer_norm_backward(
                dqkv2 @ P[pre + "c_attn.weight"], ln1, P[pre + "ln_1.weight"]
            )
            dx += dx1
        dx = dx.reshape(n, t, c)
        dwte = np.zeros_like(P["wte.weight"])
        np.add.at(dwte, ids.reshape(-1), dx.reshape(m, c))
        grads["wte.weight"] = dwte
        dwpe = np.zeros_like(P["wpe.weight"])
        dwpe[:t] = dx.sum(axis=0)
        grads["wpe.weight"] = dwpe
        return loss, grads


class AdamW:
    """``torch.optim.AdamW`` by hand: ``p ← p·(1 − lr·wd)``, then Adam's bias-corrected
    step ``p ← p − lr·m̂/(√v̂ + ε)`` with ``m``, ``v`` running means of ``g`` and ``g²``."""

    def __init__(self, params: dict[str, np.ndarray], lr: float, betas: tuple[float, float],
                 eps: float, weight_decay: float) -> None:  # fmt: skip
        self.params, self.lr, self.betas, self.eps, self.wd = params, lr, betas, eps, weight_decay
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self.t = 0

    def step(self, grads: dict[str, np.ndarray]) -> None:
        self.t += 1
        b1, b2 = self.betas
        c1, c2 = 1 - b1**self.t, 1 - b2**self.t
        for k, p in self.params.items():
            g, m, v = grads[k], self.m[k], self.v[k]
            p *= 1 - self.lr * self.wd
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * (g * g)
            denom = np.sqrt(v / c2)
            denom += self.eps
            p -= (self.lr / c1) * (m / denom)


ADAMW = {"lr": 5e-4, "betas": (0.9, 0.99), "eps": 1e-8, "weight_decay": 0.01}


def build_names_transformer(
    ids: Any, targets: Any, weights: dict[str, Any], lr: float = ADAMW["lr"]
) -> tuple[Step, Params]:
    """One AdamW step (lr 5e-4, betas (0.9, 0.99), wd 0.01, as the results page trains)
    of the names transformer on ``ids``, ``targets (N, T)`` from ``weights`` (copied)."""
    wte = np.asarray(weights["wte.weight"])
    model = NamesTransformer(np.asarray(weights["wpe.weight"]).shape[0],
                             n_embd=wte.shape[1], dtype=wte.dtype)  # fmt: skip
    model.load(weights)
    ids, targets = np.asarray(ids, dtype=np.int64), np.asarray(targets, dtype=np.int64)
    if ids.ndim != 2 or targets.shape != ids.shape:
        raise ValueError(
            "build_names_transformer: expected ids and targets of one shape (N, T), got "
            f"{ids.shape} and {targets.shape}"
        )
    opt = AdamW(model.params, **{**ADAMW, "lr": lr})

    def step() -> float:
        loss, grads = model.loss_and_grads(ids, targets)
        opt.step(grads)
        return loss

    def params() -> list[np.ndarray]:
        return [model.params[name].copy() for name in model.names]

    return step, params
