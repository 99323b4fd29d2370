"""``tinygrad-bp exercise NAME [--out FILE]``: a starter file for one layer's backward.

The file holds the layer in the tutorial's notation, its forward written and its backward
left to fill in (the shapes and the chain rule as comments), and a ``check_NAME()``
function: ``tinygrad-bp check FILE`` then compares the learner's gradients with the
engine's.  An existing file is never overwritten.  Without NAME, the names are listed.
"""

from __future__ import annotations

import argparse
import os
import sys

from .exercises import NAMES, TITLES, starter


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``tinygrad-bp exercise``."""
    parser.add_argument(
        "name",
        nargs="?",
        metavar="NAME",
        help="the layer: " + ", ".join(NAMES) + " (none: list them)",
    )
    parser.add_argument(
        "--out",
        metavar="FILE.py",
        help="where to write it (default: NAME.py, with _ for -, in the current folder); "
        "never over an existing file",
    )


def main(args: argparse.Namespace) -> int:
    from ._output import write_file

    if args.name is None:
        width = max(map(len, NAMES))
        for n in NAMES:
            print(f"{n.ljust(width)}  {TITLES[n]}")
        return 0
    if args.name not in NAMES:
        print(
            f"tinygrad-bp exercise: error: unknown exercise {args.name!r}; the exercises are "
            + ", ".join(NAMES),
            file=sys.stderr,
        )
        return 2
    out = args.out or args.name.replace("-", "_") + ".py"
    if not out.endswith(".py"):
        print(f"tinygrad-bp exercise: error: --out {out}: expected a .py file", file=sys.stderr)
        return 2
    if os.path.lexists(out):
        print(
            f"tinygrad-bp exercise: error: {out} exists: not overwriting it (pass --out "
            "another name)",
            file=sys.stderr,
        )
        return 2
    text = starter(args.name, os.path.basename(out))
    # exclusive create: a file that appears meanwhile is not overwritten either
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        print(f"tinygrad-bp exercise: error: {out} exists: not overwriting it", file=sys.stderr)
        return 2
    os.close(fd)
    try:
        write_file(out, text, "exercise")
    except BaseException:
        os.remove(out)
        raise
    print(f"wrote {out}: fill in Layer.backward, then run  tinygrad-bp check {out}")
    return 0
