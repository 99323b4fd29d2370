"""Scene building: what to draw (nodes, edges, labels) for a graph that has been read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..tensor import Tensor
from ._style import _CURRENT, _FILL, _GRAD, _MUTED, _PENDING, _SUP, _esc
from .read import _Ctx, _kind, _Layer


# ====================================================================== labels
def _shape(shape: tuple[int, ...]) -> str:
    return "scalar" if shape == () else "(" + ", ".join(map(str, shape)) + ")"


def _num(v: float) -> str:
    return f"{v:.3g}".replace("-", "−")


def _values(a: Any) -> str:
    if a.ndim == 0:
        return _num(float(a))
    if a.ndim == 1:
        return "[" + ", ".join(_num(float(v)) for v in a) + "]"
    return "[" + ", ".join(_values(r) for r in a) + "]"


def _display(ctx: _Ctx, t: Tensor) -> str:
    """A short name for captions: the tutorial's symbol, else the name, else the op."""
    name, sym = ctx.names.get(id(t), (None, None))
    return sym or name or (f"{t._op} output" if t._op else "tensor")


def _wrt(sym: str) -> str:
    """``∂L/∂h¹``; a compound symbol gets parentheses: ``∂L/∂(x·W¹)``."""
    return f"∂L/∂({sym})" if "·" in sym else f"∂L/∂{sym}"


def _grad_rows(ctx: _Ctx, t: Tensor, state: str) -> list[str]:
    """Gradient lines of a tensor node.  ``state``: "done", "current" or "pending"."""
    if not t.requires_grad:
        return [f'<font point-size="9" color="{_MUTED}">no gradient needed</font>']
    name, sym = ctx.names.get(id(t), (None, None))
    what = _wrt(sym) if sym else "grad"
    g = ctx.grads.get(id(t))
    if state == "pending":
        return [f'<font color="{_PENDING}">{_esc(what)} = ?</font>']
    if g is None:
        return [f'<font color="{_MUTED}">{_esc(what)}: no gradient reached it</font>']
    color = _CURRENT if state == "current" else _GRAD
    if g.shape == () and g.values is not None:
        return [f'<font color="{color}">{_esc(what)} = {_esc(_values(g.values))}</font>']
    rows = [f'<font color="{color}">{_esc(what)} {_shape(g.shape)}  ‖·‖ = {_num(g.norm)}</font>']
    if g.values is not None:
        rows.append(f'<font color="{color}">= {_esc(_values(g.values))}</font>')
    return rows


def _table(rows: list[str]) -> str:
    body = "".join(f"<tr><td>{r}</td></tr>" for r in rows)
    return f'<<table border="0" cellborder="0" cellspacing="0" cellpadding="1">{body}</table>>'


def _tensor_label(ctx: _Ctx, t: Tensor, state: str = "done") -> str:
    name, sym = ctx.names.get(id(t), (None, None))
    rows = []
    head = []
    if name:
        head.append(f"<b>{_esc(name)}</b>")
    if sym and sym != name:
        head.append(f"<i>{_esc(sym)}</i>")
    if not head and _kind(t) == "const" and t.size == 1:
        head.append(f"const {_esc(_num(float(np.asarray(t.data).reshape(()))))}")
    elif not head:
        head.append({"const": "const", "param": "param", "input": "input"}.get(_kind(t), ""))
    if any(head):
        rows.append("  ".join(head))
    rows.append(f'<font point-size="10" color="{_MUTED}">{_shape(t.shape)} {t.dtype}</font>')
    if ctx.backward:
        rows += _grad_rows(ctx, t, state)
    return _table(rows)


_ACTS = {"relu", "sigmoid", "tanh"}
_UNARY_RULES = {
    "neg": "−g",
    "sum": "g broadcast back",
    "mean": "g/n broadcast back",
    "max": "g to the max entries",
    "reshape": "g reshaped back",
    "transpose": "g transposed back",
    "getitem": "g scattered into zeros",
    "cast": "g cast back",
    "exp": "g·out",
    "log": "g/x",
    "sqrt": "g/(2·out)",
    "relu": "g·[a > 0]",
    "sigmoid": "g·h·(1 − h)",
    "tanh": "g·(1 − h²)",
    "softmax": "s·(g − Σ g·s)",
    "log_softmax": "g − softmax·Σ g",
}
_BINARY_RULES = {
    "add": ("g", "g"),
    "sub": ("g", "−g"),
    "mul": ("g·v", "g·u"),
    "div": ("g/v", "−g·u/v²"),
    "pow": ("g·v·uᵛ⁻¹", "g·uᵛ·ln u"),
}


def _rule_lines(ctx: _Ctx, t: Tensor) -> list[str]:
    """The op's local derivative rule, one line per input that needs a gradient."""
    op = t._op or ""
    ps = t._parents
    need = [p.requires_grad for p in ps]
    layer = next((L for L in ctx.layers if t is L.xw or t is L.a), None)
    if op == "cross_entropy":
        return ["∂/∂z = (softmax − y)/N"]
    if op == "matmul" and len(ps) == 2:
        x, w = ("x", "W") if layer is not None else ("A", "B")
        lines = []
        if need[1]:
            lines.append(f"d{w} = {x}ᵀ·g")
        if need[0]:
            lines.append(f"d{x} = g·{w}ᵀ")
        return lines
    if op in _BINARY_RULES and len(ps) == 2:
        names = ("(xW)", "b") if layer is not None else ("u", "v")
        return [f"∂/∂{n} = {r}" for n, r, k in zip(names, _BINARY_RULES[op], need) if k]
    if op.startswith("pow ") and len(ps) == 1:
        p = float(op.split()[1])
        return ["∂/∂a = g·2·a" if p == 2 else f"∂/∂a = g·{p:g}·a^{p - 1:g}"]
    if op in _UNARY_RULES:
        var = "a" if op in _ACTS else "x"
        return [f"∂/∂{var} = {_UNARY_RULES[op]}"]
    return []


def _op_label(ctx: _Ctx, t: Tensor, state: str = "done") -> str:
    rows = [f"<b>{_esc(t._op or '?')}</b>"]
    if ctx.backward:
        color = {"pending": _PENDING, "current": _CURRENT}.get(state, _GRAD)
        rows += [
            f'<font point-size="11" color="{color}">{_esc(r)}</font>' for r in _rule_lines(ctx, t)
        ]
    return _table(rows)


def _broadcast_mark(p: Tensor, t: Tensor) -> str | None:
    """Where an elementwise op broadcast ``p`` up to ``t``'s shape, the engine sums the
    gradient back: name the summed axes ("Σ over batch" for a bias)."""
    base = t._op.split()[0] if t._op else ""
    if base not in _BINARY_RULES or p.shape == t.shape or not p.requires_grad:
        return None
    lead = t.ndim - p.ndim
    axes = list(range(lead)) + [
        lead + i for i, n in enumerate(p.shape) if n == 1 and t.shape[lead + i] != 1
    ]
    if not axes:
        return None
    if axes == [0] and t.ndim >= 2:
        return "Σ over batch"
    return "Σ over axes " + ", ".join(map(str, axes))


# ====================================================================== scenes
@dataclass
class _Scene:
    nodes: list[tuple[Any, dict[str, str]]]
    edges: list[tuple[Any, Any, dict[str, str]]]
    root: Any
    view: str
    note: str | None = None
    # key -> tensor whose label/state a node shows (for step frames)
    tensor_of: dict[Any, Tensor] = field(default_factory=dict)
    # edge index -> the tensor whose processing sends gradient along the edge
    edge_owner: dict[int, Tensor] = field(default_factory=dict)


def _tensor_attrs(ctx: _Ctx, t: Tensor) -> dict[str, str]:
    kind = _kind(t)
    attrs = {"shape": "box", "label": _tensor_label(ctx, t), "fillcolor": _FILL[kind]}
    if kind == "param":
        attrs["style"] = "filled"
        attrs["color"] = "#b8860b"
    elif kind == "const":
        attrs["style"] = "filled,dashed"
        attrs["color"] = "#888888"
        attrs["fontcolor"] = "#555555"
    elif kind == "input":
        attrs["style"] = "filled"
    else:
        attrs["style"] = "filled,rounded"
        attrs["color"] = "#5b7fa6"
    if t is ctx.root:
        attrs["penwidth"] = "2.5"
    return attrs


def _edge_attrs(ctx: _Ctx, flows: bool, mark: str | None = None, label: str | None = None):
    attrs: dict[str, str] = {}
    text = label
    if ctx.backward:
        if flows:
            attrs.update(dir="back", color=_GRAD, penwidth="1.6")
        else:  # no gradient goes this way (an input, a constant, class labels)
            attrs.update(dir="none", style="dotted", color=_PENDING)
        if mark:
            text = mark if text is None else f"{text}\n{mark}"
            attrs["fontcolor"] = _GRAD
    elif mark:
        text = "broadcast" if text is None else f"{text}\nbroadcast"
        attrs["fontcolor"] = _MUTED
    if text:
        attrs["label"] = text
        attrs["fontsize"] = "10"
    return attrs


def _op_attrs(ctx: _Ctx, t: Tensor) -> dict[str, str]:
    return {
        "shape": "ellipse",
        "label": _op_label(ctx, t),
        "style": "filled",
        "fillcolor": _FILL["op"],
        "color": _MUTED,
    }


def _full_scene(ctx: _Ctx) -> _Scene:
    s = _Scene([], [], ("t", ctx.root._seq), "forward")
    for t in ctx.tensors:
        tk = ("t", t._seq)
        if t._parents:
            ok = ("o", t._seq)
            s.nodes.append((ok, _op_attrs(ctx, t)))
            s.tensor_of[ok] = t
            for p in t._parents:
                s.edge_owner[len(s.edges)] = t
                s.edges.append(
                    (("t", p._seq), ok, _edge_attrs(ctx, p.requires_grad, _broadcast_mark(p, t)))
                )
            s.edge_owner[len(s.edges)] = t
            s.edges.append((ok, tk, _edge_attrs(ctx, True)))
        s.nodes.append((tk, _tensor_attrs(ctx, t)))
        s.tensor_of[tk] = t
    return s


def _group_label(ctx: _Ctx, L: _Layer) -> str:
    act = f", {L.module.activation}" if L.module.activation else ""
    call = "" if L.call == 1 else f" (call {L.call})"
    sup = str(L.index).translate(_SUP)
    insym = ctx.names.get(id(L.x), (None, None))[1] or "x"
    rows = [
        f"<b>Dense {L.module.in_features}→{L.module.out_features}{act}</b>",
        f'<font point-size="10" color="{_MUTED}">layer {_esc(L.name)}{call}: '
        f"a{sup} = {_esc(insym)}·W{sup} + b{sup}"
        + (f", h{sup} = {L.module.activation}(a{sup})" if act else "")
        + "</font>",
    ]
    if ctx.backward:
        for p, sym in ((L.module.W, f"W{sup}"), (L.module.b, f"b{sup}"), (L.out, None)):
            g = ctx.grads.get(id(p))
            sym = sym or ctx.names.get(id(p), (None, None))[1] or "h"
            if g is None:
                rows.append(f'<font color="{_MUTED}">{_esc(_wrt(sym))}: none</font>')
                continue
            extra = " (Σ over batch)" if p is L.module.b and L.a.ndim >= 2 else ""
            rows.append(
                f'<font color="{_GRAD}">{_esc(_wrt(sym))} {_shape(g.shape)}  '
                f"‖·‖ = {_num(g.norm)}{extra}</font>"
            )
    return _table(rows)


def _collapsed_scene(ctx: _Ctx) -> _Scene:
    s = _Scene([], [], None, "collapsed")
    member: dict[int, tuple[str, int]] = {}
    for i, L in enumerate(ctx.layers):
        for t in L.members:
            member[id(t)] = ("g", i)
    consumers: dict[int, list[Tensor]] = {}
    for t in ctx.tensors:
        for p in t._parents:
            consumers.setdefault(id(p), []).append(t)
    # a layer's W and b disappear into it when nothing outside the layers uses them
    params = {id(L.module.W) for L in ctx.layers} | {id(L.module.b) for L in ctx.layers}
    dropped = {
        id(t)
        for t in ctx.tensors
        if id(t) in params and all(id(c) in member for c in consumers.get(id(t), []))
    }

    def key(t: Tensor) -> Any:
        return member.get(id(t), ("t", t._seq))

    added: set[Any] = set()
    seen_edges: set[tuple[Any, Any]] = set()

    def edge(src: Any, dst: Any, p: Tensor, owner: Tensor, mark: str | None = None) -> None:
        if (src, dst) in seen_edges and src[0] == "g":
            return
        seen_edges.add((src, dst))
        label = None
        if src[0] == "g":
            name, sym = ctx.names.get(id(p), (None, None))
            label = f"{sym or name or ''} {_shape(p.shape)}".strip()
        s.edge_owner[len(s.edges)] = owner
        s.edges.append((src, dst, _edge_attrs(ctx, p.requires_grad, mark, label)))

    for t in ctx.tensors:
        if id(t) in member:
            g = member[id(t)]
            L = ctx.layers[g[1]]
            if g not in added:
                added.add(g)
                s.nodes.append(
                    (
                        g,
                        {
                            "shape": "box3d",
                            "style": "filled",
                            "fillcolor": _FILL["group"],
                            "color": "#38761d",
                            "label": _group_label(ctx, L),
                        },
                    )
                )
                s.tensor_of[g] = L.out
            for p in t._parents:
                if id(p) in dropped or key(p) == g:
                    continue
                edge(key(p), g, p, L.out)
            if t is ctx.root:
                s.root = g
            continue
        if id(t) in dropped:
            continue
        tk = ("t", t._seq)
        if t._parents:
            ok = ("o", t._seq)
            s.nodes.append((ok, _op_attrs(ctx, t)))
            s.tensor_of[ok] = t
            for p in t._parents:
                if id(p) not in dropped:
                    edge(key(p), ok, p, t, _broadcast_mark(p, t))
            s.edge_owner[len(s.edges)] = t
            s.edges.append((ok, tk, _edge_attrs(ctx, True)))
        s.nodes.append((tk, _tensor_attrs(ctx, t)))
        s.tensor_of[tk] = t
        if t is ctx.root:
            s.root = tk
    return s


def _truncate(s: _Scene, max_nodes: int) -> tuple[_Scene, int]:
    """Keep the ``max_nodes - 1`` nodes nearest the root (walking edges backwards) and one
    node standing for the rest."""
    incoming: dict[Any, list[Any]] = {}
    for src, dst, _ in s.edges:
        incoming.setdefault(dst, []).append(src)
    keep = {s.root}
    queue = [s.root]
    limit = max(max_nodes - 1, 1)
    while queue and len(keep) < limit:
        nxt = []
        for k in queue:
            for src in incoming.get(k, []):
                if src not in keep and len(keep) < limit:
                    keep.add(src)
                    nxt.append(src)
        queue = nxt
    hidden = len(s.nodes) - len(keep)
    more = ("more", 0)
    out = _Scene([], [], s.root, "truncated", tensor_of=s.tensor_of)
    out.nodes.append(
        (
            more,
            {
                "shape": "note",
                "style": "filled,dashed",
                "fillcolor": _FILL["more"],
                "color": _MUTED,
                "fontcolor": _MUTED,
                "label": f"… {hidden} earlier nodes\nnot shown",
            },
        )
    )
    out.nodes += [(k, a) for k, a in s.nodes if k in keep]
    linked: set[Any] = set()
    for i, (src, dst, attrs) in enumerate(s.edges):
        if dst not in keep:
            continue
        if src in keep:
            if i in s.edge_owner:
                out.edge_owner[len(out.edges)] = s.edge_owner[i]
            out.edges.append((src, dst, attrs))
        elif dst not in linked:
            linked.add(dst)
            out.edges.append((more, dst, {"style": "dashed", "color": _MUTED}))
    return out, hidden


def _build_scene(ctx: _Ctx, collapse: bool, max_nodes: int, model: Any, fn: str) -> _Scene:
    full = None
    if collapse:
        if model is None:
            raise ValueError(
                f"{fn}: collapse=True needs model= (the module whose Dense "
                "layers to draw as one node each)"
            )
        if not ctx.layers:
            raise ValueError(
                f"{fn}: collapse=True, but no Dense layer of the model is in this graph"
            )
        scene = _collapsed_scene(ctx)
    else:
        full = scene = _full_scene(ctx)
    if len(scene.nodes) > max_nodes and not collapse and ctx.layers:
        collapsed = _collapsed_scene(ctx)
        collapsed.note = (
            f"The graph has {len(scene.nodes)} nodes (more than max_nodes={max_nodes}): "
            "each Dense layer is drawn as one node. Pass a larger max_nodes to see all."
        )
        scene = collapsed
    if len(scene.nodes) > max_nodes:
        total = len((full or scene).nodes)
        scene, hidden = _truncate(full or scene, max_nodes)
        scene.note = (
            f"The graph has {total} nodes (more than max_nodes={max_nodes}): only the "
            f"{len(scene.nodes) - 1} nearest the output are drawn. Pass a larger max_nodes "
            "to see all."
        )
    if ctx.backward:
        scene.view += "+backward"
    return scene
