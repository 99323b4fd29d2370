"""``draw_graph``: from a tensor to its picture, in one direction (read, scene, render)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..tensor import Tensor
from ._style import DEFAULT_MAX_NODES
from .read import _context
from .render import Graph, _agraph
from .scene import _apply_marks, _build_scene


def draw_graph(
    root: Tensor,
    backward: bool = False,
    model: Any = None,
    collapse: bool = False,
    max_nodes: int = DEFAULT_MAX_NODES,
    title: str | None = None,
    grad: Any = None,
    rankdir: str = "TB",
    expand: str | Iterable[str] | None = None,
    stats: bool = False,
    annotate: Mapping[str, Iterable[str]] | None = None,
    marks: Iterable[tuple[Tensor, str, Iterable[str]]] | None = None,
) -> Graph:
    """Draw the graph that produced ``root``.

    Parameters
    ----------
    root : Tensor
        The result (usually the loss); it must have a recorded graph.
    backward : bool
        Draw the gradient flow: arrows reversed, each tensor with its gradient (shape,
        norm, and its values beside the tensor's own values when at most six), each op
        with its local rule in the picture's names.  Before ``backward()`` (or after
        ``backward(retain_graph=True)``) the gradients come from one backward pass that
        keeps the graph and leaves every ``.grad`` untouched.  After a plain
        ``loss.backward()`` nothing is recomputed: leaves show their ``.grad``, inner
        tensors marked with ``retain_grad()`` theirs, and other inner tensors say that
        their gradient was not kept.
    model : nn.Module, optional
        Names parameters by their place in the module tree (``0.W``, ``1.b``) and each
        Dense layer's results by the tutorial's names (``0.a`` = a¹, ``0.h`` = h¹).
        Without it, names come from the outermost module called in the graph.
    collapse : bool
        Draw each module call as one node with its configuration and output shape
        ("Dense 4→10, tanh", "Conv2d(1, 8, kernel_size=3)"); a recurrent cell called once
        per time step is one node per step.  Containers (``Sequential``, a network whose
        parameters all live in its layers) are drawn through, as their layers.
    max_nodes : int
        Larger graphs are collapsed (when modules made them) or cut to the nodes nearest
        the output, with a note in the picture saying so.  So are graphs too large to read
        in one picture whatever ``max_nodes`` says.
    title : str, optional
        A heading for the picture.
    grad : array_like, optional
        The gradient to start from when ``root`` has more than one element.
    rankdir : "TB", "LR", "BT" or "RL"
        Graphviz's direction of the layout (top to bottom by default).
    expand : str or list of str, optional
        Module names (as in ``model.modules()``, e.g. ``"0"`` or ``"encoder.attn"``) to
        open into their ops, each drawn as a cluster with the module's name.  Implies
        ``collapse=True``.  An unknown name is an error that lists the known ones.
    stats : bool
        In the collapsed view, each module node also shows its output's mean, standard
        deviation and norm (and its gradient's mean and norm with ``backward=True``).
    annotate : mapping of module name to lines, optional
        Extra text lines for module nodes in the collapsed view.
    marks : iterable of (Tensor, verdict, lines), optional
        Tensors a check judged: each is drawn green (``"ok"``) or red (``"wrong"``) with
        the lines under its label (``tg.check``'s report pictures use it).

    Returns
    -------
    Graph
        ``.source`` (DOT), ``.save(path)`` (PNG, SVG, PDF, DOT by suffix), ``.pipe(fmt)``,
        inline in Jupyter.  In SVG, each module node's element has the id
        ``module:NAME`` (``module:NAME:K`` for the K-th call of a module called often).

    Raises
    ------
    TypeError
        ``root`` is not a Tensor, or ``model`` not a module.
    ValueError
        ``root`` has no recorded graph (a leaf, or made under ``no_grad()``); ``collapse``
        on a graph no module made; an unknown name in ``expand``.
    RuntimeError
        ``backward=True`` when another result's ``backward()`` freed part of this graph.
    """
    fn = "draw_graph"
    if isinstance(max_nodes, bool) or not isinstance(max_nodes, int) or max_nodes < 2:
        raise ValueError(f"{fn}: max_nodes must be an int of at least 2, got {max_nodes!r}")
    if rankdir not in ("TB", "LR", "BT", "RL"):
        raise ValueError(f"{fn}: rankdir must be 'TB', 'LR', 'BT' or 'RL', got {rankdir!r}")
    if annotate is not None and not isinstance(annotate, Mapping):
        raise TypeError(f"{fn}: annotate must map module names to lines of text")
    notes = {k: [str(x) for x in v] for k, v in (annotate or {}).items()}
    ctx = _context(root, model, bool(backward), grad, fn)
    scene = _build_scene(ctx, collapse, max_nodes, fn, expand, bool(stats), notes)
    if marks is not None:
        _apply_marks(scene, marks, fn)
    g, _ = _agraph(scene, title, rankdir, ctx.backward)
    return Graph(g.string(), scene.view, len(scene.nodes), len(scene.edges), scene.note)
