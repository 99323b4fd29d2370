"""The live page: watch a network learn, with its graph and its gradients, in a browser.

``tinygrad-bp live`` (or :func:`live` from Python) serves a page on 127.0.0.1 that trains a
model and shows, as it trains: the loss and accuracy curves; the collapsed graph of the
model drawn by :func:`tinygrad_bp.viz.draw_graph` (with the gradient norms of the last
step); every layer's output and gradient statistics (norm, mean, a small histogram) and
its parameters' gradients; for 2-D data the decision boundary.  Pause, then "step" takes
one training step whose backward pass is walked node by node, in the engine's order, with
the frames of :func:`tinygrad_bp.viz.backward_steps`; learning rate and batch size can be
changed while paused.

Design: training runs in one background thread per page (:mod:`.session`), never on the
request path; the server (:mod:`.server`) is Starlette on uvicorn and pushes snapshots by
server-sent events; the page (``static/``) is plain JavaScript and SVG, no build step and
nothing fetched from the network.  Closing the page stops its training; Ctrl-C stops the
server and every training thread.  Starlette and uvicorn are the optional extra
``pip install 'tinygrad-bp[live]'``: the engine does not need them, and nothing here
imports them until a page is served.
"""

from __future__ import annotations

import argparse
import sys
import webbrowser
from collections.abc import Sequence
from typing import Any

__all__ = [
    "live",
    "DATASETS",
    "MODELS",
    "Dataset",
    "DataSpec",
    "ModelSpec",
    "make_moons",
    "make_spirals",
    "configure",
    "main",
]

DEFAULT_PORT = 8000
_LAZY = {
    "DATASETS": "registry",
    "MODELS": "registry",
    "Dataset": "registry",
    "DataSpec": "registry",
    "ModelSpec": "registry",
    "make_moons": "toys",
    "make_spirals": "toys",
}


def __getattr__(name: str) -> Any:
    # Importing this package stays cheap (no nn, no server): tinygrad_bp.viz can import
    # ``live`` from it eagerly.  The registry and the toy sets load on first use.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def live(
    model: Any = None,
    data: Any = "spirals",
    *,
    port: int = DEFAULT_PORT,
    lr: float | None = None,
    batch_size: int | None = None,
    optimizer: str | None = None,
    hidden: Sequence[int] | None = None,
    activation: str = "tanh",
    seed: int = 0,
    delay: float = 0.02,
    open_browser: bool = False,
    block: bool = True,
) -> Any:
    """Serve the live page on ``http://127.0.0.1:port/`` and train as the page asks.

    Parameters
    ----------
    model : your ``nn.Module`` (it is trained in place, by one page at a time), a model name
        from :data:`MODELS` (``"mlp"``), or None for the data set's default.
    data : a data set name from :data:`DATASETS` (``"iris"``, ``"spirals"``, ``"moons"``)
        or a pair ``(X, y)`` with integer class labels; the model's output is read as
        class scores (mean cross-entropy loss).
    port : where to serve; 0 picks a free port.  A busy port raises ``OSError`` naming the
        next free one.
    lr, batch_size, optimizer : ``"sgd"`` or ``"adam"``; None takes the data set's defaults.
    hidden, activation : the hidden sizes and activation of a registry model.
    delay : seconds between training steps, so that the page can be followed.
    open_browser : also open the page in the default browser.
    block : serve until Ctrl-C (True), or return the running server at once (False; call
        its ``.stop()``; its ``.url`` is the page).
    """
    from .server import LiveConfig, LiveServer

    config = LiveConfig(
        data=data,
        model=model,
        hidden=tuple(hidden) if hidden is not None else None,
        activation=activation,
        lr=lr,
        batch_size=batch_size,
        optimizer=optimizer,
        seed=seed,
        delay=delay,
    )
    server = LiveServer(config, port)
    print(f"tinygrad-bp live: serving {server.url} (Ctrl-C stops)", flush=True)
    if open_browser:
        webbrowser.open(server.url)
    if not block:
        return server.start()
    server.run()
    return None


# ---------------------------------------------------------------------- command line
def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``tinygrad-bp live``."""
    from .registry import DATASETS, MODELS

    parser.add_argument(
        "--data",
        default="spirals",
        help=f"data set: {', '.join(DATASETS)} (default spirals); the page can switch",
    )
    parser.add_argument(
        "--model",
        default=None,
        help=f"model: {', '.join(MODELS)} (default: the data set's own)",
    )
    parser.add_argument(
        "--hidden", default=None, help='hidden sizes, e.g. "16,16" (default: the data set\'s)'
    )
    parser.add_argument(
        "--activation",
        choices=("tanh", "sigmoid", "relu"),
        default="tanh",
        help="hidden-layer activation (default tanh)",
    )
    parser.add_argument(
        "--lr", type=float, default=None, help="learning rate (default: the data set's)"
    )
    parser.add_argument(
        "--batch-size", type=int, default=None, help="rows per step (default: the data set's)"
    )
    parser.add_argument(
        "--optimizer",
        choices=("sgd", "adam"),
        default=None,
        help="default: the data set's (sgd for Iris as in the tutorial, adam for the toys)",
    )
    from tinygrad_bp.commands._output import seed_type

    parser.add_argument("--seed", type=seed_type, default=0, help="weights, data and batch seed")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port on 127.0.0.1 (default {DEFAULT_PORT})"
    )
    parser.add_argument(
        "--delay",
        type=float,
        default=0.02,
        help="seconds between steps, so that the page can be followed (default 0.02)",
    )
    parser.add_argument("--open", action="store_true", help="open the page in the browser")


def _hidden(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    from tinygrad_bp.commands.compare import parse_hidden

    return parse_hidden(text)


def main(args: argparse.Namespace) -> int:
    """Run ``tinygrad-bp live``."""
    from .server import PortInUseError

    kwargs = dict(
        model=args.model,
        data=args.data,
        lr=args.lr,
        batch_size=args.batch_size,
        optimizer=args.optimizer,
        hidden=_hidden(args.hidden),
        activation=args.activation,
        seed=args.seed,
        delay=args.delay,
        open_browser=args.open,
    )
    try:
        live(port=args.port, **kwargs)
    except PortInUseError as exc:
        if exc.free is None or not sys.stdin.isatty():
            raise
        answer = input(f"{exc.strerror}\nServe on port {exc.free} instead? [Y/n] ")
        if answer.strip().lower() not in ("", "y", "yes"):
            return 2
        live(port=exc.free, **kwargs)
    except KeyboardInterrupt:  # Ctrl-C before uvicorn installed its handler
        pass
    return 0
