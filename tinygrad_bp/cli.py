"""The ``tinygrad-bp`` command line: ``train``, ``compare``, ``graph``, ``bench``, ``live``.

Each subcommand lives in its own module, which defines ``configure(parser)`` (its
arguments and help) and ``main(args) -> int`` (the exit status).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# subcommand -> (module, one-line help)
COMMANDS = {
    "train": ("tinygrad_bp.train", "reproduce the tutorial's training runs (Iris, regression)"),
    "compare": ("tinygrad_bp.compare", "engine vs hand-written vs finite-difference gradients"),
    "graph": ("tinygrad_bp.viz", "draw the tutorial network's forward/backward graph"),
    "bench": ("tinygrad_bp.bench", "time one training step against hand-written NumPy"),
    "live": ("tinygrad_bp.live", "a local page that trains a network and shows its gradients"),
}


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="tinygrad-bp",
        description="tinygrad_bp: the backprop tutorial as a small autograd engine on NumPy.",
    )
    parser.add_argument("--version", action="version", version=f"tinygrad-bp {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (module_name, help_text) in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:  # an optional piece not installed
            if exc.name != module_name:
                raise
            continue
        if not hasattr(module, "configure"):
            continue
        p = sub.add_parser(name, help=help_text, description=help_text)
        module.configure(p)
        p.set_defaults(_module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._module.main(args) or 0)
    except (ValueError, TypeError, OSError, KeyError, RuntimeError) as exc:
        print(f"tinygrad-bp {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
