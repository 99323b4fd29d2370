"""Scene building: what to draw (nodes, edges, labels, clusters) for a graph that has been read.

A scene is plain data: a list of nodes with their Graphviz attributes, a list of edges,
and the clusters (an expanded module) that hold some nodes.  :mod:`.render` turns it into
DOT; nothing here imports the renderer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import ops
from ..tensor import Tensor
from ._style import _CURRENT, _FILL, _GRAD, _MUTED, _PENDING, _SUP, _esc
from .read import _Call, _Ctx, _kind, _value, _wrap

# Beyond these, a picture drawn in full is too large to read (Graphviz scales a PNG down
# to at most 32,767 pixels a side, and every word becomes a dot): fall back as for max_nodes.
MAX_DRAWN_NODES = 1500
MAX_RANKS = 250  # ranks of ~1 inch: about 24,000 pixels at 96 dpi


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


def _sym(ctx: _Ctx, t: Tensor) -> str:
    """The name a tensor has in the picture (every tensor has one: see read._auto_names)."""
    name, sym = ctx.names.get(id(t), (None, None))
    return sym or name or "?"


def _display(ctx: _Ctx, t: Tensor) -> str:
    """A short name for captions: the tutorial's symbol, else the name, else the op."""
    name, sym = ctx.names.get(id(t), (None, None))
    return sym or name or (f"{t.op} output" if t.op else "tensor")


def _wrt(sym: str) -> str:
    """``∂L/∂h¹``; a compound symbol gets parentheses: ``∂L/∂(x·W¹)``."""
    return f"∂L/∂{_wrap(sym)}"


def _value_row(t: Tensor) -> str | None:
    """The node's value, shown beside its gradient so that a learner can check the rule
    (for ``L = a·b``: ∂L/∂a is b's value)."""
    v = _value(t)
    if v is None:
        return f'<font point-size="10" color="{_MUTED}">value released</font>'
    return f"value = {_esc(_values(np.asarray(v)))}"


def _grad_rows(ctx: _Ctx, t: Tensor, state: str) -> list[str]:
    """Gradient lines of a tensor node.  ``state``: "done", "current" or "pending"."""
    if not t.requires_grad:
        return [f'<font point-size="9" color="{_MUTED}">no gradient needed</font>']
    what = _wrt(_sym(ctx, t))
    g = ctx.grads.get(id(t))
    if state == "pending":
        return [f'<font color="{_PENDING}">{_esc(what)} = ?</font>']
    if g is None:
        if ctx.after_backward and t.parents:
            return [
                f'<font point-size="10" color="{_MUTED}">{_esc(what)}: not kept '
                "(t.retain_grad() before backward() keeps it)</font>"
            ]
        return [f'<font color="{_MUTED}">{_esc(what)}: no gradient reached it</font>']
    color = _CURRENT if state == "current" else _GRAD
    rows = []
    if g.values is not None:
        vrow = _value_row(t)
        if vrow:
            rows.append(vrow)
    if g.shape == () and g.values is not None:
        return rows + [f'<font color="{color}">{_esc(what)} = {_esc(_values(g.values))}</font>']
    rows.append(
        f'<font color="{color}">{_esc(what)} {_shape(g.shape)}  ‖·‖ = {_num(g.norm)}</font>'
    )
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
        if name is None and _kind(t) == "const" and t.size == 1:
            head.append(f"const {_esc(sym)}")
        else:
            head.append(f"<i>{_esc(sym)}</i>")
    if head:
        rows.append("  ".join(head))
    rows.append(f'<font point-size="10" color="{_MUTED}">{_shape(t.shape)} {t.dtype}</font>')
    if ctx.backward:
        rows += _grad_rows(ctx, t, state)
    return _table(rows)


NO_RULE = "(no rule recorded)"


def _rule_lines(ctx: _Ctx, t: Tensor) -> list[str]:
    """The op's local derivative rule, one line per input that needs a gradient, in the
    names the picture shows; g is the gradient arriving at the op's output.  Each primitive
    declares its rule where it is defined (``tinygrad_bp.ops.PRIMITIVES``)."""
    op = t.op or ""
    base = op.split()[0] if op else ""
    ps = t.parents
    need = [p.requires_grad for p in ps]
    names = [_wrap(_sym(ctx, p)) for p in ps]
    post = [_wrap(_sym(ctx, p), postfix=True) for p in ps]
    y, yp = _wrap(_sym(ctx, t)), _wrap(_sym(ctx, t), postfix=True)
    if base == "pow" and len(ps) == 1 and len(op.split()) == 2:  # a ** number
        p = float(op.split()[1])
        x, xp = names[0], post[0]
        return [f"∂/∂{x} = g·2·{x}" if p == 2 else f"∂/∂{x} = g·{p:g}·{xp}^{p - 1:g}"]
    prim = ops.PRIMITIVE_OPS.get(base)
    rule = prim.rule if prim is not None else None
    if rule is None:
        return [NO_RULE]  # an op this picture does not know (a custom Function, a new op)
    if isinstance(rule, str) and rule.startswith("="):  # one sentence for the whole node
        return [rule[1:]]
    if isinstance(rule, (tuple, dict)):  # one rule per input (a dict: in its order)
        if len(ps) != len(rule):
            return [NO_RULE]
        fields = dict(zip(("u", "v"), names), **dict(zip(("up", "vp"), post)), y=y, yp=yp)
        fields.update(zip(("us", "vs"), (_sym(ctx, p) for p in ps)))
        items = rule.items() if isinstance(rule, dict) else enumerate(rule)
        return [f"∂/∂{names[i]} = {r.format(**fields)}" for i, r in items if need[i] and r]
    return [
        f"∂/∂{n} = {rule.format(x=n, xp=q, y=y, yp=yp)}"
        for n, q, k in zip(names, post, need)
        if k or len(ps) == 1
    ]


def _op_label(ctx: _Ctx, t: Tensor, state: str = "done") -> str:
    rows = [f"<b>{_esc(t.op or 'op')}</b>"]
    if ctx.backward:
        color = {"pending": _PENDING, "current": _CURRENT}.get(state, _GRAD)
        rows += [
            f'<font point-size="11" color="{color}">{_esc(r)}</font>' for r in _rule_lines(ctx, t)
        ]
    return _table(rows)


def _broadcast_mark(p: Tensor, t: Tensor) -> str | None:
    """Where an elementwise op broadcast ``p`` up to ``t``'s shape, the engine sums the
    gradient back: name the summed axes ("Σ over batch" for a bias)."""
    base = t.op.split()[0] if t.op else ""
    binary = base in ops.PRIMITIVE_OPS and ops.PRIMITIVE_OPS[base].family == "arithmetic"
    if not binary or len(t.parents) != 2 or p.shape == t.shape or not p.requires_grad:
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
    # expanded modules: (label, parent cluster index or None); node key -> cluster index
    clusters: list[tuple[str, int | None]] = field(default_factory=list)
    cluster_of: dict[Any, int] = field(default_factory=dict)


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
    s = _Scene([], [], ("t", ctx.key(ctx.root)), "forward")
    for t in ctx.tensors:
        tk = ("t", ctx.key(t))
        if t.parents:
            ok = ("o", ctx.key(t))
            s.nodes.append((ok, _op_attrs(ctx, t)))
            s.tensor_of[ok] = t
            for p in t.parents:
                s.edge_owner[len(s.edges)] = t
                s.edges.append(
                    (
                        ("t", ctx.key(p)),
                        ok,
                        _edge_attrs(ctx, p.requires_grad, _broadcast_mark(p, t)),
                    )
                )
            s.edge_owner[len(s.edges)] = t
            s.edges.append((ok, tk, _edge_attrs(ctx, True)))
        s.nodes.append((tk, _tensor_attrs(ctx, t)))
        s.tensor_of[tk] = t
    return s


# ---------------------------------------------------------------------- module nodes
def _grad_line(ctx: _Ctx, t: Tensor, sym: str, extra: str = "") -> str:
    g = ctx.grads.get(id(t))
    if g is None:
        why = "not kept" if ctx.after_backward and t.parents else "none"
        return f'<font color="{_MUTED}">{_esc(_wrt(sym))}: {why}</font>'
    return (
        f'<font color="{_GRAD}">{_esc(_wrt(sym))} {_shape(g.shape)}  '
        f"‖·‖ = {_num(g.norm)}{extra}</font>"
    )


def _stats_rows(ctx: _Ctx, t: Tensor) -> list[str]:
    """Activation statistics of a module's output (and its gradient's, when known)."""
    rows = []
    v = _value(t)
    if v is not None and np.asarray(v).size:
        a = np.asarray(v, dtype=np.float64)
        rows.append(
            f'<font point-size="10">out: mean {_num(float(a.mean()))}  std {_num(float(a.std()))}'
            f"  ‖·‖ {_num(float(np.sqrt(np.square(a).sum())))}</font>"
        )
    g = ctx.grads.get(id(t))
    if g is not None:
        rows.append(
            f'<font point-size="10" color="{_GRAD}">grad: mean {_num(g.mean)}  '
            f"‖·‖ {_num(g.norm)}</font>"
        )
    return rows


def _dense_label(ctx: _Ctx, c: _Call) -> str:
    L = c.layer
    m = c.module
    act = f", {m.activation}" if m.activation else ""
    call = "" if c.calls == 1 else f" (call {c.number})"
    sup = str(L.index).translate(_SUP)
    insym = ctx.names.get(id(L.x), (None, None))[1] or "x"
    rows = [
        f"<b>Dense {m.in_features}→{m.out_features}{act}</b>",
        f'<font point-size="10" color="{_MUTED}">layer {_esc(c.name)}{call}: '
        f"a{sup} = {_esc(_wrap(insym))}·W{sup} + b{sup}"
        + (f", h{sup} = {m.activation}(a{sup})" if act else "")
        + "</font>",
    ]
    if ctx.backward:
        for p, sym in ((m.W, f"W{sup}"), (m.b, f"b{sup}"), (L.out, None)):
            sym = sym or ctx.names.get(id(p), (None, None))[1] or "h"
            extra = " (Σ over batch)" if p is m.b and L.a.ndim >= 2 else ""
            rows.append(_grad_line(ctx, p, sym, extra))
    return _table(rows)


def _module_label(ctx: _Ctx, c: _Call) -> str:
    outs = ", ".join(_shape(o.shape) for o in c.outputs)
    rows = [
        f"<b>{_esc(c.title)}</b>",
        f'<font point-size="10" color="{_MUTED}">{_esc(c.label)} → {outs}</font>',
    ]
    if ctx.backward:
        own = {id(v) for v in vars(c.module).values() if isinstance(v, Tensor)}
        for t in c.members:
            if not t.parents and t.requires_grad and id(t) in own:
                name = next(n for n, v in vars(c.module).items() if v is t)
                # a parameter shared by every call (a recurrent cell's) has one gradient
                extra = f" (Σ over the {c.calls} calls)" if c.calls > 1 else ""
                rows.append(_grad_line(ctx, t, name, extra))
        for o in c.outputs:
            if o.requires_grad:
                rows.append(_grad_line(ctx, o, _sym(ctx, o) if len(c.outputs) > 1 else "out"))
    return _table(rows)


def _unit_attrs(ctx: _Ctx, c: _Call, stats: bool, annotate: dict[str, list[str]]) -> dict:
    label = _dense_label(ctx, c) if c.layer is not None else _module_label(ctx, c)
    extra = []
    if stats:
        for o in c.outputs:
            extra += _stats_rows(ctx, o)
    extra += [_esc(str(x)) for x in annotate.get(c.name, ())]
    if extra:  # one more table below: rows appended inside the label's table
        label = (
            label[: -len("</table>>")]
            + "".join(f"<tr><td>{r}</td></tr>" for r in extra)
            + "</table>>"
        )
    ident = f"module:{c.name}" + ("" if c.calls == 1 else f":{c.number}")
    return {
        "shape": "box3d",
        "style": "filled",
        "fillcolor": _FILL["group"],
        "color": "#38761d",
        "label": label,
        "id": ident,
        "tooltip": c.label,
    }


_CONTAINERS = ("Sequential", "ModuleList", "ModuleDict")


def _drawn_through(c: _Call) -> bool:
    """Whether a module call is drawn as its sub-module calls rather than as one node: a
    container (Sequential), or a user's module whose parameters all live in its layers.
    The engine's own layers are one node each even when built from sub-modules (an
    attention layer's projections): expand= opens them.  The commands' models
    (tinygrad_bp.commands.models.DigitsCNN, built of those layers) are drawn through like a
    user's."""
    if not c.children:
        return False
    cls = type(c.module)
    if cls.__name__ in _CONTAINERS:
        return True
    if cls.__module__.split(".")[:2] == ["tinygrad_bp", "nn"]:
        return False
    return not _own_params(c)


def _own_params(c: _Call) -> bool:
    """Whether the module holds parameters of its own (not only through sub-modules)."""
    return any(
        isinstance(v, Tensor) and v.requires_grad and any(v is t for t in c.members)
        for v in vars(c.module).values()
    )


def _collapsed_scene(
    ctx: _Ctx, expand: set[str], stats: bool = False, annotate: dict | None = None
) -> _Scene:
    """Each module call as one node.  A container (Sequential, or a user's network whose
    parameters all live in sub-modules) is drawn through, as its sub-module calls and its
    own ops; a module named in ``expand`` is drawn as a cluster of its ops, its own
    sub-module calls still one node each unless named too."""
    annotate = annotate or {}
    s = _Scene([], [], None, "collapsed")
    unit_of: dict[int, Any] = {}  # tensor id -> the module node that hides it
    cluster_of_tensor: dict[int, int] = {}  # tensor id -> cluster of a loose node
    units: dict[Any, _Call] = {}
    inside: dict[Any, set[int]] = {}  # module node -> ids of the tensors it hides

    # A module named in expand opens, and so does every module call around it (else a
    # module inside a closed one could not be seen open).
    opened: set[int] = set()
    for c in ctx.calls:
        if c.name in expand:
            a: _Call | None = c
            while a is not None:
                opened.add(id(a))
                a = a.parent

    def visit(c: _Call, cluster: int | None) -> None:
        if id(c) in opened and (c.name in expand or not _drawn_through(c)):
            s.clusters.append((f"{c.label}: {c.title}", cluster))
            here = len(s.clusters) - 1
        elif _drawn_through(c):
            here = cluster
        else:
            key = ("g", ctx.calls.index(c))
            units[key] = c
            inside[key] = {id(t) for t in c.members}
            for t in c.members:
                unit_of[id(t)] = key
            if cluster is not None:
                s.cluster_of[key] = cluster
            return
        inner = {id(t) for ch in c.children for t in ch.members}
        if here is not None:
            for t in c.members:
                if id(t) not in inner:
                    cluster_of_tensor[id(t)] = here
        for ch in c.children:
            visit(ch, here)

    for c in ctx.calls:
        if c.parent is None:
            visit(c, None)

    def key(t: Tensor) -> Any:
        return unit_of.get(id(t), ("t", ctx.key(t)))

    added: set[Any] = set()
    seen_edges: set[tuple[Any, Any, int]] = set()

    def edge(src: Any, dst: Any, p: Tensor, owner: Tensor, mark: str | None = None) -> None:
        if (src, dst, id(p)) in seen_edges and src[0] == "g":
            return  # a module's output used twice by one op: one arrow (as op inputs are)
        seen_edges.add((src, dst, id(p)))
        label = None
        if src[0] == "g":
            label = f"{_sym(ctx, p)} {_shape(p.shape)}"
        s.edge_owner[len(s.edges)] = owner
        s.edges.append((src, dst, _edge_attrs(ctx, p.requires_grad, mark, label)))

    for t in ctx.tensors:
        k = key(t)
        if k[0] == "g":
            c = units[k]
            if k not in added:
                added.add(k)
                s.nodes.append((k, _unit_attrs(ctx, c, stats, annotate)))
                s.tensor_of[k] = c.outputs[0]
            for p in t.parents:
                # (a shared parameter, as a recurrent cell's, is inside every call of it)
                if key(p) != k and id(p) not in inside[k]:
                    edge(key(p), k, p, c.outputs[0])
            if t is ctx.root:
                s.root = k
            continue
        tk = ("t", ctx.key(t))
        if t.parents:
            ok = ("o", ctx.key(t))
            s.nodes.append((ok, _op_attrs(ctx, t)))
            s.tensor_of[ok] = t
            if id(t) in cluster_of_tensor:
                s.cluster_of[ok] = cluster_of_tensor[id(t)]
            for p in t.parents:
                edge(key(p), ok, p, t, _broadcast_mark(p, t))
            s.edge_owner[len(s.edges)] = t
            s.edges.append((ok, tk, _edge_attrs(ctx, True)))
        s.nodes.append((tk, _tensor_attrs(ctx, t)))
        s.tensor_of[tk] = t
        if id(t) in cluster_of_tensor:
            s.cluster_of[tk] = cluster_of_tensor[id(t)]
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
    out.clusters = s.clusters
    out.cluster_of = {k: v for k, v in s.cluster_of.items() if k in keep}
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


def _ranks(s: _Scene) -> int:
    """The number of nodes on the longest path: how many ranks the layout stacks."""
    incoming: dict[Any, list[Any]] = {}
    for src, dst, _ in s.edges:
        incoming.setdefault(dst, []).append(src)
    depth: dict[Any, int] = {}
    for k, _ in s.nodes:  # nodes come parents first (the graph's order)
        depth[k] = 1 + max((depth.get(p, 0) for p in incoming.get(k, ())), default=0)
    return max(depth.values(), default=0)


def _known_names(ctx: _Ctx) -> list[str]:
    return sorted({c.name for c in ctx.calls})


def _check_expand(ctx: _Ctx, expand: Any, fn: str) -> set[str]:
    if expand is None:
        return set()
    names = [expand] if isinstance(expand, str) else expand
    if not isinstance(names, Iterable) or not all(isinstance(n, str) for n in names):
        raise TypeError(f"{fn}: expand must be a module name or a list of them, got {expand!r}")
    names = list(names)
    known = _known_names(ctx)
    bad = [n for n in names if n not in known]
    if bad:
        raise ValueError(
            f"{fn}: expand names {', '.join(map(repr, bad))}, but no such module is called in "
            f"this graph; the modules called here are: {', '.join(map(repr, known)) or 'none'}"
        )
    return set(names)


def _more_hint(over_max_nodes: bool) -> str:
    if over_max_nodes:
        return "Pass a larger max_nodes to see all."
    return (
        "Drawn whole, it would be too large to read (a PNG holds at most 32,767 pixels a "
        "side). Draw a part of it (from an inner tensor)."
    )


def _build_scene(
    ctx: _Ctx,
    collapse: bool,
    max_nodes: int,
    fn: str,
    expand: Any = None,
    stats: bool = False,
    annotate: dict | None = None,
) -> _Scene:
    if expand is not None:
        collapse = True
    if collapse:
        if not ctx.calls:
            raise ValueError(
                f"{fn}: collapse=True, but no module call is recorded in this graph (modules "
                "record their calls when called as module(x), not module.forward(x))"
            )
        scene = _collapsed_scene(ctx, _check_expand(ctx, expand, fn), stats, annotate)
    else:
        scene = _full_scene(ctx)
    limit = min(max_nodes, MAX_DRAWN_NODES)

    def too_big(sc: _Scene) -> bool:
        return len(sc.nodes) > limit or _ranks(sc) > MAX_RANKS

    if too_big(scene):
        total = len(scene.nodes)
        over = total > max_nodes
        why = f"more than max_nodes={max_nodes}" if over else "too many to read in one picture"
        done = []
        if not collapse and ctx.calls:
            scene = _collapsed_scene(ctx, set(), stats, annotate)
            done.append("each module call is drawn as one node")
        if too_big(scene):
            kept = min(limit, MAX_RANKS)
            scene, _ = _truncate(scene, kept)
            done.append(f"only the {len(scene.nodes) - 1} nodes nearest the output are drawn")
        scene.note = f"The graph has {total} nodes ({why}): {', and '.join(done)}. " + (
            _more_hint(over)
        )
    if ctx.note:
        scene.note = ctx.note + (". " + scene.note if scene.note else "")
    if ctx.backward:
        scene.view += "+backward"
    return scene


# ====================================================================== verdict marks
_MARK = {"ok": ("#2e7d32", "#e6f4ea"), "wrong": ("#c62828", "#fde8e8")}


def _apply_marks(s: _Scene, marks: Iterable[tuple[Tensor, str, Iterable[str]]], fn: str) -> None:
    """Colour the tensors a check judged (green "ok", red "wrong") and add its lines to
    their labels (tg.check's pictures: a learner's gradient beside the engine's)."""
    by_id: dict[int, tuple[str, list[str]]] = {}
    for item in marks:
        t, verdict, lines = item
        if not isinstance(t, Tensor) or verdict not in _MARK:
            raise ValueError(
                f"{fn}: marks must be (Tensor, 'ok' or 'wrong', lines) triples, got {item!r}"
            )
        by_id[id(t)] = (verdict, [str(x) for x in lines])
    for k, attrs in s.nodes:
        t = s.tensor_of.get(k)
        if t is None or k[0] != "t" or id(t) not in by_id:
            continue
        verdict, lines = by_id[id(t)]
        line, fill = _MARK[verdict]
        rows = "".join(
            f'<tr><td><font color="{line}"><b>{_esc(x)}</b></font></td></tr>' for x in lines
        )
        label = attrs["label"]
        if label.endswith("</table>>"):
            attrs["label"] = label[: -len("</table>>")] + rows + "</table>>"
        attrs.update(color=line, fillcolor=fill, penwidth="3")
        style = attrs.get("style", "filled").split(",")
        attrs["style"] = ",".join(x for x in style if x != "dashed")
