"""Containers: ``Sequential`` (as the article's network is built), ``ModuleList``,
``Identity``, ``Flatten``, and the tutorial's ``mlp`` builder."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from .. import ops
from ..autograd import is_keep_values_enabled, release
from ..tensor import Tensor
from .activation import ReLU, Sigmoid, Tanh
from .linear import Dense
from .module import Module, _rng

__all__ = ["Sequential", "ModuleList", "Identity", "Flatten", "mlp"]


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
        mark = not is_keep_values_enabled()
        for m in layers[:-1]:
            x = m(x)
            if mark and m.__class__ in _OWN_OUTPUTS:
                # Only this graph can reach this output (our own layers keep no reference
                # to what they return, and the user gets the last output alone): let
                # backward() drop its value once used, as PyTorch frees what it saved.
                release(x)
        return layers[-1](x) if layers else x

    def __getitem__(self, i: int) -> Module:
        return self.layers[i]

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self) -> Iterator[Module]:
        return iter(self.layers)


# Layers whose outputs nn.Sequential may mark for release: they keep no reference to them.
_OWN_OUTPUTS = frozenset({Dense, ReLU, Sigmoid, Tanh})


class ModuleList(Module):
    """A list of modules whose parameters the parent finds, named by position.

    Examples
    --------
    >>> from tinygrad_bp import nn
    >>> layers = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 1)])
    >>> len(layers), [n for n, _ in layers.named_parameters()]
    (2, ['0.weight', '0.bias', '1.weight', '1.bias'])
    """

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        self._modules: list[Module] = []
        for m in modules or ():
            self.append(m)

    def append(self, module: Module) -> ModuleList:
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList: expected an nn.Module, got {type(module).__name__}")
        self._modules.append(module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        for m in modules:
            self.append(m)
        return self

    def named_children(self) -> Iterator[tuple[str, Module]]:
        for i, m in enumerate(self._modules):
            yield str(i), m

    def _own_parameters(self) -> Iterator[tuple[str, Tensor]]:
        return iter(())

    def __getitem__(self, i: int) -> Module:
        return self._modules[i]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("ModuleList has no forward(); call its modules in a loop")


class Identity(Module):
    """Returns its input unchanged."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def forward(self, x: Any) -> Any:
        return x


class Flatten(Module):
    """Flattens axes ``start_axis..end_axis`` into one (``(N, C, H, W) -> (N, C·H·W)``).

    Examples
    --------
    >>> import numpy as np
    >>> import tinygrad_bp as tg
    >>> tg.nn.Flatten()(tg.Tensor(np.zeros((2, 3, 4, 5)))).shape
    (2, 60)
    """

    def __init__(
        self,
        start_axis: int = 1,
        end_axis: int = -1,
        *,
        start_dim: int | None = None,
        end_dim: int | None = None,
    ) -> None:
        # PyTorch's names start_dim / end_dim are accepted beside the contract's
        start_axis = start_axis if start_dim is None else start_dim
        end_axis = end_axis if end_dim is None else end_dim
        for label, v in (("start_dim", start_axis), ("end_dim", end_axis)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise TypeError(f"Flatten: {label} must be an int, got {v!r}")
        self.start_axis = int(start_axis)
        self.end_axis = int(end_axis)

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            raise TypeError(
                f"Flatten: expected a Tensor, got {type(x).__name__} (wrap it: Tensor(x))"
            )
        nd = x.ndim
        span = max(nd, 1)  # a 0-d input counts as one axis, as in PyTorch
        axes = []
        for label, a in (("start_dim", self.start_axis), ("end_dim", self.end_axis)):
            if not -span <= a < span:
                raise ValueError(
                    f"Flatten: {label} {a} is out of range for an input of shape {x.shape} "
                    f"(expected an axis in [{-span}, {span - 1}], as PyTorch)"
                )
            axes.append(a % span)
        s, e = axes
        if s > e:
            raise ValueError(
                f"Flatten: start_dim {self.start_axis} comes after end_dim {self.end_axis} for "
                f"an input of shape {x.shape}"
            )
        if nd == 0:
            return ops.reshape(x, 1)
        shape = x.shape[:s] + (-1,) + x.shape[e + 1 :]
        if 0 in x.shape:  # -1 cannot be inferred beside a zero-sized axis
            shape = x.shape[:s] + (int(np.prod(x.shape[s : e + 1])),) + x.shape[e + 1 :]
        return ops.reshape(x, shape)

    def extra_repr(self) -> str:
        return f"start_axis={self.start_axis}, end_axis={self.end_axis}"


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
