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

__all__ = [
    "Sequential", "ModuleList", "Identity", "Flatten", "mlp", "Unflatten", "ModuleDict",
    "ParameterList", "ParameterDict",
]  # fmt: skip


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

    def append(self, module: Module) -> Sequential:
        """Add ``module`` at the end, as PyTorch's."""
        if not isinstance(module, Module):
            raise TypeError(
                f"Sequential.append: expected an nn.Module, got {type(module).__name__}"
            )
        self.layers.append(module)
        return self

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


class Unflatten(Module):
    """Splits axis ``dim`` into ``unflattened_size`` (``(N, 60) -> (N, 3, 4, 5)``), the
    inverse of :class:`Flatten`; one size may be -1."""

    def __init__(self, dim: int, unflattened_size: Any) -> None:
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
            raise TypeError(f"Unflatten: dim must be an int, got {dim!r}")
        sizes = tuple(unflattened_size)
        if not sizes or not all(
            isinstance(n, (int, np.integer)) and not isinstance(n, bool) for n in sizes
        ):
            raise TypeError(f"Unflatten: unflattened_size must be a tuple of ints, got {sizes!r}")
        self.dim, self.unflattened_size = int(dim), tuple(int(n) for n in sizes)

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            raise TypeError(f"Unflatten: expected a Tensor, got {type(x).__name__}")
        nd = x.ndim
        if not -nd <= self.dim < nd:
            raise ValueError(f"Unflatten: dim {self.dim} is out of range for shape {x.shape}")
        d = self.dim % nd
        n, sizes = x.shape[d], self.unflattened_size
        known = int(np.prod([s for s in sizes if s != -1]))
        if (
            sizes.count(-1) > 1
            or (-1 not in sizes and known != n)
            or (-1 in sizes and (known == 0 or n % known))
        ):
            raise ValueError(
                f"Unflatten: cannot split dim {self.dim} of size {n} into {sizes} (input shape "
                f"{x.shape})"
            )
        return ops.reshape(x, x.shape[:d] + sizes + x.shape[d + 1 :])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class ModuleDict(Module):
    """A dict of modules whose parameters the parent finds, named by key.

    Examples
    --------
    >>> from tinygrad_bp import nn
    >>> heads = nn.ModuleDict({"a": nn.Linear(2, 1), "b": nn.Linear(2, 3)})
    >>> [n for n, _ in heads.named_parameters()]
    ['a.weight', 'a.bias', 'b.weight', 'b.bias']
    """

    def __init__(self, modules: Any = None) -> None:
        self._modules: dict[str, Module] = {}
        if modules is not None:
            self.update(modules)

    def __setitem__(self, key: str, module: Module) -> None:
        if not isinstance(key, str):
            raise TypeError(f"ModuleDict: keys must be strings, got {key!r}")
        if not isinstance(module, Module):
            raise TypeError(f"ModuleDict: expected an nn.Module, got {type(module).__name__}")
        self._modules[key] = module

    def update(self, modules: Any) -> None:
        items = modules.items() if hasattr(modules, "items") else modules
        for k, m in items:
            self[k] = m

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def pop(self, key: str) -> Module:
        return self._modules.pop(key)

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def keys(self) -> Any:
        return self._modules.keys()

    def values(self) -> Any:
        return self._modules.values()

    def items(self) -> Any:
        return self._modules.items()

    def named_children(self) -> Iterator[tuple[str, Module]]:
        yield from self._modules.items()

    def _own_parameters(self) -> Iterator[tuple[str, Tensor]]:
        return iter(())

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("ModuleDict has no forward(); call its modules by key")


def _as_parameter(value: Any, owner: str) -> Tensor:
    from .module import Parameter

    if isinstance(value, Parameter):
        return value
    if isinstance(value, Tensor):
        return Parameter(value.data)
    raise TypeError(f"{owner}: expected a Parameter or Tensor, got {type(value).__name__}")


class ParameterList(Module):
    """A list of parameters, named by position (``0``, ``1``, ...), as PyTorch's."""

    def __init__(self, values: Iterable[Any] | None = None) -> None:
        self._params: list[Tensor] = []
        for v in values or ():
            self.append(v)

    def append(self, value: Any) -> ParameterList:
        self._params.append(_as_parameter(value, "ParameterList"))
        return self

    def extend(self, values: Iterable[Any]) -> ParameterList:
        for v in values:
            self.append(v)
        return self

    def __getitem__(self, i: int) -> Tensor:
        return self._params[i]

    def __setitem__(self, i: int, value: Any) -> None:
        self._params[i] = _as_parameter(value, "ParameterList")

    def __len__(self) -> int:
        return len(self._params)

    def __iter__(self) -> Iterator[Tensor]:
        return iter(self._params)

    def _own_parameters(self) -> Iterator[tuple[str, Tensor]]:
        for i, p in enumerate(self._params):
            yield str(i), p

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("ParameterList has no forward(); use its parameters")


class ParameterDict(Module):
    """A dict of parameters, named by key, as PyTorch's."""

    def __init__(self, values: Any = None) -> None:
        self._params: dict[str, Tensor] = {}
        if values is not None:
            self.update(values)

    def __setitem__(self, key: str, value: Any) -> None:
        if not isinstance(key, str):
            raise TypeError(f"ParameterDict: keys must be strings, got {key!r}")
        self._params[key] = _as_parameter(value, "ParameterDict")

    def update(self, values: Any) -> None:
        items = values.items() if hasattr(values, "items") else values
        for k, v in items:
            self[k] = v

    def __getitem__(self, key: str) -> Tensor:
        return self._params[key]

    def __contains__(self, key: object) -> bool:
        return key in self._params

    def __len__(self) -> int:
        return len(self._params)

    def __iter__(self) -> Iterator[str]:
        return iter(self._params)

    def keys(self) -> Any:
        return self._params.keys()

    def values(self) -> Any:
        return self._params.values()

    def items(self) -> Any:
        return self._params.items()

    def _own_parameters(self) -> Iterator[tuple[str, Tensor]]:
        yield from self._params.items()

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("ParameterDict has no forward(); use its parameters")
