#!/usr/bin/env python3
"""Regenerate the graph pictures in docs/images/ from the tutorial's network.

    python scripts/make_pictures.py            # from the repository root

Draws the 4 → 10 tanh → 5 tanh → 3 network with cross-entropy on 5 Iris rows (5, not 4:
``x (5, 4)`` then says which axis is the batch; weights seeded, so the pictures are the
same on every run): forward (PNG, SVG), backward with the gradients (PNG, SVG), the same
after a plain ``loss.backward()`` (PNG), one node per layer (PNG), the same with
layer 1 opened into its ops (PNG), and the backward walk
step by step (one palette PNG per step and an HTML page in docs/images/steps/, the
animation in docs/images/tutorial_steps.gif).  Where the engine has them, also the graph
of tanh's first derivative made by ``tg.autograd.grad(..., create_graph=True)``, the
graphs of tanh and of its first three derivatives at x = 0.5 (``tanh_order0.svg`` ..
``tanh_order3.svg``, as docs/higher_order.md shows); the digits CNN of models.py
collapsed to one node per layer after ``backward()`` (``cnn_collapsed.png``) and with its
first convolution opened (``cnn_expanded.png``); an LSTMCell unrolled over four time steps
(``lstm_collapsed.png``).  And the ring allreduce of data-parallel training, one frame per
step (docs/images/ring/, the animation in docs/images/ring_allreduce.gif; the chapter
docs/distributed.md shows them).
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # this checkout's package, not an installed one

from tinygrad_bp import viz  # noqa: E402
from tinygrad_bp.commands.graph import tutorial_graph  # noqa: E402

BATCH = 5
WHAT = f"the tutorial's network 4→10→5→3, cross-entropy on {BATCH} Iris rows"
TANH_ORDERS = 4  # tanh and its first three derivatives


def tanh_derivative_graphs() -> list[viz.Graph]:
    """The graphs of tanh at x = 0.5 and of its derivatives, order 0 .. TANH_ORDERS - 1:
    each derivative is ``tg.grad`` of the previous one, under ``create_graph=True``."""
    import tinygrad_bp as tg

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
    os.makedirs(os.path.join(out, "ring"), exist_ok=True)

    def tutorial():  # a fresh graph each time: nothing drawn depends on an earlier picture
        loss, model, _ = tutorial_graph(batch_size=BATCH, seed=0)
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
    g = viz.draw_graph(
        loss, model=model, expand=["1"], backward=True, title="Layer 1 opened into its ops"
    )
    written.append(g.save(os.path.join(out, "tutorial_expanded.png")))
    loss, model = tutorial()
    loss.backward()  # the most natural sequence: the picture reads .grad afterwards
    g = viz.draw_graph(loss, backward=True, model=model, title=f"After loss.backward(): {WHAT}")
    written.append(g.save(os.path.join(out, "tutorial_after_backward.png")))
    written += _optional_pictures(out)
    written += layer_pictures(out)
    loss, model = tutorial()
    res = viz.backward_steps(
        loss,
        os.path.join(out, "steps"),
        model=model,
        title=f"Backward, step by step: {WHAT}",
        gif=os.path.join(out, "tutorial_steps.gif"),
    )
    written += [res.gif, res.html, *res.frames]
    ring = viz.ring_allreduce_steps(
        os.path.join(out, "ring"), n=4, title="Ring allreduce of 4 processes",
        gif=os.path.join(out, "ring_allreduce.gif"),
    )  # fmt: skip
    written += [ring.gif, *ring.frames]
    for path in written:
        print(os.path.relpath(path, ROOT), os.path.getsize(path), "bytes")
    return 0


def _optional_pictures(out: str) -> list[str]:
    """Pictures of engine features that may not be in this tree yet (higher-order
    gradients, convolution layers): drawn when the engine has them, else skipped."""
    import numpy as np

    import tinygrad_bp as tg

    written = []
    grad = getattr(tg.autograd, "grad", None)
    if grad is not None:
        x = tg.Tensor(np.array([0.5, -1.0]), requires_grad=True, name="x")
        (dx,) = grad(x.tanh().sum(), x, create_graph=True)  # 1 − tanh(x)², as a graph
        g = viz.draw_graph(
            dx.sum(), backward=True, title="The graph of d/dx tanh(x), made by create_graph=True"
        )
        written.append(g.save(os.path.join(out, "tanh_derivative.png")))
        for k, g in enumerate(tanh_derivative_graphs()):
            written.append(g.save(os.path.join(out, f"tanh_order{k}.svg")))
    else:
        print("skipped tanh_derivative.png: tg.autograd.grad is not in this tree")
    written += _cnn_pictures(out)
    written += _lstm_pictures(out)
    return written


# The layers whose graphs docs/layers/*.md show, as `compare --layer` builds them, smaller.
LAYER_PICTURES = {
    "conv2d": dict(n=1, c=2, c_out=2, hw=(4, 4), stride=2, padding=1),
    "batchnorm": dict(n=2, c=2, hw=(2, 2)),
    "rnn": dict(t=3, n=1, input_size=2, hidden=3),
    "lstm": dict(t=2, n=1, input_size=2, hidden=2),
    "attention": dict(t=3, n=1, embed=4),
}


def layer_pictures(out: str) -> list[str]:
    """The engine's graph of each layer the family pages derive by hand
    (``layer_<name>.png``): the same layer, weights and ``L = Σ out ⊙ R`` that
    ``tinygrad-bp compare --layer <name>`` checks, with the gradient flow."""
    import tinygrad_bp as tg
    from tinygrad_bp.commands.compare_layers import build_case

    written = []
    for name, kw in LAYER_PICTURES.items():
        case = build_case(name, seed=0, **kw)
        x = tg.Tensor(case.x, requires_grad=True, name="x")
        y = case.engine_forward(x)
        r = tg.Tensor(np.random.default_rng(1000).standard_normal(y.shape), name="R")
        loss = (y * r).sum()
        g = viz.draw_graph(
            loss,
            backward=True,
            model=case.engine,
            title=f"The engine's graph: {case.description}, L = sum(out * R)",
        )
        written.append(g.save(os.path.join(out, f"layer_{name}.png")))
    return written


def _cnn_pictures(out: str) -> list[str]:
    """The digits CNN of models.py on 4 seeded images: one node per layer after a plain
    ``loss.backward()`` (each parameter's .grad shown), and its first convolution opened."""
    import numpy as np

    import tinygrad_bp as tg
    from tinygrad_bp.commands.models import DigitsCNN

    def cnn_loss():
        rng = np.random.default_rng(0)
        cnn = DigitsCNN(rng=0)
        x = tg.Tensor(rng.standard_normal((4, 1, 8, 8)))
        return tg.functional.cross_entropy(cnn(x), np.arange(4)), cnn

    loss, cnn = cnn_loss()
    loss.backward()
    g = viz.draw_graph(
        loss,
        model=cnn,
        collapse=True,
        backward=True,
        title="The digits CNN after loss.backward(), one node per layer",
    )
    written = [g.save(os.path.join(out, "cnn_collapsed.png"))]
    loss, cnn = cnn_loss()
    g = viz.draw_graph(
        loss,
        model=cnn,
        expand=["net.0"],
        backward=True,
        title="The digits CNN with its first Conv2d opened into its ops",
    )
    written.append(g.save(os.path.join(out, "cnn_expanded.png")))
    return written


def _lstm_pictures(out: str) -> list[str]:
    """An nn.LSTMCell stepped over 4 time steps, then a linear head: one node per call."""
    import numpy as np

    import tinygrad_bp as tg
    from tinygrad_bp import nn

    rng = np.random.default_rng(0)
    cell, head = nn.LSTMCell(3, 8, rng=0), nn.Linear(8, 2, rng=1)
    h = c = tg.Tensor(np.zeros((2, 8)))
    for _ in range(4):
        h, c = cell(tg.Tensor(rng.standard_normal((2, 3))), (h, c))
    loss = tg.functional.cross_entropy(head(h), np.array([0, 1]))
    g = viz.draw_graph(
        loss,
        model=nn.Sequential(cell, head),
        collapse=True,
        backward=True,
        title="An LSTMCell unrolled over 4 time steps, one node per call",
    )
    return [g.save(os.path.join(out, "lstm_collapsed.png"))]


if __name__ == "__main__":
    sys.exit(main())
