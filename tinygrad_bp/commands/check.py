"""``tinygrad-bp check FILE.py``: run the checks a learner's file declares.

The convention: every top-level function of the file whose name starts with ``check_``
is called with no arguments and returns a report (``tg.check.layer(...)``,
``tg.check.functions(...)`` or ``tg.check.network(...)``), or a list of them.  The
command prints each report; ``--picture`` also writes each report's picture beside the
file, as ``FILE.CHECKNAME.png``.  A picture is written only where no file is, or over one
this command wrote and nobody changed since (its pixels' hash is kept inside the PNG).

Exit status: 0 every check ok; 1 one is wrong (or its backward is not written yet); 2 bad
input (no such file, a file that does not import, no ``check_`` function, a layer the
checker cannot read: a message says which and why).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import io
import os
import sys
import traceback
import uuid
from typing import Any

#: The PNG text key that marks a picture as this command's (value: its pixels' sha256).
PNG_KEY = "tinygrad-bp-check"


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``tinygrad-bp check``."""
    parser.add_argument(
        "file",
        metavar="FILE.py",
        help="a Python file whose check_* functions each return a tg.check report "
        "(tinygrad-bp exercise writes such files)",
    )
    parser.add_argument(
        "--picture",
        action="store_true",
        help="also write each report's picture beside the file, as FILE.CHECKNAME.png "
        "(never over a file this command did not write)",
    )


def _load(path: str) -> Any:
    """Import the learner's file as a fresh module; its folder is importable meanwhile."""
    name = f"_tinygrad_bp_check_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ValueError(f"cannot import {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    folder = os.path.dirname(os.path.abspath(path))
    sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        te = traceback.TracebackException.from_exception(exc)
        frames = [f for f in te.stack if os.path.abspath(f.filename) == os.path.abspath(path)]
        te.stack = traceback.StackSummary.from_list(frames)
        text = "".join(te.format()).rstrip()
        raise _BadFile(f"{path} does not import ({type(exc).__name__}):\n{text}") from None
    finally:
        try:
            sys.path.remove(folder)
        except ValueError:
            pass
    return module


class _BadFile(Exception):
    pass


def _ours(path: str) -> bool:
    """Whether ``path`` is a picture this command wrote, unchanged since."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            mark = getattr(im, "text", {}).get(PNG_KEY)
            return mark is not None and mark == hashlib.sha256(im.tobytes()).hexdigest()
    except Exception:  # not an image at all: not ours
        return False


def _write_picture(report: Any, path: str) -> None:
    from PIL import Image, PngImagePlugin

    from ._output import write_file

    if os.path.exists(path) and not _ours(path):
        raise FileExistsError(
            f"{path} exists and was not written by tinygrad-bp check (or was changed since): "
            "not overwriting it; move it away to get the picture"
        )
    png = report.draw().pipe("png")
    with Image.open(io.BytesIO(png)) as im:
        im.load()
        info = PngImagePlugin.PngInfo()
        info.add_text(PNG_KEY, hashlib.sha256(im.tobytes()).hexdigest())
        buf = io.BytesIO()
        im.save(buf, format="PNG", pnginfo=info)
    write_file(path, buf.getvalue(), "check --picture")


def main(args: argparse.Namespace) -> int:
    from ..check import CheckReport, LearnerError, NotWrittenYet

    path = args.file
    err = sys.stderr
    if not os.path.isfile(path):
        print(f"tinygrad-bp check: error: {path}: no such file", file=err)
        return 2
    if not path.endswith(".py"):
        print(f"tinygrad-bp check: error: {path}: expected a Python file (FILE.py)", file=err)
        return 2
    try:
        module = _load(path)
    except _BadFile as exc:
        print(f"tinygrad-bp check: error: {exc}", file=err)
        return 2
    checks = [
        (k, v)
        for k, v in vars(module).items()
        if k.startswith("check_")
        and callable(v)
        and getattr(v, "__module__", None) == module.__name__
    ]
    if not checks:
        print(
            f"tinygrad-bp check: error: {path} has no check_* function (each returns a report, "
            "e.g. return tg.check.layer(layer, x, engine='dense'))",
            file=err,
        )
        return 2
    status = 0
    stem = os.path.splitext(path)[0]
    for name, fn in checks:
        print(f"== {name}")
        try:
            got = fn()
            reports = got if isinstance(got, (list, tuple)) else [got]
            if not reports or not all(isinstance(r, CheckReport) for r in reports):
                raise TypeError(
                    f"{name}() returned {type(got).__name__}; expected a report "
                    "(tg.check.layer(...), tg.check.functions(...), tg.check.network(...))"
                )
        except NotWrittenYet as exc:
            print(f"not written yet: {exc}")
            status = max(status, 1)
            continue
        except LearnerError as exc:
            print(f"tinygrad-bp check: error: {name}: {exc}", file=err)
            status = 2
            continue
        except (ValueError, TypeError, KeyError, RuntimeError) as exc:
            print(f"tinygrad-bp check: error: {name}: {exc}", file=err)
            status = 2
            continue
        for i, r in enumerate(reports):
            print(r)
            if not r.ok:
                status = max(status, 1)
            if args.picture:
                suffix = "" if len(reports) == 1 else f".{i}"
                pic = f"{stem}.{name}{suffix}.png"
                try:
                    _write_picture(r, pic)
                except OSError as exc:
                    print(f"tinygrad-bp check: error: {exc}", file=err)
                    status = 2
                    continue
                print(f"picture: {pic}")
    return status
