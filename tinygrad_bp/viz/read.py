"""Reading the graph: its nodes, the module calls that made them, names and gradients.

Everything here reads the graph's nodes through their public attributes (``.parents``,
``.op``, ``.shape``, ``.dtype``, ``.data``, ``.grad``, ``.requires_grad``, ``.is_leaf``,
``.scope``: the module call each node was made in).  Gradients come from the
engine through one call, :func:`_engine_gradients`; after a plain ``backward()`` (which
frees the graph's saved values) they are read from ``.grad`` instead, and nothing is
recomputed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import autograd
from ..autograd import Released
from ..tensor import Tensor
from ._style import _SUP

_SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


@dataclass
class _Layer:
    """The article's names inside one call of a Dense layer: ``a = x·W + b``, ``h = act(a)``."""

    index: int  # 1-based among the model's Dense layers: the tutorial's superscript
    x: Tensor
    xw: Tensor
    a: Tensor
    h: Tensor | None

    @property
    def out(self) -> Tensor:
        return self.h if self.h is not None else self.a


@dataclass(eq=False)
class _Call:
    """One call of a module found in the graph, from the scope its nodes were made in."""

    module: Any
    name: str  # the module's dotted name ("0", "encoder.cell"), or its class name
    inputs: list[Tensor]  # the Tensor arguments, in order
    outputs: list[Tensor]
    members: list[Tensor] = field(default_factory=list)  # nodes the call made, in graph order
    number: int = 1  # 1-based among the calls of the same module (a recurrent cell's step)
    calls: int = 1  # how many calls of this module the graph holds
    parent: _Call | None = None
    children: list[_Call] = field(default_factory=list)
    layer: _Layer | None = None  # the article's names, for a Dense layer
    depth: int = 0  # how many drawn calls enclose this one (0 = outermost)
    record: Any = None  # the scope (module, args, kwargs, parent) Module.__call__ set

    @property
    def title(self) -> str:
        """``Conv2d(1, 8, kernel_size=3)``: the class and its configuration."""
        extra = self.module.extra_repr() if hasattr(self.module, "extra_repr") else ""
        return f"{type(self.module).__name__}({extra})"

    @property
    def label(self) -> str:
        """The name with the step when the module is called more than once."""
        return self.name if self.calls == 1 else f"{self.name} (call {self.number})"


@dataclass(frozen=True)
class _Grad:
    shape: tuple[int, ...]
    norm: float
    values: Any  # the array when it has at most six elements, else None
    mean: float = 0.0


@dataclass
class _Ctx:
    root: Tensor
    tensors: list[Tensor]  # every node of the graph, parents before children
    index: dict[int, int]  # id -> position in tensors (the node's key in the scene)
    names: dict[int, tuple[str | None, str | None]]  # id -> (name, the tutorial's symbol)
    calls: list[_Call]
    backward: bool
    grads: dict[int, _Grad]
    order: list[Tensor]  # backward processing order (from the engine's hook)
    after_backward: bool = False  # gradients read from .grad: inner ones may be not kept
    note: str | None = None
    raw: dict[int, Any] | None = None  # id -> the gradient array (module_stats only)

    @property
    def layers(self) -> list[_Layer]:
        return [c.layer for c in self.calls if c.layer is not None]

    def key(self, t: Tensor) -> int:
        return self.index[id(t)]


def _check_root(root: Any, fn: str) -> Tensor:
    if not isinstance(root, Tensor):
        raise TypeError(f"{fn}: root must be a Tensor, got {type(root).__name__}")
    if not root.parents:
        raise ValueError(
            f"{fn}: the tensor (shape {root.shape}) has no recorded history: it is a leaf, "
            "or it was computed under no_grad() or only from tensors that do not require "
            "grad, so there is no graph to draw"
        )
    return root


def _collect(root: Tensor) -> list[Tensor]:
    """Every node, parents before children, in an order fixed by the program alone
    (a depth-first walk over each node's parents in order): byte-identical DOT."""
    order: list[Tensor] = []
    done: set[int] = set()
    stack: list[tuple[Tensor, int]] = [(root, 0)]
    entered = {id(root)}
    while stack:
        t, i = stack.pop()
        ps = t.parents
        if i < len(ps):
            stack.append((t, i + 1))
            p = ps[i]
            if id(p) not in entered:
                entered.add(id(p))
                stack.append((p, 0))
            continue
        if id(t) not in done:
            done.add(id(t))
            order.append(t)
    return order


def _kind(t: Tensor) -> str:
    if t.parents:
        return "tensor"
    if t.requires_grad:
        return "param"
    return "const" if t.op == "const" else "input"


def _value(t: Tensor) -> Any:
    """The node's array, or None when the engine released it."""
    d = t.data
    return None if isinstance(d, Released) else d


# ---------------------------------------------------------------------- module calls
def _tensors_in(obj: Any) -> Iterator[Tensor]:
    if isinstance(obj, Tensor):
        yield obj
    elif isinstance(obj, (tuple, list)):
        for v in obj:
            yield from _tensors_in(v)
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _tensors_in(v)


def _own_tensors(module: Any) -> set[int]:
    """Ids of every Tensor a module (and its sub-modules) holds: parameters and buffers."""
    ids: set[int] = set()
    mods = module.modules() if hasattr(module, "modules") else [("", module)]
    for _, m in mods:
        for v in vars(m).values():
            ids.update(id(t) for t in _tensors_in(v))
    return ids


def _module_names(calls: list[_Call], model: Any) -> dict[int, str]:
    """Dotted names: under ``model`` when given, else under each outermost called module."""
    names: dict[int, str] = {}
    tops = [model] if model is not None else []
    if model is None:
        inner = {id(m) for c in calls for _, m in list(c.module.modules())[1:]}
        for c in calls:
            if id(c.module) not in inner and all(c.module is not t for t in tops):
                tops.append(c.module)
    for top in tops:
        prefix = "" if model is not None or len(tops) == 1 else type(top).__name__
        for name, m in top.modules():
            full = ".".join(x for x in (prefix, name) if x)
            names.setdefault(id(m), full or type(m).__name__)
    return names


def _module_calls(tensors: list[Tensor], index: dict[int, int], model: Any) -> list[_Call]:
    """The module calls the graph's nodes were made in: each node's ``scope`` stamp (the
    ``(module, args, kwargs, parent)`` that ``Module.__call__`` set, see
    :data:`~tinygrad_bp.autograd.SCOPE`) and its enclosing scopes.  A call's members are
    the nodes made inside it, with the module's own parameters and buffers and the
    constants its ops made; its outputs, the members that the graph uses outside it (or
    the root)."""
    from ..nn import Dense, Module

    by_scope: dict[int, _Call] = {}
    consumers: dict[int, list[Tensor]] = {}
    for t in tensors:
        for p in t.parents:
            consumers.setdefault(id(p), []).append(t)
        s = t.scope
        while s is not None:
            owner, args, kwargs, parent = s
            if isinstance(owner, Module):
                c = by_scope.get(id(s))
                if c is None:
                    inputs = list(_tensors_in((args, kwargs)))
                    c = by_scope[id(s)] = _Call(owner, "", inputs, [], record=s)
                c.members.append(t)
            s = parent
    calls = []
    for c in by_scope.values():
        own = _own_tensors(c.module)
        # a leaf computed inside (under no_grad, or from constants only) is drawn beside it
        found = [x for x in c.members if x.parents or id(x) in own or x.op == "const"]
        member = {id(x) for x in found}
        for x in list(found):
            for p in x.parents:
                if not p.parents and id(p) not in member and (id(p) in own or p.op == "const"):
                    member.add(id(p))
                    found.append(p)
        outputs = [
            o
            for o in found
            if o.parents
            and (o is tensors[-1] or any(id(u) not in member for u in consumers.get(id(o), ())))
        ]
        if not outputs:
            continue  # returned its input unchanged (an identity, dropout in eval): no node
        c.outputs = sorted(outputs, key=lambda x: index[id(x)])
        c.members = sorted(found, key=lambda x: index[id(x)])
        calls.append(c)
    kept = {id(c.record): c for c in calls}
    for c in calls:  # the nearest enclosing call that is drawn
        s = c.record[3]
        while s is not None and id(s) not in kept:
            s = s[3]
        if s is not None:
            c.parent = kept[id(s)]
    for c in calls:
        up = c.parent
        while up is not None:
            c.depth, up = c.depth + 1, up.parent
    # Order the calls as the graph does (by their first output), inner before outer.
    calls.sort(key=lambda c: (index[id(c.outputs[0])], -c.depth))
    for c in calls:
        if c.parent is not None:
            c.parent.children.append(c)
    names = _module_names(calls, model)
    counts: dict[int, int] = {}
    for c in calls:
        c.name = names.get(id(c.module), type(c.module).__name__)
        counts[id(c.module)] = counts.get(id(c.module), 0) + 1
        c.number = counts[id(c.module)]
    dense = [m for _, m in (model.modules() if model is not None else ())]
    dense = [m for m in dense if isinstance(m, Dense)]
    for c in calls:
        c.calls = counts[id(c.module)]
        if isinstance(c.module, Dense):
            if c.module not in dense:
                dense.append(c.module)
            c.layer = _dense_layer(c, dense.index(c.module) + 1)
    return calls


def _dense_layer(c: _Call, index: int) -> _Layer | None:
    """The matmul, add and activation nodes of a Dense call, if its graph is the usual one."""
    m = c.module
    out = c.outputs[0]
    h = out if m.activation is not None else None
    a = out.parents[0] if h is not None and len(out.parents) == 1 else out
    if a.op != "add" or len(a.parents) != 2 or a.parents[1] is not m.b:
        return None
    xw = a.parents[0]
    if xw.op != "matmul" or len(xw.parents) != 2 or xw.parents[1] is not m.W:
        return None
    return _Layer(index, xw.parents[0], xw, a, h)


# ---------------------------------------------------------------------- names
def _naming(ctx_tensors: list[Tensor], root: Tensor, model: Any, calls: list[_Call]) -> dict:
    names: dict[int, tuple[str | None, str | None]] = {}
    in_graph = {id(t) for t in ctx_tensors}
    named = [model] if model is not None else []
    for c in calls:
        if c.parent is None and all(c.module is not m for m in named):
            named.append(c.module)
    for top in named:
        prefix = "" if top is model or len(named) == 1 else f"{_call_name(calls, top)}."
        for n, p in top.named_parameters():
            if id(p) in in_graph and id(p) not in names:
                names[id(p)] = (prefix + n, None)
    for t in ctx_tensors:  # names the user gave win over derived ones (not over the model's)
        if t.name and id(t) not in names:
            names[id(t)] = (t.name, None)
    for c in calls:
        L = c.layer
        if L is None:
            continue
        sup = str(L.index).translate(_SUP)
        m = c.module
        names[id(m.W)] = (names.get(id(m.W), (None,))[0], f"W{sup}")
        names[id(m.b)] = (names.get(id(m.b), (None,))[0], f"b{sup}")
        if id(L.x) not in names and not L.x.parents and not L.x.requires_grad:
            names[id(L.x)] = ("x", "x")
        insym = names.get(id(L.x), (None, None))[1] or "x"
        at = "" if c.calls == 1 else f"@{c.number}"
        for t, suffix, sym in (
            (L.xw, "xW", f"{_wrap(insym)}·W{sup}"),
            (L.a, "a", f"a{sup}"),
            (L.h, "h", f"h{sup}"),
        ):
            if t is not None and (id(t) not in names or names[id(t)][1] is None):
                names[id(t)] = (names.get(id(t), (None,))[0] or f"{c.name}.{suffix}{at}", sym)
    for t in ctx_tensors:
        ps = t.parents
        target = None
        if t.op == "cross_entropy" and len(ps) == 2:
            target = ps[1]
        elif t.op == "sub" and len(ps) == 2 and ps[0].requires_grad:
            # pred - target: a regression target, named as classification's labels are
            y = ps[1]
            if not y.parents and not y.requires_grad and y.shape == ps[0].shape and y.size > 1:
                target = y
        if target is not None and id(target) not in names:
            names[id(target)] = ("y", "y")
    if id(root) not in names or names[id(root)][1] is None:
        own = names.get(id(root), (None,))[0]
        if root.size == 1:
            names[id(root)] = (own or "loss", "L")
        else:
            names[id(root)] = (own or "output", None)
    _auto_names(ctx_tensors, names)
    return names


def _call_name(calls: list[_Call], module: Any) -> str:
    return next((c.name for c in calls if c.module is module), type(module).__name__)


def _auto_names(tensors: list[Tensor], names: dict) -> None:
    """A short symbol for every tensor the picture shows without a name, so that each
    op's rule can be written in names the picture shows: w (parameters), x (inputs),
    c (constants; a scalar constant is its value) and t (computed), numbered when several."""
    groups: dict[str, list[Tensor]] = {}
    for t in tensors:
        if names.get(id(t), (None, None)) != (None, None):
            continue
        kind = _kind(t)
        if kind == "const" and t.size == 1 and _value(t) is not None:
            v = float(np.asarray(_value(t)).reshape(()))
            names[id(t)] = (None, f"{v:.3g}".replace("-", "−"))
            continue
        groups.setdefault({"param": "w", "input": "x", "const": "c"}.get(kind, "t"), []).append(t)
    # a symbol a tensor already shows (a user's x = Tensor(..., name="x")) is not given
    # again: a derivative's graph has the user's x and the seed, an unnamed input, too
    taken = {v for pair in names.values() for v in pair if v}
    for letter, ts in groups.items():
        # numbered in the order the program made them (x₁ before x₂), not the walk's
        ts.sort(key=lambda t: getattr(t, "_seq", 0))
        if len(ts) == 1 and letter not in taken:
            names[id(ts[0])] = (None, letter)
            continue
        i = 0
        for t in ts:
            i += 1
            while letter + str(i).translate(_SUB) in taken:
                i += 1
            names[id(t)] = (None, letter + str(i).translate(_SUB))


_PLAIN = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_₀₁₂₃₄₅₆₇₈₉")


def _wrap(sym: str, postfix: bool = False) -> str:
    """A symbol as an operand: parenthesised unless it is one plain name (x, w₁, h¹).
    Before a postfix mark (ᵀ, ², ^) a superscript needs parentheses too: (h¹)ᵀ."""
    plain = set(sym) <= (_PLAIN if postfix else _PLAIN | set("⁰¹²³⁴⁵⁶⁷⁸⁹"))
    return sym if sym and plain and not sym[0].isdigit() else f"({sym})"


# ---------------------------------------------------------------------- gradients
def _summary(g: Any) -> _Grad:
    arr = np.asarray(g)
    norm = float(np.sqrt(np.sum(np.square(arr, dtype=np.float64))))
    mean = float(np.mean(arr, dtype=np.float64)) if arr.size else 0.0
    return _Grad(tuple(arr.shape), norm, arr.copy() if arr.size <= 6 else None, mean)


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


def _engine_gradients(root: Tensor, seed: Any) -> tuple[dict[int, Any], list[Tensor]]:
    """The gradient of every node of ``root``'s graph, and the order the engine completes
    them in: the picture's one call into the engine.  It keeps the graph and changes no
    ``.grad`` (``accumulate=False``)."""
    grads: dict[int, Any] = {}
    order: list[Tensor] = []

    def hook(node: Tensor, g: Any) -> None:
        grads[id(node)] = g
        order.append(node)

    autograd.backward(root, seed, retain_graph=True, hook=hook, accumulate=False)
    return grads, completion_order(order)


def completion_order(order: list[Tensor]) -> list[Tensor]:
    """The engine's processing order, with each leaf moved to just after the last node
    that sends it a gradient: the moment its gradient is complete.  (The walk takes the
    nodes newest first, and a leaf, made before the whole forward pass, comes off its heap
    last; ``backward()`` adds the leaves into ``.grad`` at its end.)  The step-through
    pictures and the live page show this order."""
    received = {id(t) for t in order}
    last: dict[int, Tensor] = {}  # leaf id -> the last node in order that sends to it
    for t in order:
        for p in t.parents:
            if not p.parents and id(p) in received:
                last[id(p)] = t
    after: dict[int, list[Tensor]] = {}
    for t in order:
        if not t.parents and id(t) in last:
            after.setdefault(id(last[id(t)]), []).append(t)
    out: list[Tensor] = []
    for t in order:
        if not t.parents and id(t) in last:
            continue  # placed after its last consumer
        out.append(t)
        out.extend(after.get(id(t), ()))
    return out


def _stored_gradients(root: Tensor, tensors: list[Tensor], grad: Any) -> dict[int, _Grad]:
    """After a plain backward(): each leaf's .grad, each retained inner node's .grad, and
    the root's seed; an inner node whose gradient was not kept has none."""
    out: dict[int, _Grad] = {}
    for t in tensors:
        if t.requires_grad and t.grad is not None:
            out[id(t)] = _summary(t.grad)
    if id(root) not in out and (grad is not None or root.size == 1):
        out[id(root)] = _summary(_seed(root, grad, "draw_graph"))
    return out


def _gradients(root: Tensor, tensors: list[Tensor], grad: Any, fn: str):
    """``(summaries, order, after_backward, arrays)``: from the engine while the graph keeps its
    saved values, else (the root's backward() freed them) from ``.grad``."""
    if autograd.is_freed(root):
        if fn == "backward_steps":
            raise RuntimeError(
                f"{fn}: backward() has already run on this graph and freed its saved values; "
                "the steps replay the engine's walk, so call backward_steps(...) before "
                ".backward(), or call backward(retain_graph=True); "
                "draw_graph(..., backward=True) draws the gradients after backward()"
            )
        kept = {id(t): t.grad for t in tensors if t.requires_grad and t.grad is not None}
        return _stored_gradients(root, tensors, grad), [], True, kept
    for t in tensors:
        if t.parents and autograd.is_freed(t):
            raise RuntimeError(
                f"{fn}: part of the graph (a {t.op} node of shape {t.shape}) was freed by "
                "the backward() of another result, so the gradients of this root cannot be "
                "computed or read: its .grad values come from that other backward(); call "
                f"{fn}(...) before that .backward(), or call backward(retain_graph=True)"
            )
    raw, order = _engine_gradients(root, _seed(root, grad, fn))
    return {k: _summary(g) for k, g in raw.items()}, order, False, raw


def _context(
    root: Any, model: Any, backward: bool, grad: Any, fn: str, keep_raw: bool = False
) -> _Ctx:
    root = _check_root(root, fn)
    if model is not None and not hasattr(model, "named_parameters"):
        raise TypeError(f"{fn}: model must be an nn.Module, got {type(model).__name__}")
    tensors = _collect(root)
    index = {id(t): i for i, t in enumerate(tensors)}
    calls = _module_calls(tensors, index, model)
    names = _naming(tensors, root, model, calls)
    grads: dict[int, _Grad] = {}
    order: list[Tensor] = []
    after = False
    raw = None
    if backward:
        grads, order, after, raw = _gradients(root, tensors, grad, fn)
    note = None
    if after:
        note = (
            "Drawn after backward(): each leaf's gradient is its .grad. "
            "An inner tensor's gradient is kept only if t.retain_grad() was called before "
            "backward()"
        )
    return _Ctx(
        root,
        tensors,
        index,
        names,
        calls,
        backward,
        grads,
        order,
        after,
        note,
        raw if keep_raw else None,
    )
