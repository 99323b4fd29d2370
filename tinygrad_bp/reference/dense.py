"""The tutorial's fully connected network written by hand in NumPy.

This module imports NumPy only, never the engine, so that agreeing with it proves
something (it loads even from its file alone).  It follows the tutorial 反向传播详解BP
("weights as a layer"):

- a :class:`Layer` holds ``W (in, out)`` and ``b (out,)``; its forward is
  ``a = x·W + b``, ``h = act(a)`` with ``act`` one of sigmoid, tanh, ReLU;
- an :class:`OutputLayer` ends the network with softmax (classification) or the identity
  (regression); with the matching loss its ``∂L/∂a`` is simply ``ŷ − y``;
- a :class:`Network` chains them, runs ``forward`` layer by layer, then ``backward`` layer
  by layer from the top, and ``step`` applies ``W -= lr·∂L/∂W``.

The losses (both batch means, the same definitions as the engine's):

- classification: ``L = (1/N) Σ_i −Σ_c y_ic log ŷ_ic`` (cross-entropy of the softmax),
  the engine's ``F.cross_entropy``;
- regression: ``L = (1/N) Σ_i ½‖ŷ_i − y_i‖²``, the engine's ``F.half_squared_error``.
  (``F.mse_loss`` is the mean over all N·D elements of ``(ŷ − y)²``, i.e. ``2/D`` times
  this loss, with gradients ``2/D`` times these.)

The backward of one layer, for a batch of N rows (``*`` elementwise, ``·`` matrix product)::

    ∂L/∂a = input_grad * act'(a)            (N, out)   the output layer: ŷ − y
    ∂L/∂W = xᵀ · ∂L/∂a / N                  (in, out)
    ∂L/∂b = mean over the batch of ∂L/∂a    (out,)
    ∂L/∂x = ∂L/∂a · Wᵀ                      (N, in)    the input_grad of the layer below

Like the tutorial, the intermediate gradients (``∂L/∂a``, ``∂L/∂x``) are kept *per
sample*: they carry no ``1/N``, and the batch mean is taken only at the parameters.  The
engine differentiates the batch-mean loss itself, so its intermediate gradients are these
divided by N; its parameter gradients are the same.

Two options reproduce the tutorial's code exactly, for comparison:

- ``order="tutorial"``: each layer updates ``W`` and ``b`` *before* returning
  ``∂L/∂a · Wᵀ``, so the layers below receive a gradient propagated through the already
  updated weights.  The default ``order="correct"`` computes every gradient first.
- ``wgrad="broadcast"``: ``∂L/∂W`` as the tutorial's ``(N, in, out)`` broadcast product
  averaged over the batch, instead of ``xᵀ·∂L/∂a / N`` (the same numbers, more memory).

Examples
--------
>>> import numpy as np
>>> from tinygrad_bp.reference import Network
>>> net = Network.from_sizes([4, 10, 5, 3], activation="tanh", output="softmax", rng=0)
>>> x = np.random.default_rng(1).normal(size=(6, 4))
>>> y = np.array([0, 1, 2, 0, 1, 2])
>>> net.forward(x).shape
(6, 3)
>>> _ = net.backward(y)
>>> net.layers[0].W_grad.shape, net.layers[2].b_grad.shape
((4, 10), (3,))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "HIDDEN_ACTIVATIONS",
    "OUTPUT_ACTIVATIONS",
    "ORDERS",
    "WGRADS",
    "Layer",
    "OutputLayer",
    "Network",
]

HIDDEN_ACTIVATIONS = ("sigmoid", "tanh", "relu")
OUTPUT_ACTIVATIONS = ("softmax", "linear")
ORDERS = ("correct", "tutorial")
WGRADS = ("matmul", "broadcast")


def _rng(seed: Any) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _check_choice(where: str, label: str, value: Any, choices: Sequence[Any]) -> None:
    if value not in choices:
        raise ValueError(f"{where}: unknown {label} {value!r}; expected one of {tuple(choices)}")


def _as_float_matrix(where: str, label: str, x: Any, dtype: np.dtype) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{where}: {label} must be numeric, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"{where}: {label} must be a 2-D (batch, features) array, got {arr.shape}")
    return arr.astype(dtype, copy=False)


class Layer:
    """A hidden layer of the tutorial: ``a = x·W + b``, ``h = act(a)``.

    After :meth:`forward` the layer holds ``x``, ``a`` and ``h``; after :meth:`backward` it
    holds ``a_grad`` (per sample), ``W_grad``, ``b_grad`` (batch means) and ``x_grad`` (per
    sample, what it returned).

    Parameters
    ----------
    W : array of shape (in, out)
    b : array of shape (out,) (the tutorial's ``(1, out)`` is accepted too)
    activation : "sigmoid", "tanh" or "relu"
    """

    activations: tuple[str, ...] = HIDDEN_ACTIVATIONS

    def __init__(self, W: Any, b: Any, activation: str = "sigmoid") -> None:
        name = type(self).__name__
        _check_choice(name, "activation", activation, self.activations)
        W = np.array(W, copy=True)
        if W.dtype.kind != "f":
            W = W.astype(np.float64)
        if W.ndim != 2:
            raise ValueError(f"{name}: W must have shape (in, out), got {W.shape}")
        b = np.array(b, dtype=W.dtype, copy=True)
        if b.shape == (1, W.shape[1]):
            b = b.reshape(-1)
        if b.shape != (W.shape[1],):
            raise ValueError(
                f"{name}: b must have shape ({W.shape[1]},) for W {W.shape}, got {b.shape}"
            )
        self.W = W
        self.b = b
        self.activation = activation
        self.x: np.ndarray | None = None
        self.a: np.ndarray | None = None
        self.h: np.ndarray | None = None
        self.a_grad: np.ndarray | None = None
        self.W_grad: np.ndarray | None = None
        self.b_grad: np.ndarray | None = None
        self.x_grad: np.ndarray | None = None
        self.applied = False  # True once W_grad/b_grad have been subtracted from W/b

    @classmethod
    def init(
        cls, in_dim: int, out_dim: int, activation: str, rng: Any = None, dtype: Any = np.float64
    ) -> Layer:
        """The tutorial's initialisation: ``W ~ N(0, 0.1²)``, ``b = 0``."""
        for label, v in (("in_dim", in_dim), ("out_dim", out_dim)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
                raise ValueError(f"{cls.__name__}.init: {label} must be a positive int, got {v!r}")
        W = _rng(rng).normal(0.0, 0.1, size=(int(in_dim), int(out_dim))).astype(dtype)
        return cls(W, np.zeros(int(out_dim), dtype=dtype), activation)

    @property
    def in_dim(self) -> int:
        return self.W.shape[0]

    @property
    def out_dim(self) -> int:
        return self.W.shape[1]

    # ------------------------------------------------------------------ activation
    def activate(self, a: np.ndarray) -> np.ndarray:
        """``h = act(a)``."""
        act = self.activation
        if act == "sigmoid":
            # 1/(1+e^{-a}) for a >= 0 and e^{a}/(1+e^{a}) for a < 0: no overflow either way
            z = np.exp(-np.abs(a))
            return np.where(a >= 0, 1.0 / (1.0 + z), z / (1.0 + z)).astype(a.dtype, copy=False)
        if act == "tanh":
            return np.tanh(a)
        return np.where(a > 0, a, np.zeros_like(a))  # relu

    def activate_grad(self) -> np.ndarray:
        """``act'(a)``, from the saved ``h`` where that is cheaper; ReLU's is 0 at ``a = 0``."""
        h, a = self.h, self.a
        act = self.activation
        if act == "sigmoid":
            return h * (1 - h)
        if act == "tanh":
            return 1 - h * h
        return (a > 0).astype(a.dtype)

    # ------------------------------------------------------------------ passes
    def forward(self, x: Any) -> np.ndarray:
        """``a = x·W + b``; ``h = act(a)``.  ``x`` has shape (batch, in)."""
        name = type(self).__name__
        x = _as_float_matrix(name, "input", x, self.W.dtype)
        if x.shape[1] != self.in_dim:
            raise ValueError(
                f"{name}({self.in_dim}→{self.out_dim}): expected input of shape (batch, "
                f"{self.in_dim}), got {x.shape}"
            )
        self.x = x
        self.a = x @ self.W + self.b
        self.h = self.activate(self.a)
        return self.h

    def _a_grad(self, input_grad: np.ndarray) -> np.ndarray:
        return input_grad * self.activate_grad()

    def backward(
        self, input_grad: Any, lr: float | None = None, wgrad: str = "matmul"
    ) -> np.ndarray:
        """Back-propagate ``input_grad`` (``∂L/∂h`` per sample, shape (batch, out)).

        Computes ``a_grad``, ``W_grad``, ``b_grad`` and returns ``x_grad = a_grad · Wᵀ``.
        With ``lr`` given, ``W`` and ``b`` are updated *before* ``x_grad`` is computed,
        as in the tutorial's code (``order="tutorial"``); without it nothing is updated.
        """
        name = type(self).__name__
        _check_choice(name, "wgrad", wgrad, WGRADS)
        if self.a is None or self.x is None:
            raise RuntimeError(f"{name}.backward: call forward() first")
        g = np.asarray(input_grad, dtype=self.W.dtype)
        if g.shape != self.a.shape:
            raise ValueError(
                f"{name}.backward: expected a gradient of shape {self.a.shape} (the layer's "
                f"output), got {g.shape}"
            )
        a_grad = self._a_grad(g)
        n = a_grad.shape[0]
        if wgrad == "matmul":
            W_grad = self.x.T @ a_grad / n
        else:  # the tutorial's (N, in, out) broadcast product, then the batch mean
            W_grad = (a_grad.reshape(n, 1, self.out_dim) * self.x.reshape(n, self.in_dim, 1)).mean(
                axis=0
            )
        self.a_grad = a_grad
        self.W_grad = W_grad
        self.b_grad = a_grad.mean(axis=0)
        self.applied = False
        if lr is not None:
            self.step(lr)
        self.x_grad = a_grad @ self.W.T
        return self.x_grad

    def step(self, lr: float) -> None:
        """``W -= lr·∂L/∂W``, ``b -= lr·∂L/∂b`` (once per backward)."""
        if self.W_grad is None or self.b_grad is None:
            raise RuntimeError(f"{type(self).__name__}.step: call backward() first")
        if self.applied:
            raise RuntimeError(
                f"{type(self).__name__}.step: these gradients were already applied "
                "(backward with lr= updates as it goes, as the tutorial does)"
            )
        self.W -= lr * self.W_grad
        self.b -= lr * self.b_grad
        self.applied = True

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_dim}, {self.out_dim}, {self.activation!r})"


class OutputLayer(Layer):
    """The tutorial's output layer: softmax + cross-entropy, or linear + ½ squared error.

    Its ``backward`` receives ``∂L/∂a`` itself, ``ŷ − y`` per sample (see
    :meth:`loss_grad`): with either pairing the Jacobian of the activation and the
    derivative of the loss collapse into that difference.
    """

    activations = OUTPUT_ACTIVATIONS

    def __init__(self, W: Any, b: Any, activation: str = "softmax") -> None:
        super().__init__(W, b, activation)

    def activate(self, a: np.ndarray) -> np.ndarray:
        if self.activation == "linear":
            return a
        e = np.exp(a - a.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def _targets(self, y: Any) -> np.ndarray:
        """Targets as an (N, out) array: one-hot rows from class indices when classifying."""
        if self.h is None:
            raise RuntimeError(f"{type(self).__name__}: call forward() first")
        n, c = self.h.shape
        y = np.asarray(y)
        if self.activation == "softmax" and y.ndim == 1:
            if y.shape[0] != n:
                raise ValueError(f"OutputLayer: {y.shape[0]} labels for a batch of {n}")
            if y.dtype.kind not in "iu" and not (y.dtype.kind == "f" and np.all(y == np.round(y))):
                raise TypeError(f"OutputLayer: class labels must be integers, got dtype {y.dtype}")
            idx = y.astype(np.intp)
            if idx.size and (idx.min() < 0 or idx.max() >= c):
                raise ValueError(
                    f"OutputLayer: labels out of range: expected 0..{c - 1} for {c} classes, "
                    f"got values from {idx.min()} to {idx.max()}"
                )
            onehot = np.zeros((n, c), dtype=self.h.dtype)
            onehot[np.arange(n), idx] = 1
            return onehot
        if self.activation == "linear" and y.ndim == 1 and c == 1:
            y = y.reshape(-1, 1)
        if y.shape != (n, c):
            raise ValueError(
                f"OutputLayer: targets must have shape ({n}, {c})"
                + (f" or ({n},) class indices" if self.activation == "softmax" else "")
                + f", got {y.shape}"
            )
        return y.astype(self.h.dtype, copy=False)

    def loss(self, y: Any) -> float:
        """The batch-mean loss of the last forward: cross-entropy or ½ squared error."""
        t = self._targets(y)
        if self.activation == "softmax":
            a = self.a
            shifted = a - a.max(axis=1, keepdims=True)
            log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
            return float(-(t * log_p).sum(axis=1).mean())
        d = self.h - t
        return float(0.5 * (d * d).sum(axis=1).mean())

    def loss_grad(self, y: Any) -> np.ndarray:
        """``∂L/∂a`` per sample, ``ŷ − y`` (the batch's ``1/N`` is left to the parameters)."""
        return self.h - self._targets(y)

    def _a_grad(self, input_grad: np.ndarray) -> np.ndarray:
        return input_grad  # the output layer receives ∂L/∂a directly


class Network:
    """Hidden :class:`Layer` s followed by one :class:`OutputLayer`.

    Parameter names follow ``nn.Sequential``'s (``"0.W"``, ``"0.b"``, ``"1.W"``, ...), so
    weights pass between the two with ``state_dict``/``load_state_dict``.
    """

    def __init__(self, layers: Sequence[Layer]) -> None:
        layers = list(layers)
        if not layers:
            raise ValueError("Network: needs at least an output layer")
        for i, layer in enumerate(layers):
            last = i == len(layers) - 1
            if last and not isinstance(layer, OutputLayer):
                raise TypeError(f"Network: the last layer must be an OutputLayer, got {layer!r}")
            if not last and (not isinstance(layer, Layer) or isinstance(layer, OutputLayer)):
                raise TypeError(f"Network: layer {i} must be a hidden Layer, got {layer!r}")
            if i and layers[i - 1].out_dim != layer.in_dim:
                raise ValueError(
                    f"Network: layer {i} expects {layer.in_dim} inputs but layer {i - 1} "
                    f"gives {layers[i - 1].out_dim}"
                )
            if layer.W.dtype != layers[0].W.dtype:
                raise TypeError(
                    f"Network: layer {i} has dtype {layer.W.dtype}, layer 0 {layers[0].W.dtype}"
                )
        self.layers = layers

    @classmethod
    def from_sizes(
        cls,
        sizes: Sequence[int],
        activation: str = "tanh",
        output: str = "softmax",
        rng: Any = None,
        dtype: Any = np.float64,
    ) -> Network:
        """``sizes = [in, hidden..., out]``, tutorial initialisation (``N(0, 0.1²)``, zero
        bias), drawing the layers' weights in order from one generator."""
        sizes = list(sizes)
        if len(sizes) < 2:
            raise ValueError(f"Network.from_sizes: need at least [in, out], got {sizes}")
        _check_choice("Network", "activation", activation, HIDDEN_ACTIVATIONS)
        _check_choice("Network", "output", output, OUTPUT_ACTIVATIONS)
        g = _rng(rng)
        layers: list[Layer] = [
            Layer.init(sizes[i], sizes[i + 1], activation, g, dtype) for i in range(len(sizes) - 2)
        ]
        layers.append(OutputLayer.init(sizes[-2], sizes[-1], output, g, dtype))
        return cls(layers)

    @property
    def output(self) -> OutputLayer:
        return self.layers[-1]  # type: ignore[return-value]

    @property
    def sizes(self) -> list[int]:
        return [self.layers[0].in_dim] + [layer.out_dim for layer in self.layers]

    def forward(self, x: Any) -> np.ndarray:
        """Each layer's output is the next one's input; returns ``ŷ``."""
        h = x
        for layer in self.layers:
            h = layer.forward(h)
        return h

    def loss(self, y: Any) -> float:
        """The batch-mean loss of the last forward."""
        return self.output.loss(y)

    def backward(
        self,
        y: Any,
        order: str = "correct",
        lr: float | None = None,
        wgrad: str = "matmul",
    ) -> np.ndarray:
        """Back-propagate from the targets ``y``, top layer first; returns ``∂L/∂x`` of the
        network's input, per sample.

        ``order="correct"`` (default) computes every gradient from the weights of the
        forward pass and updates nothing (call :meth:`step`).  ``order="tutorial"`` needs
        ``lr`` and updates each layer before passing ``∂L/∂a · Wᵀ`` down, as the
        tutorial's code does.
        """
        _check_choice("Network.backward", "order", order, ORDERS)
        if order == "tutorial" and lr is None:
            raise ValueError("Network.backward: order='tutorial' updates as it goes; pass lr=")
        if order == "correct" and lr is not None:
            raise ValueError("Network.backward: order='correct' updates nothing; call step(lr)")
        g = self.output.loss_grad(y)
        for layer in reversed(self.layers):
            g = layer.backward(g, lr=lr, wgrad=wgrad)
        return g

    def step(self, lr: float) -> None:
        """Apply ``W -= lr·∂L/∂W``, ``b -= lr·∂L/∂b`` in every layer."""
        for layer in self.layers:
            layer.step(lr)

    def train_step(
        self, x: Any, y: Any, lr: float, order: str = "correct", wgrad: str = "matmul"
    ) -> float:
        """One forward, backward and update on a batch; returns the loss before the update."""
        self.forward(x)
        loss = self.loss(y)
        if order == "tutorial":
            self.backward(y, order="tutorial", lr=lr, wgrad=wgrad)
        else:
            self.backward(y, order=order, wgrad=wgrad)
            self.step(lr)
        return loss

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of the weights as ``{"0.W": ..., "0.b": ..., ...}``."""
        out: dict[str, np.ndarray] = {}
        for i, layer in enumerate(self.layers):
            out[f"{i}.W"] = layer.W.copy()
            out[f"{i}.b"] = layer.b.copy()
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Copy weights in from a dict with the names of :meth:`state_dict`."""
        expected = set(self.state_dict())
        missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
        if missing or unexpected:
            raise KeyError(
                f"Network.load_state_dict: missing keys {missing}, unexpected keys {unexpected}"
            )
        for i, layer in enumerate(self.layers):
            for name in ("W", "b"):
                arr = np.asarray(state[f"{i}.{name}"])
                cur = getattr(layer, name)
                if arr.shape != cur.shape:
                    raise ValueError(
                        f"Network.load_state_dict: {i}.{name} has shape {arr.shape}, the "
                        f"network {cur.shape}"
                    )
        for i, layer in enumerate(self.layers):
            layer.W[...] = state[f"{i}.W"]
            layer.b[...] = state[f"{i}.b"]

    def gradients(self) -> dict[str, np.ndarray]:
        """``{"0.W": ∂L/∂W, "0.b": ∂L/∂b, ...}`` from the last backward."""
        out: dict[str, np.ndarray] = {}
        for i, layer in enumerate(self.layers):
            if layer.W_grad is None or layer.b_grad is None:
                raise RuntimeError("Network.gradients: call backward() first")
            out[f"{i}.W"] = layer.W_grad
            out[f"{i}.b"] = layer.b_grad
        return out

    def __repr__(self) -> str:
        inner = ", ".join(repr(layer) for layer in self.layers)
        return f"Network([{inner}])"
