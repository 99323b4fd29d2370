"""``tinygrad-bp graph``: draw the tutorial's network (or a saved model) from the shell.

:func:`tutorial_graph` builds the tutorial's network and loss, :func:`load_model` rebuilds
a network from its weights file and :func:`graph_loss` its loss on a batch of its data;
the pictures are :mod:`tinygrad_bp.viz`'s.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ..serialization import (
    _ACTIVATION_LAYERS,
    WeightsFileError,
    architecture,
    load_into,
    read_selected,
)
from ..tensor import Tensor
from ..viz._style import DEFAULT_MAX_NODES
from ..viz.draw import draw_graph
from ..viz.render import _format_for
from ..viz.steps import backward_steps

if TYPE_CHECKING:  # pragma: no cover
    from ..nn import Sequential

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
        loss, model, what = graph_loss(args.weights, args.batch_size, args.seed, args.activation)
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


# ====================================================================== weights files
def load_model(
    path: str | os.PathLike[str], what: str = "load", activation: str | None = None
) -> tuple[Sequential, dict[str, Any]]:
    """Rebuild the network saved in ``path`` and load its weights.

    Returns ``(model, metadata)``.  A file that records its architecture is rebuilt as it
    was saved (``activation``, if given, must agree with it); an older file without one
    is read as Dense layers ``0.W, 0.b, 1.W, ...`` with ``activation`` (default tanh) on
    the hidden layers, and its metadata says ``"architecture_recorded": False``.
    """
    path = os.fspath(path)

    def choose(headers: Mapping[str, Any], meta: dict[str, Any] | None) -> Any:
        # the model from the metadata or the headers; then only its own entries are inflated
        model, info = _rebuild(headers, meta, path, what, activation)
        params = dict(model.named_parameters())
        missing = sorted(set(params) - set(headers))
        unexpected = sorted(set(headers) - set(params))
        if missing or unexpected:
            raise WeightsFileError(
                f"{what}: {path} does not match its recorded architecture: missing keys "
                f"{missing}, unexpected keys {unexpected}"
            )
        for name, p in params.items():
            shape = headers[name][0]
            if shape != p.data.shape:
                raise WeightsFileError(
                    f"{what}: {path}: {name} has shape {shape} in the file, "
                    f"{p.data.shape} in the model"
                )
        return (model, info), list(params)

    (model, info), state = read_selected(path, choose, what)
    try:
        load_into(model, state, what)
    except KeyError as exc:
        raise WeightsFileError(
            f"{what}: {path} does not match its recorded architecture: {exc.args[0]}"
        ) from None
    except (ValueError, TypeError) as exc:
        raise WeightsFileError(f"{what}: {path}: {exc}") from None
    return model, info


def _rebuild(
    headers: Mapping[str, Any],
    meta: dict[str, Any] | None,
    path: str,
    what: str,
    activation: str | None,
) -> tuple[Sequential, dict[str, Any]]:
    """The model a weights file describes: its recorded architecture, or Dense layers
    inferred from the entries' shapes (``headers``: name -> (shape, dtype))."""
    from .. import nn

    arch = (meta or {}).get("architecture")
    if arch is not None:
        try:
            mods = []
            for d in arch["layers"]:
                if d["type"] == "Dense":
                    mods.append(
                        nn.Dense(
                            int(d["in_features"]),
                            int(d["out_features"]),
                            activation=d["activation"],
                            dtype=d.get("dtype"),
                        )
                    )
                elif d["type"] in _ACTIVATION_LAYERS:
                    mods.append(getattr(nn, d["type"])())
                else:
                    raise ValueError(f"unknown layer type {d['type']!r}")
            if not any(isinstance(m, nn.Dense) for m in mods):
                raise ValueError("no Dense layer")
            model = nn.Sequential(*mods)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise WeightsFileError(
                f"{what}: {path}: the recorded architecture cannot be rebuilt ({exc})"
            ) from None
        saved_act = arch.get("activation")
        if activation is not None and "activation" in arch and activation != saved_act:
            raise ValueError(
                f"{what}: {path} was saved with hidden activation {saved_act!r}, not {activation!r}"
            )
        info = dict(meta or {})
        info["architecture_recorded"] = True
    else:
        model = _infer_dense(headers, path, what, activation or "tanh")
        info = dict(meta or {})
        info["architecture_recorded"] = False
        info["architecture"] = architecture(model)
    return model, info


def _infer_dense(headers: Mapping[str, Any], path: str, what: str, act: str) -> Sequential:
    from .. import nn

    names = sorted(headers)
    layers = []
    i = 0
    while f"{i}.W" in headers:
        shape, dtype = headers[f"{i}.W"]
        if len(shape) != 2 or f"{i}.b" not in headers:
            raise WeightsFileError(f"{what}: {path}: layer {i} needs a 2-D {i}.W and a {i}.b")
        layers.append((shape, dtype))
        i += 1
    if not layers or len(headers) != 2 * len(layers):
        raise WeightsFileError(
            f"{what}: {path} does not hold Dense layers saved by Module.save (expected "
            f"arrays 0.W, 0.b, 1.W, ...; found {names})"
        )
    n = len(layers)
    mods = [
        nn.Dense(
            int(shape[0]),
            int(shape[1]),
            activation=act if k < n - 1 else None,
            dtype=dtype if dtype.kind == "f" else None,
        )
        for k, (shape, dtype) in enumerate(layers)
    ]
    try:
        return nn.Sequential(*mods)
    except ValueError as exc:
        raise WeightsFileError(f"{what}: {path}: {exc}") from None


def graph_loss(
    path: str | os.PathLike[str],
    batch_size: int = 4,
    seed: int = 0,
    activation: str | None = None,
    what: str = "graph",
) -> tuple[Any, Sequential, str]:
    """``(loss, model, description)`` for drawing the network saved in ``path`` as it was
    trained: its layers and activation from the file, and its task's loss (cross-entropy
    for ``classify``, the batch mean of ½‖ŷ − y‖² for ``regress``) on a batch of the
    shipped data when the network's inputs and outputs fit it, else on seeded random rows.
    Files saved before the architecture was recorded are drawn as Dense layers with
    ``activation`` (default tanh) as a classifier, and the description says so."""
    from .. import data, nn, ops
    from ..functional import half_squared_error
    from ..tensor import Tensor

    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, int)
        or not 1 <= batch_size <= 150
    ):
        raise ValueError(f"{what}: --batch-size must be between 1 and 150, got {batch_size!r}")
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{what}: no such weights file: {path}")
    model, info = load_model(path, what, activation)
    task = info.get("task", "classify")
    if task not in ("classify", "regress"):
        raise WeightsFileError(f"{what}: {path} records an unknown task {task!r}")
    dense = [m for m in model if isinstance(m, nn.Dense)]
    first, last = dense[0], dense[-1]
    n_in, n_out = first.in_features, last.out_features
    dtype = first.W.data.dtype
    rng = np.random.default_rng(seed)
    if task == "classify":
        X, y = data.load_iris()
        X = data.standardize(X)[0]
        fits, name = n_in == X.shape[1] and n_out == 3, "Iris rows"
    else:
        X, y = data.make_regression(150, seed=seed)
        fits, name = n_in == X.shape[1] and n_out == y.shape[1], "make_regression rows"
    if fits:
        idx = rng.permutation(len(X))[:batch_size]
        xb, yb = X[idx].astype(dtype), y[idx]
        src = f"{batch_size} {name}"
    else:
        xb = rng.standard_normal((batch_size, n_in)).astype(dtype)
        if task == "classify":
            yb = rng.integers(0, n_out, size=batch_size)
        else:
            yb = rng.standard_normal((batch_size, n_out)).astype(dtype)
        src = f"{batch_size} random rows (the model does not fit the shipped {name})"
    out = model(Tensor(xb))
    if task == "classify":
        loss, kind = ops.cross_entropy(out, yb), "cross-entropy"
    else:
        loss, kind = half_squared_error(out, yb.astype(dtype)), "1/2 squared error"
    arch = info.get("architecture") or {}
    act = arch.get("activation")
    shape = "-".join(str(v) for v in arch.get("sizes", [])) or "saved model"
    desc = f"{os.path.basename(path)} ({shape}, {act or 'no'} hidden activation, {task})"
    if not info.get("architecture_recorded"):
        desc += " [architecture not recorded in the file: hidden activation assumed]"
    return loss, model, f"{desc}, {kind} on {src}"
