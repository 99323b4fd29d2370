"""Rendering: a scene becomes DOT (through pygraphviz), and DOT becomes PNG, SVG or PDF.

Files are written whole or not at all (a temporary file beside the target, then a rename).
"""

from __future__ import annotations

import os
import stat
import tempfile
from typing import TYPE_CHECKING, Any

from ._style import _CURRENT, _FILL, _FONT, _GRAD, FORMATS, _esc, _pygraphviz

if TYPE_CHECKING:  # pragma: no cover
    from .scene import _Scene


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


# ====================================================================== DOT
def _legend(backward: bool, collapsed: bool, params: bool = True) -> str:
    def cell(text: str, fill: str, style: str = "") -> str:
        # fixed-size cells: a wide title would otherwise stretch the legend across it
        width = round(6.8 * len(text) + 16)
        st = f' style="{style}"' if style else ""
        return (
            f'<td border="1" bgcolor="{fill}"{st} fixedsize="true" width="{width}" '
            f'height="20"><font point-size="11">{text}</font></td>'
        )

    cells = [cell("parameter", _FILL["param"])] if params else []  # else inside modules
    cells += [
        cell("input", _FILL["input"]),
        cell("constant", _FILL["const"], "dashed"),
        cell("computed tensor", _FILL["tensor"], "rounded"),
        cell("op", _FILL["op"], "rounded"),
    ]
    if collapsed:
        cells.append(cell("module call", _FILL["group"]))
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
            title,
            s.note,
            _legend(
                backward,
                s.view.startswith("collapsed"),
                any(a.get("fillcolor") == _FILL["param"] for _, a in s.nodes),
            ),
            caption,
        ),
    )
    g.node_attr.update(fontname=_FONT, fontsize="12", margin="0.12,0.04")
    g.edge_attr.update(fontname=_FONT, arrowsize="0.7", color="#444444")
    ids = {k: f"n{i}" for i, (k, _) in enumerate(s.nodes)}
    spine = _spine(s)
    # An expanded module is a Graphviz cluster with the module's name (nested as called).
    subs: list[Any] = []
    for i, (label, parent) in enumerate(s.clusters):
        owner = g if parent is None else subs[parent]
        subs.append(
            owner.add_subgraph(
                name=f"cluster_{i}",
                label=f"<<b>{_esc(label)}</b>>",
                style="rounded,dashed",
                color="#38761d",
                fontcolor="#38761d",
                labeljust="l",
            )
        )
    for k, attrs in s.nodes:
        owner = subs[s.cluster_of[k]] if k in s.cluster_of else g
        owner.add_node(ids[k], **(dict(attrs, group="spine") if k in spine else attrs))
    for i, (src, dst, attrs) in enumerate(s.edges):
        if edge_keys:
            g.add_edge(ids[src], ids[dst], key=f"e{i}", **attrs)
        else:
            g.add_edge(ids[src], ids[dst], **attrs)
    return g, ids
