#!/usr/bin/env python3
"""Regenerate the graph pictures in docs/images/ from the tutorial's network.

    python scripts/make_pictures.py            # from the repository root

Draws the 4 → 10 tanh → 5 tanh → 3 network with cross-entropy on 4 Iris rows (weights
seeded, so the pictures are the same on every run): forward (PNG, SVG), backward with the
gradients (PNG, SVG), one node per layer (PNG), and the backward walk step by step (one
palette PNG per step and an HTML page in docs/images/steps/, the animation in
docs/images/tutorial_steps.gif).  Then the graphs of tanh and of its first three
derivatives at x = 0.5 (``tanh_order0.svg`` .. ``tanh_order3.svg``), made with
``tg.grad(..., create_graph=True)`` as docs/higher_order.md shows.
"""

from __future__ import annotations

import argparse
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # this checkout's package, not an installed one

import tinygrad_bp as tg  # noqa: E402
from tinygrad_bp import viz  # noqa: E402

WHAT = "the tutorial's network 4→10→5→3, cross-entropy on 4 Iris rows"
TANH_ORDERS = 4  # tanh and its first three derivatives


def tanh_derivative_graphs() -> list[viz.Graph]:
    """The graphs of tanh at x = 0.5 and of its derivatives, order 0 .. TANH_ORDERS - 1:
    each derivative is ``tg.grad`` of the previous one, under ``create_graph=True``."""
    x = tg.Tensor(0.5, requires_grad=True)
    orders = [x.tanh()]
    for _ in range(TANH_ORDERS - 1):
        (d,) = tg.grad(orders[-1], x, create_graph=True)
        orders.append(d)
    return [viz.draw_graph(d, title=f"order {k}") for k, d in enumerate(orders)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(ROOT, "docs", "images"))
    args = parser.parse_args(argv)
    out = args.out
    os.makedirs(out, exist_ok=True)

    def tutorial():  # a fresh graph each time: nothing drawn depends on an earlier picture
        loss, model, _ = viz.tutorial_graph(batch_size=4, seed=0)
        return loss, model

    written = []
    loss, model = tutorial()
    g = viz.draw_graph(loss, model=model, title=f"Forward: {WHAT}")
    for ext in ("png", "svg"):
        written.append(g.save(os.path.join(out, f"tutorial_forward.{ext}")))
    g = viz.draw_graph(loss, backward=True, model=model, title=f"Backward: {WHAT}")
    for ext in ("png", "svg"):
        written.append(g.save(os.path.join(out, f"tutorial_backward.{ext}")))
    g = viz.draw_graph(loss, model=model, collapse=True, title="One node per Dense layer")
    written.append(g.save(os.path.join(out, "tutorial_collapsed.png")))
    res = viz.backward_steps(
        loss,
        os.path.join(out, "steps"),
        model=model,
        title=f"Backward, step by step: {WHAT}",
        gif=os.path.join(out, "tutorial_steps.gif"),
    )
    written += [res.gif, res.html, *res.frames]
    for k, g in enumerate(tanh_derivative_graphs()):
        written.append(g.save(os.path.join(out, f"tanh_order{k}.svg")))
    for path in written:
        print(os.path.relpath(path, ROOT), os.path.getsize(path), "bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
