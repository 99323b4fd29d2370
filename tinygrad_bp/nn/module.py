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
from typing import Any, NamedTuple

import numpy as np

from ..autograd import SCOPE
from ..creation import default_generator
from ..tensor import Tensor

__all__ = ["Module", "Parameter", "RemovableHandle", "IncompatibleKeys"]

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
    #: the hooks registered on this module (None until one is): a class attribute, so
    #: that ``__call__`` pays one attribute read for modules without hooks
    _hooks: _Hooks | None = None

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._hooks is not None:  # (registered hooks: see _Hooks.call)
            return self._hooks.call(self, args, kwargs)
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
        """Parameters and buffers module by module (each module's parameters, then its
        buffers), each tensor once: the order of PyTorch's ``state_dict()``."""
        seen: set[int] = set()
        for name, mod in self.modules():
            pre = f"{name}." if name else ""
            for pname, p in mod._own_parameters():
                if id(p) not in seen:
                    seen.add(id(p))
                    yield pre + pname, p
            for bname in mod.__dict__.get("_buffers", {}):
                yield pre + bname, getattr(mod, bname)

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
        # a Parameter stays a parameter when frozen (requires_grad=False), as in PyTorch:
        # still in named_parameters() and in the state dict
        buffers = self.__dict__.get("_buffers", ())
        for name, value in vars(self).items():
            if isinstance(value, Tensor):
                if (value.requires_grad or isinstance(value, Parameter)) and name not in buffers:
                    yield name, value
            elif isinstance(value, (list, tuple)):
                for i, v in enumerate(value):
                    if isinstance(v, Tensor) and (v.requires_grad or isinstance(v, Parameter)):
                        yield f"{name}.{i}", v
            elif isinstance(value, dict):
                for k, v in value.items():
                    if isinstance(v, Tensor) and (v.requires_grad or isinstance(v, Parameter)):
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

    def children(self) -> Iterator[Module]:
        """The direct sub-modules, as ``torch.nn.Module.children``."""
        for _, m in self.named_children():
            yield m

    def named_modules(
        self, memo: set[int] | None = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Module]]:
        """``(dotted name, module)`` for this module (name ``prefix``) and every
        sub-module, each once, as ``torch.nn.Module.named_modules``."""
        seen: set[int] = set() if memo is None else memo
        for name, mod in self.modules():
            if remove_duplicate:
                if id(mod) in seen:
                    continue
                seen.add(id(mod))
            yield (f"{prefix}.{name}" if prefix and name else prefix or name), mod

    def apply(self, fn: Any) -> Module:
        """Call ``fn(module)`` on every sub-module, then on this module (children first,
        as PyTorch: the habit ``model.apply(init_weights)``); returns ``self``."""
        if not callable(fn):
            raise TypeError(f"Module.apply: fn must be callable, got {type(fn).__name__}")
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Freeze (``False``) or unfreeze every parameter, as PyTorch's; frozen parameters
        stay in :meth:`named_parameters` and the state dict."""
        if not isinstance(requires_grad, bool):
            raise TypeError(
                f"Module.requires_grad_: requires_grad must be a bool, got {requires_grad!r}"
            )
        for p in self.parameters():
            p.requires_grad = requires_grad
        return self

    def add_module(self, name: str, module: Module | None) -> None:
        """``self.<name> = module``, as PyTorch's ``add_module`` (``register_module``)."""
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"add_module: name must be an identifier, got {name!r}")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: expected an nn.Module, got {type(module).__name__}")
        setattr(self, name, module)

    register_module = add_module

    def register_parameter(self, name: str, param: Tensor | None) -> None:
        """``self.<name> = param``, as PyTorch's ``register_parameter``."""
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"register_parameter: name must be an identifier, got {name!r}")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"register_parameter: expected an nn.Parameter, got {type(param).__name__} "
                f"(wrap it: nn.Parameter(t))"
            )
        setattr(self, name, param)

    def get_submodule(self, target: str) -> Module:
        """The sub-module at the dotted path ``target`` (``""``: this module)."""
        mods = dict(self.modules())
        if target not in mods:
            raise AttributeError(
                f"get_submodule: {type(self).__name__} has no sub-module {target!r} (it has "
                f"{[n for n in mods if n][:8]})"
            )
        return mods[target]

    def cpu(self) -> Module:
        """Nothing to move: NumPy runs on the CPU."""
        return self

    def cuda(self, device: Any = None) -> Module:
        raise RuntimeError(
            "Module.cuda: tinygrad_bp runs on NumPy on the CPU only; leave .cuda() out "
            "(or write .to('cpu'))"
        )

    def half(self) -> Module:
        """Cast every floating parameter and buffer to float16 (``to(np.float16)``)."""
        return self.to(np.float16)

    def to(self, *args: Any, **kwargs: Any) -> Module:
        """``to(dtype)``: cast every floating parameter and buffer in place (integer
        buffers such as BatchNorm's batch counter keep their dtype), as PyTorch;
        ``to("cpu")`` is accepted and changes nothing (NumPy runs on the CPU only)."""
        dtype = kwargs.pop("dtype", None)
        device = kwargs.pop("device", None)
        if kwargs:
            raise TypeError(f"Module.to: unexpected arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, str) and device is None:
                device = a
            elif dtype is None:
                dtype = a
            else:
                raise TypeError(f"Module.to: expected to(dtype) or to(device), got {args!r}")
        if device is not None and str(device) != "cpu":
            raise ValueError(
                f"Module.to: device {device!r} is not available: tinygrad_bp runs on NumPy on "
                f"the CPU only (write .to('cpu') or leave it out)"
            )
        if dtype is not None:
            try:
                dt = np.dtype(dtype)
            except TypeError:
                raise TypeError(f"Module.to: {dtype!r} is not a dtype") from None
            if dt.kind != "f":
                raise TypeError(
                    f"Module.to: only floating dtypes are allowed, got {dt} (as PyTorch)"
                )
            for _, t in self._named_state():
                if t.data.dtype.kind == "f" and t.data.dtype != dt:
                    t.data = t.data.astype(dt)
                    if t.grad is not None:
                        t.grad = t.grad.astype(dt)
        return self

    def double(self) -> Module:
        """Cast every floating parameter and buffer to float64 (``to(np.float64)``)."""
        return self.to(np.float64)

    def float(self) -> Module:
        """Cast every floating parameter and buffer to float32 (``to(np.float32)``)."""
        return self.to(np.float32)

    # -------------------------------------------------------------- hooks
    def register_forward_pre_hook(self, hook: Any) -> RemovableHandle:
        """``hook(module, args)`` before every forward; it may return new args (a tuple,
        or one value for a single argument), as PyTorch."""
        return self._hook_list("pre").add(hook, "register_forward_pre_hook")

    def register_forward_hook(self, hook: Any) -> RemovableHandle:
        """``hook(module, args, output)`` after every forward; it may return a new
        output, as PyTorch."""
        return self._hook_list("post").add(hook, "register_forward_hook")

    def register_full_backward_hook(self, hook: Any) -> RemovableHandle:
        """``hook(module, grad_input, grad_output)`` when the gradients with respect to
        the module's inputs are computed (tuples of arrays, ``None`` for an input that
        needs no gradient); it may return a new ``grad_input``, as PyTorch."""
        return self._hook_list("backward").add(hook, "register_full_backward_hook")

    def _hook_list(self, kind: str) -> _HookList:
        if self.__dict__.get("_hooks") is None:
            object.__setattr__(self, "_hooks", _Hooks())
        return getattr(self._hooks, kind)

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

    def load_state_dict(self, state: dict[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy arrays into the parameters and buffers, in place; names, shapes and dtype
        kinds (real numbers only) are all checked first, then all are assigned or none.

        ``strict=True`` refuses a state whose names differ from the model's;
        ``strict=False`` loads the names both have.  Returns ``(missing_keys,
        unexpected_keys)`` as PyTorch (empty lists under ``strict=True``)."""
        from ..serialization import load_into

        if not isinstance(strict, bool):
            raise TypeError(f"load_state_dict: strict must be a bool, got {strict!r}")
        if not strict and isinstance(state, dict):
            own = {n for n, _ in self._named_state()}
            missing = [n for n, _ in self._named_state() if n not in state]
            unexpected = [k for k in state if k not in own]
            load_into(self, {k: v for k, v in state.items() if k in own}, "load_state_dict",
                      strict=False)  # fmt: skip
            return IncompatibleKeys(missing, unexpected)
        load_into(self, state, "load_state_dict")
        return IncompatibleKeys([], [])

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


class IncompatibleKeys(NamedTuple):
    """What :meth:`Module.load_state_dict` returns, as PyTorch's ``_IncompatibleKeys``."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class RemovableHandle:
    """What the ``register_*_hook`` methods return: ``handle.remove()`` takes the hook
    off again."""

    def __init__(self, hooks: dict[int, Any], key: int) -> None:
        self._hooks, self.id = hooks, key

    def remove(self) -> None:
        self._hooks.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()


class _HookList:
    _next = 0

    def __init__(self) -> None:
        self.hooks: dict[int, Any] = {}

    def add(self, hook: Any, where: str) -> RemovableHandle:
        if not callable(hook):
            raise TypeError(f"{where}: hook must be callable, got {type(hook).__name__}")
        _HookList._next += 1
        self.hooks[_HookList._next] = hook
        return RemovableHandle(self.hooks, _HookList._next)


class _Hooks:
    """A module's forward, pre-forward and backward hooks, and the call that runs them."""

    def __init__(self) -> None:
        self.pre, self.post, self.backward = _HookList(), _HookList(), _HookList()

    def call(self, module: Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        for hook in list(self.pre.hooks.values()):
            new = hook(module, args)
            if new is not None:
                args = new if isinstance(new, tuple) else (new,)
        # the whole call inside the module's scope, the hooks' identity nodes included,
        # so that a picture still draws the call as one node
        token = _set_scope((module, args, kwargs or None, _get_scope()))
        try:
            back = self.backward.hooks
            if back:
                args, bridge = _wrap_inputs(module, args, back)
            out = module.forward(*args, **kwargs)
            for hook in list(self.post.hooks.values()):
                new = hook(module, args, out)
                if new is not None:
                    out = new
            if back:
                out = _wrap_outputs(out, bridge)
            return out
        finally:
            _reset_scope(token)


class _Bridge:
    """What a module's backward hooks share between its outputs' and its input's
    identity nodes: the output gradients, as they arrive."""

    def __init__(self, module: Module, hooks: dict[int, Any], n_in: int) -> None:
        self.module, self.hooks, self.n_in = module, hooks, n_in
        self.grad_output: list[Any] = []
        self.n_out = 0
        self.has_input = False

    def run(self, grad_input: tuple[Any, ...]) -> tuple[Any, ...]:
        go = tuple(self.grad_output) + (None,) * (self.n_out - len(self.grad_output))
        for hook in list(self.hooks.values()):
            new = hook(self.module, grad_input, go)
            if new is not None:
                new = new if isinstance(new, tuple) else (new,)
                if len(new) != len(grad_input):
                    raise RuntimeError(
                        f"register_full_backward_hook: the hook returned {len(new)} "
                        f"gradients for {len(grad_input)} inputs"
                    )
                grad_input = tuple(
                    None if g is None else np.asarray(g.data if isinstance(g, Tensor) else g)
                    for g in new
                )
        return grad_input


def _wrap_inputs(
    module: Module, args: tuple[Any, ...], hooks: dict[int, Any]
) -> tuple[tuple[Any, ...], _Bridge]:
    from ..autograd import Function

    grads = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
    if len(grads) > 1:
        raise RuntimeError(
            f"register_full_backward_hook: {type(module).__name__} was called with "
            f"{len(grads)} inputs that require grad; a backward hook here handles one (use "
            f"Tensor.register_hook on each input instead)"
        )
    bridge = _Bridge(module, hooks, len(args))
    if not grads:
        return args, bridge

    class BackwardHook(Function):
        @staticmethod
        def forward(ctx: Any, x: Tensor) -> Any:
            return x.data.view()

        @staticmethod
        def backward(ctx: Any, g: Tensor) -> Any:
            gi = bridge.run((g.data,))[0]
            return None if gi is None else Tensor(gi)

    i = grads[0]
    bridge.has_input = True
    return args[:i] + (BackwardHook.apply(args[i]),) + args[i + 1 :], bridge


def _wrap_outputs(out: Any, bridge: _Bridge) -> Any:
    from ..autograd import Function

    def wrap(t: Tensor) -> Tensor:
        k = bridge.n_out
        bridge.n_out += 1

        class BackwardHookOutput(Function):
            @staticmethod
            def forward(ctx: Any, x: Tensor) -> Any:
                return x.data.view()

            @staticmethod
            def backward(ctx: Any, g: Tensor) -> Any:
                while len(bridge.grad_output) <= k:
                    bridge.grad_output.append(None)
                bridge.grad_output[k] = g.data
                if not bridge.has_input and sum(x is not None for x in bridge.grad_output) == (
                    bridge.n_out
                ):  # no input needs a gradient: the hook sees grad_input (None, ...)
                    bridge.run((None,) * max(bridge.n_in, 1))
                return g

        return BackwardHookOutput.apply(t)

    if isinstance(out, Tensor):
        if not out.requires_grad:
            return out
        res = wrap(out)
    else:
        res = type(out)(wrap(t) if isinstance(t, Tensor) and t.requires_grad else t for t in out)
    return res


def _rng(seed: Any) -> np.random.Generator:
    """A generator from a seed, or the generator itself; ``None``: the library's generator
    that ``tg.manual_seed`` seeds."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        return default_generator()
    return np.random.default_rng(seed)
