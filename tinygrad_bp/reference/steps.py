"""Whole training steps written by hand from the package's layers: the benchmark baselines.

Two networks, fixed (the engine's benchmark builds the same ones):

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
