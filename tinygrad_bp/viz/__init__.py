"""Pictures of the graph: forward, backward (with the gradients), collapsed, step by step.

:func:`draw_graph` draws the graph that produced a tensor: one node per tensor (boxes:
parameters filled, inputs plain, constants dashed, computed tensors light blue) and one per
op (ellipses).  With ``backward=True`` the same nodes sit in the same places, the arrows
point the way the gradient flows, every tensor shows its gradient (shape, norm, and the
values when there are at most six) and every op its local rule.  :func:`backward_steps`
writes one frame per step of the engine's backward walk, an animated GIF and an HTML page.
:func:`ring_allreduce_steps` draws the ring allreduce of data-parallel training
(:mod:`tinygrad_bp.distributed`) the same way, one frame per step.

Rendering goes through pygraphviz, whose wheel bundles the Graphviz engine, so PNG, SVG and
PDF need no system ``dot`` program.  It is imported when a picture is made, not when
``tinygrad_bp`` is imported.  The picture reads the graph's nodes (``.parents``, ``.op``,
``.shape``, ``.dtype``, ``.data``, ``.grad``, ``.requires_grad``) and the record each
``nn.Module`` call leaves on its outputs, and gets gradients from the engine through one
call (``read._engine_gradients``; after a plain ``backward()`` it reads ``.grad``
instead): drawing never changes any ``.grad``.

The parts: :mod:`.read` (the graph, its module calls, names, gradients), :mod:`.scene`
(what to draw), :mod:`.render` (DOT, files), :mod:`.draw` (:func:`draw_graph`),
:mod:`.steps` (:func:`backward_steps`) and :mod:`.stats` (:func:`module_stats`).  The
commands that draw (``tinygrad-bp graph``, the live page) live in
:mod:`tinygrad_bp.commands`.

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

from ._style import DEFAULT_MAX_NODES, FORMATS
from .draw import draw_graph
from .render import Graph
from .ring import RingResult, ring_allreduce_graph, ring_allreduce_steps
from .stats import ModuleStats, Summary, module_stats
from .steps import StepsResult, backward_steps

__all__ = [
    "FORMATS",
    "DEFAULT_MAX_NODES",
    "Graph",
    "StepsResult",
    "draw_graph",
    "backward_steps",
    "ring_allreduce_graph",
    "ring_allreduce_steps",
    "RingResult",
    "module_stats",
    "ModuleStats",
    "Summary",
]
