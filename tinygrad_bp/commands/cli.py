"""The ``tinygrad-bp`` command line: ``train``, ``compare``, ``graph``, ``bench``, ``live``,
``check``, ``exercise``.

Each subcommand lives in its own module, which defines ``configure(parser)`` (its
arguments and help) and ``main(args) -> int`` (the exit status).

Every command ends in one of these ways: its exit status (0, or 1 when a check it runs
found a difference); 2 and one line ``tinygrad-bp COMMAND: error: ...`` for bad input or
an unusable file; 130 (SIGINT, Ctrl-C) or 143 (SIGTERM) and one line saying what was
written before it stopped; and quietly when the reader of its output goes away
(``tinygrad-bp compare | head``).  A signal after the command has finished (its files
written, its lines printed) is ignored: the run is complete and ends with its own status.
"""

from __future__ import annotations

import argparse
import importlib
import os
import shlex
import signal
import sys
from collections.abc import Sequence

from . import _output, _parallel

# subcommand -> (module, one-line help)
COMMANDS = {
    "train": (
        "tinygrad_bp.commands.train",
        "train the tutorial's network (Iris, regression) or a later model (digits, names)",
    ),
    "compare": (
        "tinygrad_bp.commands.compare",
        "engine vs hand-written vs finite-difference gradients",
    ),
    "graph": ("tinygrad_bp.commands.graph", "draw the tutorial network's forward/backward graph"),
    "bench": ("tinygrad_bp.commands.bench", "time one training step against hand-written NumPy"),
    "live": (
        "tinygrad_bp.commands.live",
        "a local page that trains a network and shows its gradients",
    ),
    "check": ("tinygrad_bp.commands.check", "check your own hand-written backward (FILE.py)"),
    "exercise": ("tinygrad_bp.commands.exercise", "write a starter file: one layer's backward"),
}


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

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
        p.set_defaults(_module=module, _parser=p)
    return parser


def _wrote(paths: list[str]) -> str:
    if not paths:
        return "nothing was written"
    shown = ", ".join(paths[:6]) + (f" and {len(paths) - 6} more" if len(paths) > 6 else "")
    return f"wrote {shown} before stopping"


def main(argv: Sequence[str] | None = None) -> int:
    program = argv is None  # the process itself (tinygrad-bp, python -m tinygrad_bp)
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # the subcommand's own usage, not the top-level one
        args._parser.error(f"unrecognized arguments: {' '.join(extra)}")
    # The command as typed, for pages that say what made them (bench).
    args._command_line = "python -m tinygrad_bp " + shlex.join(argv)
    # A signal that arrives before the command has finished interrupts it (the line below
    # says what was written); once it has finished, signals are ignored until the process
    # exits: the run is complete, and its exit status is the command's.
    with _output.signals(until_exit=program):
        try:
            status = int(args._module.main(args) or 0)
            sys.stdout.flush()  # here, so that a closed pipe is handled below
            _output.command_done()
            return status
        except _output.Interrupted as exc:
            status = 128 + exc.signum
        except KeyboardInterrupt:
            status = 128 + signal.SIGINT
        except BrokenPipeError:
            _output.command_done()
            # The reader went away (`| head`): say nothing more, and let the interpreter's
            # final flush of stdout go nowhere instead of printing a second error.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
            return 128 + signal.SIGPIPE
        except (ValueError, TypeError, OSError, KeyError, RuntimeError, MemoryError) as exc:
            _output.command_done()
            line = _output.error_line(exc, args.command)
            print(f"tinygrad-bp {args.command}: error: {line}", file=sys.stderr)
            return _parallel.end_all(2)  # under mpiexec: ends every process, no hang
    print(
        f"tinygrad-bp {args.command}: interrupted; {_wrote(_output.written())}",
        file=sys.stderr,
    )
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
