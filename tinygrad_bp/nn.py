"""Modules: ``Module``, the article's ``Dense`` layer, ``Sequential`` and activations.

A ``Dense`` layer is the article's "weights as a layer": ``a = x·W + b``, ``h = act(a)``
with ``W`` of shape ``(in, out)`` and ``b`` of shape ``(out,)``.  Its graph is the plain
``matmul -> add -> activation`` chain, so the pictures show exactly the article's steps.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from . import ops
from .autograd import RELEASE_AFTER_USE, Released, _mode
from .tensor import Tensor, get_default_dtype

__all__ = [
    "Module",
    "Dense",
    "Sequential",
    "ReLU",
    "Sigmoid",
    "Tanh",
    "mlp",
    "ACTIVATIONS",
    "INITS",
]

ACTIVATIONS: dict[str | None, Callable[[Tensor], Tensor] | None] = {
    None: None,
    "sigmoid": ops.sigmoid,
    "tanh": ops.tanh,
    "relu": ops.relu,
}

INITS = ("auto", "tutorial", "xavier", "he")

_IN_PLACE = (
    "nn.Dense computed the next step of its layer in place in this node's array, to keep one "
    "array per layer as hand-written NumPy does"
)


class Module:
    """Base class.  Parameters are found through attributes, lists, tuples and dicts of
    them, and sub-modules, each parameter once, in attribute order."""

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        out = self.forward(*args, **kwargs)
        # Record the call on its outputs (innermost call first), so that a picture can draw
        # it as one node: tinygrad_bp.viz reads it.  Costs nothing measurable (bench A/B:
        # W1 0.982x, W4 0.989x of the time without it).
        if out.__class__ is Tensor:
            if out._parents:
                out._module = getattr(out, "_module", ()) + ((self, (args, kwargs)),)
        elif isinstance(out, (tuple, list)):
            _record(out, (self, (args, kwargs)))
        return out

    # -------------------------------------------------------------- traversal
    def named_children(self) -> Iterator[tuple[str, Module]]:
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value
            elif isinstance(value, (list, tuple)):
                for i, v in enumerate(value):
                    if isinstance(v, Module):
                        yield f"{name}.{i}", v
            elif isinstance(value, dict):
                for k, v in value.items():
                    if isinstance(v, Module):
                        yield f"{name}.{k}", v

    def _own_parameters(self) -> Iterator[tuple[str, Tensor]]:
        for name, value in vars(self).items():
            if isinstance(value, Tensor):
                if value.requires_grad:
                    yield name, value
            elif isinstance(value, (list, tuple)):
                for i, v in enumerate(value):
                    if isinstance(v, Tensor) and v.requires_grad:
                        yield f"{name}.{i}", v
            elif isinstance(value, dict):
                for k, v in value.items():
                    if isinstance(v, Tensor) and v.requires_grad:
                        yield f"{name}.{k}", v

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        """``(dotted name, parameter)`` pairs, e.g. ``("0.W", ...)`` in a Sequential."""
        seen: set[int] = set()
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            pre, mod = stack.pop(0)
            for name, p in mod._own_parameters():
                if id(p) not in seen:
                    seen.add(id(p))
                    yield pre + name, p
            stack[0:0] = [(f"{pre}{n}.", m) for n, m in mod.named_children()]

    def parameters(self) -> list[Tensor]:
        """Every trainable tensor, each once."""
        return [p for _, p in self.named_parameters()]

    def modules(self) -> Iterator[tuple[str, Module]]:
        """``(dotted name, module)`` for this module and every sub-module."""
        stack: list[tuple[str, Module]] = [("", self)]
        while stack:
            name, mod = stack.pop(0)
            yield name, mod
            stack[0:0] = [(f"{name}.{n}" if name else n, m) for n, m in mod.named_children()]

    def zero_grad(self) -> None:
        """Clear every parameter's ``.grad`` (set to None, as PyTorch does by default)."""
        for p in self.parameters():
            p.grad = None

    # -------------------------------------------------------------- state
    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """Copies of the parameters' arrays, by dotted name."""
        return OrderedDict((n, p.data.copy()) for n, p in self.named_parameters())

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Copy arrays into the parameters, in place; names, shapes and dtype kinds (real
        numbers only) are all checked first, then all are assigned or none."""
        from .serialization import load_into

        load_into(self, state, "load_state_dict")

    def save(self, path: str | os.PathLike[str], metadata: dict[str, Any] | None = None) -> None:
        """Save the state dict and the architecture to an ``.npz`` file, atomically (see
        :mod:`tinygrad_bp.serialization`); ``metadata`` adds JSON data such as the task."""
        from .serialization import save_module

        save_module(self, path, metadata)

    def load(self, path: str | os.PathLike[str]) -> None:
        """Load parameters saved by :meth:`save`: the file is validated whole, and every
        name and shape checked, before any parameter is changed."""
        from .serialization import load_module

        load_module(self, path)

    def __repr__(self) -> str:
        children = list(self.named_children())
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"  ({n}): " + repr(m).replace("\n", "\n  ") for n, m in children]
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"

    def extra_repr(self) -> str:
        return ""


def _record(out: Any, call: tuple[Module, Any]) -> None:
    """Module.__call__'s record on every Tensor in a (nested) tuple of outputs."""
    for t in out:
        if t.__class__ is Tensor and t._parents:
            t._module = getattr(t, "_module", ()) + (call,)
        elif isinstance(t, (tuple, list)):
            _record(t, call)


def _rng(seed: Any) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


class Dense(Module):
    """The article's layer: ``a = x @ W + b``, ``h = act(a)``.

    Parameters
    ----------
    in_features, out_features : int
        ``W`` has shape ``(in_features, out_features)``, ``b`` shape ``(out_features,)``.
    activation : None, "sigmoid", "tanh" or "relu"
        ``None`` leaves ``h = a`` (the output layer; put the softmax in the loss).
    init : "auto", "tutorial", "xavier" or "he"
        ``"tutorial"``: W ~ N(0, 0.1²), b = 0, as in the article's notebook.
        ``"xavier"``: Glorot uniform, b = 0.  ``"he"``: N(0, 2/in), b = 0.
        ``"auto"`` (default): He for ReLU, Xavier otherwise.
    rng : int or numpy Generator, optional
        Seed or generator for the initial weights.
    dtype : dtype, optional
        Parameter dtype (the default float dtype if omitted).

    Notes
    -----
    The graph is ``matmul → add → activation``, but the layer keeps one array, as
    hand-written NumPy does: the bias is added and the activation computed in place in the
    matmul's fresh array.  The matmul and add nodes keep their shape, dtype and gradient
    (``retain_grad()`` works) but not their value; reading it raises an error that says so.
    Under :func:`tinygrad_bp.keep_values` every node keeps its value.

    Examples
    --------
    >>> import numpy as np
    >>> import tinygrad_bp as tg
    >>> layer = tg.nn.Dense(4, 10, activation="tanh", init="tutorial", rng=0)
    >>> layer.W.shape, layer.b.shape
    ((4, 10), (10,))
    >>> layer(tg.Tensor(np.ones((150, 4)))).shape
    (150, 10)
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        activation: str | None = None,
        init: str = "auto",
        rng: Any = None,
        dtype: Any = None,
    ) -> None:
        for label, v in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
                raise ValueError(f"Dense: {label} must be a positive int, got {v!r}")
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"Dense: unknown activation {activation!r}; expected one of "
                f"None, 'sigmoid', 'tanh', 'relu'"
            )
        if init not in INITS:
            raise ValueError(f"Dense: unknown init {init!r}; expected one of {INITS}")
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.activation = activation
        self._act = ACTIVATIONS[activation]
        dtype = np.dtype(dtype) if dtype is not None else get_default_dtype()
        g = _rng(rng)
        if init == "auto":
            init = "he" if activation == "relu" else "xavier"
        shape = (self.in_features, self.out_features)
        if init == "tutorial":
            w = g.normal(0.0, 0.1, size=shape)
        elif init == "xavier":
            limit = np.sqrt(6.0 / (self.in_features + self.out_features))
            w = g.uniform(-limit, limit, size=shape)
        else:  # he
            w = g.normal(0.0, np.sqrt(2.0 / self.in_features), size=shape)
        self.init = init
        self.W = Tensor(w.astype(dtype), requires_grad=True)
        self.b = Tensor(np.zeros(self.out_features, dtype=dtype), requires_grad=True)

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            x = Tensor(x)
        if x.data.ndim == 0 or x.data.shape[-1] != self.in_features:
            raise ValueError(
                f"Dense({self.in_features}→{self.out_features}): expected input whose last "
                f"dimension is {self.in_features}, got shape {x.data.shape}"
            )
        z = ops.matmul(x, self.W)
        b, act = self.b, self._act
        zd, bd = z.data, b.data
        if zd.dtype is not bd.dtype or zd.shape[-1:] != bd.shape or _mode.keep:
            a = ops.add(z, b)
            return a if act is None else act(a)
        # One array per layer, as hand-written NumPy keeps: the bias and the activation are
        # computed in place in the matmul's fresh array, which nothing but this graph can
        # see.  The matmul and add nodes stay in the graph (their backward never reads
        # their own value) and say that their value was released if it is read.
        a = ops.add(z, b, _inplace=True)
        z.data = Released(zd, "matmul", _IN_PLACE)
        if act is None:
            return a
        if act is not ops.tanh and act is not ops.relu and act is not ops.sigmoid:
            return act(a)  # an activation registered by the user: called as any op
        h = act(a, _inplace=True)
        a.data = Released(zd, "add", _IN_PLACE)
        return h

    def extra_repr(self) -> str:
        act = f", activation={self.activation!r}" if self.activation else ""
        return f"{self.in_features}, {self.out_features}{act}"


class Sequential(Module):
    """Modules applied in order; parameters are named by position (``0.W``, ``1.b``).

    The outputs of the ``Dense`` and activation layers inside it, which only the graph can
    reach (the caller gets the last output alone), are released by ``backward()`` once it
    has used them, as PyTorch frees what it saved; call the layers one by one to keep them,
    or run under :func:`tinygrad_bp.keep_values`.

    Examples
    --------
    >>> import tinygrad_bp as tg
    >>> from tinygrad_bp import nn
    >>> model = nn.Sequential(nn.Dense(4, 10, activation="tanh", rng=0), nn.Dense(10, 3, rng=1))
    >>> [(name, p.shape) for name, p in model.named_parameters()]
    [('0.W', (4, 10)), ('0.b', (10,)), ('1.W', (10, 3)), ('1.b', (3,))]
    >>> model(tg.Tensor([[0.1, 0.2, 0.3, 0.4]])).shape
    (1, 3)
    """

    def __init__(self, *modules: Module) -> None:
        if len(modules) == 1 and isinstance(modules[0], (list, tuple)):
            modules = tuple(modules[0])
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                raise TypeError(
                    f"Sequential: item {i} is a {type(m).__name__}, expected an nn.Module"
                )
        prev = None
        for i, m in enumerate(modules):
            if isinstance(m, Dense):
                if prev is not None and prev.out_features != m.in_features:
                    raise ValueError(
                        f"Sequential: layer {i} expects {m.in_features} inputs but the "
                        f"layer before it gives {prev.out_features}"
                    )
                prev = m
        self.layers = list(modules)

    def named_children(self) -> Iterator[tuple[str, Module]]:
        for i, m in enumerate(self.layers):
            yield str(i), m

    def _own_parameters(self) -> Iterator[tuple[str, Tensor]]:
        return iter(())

    def forward(self, x: Any) -> Any:
        layers = self.layers
        mark = not _mode.keep
        for m in layers[:-1]:
            x = m(x)
            if mark and m.__class__ in _OWN_OUTPUTS:
                # Only this graph can reach this output (our own layers keep no reference
                # to what they return, and the user gets the last output alone): let
                # backward() drop its value once used, as PyTorch frees what it saved.
                x._flags |= RELEASE_AFTER_USE
        return layers[-1](x) if layers else x

    def __getitem__(self, i: int) -> Module:
        return self.layers[i]

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self) -> Iterator[Module]:
        return iter(self.layers)


class ReLU(Module):
    def forward(self, x: Tensor) -> Tensor:
        return ops.relu(x)


class Sigmoid(Module):
    def forward(self, x: Tensor) -> Tensor:
        return ops.sigmoid(x)


class Tanh(Module):
    def forward(self, x: Tensor) -> Tensor:
        return ops.tanh(x)


# Layers whose outputs nn.Sequential may mark for release: they keep no reference to them.
_OWN_OUTPUTS = frozenset({Dense, ReLU, Sigmoid, Tanh})


def mlp(
    sizes: list[int] | tuple[int, ...],
    activation: str | None = "tanh",
    init: str = "tutorial",
    rng: Any = None,
    dtype: Any = None,
) -> Sequential:
    """The tutorial's network: ``Dense`` layers of the given ``sizes``, ``activation`` on
    every hidden layer and none on the last (its softmax lives in the loss).

    ``sizes = [4, 10, 5, 3]`` is the tutorial's 4 → 10 tanh → 5 tanh → 3 network;
    ``[4, 3]`` its single softmax layer.  One generator draws the layers' weights in order.

    Examples
    --------
    >>> from tinygrad_bp import nn
    >>> net = nn.mlp([4, 10, 5, 3], activation="tanh", rng=0)
    >>> [name for name, _ in net.named_parameters()]
    ['0.W', '0.b', '1.W', '1.b', '2.W', '2.b']
    """
    sizes = list(sizes)
    if len(sizes) < 2:
        raise ValueError(f"mlp: sizes must list at least [in, out], got {sizes}")
    g = _rng(rng)
    n = len(sizes) - 1
    layers = [
        Dense(
            sizes[i],
            sizes[i + 1],
            activation=activation if i < n - 1 else None,
            init=init,
            rng=g,
            dtype=dtype,
        )
        for i in range(n)
    ]
    return Sequential(*layers)
