"""``tinygrad-bp graph``: draw the tutorial's network (or a saved model) from the shell."""

from __future__ import annotations

import argparse
import os
import re
from typing import Any

import numpy as np

from ..tensor import Tensor
from ..viz._style import DEFAULT_MAX_NODES
from ..viz.draw import draw_graph
from ..viz.render import _format_for
from ..viz.steps import backward_steps

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
        default=5,
        help="Iris rows in the batch (default 5: few enough to read, and unlike the 4 "
        "features, so x (5, 4) shows which axis is the batch)",
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
    from ..nn import Dense, Sequential

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
    batch_size: int = 5, seed: int = 0, weights: str | None = None, activation: str = "tanh"
) -> tuple[Tensor, Any, str]:
    """The tutorial's network (4 → 10 tanh → 5 tanh → 3, cross-entropy) on an Iris batch.

    Returns ``(loss, model, description)``; with ``weights`` the model comes from a file
    saved by ``Module.save``.  Inputs that do not fit Iris get a seeded random batch.
    """
    from .. import data, nn, ops
    from ..tensor import Tensor as T

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
    from .. import serialization
    from ..viz.steps import _FRAME_RE
    from . import _output

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
