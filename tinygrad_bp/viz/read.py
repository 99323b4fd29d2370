"""Reading the graph: its nodes, their names, and the gradients the picture shows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import autograd
from ..tensor import Tensor
from ._style import _SUP


# ====================================================================== reading the graph
@dataclass
class _Layer:
    """One call of a Dense layer found in the graph: ``a = x·W + b``, ``h = act(a)``."""

    name: str  # the module's dotted name, "0"
    index: int  # 1-based among the model's Dense layers: the tutorial's superscript
    module: Any
    call: int
    x: Tensor
    xw: Tensor
    a: Tensor
    h: Tensor | None

    @property
    def out(self) -> Tensor:
        return self.h if self.h is not None else self.a

    @property
    def members(self) -> tuple[Tensor, ...]:
        return (self.xw, self.a) + ((self.h,) if self.h is not None else ())


@dataclass(frozen=True)
class _Grad:
    shape: tuple[int, ...]
    norm: float
    values: Any  # the array when it has at most six elements, else None


@dataclass
class _Ctx:
    root: Tensor
    tensors: list[Tensor]  # every node of the graph, in creation (_seq) order
    names: dict[int, tuple[str | None, str | None]]  # id -> (name, the tutorial's symbol)
    layers: list[_Layer]
    backward: bool
    grads: dict[int, _Grad]
    order: list[Tensor]  # backward processing order (from the engine's hook)


def _check_root(root: Any, fn: str) -> Tensor:
    if not isinstance(root, Tensor):
        raise TypeError(f"{fn}: root must be a Tensor, got {type(root).__name__}")
    if not root._parents:
        raise ValueError(
            f"{fn}: the tensor (shape {root.shape}) has no recorded history: it is a leaf, "
            "or it was computed under no_grad() or only from tensors that do not require "
            "grad, so there is no graph to draw"
        )
    return root


def _collect(root: Tensor) -> list[Tensor]:
    seen: dict[int, Tensor] = {id(root): root}
    stack = [root]
    while stack:
        t = stack.pop()
        for p in t._parents:
            if id(p) not in seen:
                seen[id(p)] = p
                stack.append(p)
    return sorted(seen.values(), key=lambda t: t._seq)


def _kind(t: Tensor) -> str:
    if t._parents:
        return "tensor"
    if t.requires_grad:
        return "param"
    return "const" if t._op == "const" else "input"


def _dense_layers(tensors: list[Tensor], model: Any) -> list[_Layer]:
    from ..nn import Dense  # nn imports numpy only; kept local so viz stays a leaf module

    consumers: dict[int, list[Tensor]] = {}
    for t in tensors:
        for p in t._parents:
            consumers.setdefault(id(p), []).append(t)
    layers: list[_Layer] = []
    index = 0
    for name, mod in model.modules():
        if not isinstance(mod, Dense):
            continue
        index += 1
        call = 0
        for t in tensors:
            if t._op != "add" or len(t._parents) != 2 or t._parents[1] is not mod.b:
                continue
            xw = t._parents[0]
            if xw._op != "matmul" or len(xw._parents) != 2 or xw._parents[1] is not mod.W:
                continue
            h = None
            if mod.activation is not None:
                for c in consumers.get(id(t), []):
                    if c._op == mod.activation and len(c._parents) == 1:
                        h = c
                        break
            call += 1
            layers.append(_Layer(name or "dense", index, mod, call, xw._parents[0], xw, t, h))
    layers.sort(key=lambda L: L.a._seq)
    return layers


def _naming(ctx_tensors: list[Tensor], root: Tensor, model: Any, layers: list[_Layer]) -> dict:
    names: dict[int, tuple[str | None, str | None]] = {}
    in_graph = {id(t) for t in ctx_tensors}
    if model is not None:
        for n, p in model.named_parameters():
            if id(p) in in_graph:
                names[id(p)] = (n, None)
    for t in ctx_tensors:  # names the user gave win over derived ones (not over the model's)
        if t.name and id(t) not in names:
            names[id(t)] = (t.name, None)
    for L in layers:
        sup = str(L.index).translate(_SUP)
        names[id(L.module.W)] = (names.get(id(L.module.W), (None,))[0], f"W{sup}")
        names[id(L.module.b)] = (names.get(id(L.module.b), (None,))[0], f"b{sup}")
        if id(L.x) not in names and not L.x._parents and not L.x.requires_grad:
            names[id(L.x)] = ("x", "x")
        insym = names.get(id(L.x), (None, None))[1] or "x"
        at = "" if L.call == 1 else f"@{L.call}"
        for t, suffix, sym in (
            (L.xw, "xW", f"{insym}·W{sup}"),
            (L.a, "a", f"a{sup}"),
            (L.h, "h", f"h{sup}"),
        ):
            if t is not None and (id(t) not in names or names[id(t)][1] is None):
                names[id(t)] = (names.get(id(t), (None,))[0] or f"{L.name}.{suffix}{at}", sym)
    for t in ctx_tensors:
        if t._op == "cross_entropy" and len(t._parents) == 2:
            y = t._parents[1]
            if id(y) not in names:
                names[id(y)] = ("y", "y")
    if id(root) not in names or names[id(root)][1] is None:
        own = names.get(id(root), (None,))[0]
        if root.size == 1:
            names[id(root)] = (own or "loss", "L")
        else:
            names[id(root)] = (own or "output", None)
    return names


def _summary(g: Any) -> _Grad:
    arr = np.asarray(g)
    norm = float(np.sqrt(np.sum(np.square(arr, dtype=np.float64))))
    return _Grad(tuple(arr.shape), norm, arr.copy() if arr.size <= 6 else None)


def _seed(root: Tensor, grad: Any, fn: str) -> Any:
    if grad is None:
        if root.size != 1:
            raise ValueError(
                f"{fn}: the root has shape {root.shape}, not one element; pass grad= (the "
                f"gradient to start from) of that shape"
            )
        return np.ones(root.shape, dtype=root.dtype)
    seed = np.asarray(grad.data if isinstance(grad, Tensor) else grad)
    if seed.shape != root.shape:
        raise ValueError(f"{fn}: grad must have the root's shape {root.shape}, got {seed.shape}")
    return seed.astype(root.dtype)


def _gradients(root: Tensor, tensors: list[Tensor], grad: Any, fn: str):
    for t in tensors:
        if t._parents and autograd.is_freed(t):
            where = "the root" if t is root else f"a {t._op} node of shape {t.shape}"
            call = "draw_graph(..., backward=True)" if fn == "draw_graph" else f"{fn}(...)"
            raise RuntimeError(
                f"{fn}: the graph's saved values were freed by an earlier backward() (at "
                f"{where}), so its gradients cannot be computed again; call "
                f"{call} before .backward(), or call "
                "backward(retain_graph=True)"
            )
    seed = _seed(root, grad, fn)
    grads: dict[int, _Grad] = {}
    order: list[Tensor] = []

    def hook(node: Tensor, g: Any) -> None:
        grads[id(node)] = _summary(g)
        order.append(node)

    autograd.backward(root, seed, retain_graph=True, hook=hook, accumulate=False)
    return grads, order


def _context(root: Any, model: Any, backward: bool, grad: Any, fn: str) -> _Ctx:
    root = _check_root(root, fn)
    if model is not None and not hasattr(model, "named_parameters"):
        raise TypeError(f"{fn}: model must be an nn.Module, got {type(model).__name__}")
    tensors = _collect(root)
    layers = _dense_layers(tensors, model) if model is not None else []
    names = _naming(tensors, root, model, layers)
    grads: dict[int, _Grad] = {}
    order: list[Tensor] = []
    if backward:
        grads, order = _gradients(root, tensors, grad, fn)
    return _Ctx(root, tensors, names, layers, backward, grads, order)
