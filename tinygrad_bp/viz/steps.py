"""Step frames: one picture per step of the engine's backward walk, a GIF and a page."""

from __future__ import annotations

import html
import io
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..tensor import Tensor
from ._style import _CURRENT, _GRAD, _PENDING, DEFAULT_MAX_NODES, _pillow
from .read import _context, _Ctx
from .render import _agraph, _graph_label, _legend, _render, _write_atomic
from .scene import _display, _esc, _full_scene, _op_label, _tensor_label, _wrt


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


def _step_caption(ctx: _Ctx, k: int, t: Tensor) -> str:
    n = len(ctx.order)
    who = _display(ctx, t)
    if t.parents:
        return f"step {k + 1} of {n}: {_wrt(who)} is complete; {t.op} sends it to its inputs"
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
