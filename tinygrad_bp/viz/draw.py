"""``draw_graph``: from a tensor to its picture, in one direction."""

from __future__ import annotations

from typing import Any

from ..tensor import Tensor
from ._style import DEFAULT_MAX_NODES
from .read import _context
from .render import Graph, _agraph
from .scene import _build_scene


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
