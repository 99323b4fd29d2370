"""Per-module numbers of a graph: what each module call's output and gradient look like.

:func:`module_stats` reads the same module calls as the collapsed picture (the records
``nn.Module.__call__`` leaves on its outputs), so a page that shows the collapsed graph
(``draw_graph(..., collapse=True).pipe("svg")``, whose module nodes have the SVG ids
``module:NAME``) can put each module's numbers beside its node.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..tensor import Tensor
from .read import _context, _value
from .scene import _collapsed_scene


@dataclass
class Summary:
    """Statistics of one array: mean, standard deviation, norm, and a histogram."""

    mean: float
    std: float
    norm: float
    hist: list[int]  # counts per bin
    edges: list[float]  # bins + 1 edges


@dataclass
class ModuleStats:
    """One module call: its name, configuration, output and (when known) gradients."""

    name: str  # the module's dotted name, as in expand= and the SVG id module:NAME
    call: int  # 1-based call number (a recurrent cell's time step)
    calls: int  # how many calls of this module the graph holds
    title: str  # "Dense(4, 10, activation='tanh')"
    shapes: list[tuple[int, ...]]  # output shapes
    svg_id: str  # the id of the module's node in the SVG of the collapsed picture
    output: Summary | None  # None when the engine released the value
    grad: Summary | None  # the output's gradient, None before backward or when not kept
    param_grad_norms: dict[str, float] = field(default_factory=dict)  # own params' grads


def _summary(a: Any, bins: int) -> Summary:
    x = np.asarray(a, dtype=np.float64).ravel()
    if not x.size:
        return Summary(0.0, 0.0, 0.0, [0] * bins, [0.0] * (bins + 1))
    finite = x[np.isfinite(x)]
    counts, edges = np.histogram(finite if finite.size else np.zeros(1), bins=bins)
    return Summary(
        float(x.mean()),
        float(x.std()),
        float(np.sqrt(np.square(x).sum())),
        counts.tolist(),
        edges.tolist(),
    )


def module_stats(
    root: Tensor, model: Any = None, backward: bool = True, bins: int = 10, grad: Any = None
) -> list[ModuleStats]:
    """Statistics of each module node of the collapsed picture of ``root``'s graph (every
    call of a layer; containers such as Sequential are drawn as their layers), in order.

    With ``backward=True`` the gradients come as in :func:`draw_graph`: from one backward
    pass that changes no ``.grad`` while the graph keeps its values, else (after a plain
    ``backward()``) from ``.grad``, where an output's gradient is usually not kept.

    Examples
    --------
    >>> import numpy as np
    >>> import tinygrad_bp as tg
    >>> from tinygrad_bp import nn
    >>> model = nn.Sequential(nn.Dense(3, 4, activation="tanh", rng=0), nn.Dense(4, 2, rng=1))
    >>> loss = model(tg.Tensor(np.ones((5, 3)))).sum()
    >>> [(s.name, s.shapes, s.svg_id) for s in tg.viz.module_stats(loss)]
    [('0', [(5, 4)], 'module:0'), ('1', [(5, 2)], 'module:1')]
    """
    fn = "module_stats"
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ValueError(f"{fn}: bins must be a positive int, got {bins!r}")
    ctx = _context(root, model, bool(backward), grad, fn, keep_raw=True)
    out = []
    # exactly the module nodes of the collapsed picture, in the order the program called
    # them (the picture's own order follows its walk: a CNN's second conv came first)
    drawn = [k for k, _ in _collapsed_scene(ctx, set()).nodes if k[0] == "g"]
    calls = sorted((ctx.calls[k[1]] for k in drawn), key=lambda c: c.outputs[0]._seq)
    for c in calls:
        o = c.outputs[0]
        v = _value(o)
        g = ctx.grads.get(id(o))
        params = {}
        for name, p in vars(c.module).items():
            if isinstance(p, Tensor) and p.requires_grad and id(p) in ctx.grads:
                params[name] = ctx.grads[id(p)].norm
        gs = None
        if g is not None:
            gs = Summary(g.mean, float("nan"), g.norm, [], [])
            if ctx.raw is not None and id(o) in ctx.raw:
                gs = _summary(ctx.raw[id(o)], bins)
        out.append(
            ModuleStats(
                c.name,
                c.number,
                c.calls,
                c.title,
                [tuple(x.shape) for x in c.outputs],
                f"module:{c.name}" + ("" if c.calls == 1 else f":{c.number}"),
                None if v is None else _summary(v, bins),
                gs,
                params,
            )
        )
    return out
