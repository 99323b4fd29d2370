"""The ring allreduce, step by step: one picture per step, and a GIF.

Each of ``n`` processes holds its gradient cut into ``n`` chunks.  In the first ``n − 1``
steps (*reduce-scatter*) every process sends one chunk to its right-hand neighbour, which
adds it to its own copy of that chunk; afterwards process ``r`` holds the complete sum of
chunk ``r + 1``.  In the next ``n − 1`` steps (*all-gather*) the complete chunks travel
round the ring, replacing the partial ones.  Every process sends ``2(n − 1)`` messages of
one chunk (``S/n`` bytes) each: ``2(n − 1)/n · S`` bytes, almost independent of ``n``.

The frames are drawn with Graphviz (through pygraphviz, as every picture here) in the
project's colours: a chunk's cell lists whose gradients it sums so far, light blue while
partial and gold once it holds all ``n``; the arrows of the current step are orange and
say which chunk they carry.
"""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass, field
from typing import Any

from ._style import _CURRENT, _FILL, _FONT, _MUTED, _esc, _pillow, _pygraphviz
from .render import Graph, _render, _write_atomic

__all__ = ["RingResult", "ring_allreduce_states", "ring_allreduce_graph", "ring_allreduce_steps"]

_PARTIAL = "#dbe9f6"  # light blue, as a computed tensor
_DONE = _FILL["param"]  # gold: the finished sum


def _check_n(n: Any, where: str) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or not 2 <= n <= 8:
        raise ValueError(f"{where}: n must be an int from 2 to 8 processes, got {n!r}")
    return n


def ring_allreduce_states(
    n: int,
) -> list[tuple[list[list[frozenset[int]]], list[tuple[int, int]], str]]:
    """The ring allreduce of ``n`` processes as data: for the start and after each of the
    ``2(n − 1)`` steps, ``(held, sends, caption)`` where ``held[r][c]`` is the set of
    processes whose chunk ``c`` process ``r`` has summed, and ``sends`` the
    ``(from process, chunk)`` messages of that step (to ``from + 1``).

    Examples
    --------
    >>> from tinygrad_bp.viz.ring import ring_allreduce_states
    >>> states = ring_allreduce_states(3)
    >>> len(states)                       # the start, 2 reduce-scatter and 2 all-gather steps
    5
    >>> [sorted(s) for s in states[-1][0][0]]   # process 0 at the end: every chunk complete
    [[0, 1, 2], [0, 1, 2], [0, 1, 2]]
    """
    n = _check_n(n, "ring_allreduce_states")
    held = [[frozenset({r}) for _ in range(n)] for r in range(n)]
    out = [
        (
            [row[:] for row in held],
            [],
            f"start: each of the {n} processes holds its own gradient, cut into {n} chunks",
        )
    ]
    for s in range(n - 1):  # reduce-scatter
        sends = [(r, (r - s) % n) for r in range(n)]
        new = [row[:] for row in held]
        for r, c in sends:
            new[(r + 1) % n][c] = held[(r + 1) % n][c] | held[r][c]
        held = new
        tail = "; now process r holds the whole sum of chunk r+1" if s == n - 2 else ""
        out.append(
            ([row[:] for row in held], sends,
             f"reduce-scatter, step {s + 1} of {n - 1}: each process sends one chunk to its "
             f"right and the receiver adds it to its own{tail}")
        )  # fmt: skip
    for s in range(n - 1):  # all-gather
        sends = [(r, (r + 1 - s) % n) for r in range(n)]
        new = [row[:] for row in held]
        for r, c in sends:
            new[(r + 1) % n][c] = held[r][c]
        held = new
        tail = "; every process holds the sum of all gradients" if s == n - 2 else ""
        out.append(
            ([row[:] for row in held], sends,
             f"all-gather, step {s + 1} of {n - 1}: the complete chunks travel on, replacing "
             f"the partial ones{tail}")
        )  # fmt: skip
    return out


def _cell(chunk: int, who: frozenset[int], n: int, fresh: bool) -> str:
    fill = _DONE if len(who) == n else (_PARTIAL if len(who) > 1 else "#ffffff")
    text = "+".join(f"g{r}" for r in sorted(who)) if len(who) < n else f"Σ all {n}"
    border = f' color="{_CURRENT}"' if fresh else ""
    width = 22 + 24 * n
    return (
        f'<td border="{2 if fresh else 1}"{border} bgcolor="{fill}" fixedsize="true" '
        f'width="{width}" height="22"><font point-size="10">chunk {chunk}: {_esc(text)}</font></td>'
    )


def ring_allreduce_graph(n: int = 4, step: int = 0, title: str | None = None) -> Graph:
    """The picture of the ring allreduce of ``n`` processes after ``step`` steps
    (0: the start, up to ``2(n − 1)``), as a :class:`~tinygrad_bp.viz.Graph`."""
    n = _check_n(n, "ring_allreduce_graph")
    states = ring_allreduce_states(n)
    if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step < len(states):
        raise ValueError(
            f"ring_allreduce_graph: step must be an int from 0 to {len(states) - 1}, got {step!r}"
        )
    held, sends, caption = states[step]
    before = states[step - 1][0] if step else held
    pgv = _pygraphviz()
    g = pgv.AGraph(directed=True, strict=False, name="ring_allreduce")
    label = f"<b>{_esc(title)}</b><br/>" if title else ""
    g.graph_attr.update(
        layout="neato",
        fontname=_FONT,
        bgcolor="white",
        labelloc="t",
        pad="0.3",
        splines="curved",
        label=f'<{label}<font point-size="12" color="{_CURRENT}">{_esc(caption)}</font>>',
    )
    g.node_attr.update(fontname=_FONT, shape="plaintext", margin="0")
    g.edge_attr.update(fontname=_FONT, fontsize="11", color=_MUTED, arrowsize="0.8")
    radius = 1.1 + 0.45 * n
    for r in range(n):
        angle = math.pi / 2 - 2 * math.pi * r / n  # process 0 on top, clockwise
        x, y = radius * math.cos(angle) * 1.5, radius * math.sin(angle)
        cells = "".join(
            f"<tr>{_cell(c, held[r][c], n, held[r][c] != before[r][c])}</tr>" for c in range(n)
        )
        html = (
            f'<<table border="1" cellborder="0" cellspacing="3" cellpadding="2" bgcolor="#f6f6f6">'
            f"<tr><td><b>process {r}</b></td></tr>{cells}</table>>"
        )
        g.add_node(f"p{r}", label=html, pos=f"{x:.2f},{y:.2f}!")
    sending = dict(sends)
    for r in range(n):
        attrs: dict[str, str] = {}
        if r in sending:
            attrs = {"color": _CURRENT, "penwidth": "2.4", "fontcolor": _CURRENT,
                     "label": f"chunk {sending[r]}"}  # fmt: skip
        g.add_edge(f"p{r}", f"p{(r + 1) % n}", **attrs)
    return Graph(g.string(), f"ring allreduce, step {step}", n, n)


@dataclass
class RingResult:
    """What :func:`ring_allreduce_steps` wrote: one PNG per step and the GIF."""

    frames: list[str]
    gif: str
    captions: list[str] = field(default_factory=list)


def ring_allreduce_steps(
    out_dir: str | os.PathLike[str],
    n: int = 4,
    title: str | None = None,
    gif: str | os.PathLike[str] | None = None,
    duration_ms: int = 1600,
    prefix: str = "ring",
) -> RingResult:
    """Write ``out_dir/{prefix}_step{k}.png`` for every step ``k`` of the ring allreduce of
    ``n`` processes and the animated GIF (``gif``, by default
    ``out_dir/{prefix}_allreduce.gif``); each file is written whole or not at all."""
    n = _check_n(n, "ring_allreduce_steps")
    out = os.fspath(out_dir)
    if not os.path.isdir(out):
        raise FileNotFoundError(2, f"ring_allreduce_steps: the folder {out!r} does not exist")
    gif = os.path.join(out, f"{prefix}_allreduce.gif") if gif is None else os.fspath(gif)
    if os.path.splitext(gif)[1].lower() != ".gif":
        raise ValueError(f"ring_allreduce_steps: gif must be a path ending in .gif, got {gif!r}")
    Image = _pillow()
    states = ring_allreduce_states(n)
    frames, images = [], []
    for k in range(len(states)):
        png = _render(ring_allreduce_graph(n, k, title).source, "png", prog="neato")
        path = os.path.join(out, f"{prefix}_step{k}.png")
        _write_atomic(path, png, "ring_allreduce_steps")
        frames.append(path)
        images.append(Image.open(io.BytesIO(png)).convert("RGB"))
    w = max(im.width for im in images)
    h = max(im.height for im in images)
    canvas = []
    for im in images:  # one size for every frame, centred on white
        c = Image.new("RGB", (w, h), "white")
        c.paste(im, ((w - im.width) // 2, 0))
        canvas.append(c.convert("P", palette=Image.ADAPTIVE))
    buf = io.BytesIO()
    durations = [duration_ms] * (len(canvas) - 1) + [duration_ms * 3]
    canvas[0].save(
        buf, format="GIF", save_all=True, append_images=canvas[1:], duration=durations, loop=0
    )
    _write_atomic(gif, buf.getvalue(), "ring_allreduce_steps")
    return RingResult(frames, gif, [s[2] for s in states])
