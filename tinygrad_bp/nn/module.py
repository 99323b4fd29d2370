"""``Module``: the base class (parameters, buffers, sub-modules, train/eval, state) and
``Parameter``.

Parameters are found through a module's attributes (Tensors that require grad, and lists,
tuples and dicts of them) and its sub-modules; buffers (BatchNorm's running statistics)
are registered with :meth:`Module.register_buffer` and saved in the state dict beside
the parameters.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..autograd import SCOPE
from ..tensor import Tensor

__all__ = ["Module", "Parameter"]

_get_scope, _set_scope, _reset_scope = SCOPE.get, SCOPE.set, SCOPE.reset


class Parameter(Tensor):
    """A Tensor that is a module's trainable weight: ``requires_grad=True`` by default, as
    ``torch.nn.Parameter``.

    Examples
    --------
    >>> import numpy as np
    >>> from tinygrad_bp import nn
    >>> w = nn.Parameter(np.zeros(3))
    >>> w.requires_grad, type(w).__name__
    (True, 'Parameter')
    """

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True, dtype: Any = None) -> None:
        super().__init__(data, requires_grad=requires_grad, dtype=dtype)


class Module:
    """Base class.  Parameters are found through attributes, lists, tuples and dicts of
    them, and sub-modules, each parameter once, in attribute order.

    ``training`` (True until :meth:`eval`) is what Dropout and BatchNorm read;
    :meth:`train` and :meth:`eval` set it on this module and every sub-module.

    Examples
    --------
    >>> from tinygrad_bp import nn
    >>> net = nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.5), nn.Linear(4, 1))
    >>> _ = net.eval()
    >>> [m.training for _, m in net.modules()]
    [False, False, False, False]
    """

    training: bool = True

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # Every node made inside is stamped with this call's scope (Tensor.scope), so that
        # a picture can draw the call as one node: tinygrad_bp.viz groups by it.  (What
        # autograd.scope() does, inline: this runs for every layer of every step.)
        token = _set_scope((self, args, kwargs or None, _get_scope()))  # no empty dict kept
        try:
            return self.forward(*args, **kwargs)
        finally:
            _reset_scope(token)

    # -------------------------------------------------------------- modes
    def train(self, mode: bool = True) -> Module:
        """Set training mode (``mode=True``) or evaluation mode on every sub-module."""
        if not isinstance(mode, bool):
            raise TypeError(f"train: mode must be a bool, got {type(mode).__name__}")
        for _, m in self.modules():
            m.training = mode
        return self

    def eval(self) -> Module:
        """Evaluation mode: Dropout passes values through, BatchNorm uses its running
        statistics.  Same as ``train(False)``."""
        return self.train(False)

    # -------------------------------------------------------------- buffers
    def register_buffer(self, name: str, value: Any) -> None:
        """Keep ``value`` (an array or Tensor, never trained) as ``self.<name>``, saved in
        the state dict beside the parameters."""
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"register_buffer: name must be an identifier, got {name!r}")
        if isinstance(value, Tensor):
            t = value
        else:  # keep the array's dtype (BatchNorm's int64 batch counter included)
            arr = np.asarray(value)
            t = Tensor(arr, dtype=arr.dtype)
        if t.requires_grad:
            raise ValueError(f"register_buffer: buffer {name!r} must not require grad")
        buffers = self.__dict__.setdefault("_buffers", {})
        buffers[name] = t
        object.__setattr__(self, name, t)

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        """``(dotted name, buffer)`` pairs of this module and every sub-module."""
        for name, mod in self.modules():
            pre = prefix + (f"{name}." if name else "")
            for bname in mod.__dict__.get("_buffers", {}):
                yield pre + bname, getattr(mod, bname)

    def buffers(self) -> list[Tensor]:
        return [b for _, b in self.named_buffers()]

    def _named_state(self) -> Iterator[tuple[str, Tensor]]:
        yield from self.named_parameters()
        yield from self.named_buffers()

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

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's ``.grad`` (set to None, as PyTorch does by default;
        ``set_to_none=False`` fills them with zeros instead)."""
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad = np.zeros_like(p.data)

    # -------------------------------------------------------------- state
    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """Copies of the parameters' and buffers' arrays, by dotted name."""
        return OrderedDict((n, p.data.copy()) for n, p in self._named_state())

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Copy arrays into the parameters and buffers, in place; names, shapes and dtype
        kinds (real numbers only) are all checked first, then all are assigned or none."""
        from ..serialization import load_into

        load_into(self, state, "load_state_dict")

    def save(self, path: str | os.PathLike[str], metadata: dict[str, Any] | None = None) -> None:
        """Save the state dict and the architecture to an ``.npz`` file, atomically (see
        :mod:`tinygrad_bp.serialization`); ``metadata`` adds JSON data such as the task."""
        from ..serialization import save_module

        save_module(self, path, metadata)

    def load(self, path: str | os.PathLike[str]) -> None:
        """Load parameters saved by :meth:`save`: the file is validated whole, and every
        name and shape checked, before any parameter is changed."""
        from ..serialization import load_module

        load_module(self, path)

    def __repr__(self) -> str:
        children = list(self.named_children())
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"  ({n}): " + repr(m).replace("\n", "\n  ") for n, m in children]
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"

    def extra_repr(self) -> str:
        return ""


def _rng(seed: Any) -> np.random.Generator:
    """A generator from a seed, or the generator itself."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)
