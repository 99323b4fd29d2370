"""Pictures of the graph: forward, backward (with the gradients), collapsed, step by step.

:func:`draw_graph` draws the graph that produced a tensor: one node per tensor (boxes:
parameters filled, inputs plain, constants dashed, computed tensors light blue) and one per
op (ellipses).  With ``backward=True`` the same nodes sit in the same places, the arrows
point the way the gradient flows, every tensor shows its gradient (shape, norm, and the
values when there are at most six) and every op its local rule.  :func:`backward_steps`
writes one frame per step of the engine's backward walk, an animated GIF and an HTML page.

Rendering goes through pygraphviz, whose wheel bundles the Graphviz engine, so PNG, SVG and
PDF need no system ``dot`` program.  It is imported when a picture is made, not when
``tinygrad_bp`` is imported.  The module reads node fields only (``_parents``, ``_op``,
``_seq``, ``requires_grad``) and gets gradients from :func:`tinygrad_bp.autograd.backward`
with ``retain_graph=True, accumulate=False``: drawing never changes any ``.grad``.

Examples
--------
>>> import numpy as np
>>> import tinygrad_bp as tg
>>> from tinygrad_bp import nn
>>> from tinygrad_bp import functional as F
>>> model = nn.Sequential(nn.Dense(4, 3, activation="tanh", rng=0), nn.Dense(3, 2, rng=1))
>>> loss = F.cross_entropy(model(tg.Tensor(np.ones((2, 4)))), np.array([0, 1]))
>>> g = tg.viz.draw_graph(loss, model=model)
>>> g.num_nodes, g.num_edges        # 12 tensors and 6 ops; 11 inputs of ops and 6 outputs
(18, 17)
>>> "0.W" in g.source and "cross_entropy" in g.source
True
>>> tg.viz.draw_graph(loss, model=model, collapse=True).num_nodes   # x, 2 layers, y, loss
6
"""

from __future__ import annotations

import argparse
import html
import io
import json
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import autograd
from .tensor import Tensor

__all__ = [
    "FORMATS",
    "Graph",
    "StepsResult",
    "draw_graph",
    "backward_steps",
    "configure",
    "main",
]

#: File suffixes :meth:`Graph.save` understands, and the Graphviz format of each.
FORMATS: dict[str, str] = {".png": "png", ".svg": "svg", ".pdf": "pdf", ".dot": "dot"}

DEFAULT_MAX_NODES = 120
_FONT = "DejaVu Sans,Helvetica,Arial,sans-serif"

# Colours: one place, so that the legend and the nodes agree.
_FILL = {
    "param": "#ffd966",  # gold: what training changes
    "input": "#ffffff",
    "const": "#ffffff",
    "tensor": "#dbe9f6",  # light blue: computed
    "op": "#eeeeee",
    "group": "#d9ead3",  # light green: a whole Dense layer
    "more": "#ffffff",
}
_GRAD = "#a61c00"  # gradient text and arrows
_PENDING = "#b0b0b0"  # not reached yet (step frames)
_CURRENT = "#e8590c"  # the node being processed (step frames)
_MUTED = "#666666"

_SUP = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def _pygraphviz() -> Any:
    try:
        import pygraphviz
    except ImportError:
        raise ImportError(
            "tinygrad_bp.viz needs pygraphviz (its wheel bundles the Graphviz engine, no "
            "system package needed): pip install pygraphviz"
        ) from None
    return pygraphviz


def _pillow() -> Any:
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(
            "tinygrad_bp.viz.backward_steps needs Pillow for the GIF: pip install pillow"
        ) from None
    return Image


# ====================================================================== files
def _format_for(path: str, what: str) -> str:
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in FORMATS:
        raise ValueError(
            f"{what}: cannot tell the format of {path!r} from its suffix {suffix or '(none)'}; "
            f"expected one of {', '.join(FORMATS)}"
        )
    return FORMATS[suffix]


def _write_atomic(path: str, data: bytes, what: str) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it over ``path``:
    a reader never sees a half-written picture, and a failure leaves nothing behind."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(
            2, f"{what}: cannot write {path!r}: the folder {folder!r} does not exist"
        )
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise OSError(exc.errno, f"{what}: cannot write {path!r}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        # mkstemp makes the file private (0600); give it an ordinary file's mode
        mode = stat.S_IMODE(os.stat(path).st_mode) if os.path.isfile(path) else 0o644
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise OSError(exc.errno, f"{what}: cannot write {path!r}: {exc.strerror}") from None
        raise


def _render(source_or_agraph: Any, fmt: str, prog: str | None = "dot") -> bytes:
    if fmt == "dot" and isinstance(source_or_agraph, str):
        return source_or_agraph.encode("utf-8")
    pgv = _pygraphviz()
    g = source_or_agraph
    if isinstance(g, str):
        g = pgv.AGraph(string=g)
    try:
        return g.draw(format=fmt, prog=prog)
    except Exception as exc:  # Graphviz reports through several exception types
        raise RuntimeError(f"Graphviz could not render the graph as {fmt}: {exc}") from None


# ====================================================================== the result
class Graph:
    """A drawn graph: its DOT text, and rendering to files or to Jupyter.

    Attributes
    ----------
    source : str
        The DOT text (byte-identical for the same program: node ids follow creation order).
    view : str
        ``"forward"``, ``"backward"``, ``"collapsed"`` or ``"truncated"`` (the last two
        can also come from the ``max_nodes`` fallback), with ``"+backward"`` where it applies.
    num_nodes, num_edges : int
        Counts of drawn nodes and edges.
    note : str or None
        Why the view differs from what was asked (a large graph), also shown in the picture.
    """

    def __init__(
        self, source: str, view: str, num_nodes: int, num_edges: int, note: str | None = None
    ) -> None:
        self.source = source
        self.view = view
        self.num_nodes = num_nodes
        self.num_edges = num_edges
        self.note = note

    def pipe(self, format: str = "svg") -> bytes:  # noqa: A002  (graphviz's name)
        """The picture as bytes in ``format`` (``"png"``, ``"svg"``, ``"pdf"`` or ``"dot"``)."""
        if format not in FORMATS.values():
            raise ValueError(
                f"Graph.pipe: unknown format {format!r}; expected one of "
                f"{', '.join(FORMATS.values())}"
            )
        return _render(self.source, format)

    def save(self, path: str | os.PathLike[str]) -> str:
        """Write the picture; the format comes from the suffix (.png, .svg, .pdf, .dot).

        The file is written whole or not at all.  Returns the path.
        """
        path = os.fspath(path)
        fmt = _format_for(path, "Graph.save")
        _write_atomic(path, _render(self.source, fmt), "Graph.save")
        return path

    def _repr_svg_(self) -> str:
        return self.pipe("svg").decode("utf-8")

    def _repr_mimebundle_(
        self, include: Any = None, exclude: Any = None
    ) -> dict[str, str]:  # Jupyter
        return {"image/svg+xml": self._repr_svg_(), "text/plain": repr(self)}

    def __repr__(self) -> str:
        note = f", note={self.note!r}" if self.note else ""
        return f"<Graph {self.view}: {self.num_nodes} nodes, {self.num_edges} edges{note}>"


@dataclass
class StepsResult:
    """What :func:`backward_steps` wrote: one PNG per step, the GIF and the HTML page."""

    frames: list[str]
    gif: str
    html: str
    order: list[str] = field(default_factory=list)  # the node processed at each step

    def __len__(self) -> int:
        return len(self.frames)

    def __iter__(self) -> Iterator[str]:
        return iter([*self.frames, self.gif, self.html])


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
    from .nn import Dense  # nn imports numpy only; kept local so viz stays a leaf module

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


# ====================================================================== labels
def _esc(s: str) -> str:
    return html.escape(s, quote=False)


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


# ====================================================================== DOT
def _legend(backward: bool, collapsed: bool) -> str:
    def cell(text: str, fill: str, style: str = "") -> str:
        # fixed-size cells: a wide title would otherwise stretch the legend across it
        width = round(6.8 * len(text) + 16)
        st = f' style="{style}"' if style else ""
        return (
            f'<td border="1" bgcolor="{fill}"{st} fixedsize="true" width="{width}" '
            f'height="20"><font point-size="11">{text}</font></td>'
        )

    cells = [] if collapsed else [cell("parameter", _FILL["param"])]  # W, b are inside
    cells += [
        cell("input", _FILL["input"]),
        cell("constant", _FILL["const"], "dashed"),
        cell("computed tensor", _FILL["tensor"], "rounded"),
        cell("op", _FILL["op"], "rounded"),
    ]
    if collapsed:
        cells.append(cell("Dense layer", _FILL["group"]))
    if backward:
        cells.append(
            f'<td><font point-size="11" color="{_GRAD}">⟵ gradient flow · '
            "g = ∂L/∂(op output)</font></td>"
        )
    return f'<table border="0" cellspacing="6"><tr>{"".join(cells)}</tr></table>'


def _graph_label(title: str | None, note: str | None, legend: str, caption: str | None) -> str:
    rows = []
    if title:
        rows.append(f'<tr><td><font point-size="16"><b>{_esc(title)}</b></font></td></tr>')
    if caption is not None:
        rows.append(
            f'<tr><td><font point-size="13" color="{_CURRENT}">{_esc(caption)}</font></td></tr>'
        )
    if note:  # one sentence a line, so a note never sets the picture's width
        lines = "<br/>".join(_esc(x.strip()) for x in note.split(". ") if x.strip())
        rows.append(f'<tr><td><font point-size="11" color="#b45f06">{lines}</font></td></tr>')
    rows.append(f'<tr><td align="center">{legend}</td></tr>')
    return f'<<table border="0" cellspacing="2">{"".join(rows)}</table>>'


def _spine(s: _Scene) -> set[Any]:
    """The path from the root back through each op's first input: drawn as one straight
    column (Graphviz's ``group``), with weights, biases and constants beside it."""
    first: dict[Any, Any] = {}
    for src, dst, _ in s.edges:
        first.setdefault(dst, src)
    spine = set()
    k = s.root
    while k is not None and k not in spine:
        spine.add(k)
        k = first.get(k)
    return spine


def _agraph(
    s: _Scene,
    title: str | None,
    rankdir: str,
    backward: bool,
    caption: str | None = None,
    edge_keys: bool = False,
) -> tuple[Any, dict[Any, str]]:
    pgv = _pygraphviz()
    g = pgv.AGraph(directed=True, strict=False, name="tinygrad_bp")
    g.graph_attr.update(
        rankdir=rankdir,
        fontname=_FONT,
        bgcolor="white",
        labelloc="t",
        nodesep="0.3",
        ranksep="0.3",
        pad="0.25",
        label=_graph_label(
            title, s.note, _legend(backward, s.view.startswith("collapsed")), caption
        ),
    )
    g.node_attr.update(fontname=_FONT, fontsize="12", margin="0.12,0.04")
    g.edge_attr.update(fontname=_FONT, arrowsize="0.7", color="#444444")
    ids = {k: f"n{i}" for i, (k, _) in enumerate(s.nodes)}
    spine = _spine(s)
    for k, attrs in s.nodes:
        g.add_node(ids[k], **(dict(attrs, group="spine") if k in spine else attrs))
    for i, (src, dst, attrs) in enumerate(s.edges):
        if edge_keys:
            g.add_edge(ids[src], ids[dst], key=f"e{i}", **attrs)
        else:
            g.add_edge(ids[src], ids[dst], **attrs)
    return g, ids


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


# ====================================================================== public
def draw_graph(
    root: Tensor,
    backward: bool = False,
    model: Any = None,
    collapse: bool = False,
    max_nodes: int = DEFAULT_MAX_NODES,
    title: str | None = None,
    grad: Any = None,
    rankdir: str = "TB",
) -> Graph:
    """Draw the graph that produced ``root``.

    Parameters
    ----------
    root : Tensor
        The result (usually the loss); it must have a recorded graph.
    backward : bool
        Draw the gradient flow: arrows reversed, each tensor with its gradient (shape,
        norm, values when at most six), each op with its local rule.  The gradients come
        from a backward pass that keeps the graph and leaves every ``.grad`` untouched.
    model : nn.Module, optional
        Names parameters by their place in the module tree (``0.W``, ``1.b``) and each
        Dense layer's results by the tutorial's names (``0.a`` = a¹, ``0.h`` = h¹).
    collapse : bool
        Draw each Dense layer of ``model`` as one node ("Dense 4→10, tanh").
    max_nodes : int
        Larger graphs are collapsed (with ``model``) or cut to the nodes nearest the
        output, with a note in the picture saying so.
    title : str, optional
        A heading for the picture.
    grad : array_like, optional
        The gradient to start from when ``root`` has more than one element.
    rankdir : "TB", "LR", "BT" or "RL"
        Graphviz's direction of the layout (top to bottom by default).

    Returns
    -------
    Graph
        ``.source`` (DOT), ``.save(path)`` (PNG, SVG, PDF, DOT by suffix), inline in Jupyter.

    Raises
    ------
    TypeError
        ``root`` is not a Tensor.
    ValueError
        ``root`` has no recorded graph (a leaf, or made under ``no_grad()``).
    RuntimeError
        ``backward=True`` on a graph whose saved values a plain ``backward()`` freed.
    """
    fn = "draw_graph"
    if isinstance(max_nodes, bool) or not isinstance(max_nodes, int) or max_nodes < 2:
        raise ValueError(f"{fn}: max_nodes must be an int of at least 2, got {max_nodes!r}")
    if rankdir not in ("TB", "LR", "BT", "RL"):
        raise ValueError(f"{fn}: rankdir must be 'TB', 'LR', 'BT' or 'RL', got {rankdir!r}")
    ctx = _context(root, model, bool(backward), grad, fn)
    scene = _build_scene(ctx, collapse, max_nodes, model, fn)
    g, _ = _agraph(scene, title, rankdir, ctx.backward)
    return Graph(g.string(), scene.view, len(scene.nodes), len(scene.edges), scene.note)


def _step_caption(ctx: _Ctx, k: int, t: Tensor) -> str:
    n = len(ctx.order)
    who = _display(ctx, t)
    if t._parents:
        return f"step {k + 1} of {n}: {_wrt(who)} is complete; {t._op} sends it to its inputs"
    return f"step {k + 1} of {n}: {_wrt(who)} is complete (a leaf: backward() adds it to .grad)"


def _steps_html(title: str, frames: list[str], captions: list[str], gif: str) -> str:
    data = json.dumps(
        [{"src": f, "caption": c} for f, c in zip(frames, captions)], ensure_ascii=False
    ).replace("</", "<\\/")
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{_esc(title)}</title>
<style>
body {{ font-family: sans-serif; margin: 1em; }}
#bar {{ position: sticky; top: 0; background: #fff; padding: .5em 0; }}
button {{ font-size: 1em; padding: .3em .8em; }}
#caption {{ margin-left: 1em; }}
img {{ max-width: 100%; border: 1px solid #ddd; }}
</style>
</head>
<body>
<h1>{_esc(title)}</h1>
<p>One picture per step of the backward walk, in the engine's order.
Use the buttons or the &larr; / &rarr; keys. All steps as one animation:
<a href="{html.escape(gif)}">{_esc(gif)}</a>.</p>
<div id="bar"><button id="prev">&#9664; previous</button>
<button id="next">next &#9654;</button><span id="caption"></span></div>
<img id="frame" src="{html.escape(frames[0])}" alt="backward step">
<script>
const frames = {data};
let i = 0;
function show(k) {{
  i = Math.max(0, Math.min(frames.length - 1, k));
  document.getElementById("frame").src = frames[i].src;
  document.getElementById("caption").textContent = frames[i].caption;
  document.getElementById("prev").disabled = i === 0;
  document.getElementById("next").disabled = i === frames.length - 1;
}}
document.getElementById("prev").onclick = () => show(i - 1);
document.getElementById("next").onclick = () => show(i + 1);
document.addEventListener("keydown", (e) => {{
  if (e.key === "ArrowLeft") show(i - 1);
  if (e.key === "ArrowRight") show(i + 1);
}});
show(0);
</script>
</body>
</html>
"""


class _PaletteMap:
    """Map RGB frames exactly onto one shared 255-colour palette (Pillow's own mapping
    onto a given palette is approximate and turns white into near-white)."""

    def __init__(self, Image: Any, first: Any, last: Any) -> None:
        self.Image = Image
        both = Image.fromarray(np.concatenate([first, last], axis=0))
        q = both.quantize(colors=255, dither=Image.Dither.NONE)
        self.palette = np.asarray(q.getpalette()[: 3 * 255], dtype=np.int32).reshape(-1, 3)
        self.flat = self.palette.ravel().tolist()
        self.lut = np.zeros(1 << 24, dtype=np.uint8)  # 24-bit colour -> palette index
        self.known = np.zeros(1 << 24, dtype=bool)

    def __call__(self, a: Any) -> Any:
        codes = (a[..., 0].astype(np.int32) << 16) | (a[..., 1].astype(np.int32) << 8) | a[..., 2]
        new = np.unique(codes[~self.known[codes]])
        if new.size:
            rgb = np.stack([new >> 16, (new >> 8) & 255, new & 255], axis=1)
            d = ((rgb[:, None, :] - self.palette[None, :, :]) ** 2).sum(axis=2)
            self.lut[new] = d.argmin(axis=1)
            self.known[new] = True
        im = self.Image.fromarray(self.lut[codes])  # mode "L"; putpalette makes it "P"
        im.putpalette(self.flat)
        return im


_FRAME_RE = re.compile(r"^step_\d{3,}\.png$")


def backward_steps(
    root: Tensor,
    out_dir: str | os.PathLike[str],
    model: Any = None,
    max_nodes: int = DEFAULT_MAX_NODES,
    title: str | None = None,
    grad: Any = None,
    duration_ms: int = 1200,
    rankdir: str = "TB",
    gif: str | os.PathLike[str] | None = None,
) -> StepsResult:
    """Picture every step of the backward walk, in the engine's real processing order.

    Frame ``k`` highlights the tensor whose gradient became complete at step ``k`` (and
    the op that then sends it to its inputs), shows every gradient known so far and marks
    the rest ``?``.  All frames share one layout, so nothing moves between them.

    Writes ``out_dir/step_001.png`` ... (one per step), the animated GIF (Pillow; at
    ``gif``, by default ``out_dir/backward_steps.gif``) and ``out_dir/index.html``
    (previous/next buttons and arrow keys).  Older ``step_NNN.png`` files in ``out_dir``
    are removed so the folder matches this run.

    Returns
    -------
    StepsResult
        ``.frames`` (paths), ``.gif``, ``.html`` and ``.order`` (the node of each step).
    """
    fn = "backward_steps"
    if isinstance(max_nodes, bool) or not isinstance(max_nodes, int) or max_nodes < 2:
        raise ValueError(f"{fn}: max_nodes must be an int of at least 2, got {max_nodes!r}")
    ctx = _context(root, model, True, grad, fn)
    scene = _full_scene(ctx)
    if len(scene.nodes) > max_nodes:
        raise ValueError(
            f"{fn}: the graph has {len(scene.nodes)} nodes; step pictures are drawn for "
            f"graphs of at most max_nodes={max_nodes} nodes (pass a larger max_nodes), or "
            "use draw_graph(..., backward=True, collapse=True) for a whole-graph picture"
        )
    Image = _pillow()
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    gif = os.path.join(out_dir, "backward_steps.gif") if gif is None else os.fspath(gif)
    _format_gif = os.path.splitext(gif)[1].lower()
    if _format_gif != ".gif":
        raise ValueError(f"{fn}: gif must be a path ending in .gif, got {gif!r}")
    title = title or "Backward, step by step"
    captions = [_step_caption(ctx, k, t) for k, t in enumerate(ctx.order)]
    # Lay out once, with the final labels and the longest caption, then only recolour
    # and relabel: every frame keeps the same positions and the same size.
    longest = max(captions, key=len)
    g, ids = _agraph(scene, title, rankdir, True, caption=longest, edge_keys=True)
    g.layout(prog="dot")
    step_of = {id(t): k for k, t in enumerate(ctx.order)}
    node_of = {ids[k]: t for k, t in scene.tensor_of.items()}
    legend = _legend(True, False)
    base_attrs = dict(scene.nodes)

    def render(k: int) -> Any:
        def state(t: Tensor) -> str:
            s = step_of.get(id(t))
            if s is None:
                return "done"  # never processed: its label says so
            return "pending" if s > k else ("current" if s == k else "done")

        for key, _ in scene.nodes:
            n = g.get_node(ids[key])
            t = node_of[ids[key]]
            st = state(t)
            n.attr["label"] = (_op_label if key[0] == "o" else _tensor_label)(ctx, t, st)
            base = base_attrs[key]
            n.attr["penwidth"] = "4" if st == "current" else base.get("penwidth", "1")
            n.attr["color"] = _CURRENT if st == "current" else base.get("color", "black")
        for i, (src, dst, attrs) in enumerate(scene.edges):
            owner = scene.edge_owner.get(i)
            if attrs.get("dir") != "back" or owner is None:
                continue
            e = g.get_edge(ids[src], ids[dst], key=f"e{i}")
            st = state(owner)
            e.attr["color"] = {"pending": _PENDING, "current": _CURRENT}.get(st, _GRAD)
            if "label" in attrs:
                e.attr["fontcolor"] = e.attr["color"]
            e.attr["penwidth"] = "3" if st == "current" else "1.6"
        g.graph_attr["label"] = _graph_label(title, None, legend, captions[k])
        with Image.open(io.BytesIO(_render(g, "png", prog=None))) as im:
            return np.asarray(im.convert("RGB"))

    # One palette for every frame, from the first and the last (between them they hold
    # every colour): unchanged pixels stay identical, so the GIF stores only changes, and
    # the frames are small palette PNGs.
    n = len(ctx.order)
    first, last = render(0), render(n - 1)
    to_palette = _PaletteMap(Image, first, last)
    frames: list[str] = []
    images = []
    for k in range(n):
        arr = first if k == 0 else last if k == n - 1 else render(k)
        im = to_palette(arr)
        buf = io.BytesIO()
        im.save(buf, format="PNG")
        path = os.path.join(out_dir, f"step_{k + 1:03d}.png")
        _write_atomic(path, buf.getvalue(), fn)
        frames.append(path)
        images.append(im)
    keep = {os.path.basename(p) for p in frames}
    for old in os.listdir(out_dir):
        if _FRAME_RE.match(old) and old not in keep:
            os.remove(os.path.join(out_dir, old))
    buf = io.BytesIO()
    durations = [duration_ms] * (n - 1) + [duration_ms * 3]
    images[0].save(
        buf, format="GIF", save_all=True, append_images=images[1:], duration=durations, loop=0
    )
    _write_atomic(gif, buf.getvalue(), fn)
    page = os.path.join(out_dir, "index.html")
    rel_gif = os.path.relpath(os.path.abspath(gif), os.path.abspath(out_dir)).replace(os.sep, "/")
    body = _steps_html(title, [os.path.basename(p) for p in frames], captions, rel_gif)
    _write_atomic(page, body.encode("utf-8"), fn)
    return StepsResult(frames, gif, page, [_display(ctx, t) for t in ctx.order])


# ====================================================================== command line
VIEWS = ("forward", "backward", "collapsed", "steps")


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``tinygrad-bp graph``."""
    from ._output import seed_type

    parser.add_argument(
        "--view",
        choices=VIEWS,
        default="forward",
        help="forward graph, backward (gradients), collapsed (one node per Dense layer), "
        "or steps (one PNG per backward step + GIF + HTML in a folder); default forward",
    )
    parser.add_argument(
        "--weights",
        metavar="FILE.npz",
        help="draw a model saved by Module.save (as saved: its layers, activation and task) "
        "instead of the tutorial's 4→10→5→3 network",
    )
    parser.add_argument(
        "--activation",
        choices=("tanh", "sigmoid", "relu"),
        default=None,
        help="hidden activation of a --weights file that does not record it (default: the "
        "file's own; tanh for older files)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=4,
        help="Iris rows in the batch (default 4, so gradient values stay readable)",
    )
    parser.add_argument(
        "--seed", type=seed_type, default=0, help="weights and batch seed (default 0)"
    )
    parser.add_argument("--max-nodes", type=int, default=DEFAULT_MAX_NODES)
    parser.add_argument(
        "--out",
        metavar="PATH",
        help="file to write (.png, .svg, .pdf, .dot), or the folder for --view steps "
        "(default graph_<view>.png, or graph_steps/)",
    )


def _model_from_weights(path: str, activation: str) -> Any:
    from .nn import Dense, Sequential

    try:
        with np.load(path) as f:
            state = {k: f[k] for k in f.files}
    except FileNotFoundError:
        raise FileNotFoundError(2, f"graph: no such weights file {path!r}") from None
    except (ValueError, OSError) as exc:
        raise ValueError(f"graph: cannot read {path!r} as an .npz weights file: {exc}") from None
    layers = sorted({int(k.split(".")[0]) for k in state if re.fullmatch(r"\d+\.[Wb]", k)})
    if not layers or layers != list(range(len(layers))):
        raise ValueError(
            f"graph: {path!r} does not hold Dense layers saved by Module.save (expected "
            f"arrays 0.W, 0.b, 1.W, ...; found {sorted(state)})"
        )
    mods = []
    for i in layers:
        w = state.get(f"{i}.W")
        if w is None or w.ndim != 2 or f"{i}.b" not in state:
            raise ValueError(f"graph: layer {i} of {path!r} needs a 2-D {i}.W and a {i}.b")
        act = activation if i < len(layers) - 1 else None
        mods.append(Dense(int(w.shape[0]), int(w.shape[1]), activation=act, dtype=w.dtype))
    model = Sequential(*mods)
    model.load_state_dict(state)
    return model


def tutorial_graph(
    batch_size: int = 4, seed: int = 0, weights: str | None = None, activation: str = "tanh"
) -> tuple[Tensor, Any, str]:
    """The tutorial's network (4 → 10 tanh → 5 tanh → 3, cross-entropy) on an Iris batch.

    Returns ``(loss, model, description)``; with ``weights`` the model comes from a file
    saved by ``Module.save``.  Inputs that do not fit Iris get a seeded random batch.
    """
    from . import data, nn, ops
    from .tensor import Tensor as T

    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, int)
        or not 1 <= batch_size <= 150
    ):
        raise ValueError(f"graph: --batch-size must be between 1 and 150, got {batch_size!r}")
    rng = np.random.default_rng(seed)
    if weights is None:
        model = nn.Sequential(
            nn.Dense(4, 10, activation="tanh", init="tutorial", rng=rng),
            nn.Dense(10, 5, activation="tanh", init="tutorial", rng=rng),
            nn.Dense(5, 3, init="tutorial", rng=rng),
        )
        what = "the tutorial's network 4→10→5→3"
    else:
        model = _model_from_weights(weights, activation)
        what = os.path.basename(weights)
    first, last = model[0], model[len(model) - 1]
    X, y = data.load_iris()
    X = data.standardize(X)[0]
    idx = rng.permutation(len(X))[:batch_size]
    if first.in_features == X.shape[1] and last.out_features == 3:
        xb, yb = X[idx].astype(first.W.dtype), y[idx]
        src = f"{batch_size} Iris rows"
    else:
        xb = rng.standard_normal((batch_size, first.in_features)).astype(first.W.dtype)
        yb = rng.integers(0, last.out_features, size=batch_size)
        src = f"{batch_size} random rows (the model does not take Iris's 4 features to 3 classes)"
    loss = ops.cross_entropy(model(T(xb)), yb)
    return loss, model, f"{what}, cross-entropy on {src}"


def main(args: argparse.Namespace) -> int:
    """Run ``tinygrad-bp graph``."""
    from . import _output, serialization

    if args.view != "steps":  # refuse a bad suffix or an unusable path before any work
        out = args.out or f"graph_{args.view}.png"
        _format_for(out, "graph --out")
        _output.check_file_target(out, "graph --out")
    else:  # checked, drawn into a temporary folder, moved into place (_output.RunFolder)
        run = _output.RunFolder(args.out or "graph_steps", "graph")
    if args.weights is None:
        loss, model, what = tutorial_graph(
            args.batch_size, args.seed, None, args.activation or "tanh"
        )
    else:
        loss, model, what = serialization.graph_loss(
            args.weights, args.batch_size, args.seed, args.activation
        )
    if args.view == "steps":
        with run:
            run.check(["backward_steps.gif", "index.html"], _FRAME_RE)
            res = backward_steps(loss, run.path(""), model=model, max_nodes=args.max_nodes,
                                 title=f"Backward step by step: {what}")  # fmt: skip
            run.commit()
        print(f"wrote {len(res.frames)} frames, backward_steps.gif and index.html to {run.shown}")
        return 0
    title = {
        "forward": "Forward graph",
        "backward": "Backward: gradients flowing back",
        "collapsed": "Layers",
    }[args.view]
    g = draw_graph(
        loss,
        backward=args.view == "backward",
        model=model,
        collapse=args.view == "collapsed",
        max_nodes=args.max_nodes,
        title=f"{title}: {what}",
    )
    g.save(out)
    print(f"wrote {out} ({g.num_nodes} nodes, {g.num_edges} edges)")
    return 0
