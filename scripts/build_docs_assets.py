"""Regenerate every generated file the documentation uses, with the project's own code.

    python scripts/build_docs_assets.py            # everything
    python scripts/build_docs_assets.py --only cli-help --only compare

Pieces (each run by the project's own code, never drawn or typed by hand):

- ``pictures``: ``scripts/make_pictures.py``'s ``main`` draws the tutorial network's graph
  pictures into ``docs/images/`` (``tutorial_forward``, ``tutorial_backward``,
  ``tutorial_collapsed``, ``tutorial_steps.gif``) and the graphs of tanh's derivatives
  (``tanh_order0.svg`` .. ``tanh_order3.svg``, docs/higher_order.md) and the engine's
  graph of each hand-derived layer (``layer_NAME.png``, docs/layers/*.md) with
  ``tinygrad_bp.viz``.
- ``train``: ``tinygrad-bp train --out runs/iris`` (the README's quickstart, the notebook's
  settings) in a temporary folder; its loss/accuracy curves become
  ``docs/images/iris_curves.png`` and what it prints ``docs/cli_output/train.txt``.
- ``compare``: ``tinygrad-bp compare``; what it prints becomes ``docs/cli_output/compare.txt``.
- ``compare-layers``: ``tinygrad-bp compare --layer NAME`` for each layer the family pages
  (docs/layers/*.md) derive; each output becomes ``docs/cli_output/compare_NAME.txt``.
- ``first-graph``: the five-line example of docs/index.md, run as it stands on the page,
  draws ``docs/images/first_graph.svg``.
- ``check-picture``: the blocks of docs/own_backward.md, run as they stand on the page,
  draw the report picture of the slip made on purpose, ``docs/images/check_slip.png``.
- ``cli-help``: ``tinygrad-bp --help`` and each subcommand's ``--help`` into
  ``docs/cli_help/*.txt``, which docs/cli.md includes, so the reference never drifts.

Finally every picture a page under docs/ references is checked to exist.  A piece whose
code is missing (say ``tinygrad_bp/viz/`` before the pictures work is merged) is
reported by name with what provides it; the other pieces still run, and the exit status
is 1.  Commands run with ``COLUMNS=88`` and without colour, so the text is the same on
every machine.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
IMAGES = DOCS / "images"
CLI_HELP = DOCS / "cli_help"
CLI_OUTPUT = DOCS / "cli_output"

# What each piece needs, and who provides it, for the "missing" messages.
PROVIDERS = {
    "tinygrad_bp.viz": "tinygrad_bp/viz/ (the pictures)",
    "tinygrad_bp.commands.train": "tinygrad_bp/commands/train.py (`tinygrad-bp train`)",
    "tinygrad_bp.commands.compare": "tinygrad_bp/commands/compare.py (`tinygrad-bp compare`)",
    "tinygrad_bp.commands.graph": "tinygrad_bp/commands/graph.py (`tinygrad-bp graph`)",
    "tinygrad_bp.commands.bench": "tinygrad_bp/commands/bench.py (`tinygrad-bp bench`)",
    "tinygrad_bp.commands.live": "tinygrad_bp/commands/live/ (`tinygrad-bp live`)",
    "tinygrad_bp.commands.check": "tinygrad_bp/commands/check.py (`tinygrad-bp check`)",
    "tinygrad_bp.commands.exercise": "tinygrad_bp/commands/exercise.py (`tinygrad-bp exercise`)",
    "tinygrad_bp.check": "tinygrad_bp/check/ (`tg.check`)",
    "tinygrad_bp.commands.compare_layers": (
        "tinygrad_bp/commands/compare_layers.py (`compare --layer`)"
    ),
}
PICTURES = (
    "tutorial_forward.png",
    "tutorial_forward.svg",
    "tutorial_backward.png",
    "tutorial_backward.svg",
    "tutorial_collapsed.png",
    "tutorial_expanded.png",
    "tutorial_after_backward.png",
    "tutorial_steps.gif",
    *(f"tanh_order{k}.svg" for k in range(4)),
    *(f"layer_{name}.png" for name in ("conv2d", "batchnorm", "rnn", "lstm", "attention")),
    "tanh_derivative.png",
    "cnn_collapsed.png",
    "cnn_expanded.png",
    "lstm_collapsed.png",
)
SUBCOMMANDS = ("train", "compare", "graph", "bench", "live", "check", "exercise")


class Missing(Exception):
    """A piece cannot run because the code that provides it is not in this tree."""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(COLUMNS="88", NO_COLOR="1", PYTHON_COLORS="0", MPLBACKEND="Agg", TERM="dumb")
    return env


def _require(module: str) -> None:
    sys.path.insert(0, str(ROOT))
    try:
        found = importlib.util.find_spec(module) is not None
    finally:
        sys.path.remove(str(ROOT))
    if not found:
        raise Missing(f"{module} is not in this tree; it comes with {PROVIDERS[module]}")


def _cli(args: list[str], cwd: Path) -> str:
    """Run ``tinygrad-bp ARGS`` (as ``python -m tinygrad_bp``) and return its stdout."""
    proc = subprocess.run(
        [sys.executable, "-m", "tinygrad_bp", *args],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"`tinygrad-bp {' '.join(args)}` exited with status {proc.returncode}:\n"
            f"{proc.stdout[-2000:]}{proc.stderr[-2000:]}"
        )
    return proc.stdout


# A command's measured run time, "(0.8 s)": it differs on every run and means nothing in the
# docs beyond its order of magnitude.
_SECONDS = re.compile(r"\(\d+(?:\.\d+)? s\)")


def _write(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, unless the file already says the same thing: the same
    text, or the same but for a measured run time.  So a second run changes no tracked file."""
    if path.is_file():
        old = path.read_text(encoding="utf-8")
        if _SECONDS.sub("(s)", old) == _SECONDS.sub("(s)", text):
            return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _clean(text: str, tmp: Path) -> str:
    """Drop the temporary folder from printed paths and trailing spaces from lines."""
    for prefix in {str(tmp), str(tmp.resolve())}:
        text = text.replace(prefix + os.sep, "")
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


# ------------------------------------------------------------------------ the pieces
def build_pictures() -> list[Path]:
    _require("tinygrad_bp.viz")
    script = ROOT / "scripts" / "make_pictures.py"
    if not script.is_file():
        raise Missing(
            "scripts/make_pictures.py is not in this tree; it comes with "
            + PROVIDERS["tinygrad_bp.viz"]
        )
    spec = importlib.util.spec_from_file_location("make_pictures", script)
    module = importlib.util.module_from_spec(spec)
    saved_argv, saved_cwd, saved_path = sys.argv, os.getcwd(), list(sys.path)
    start = time.time() - 1
    try:
        sys.argv = [str(script)]
        sys.path.insert(0, str(ROOT))
        os.chdir(ROOT)
        os.environ.setdefault("MPLBACKEND", "Agg")
        spec.loader.exec_module(module)
        main: Callable[..., object] = getattr(module, "main", None)
        if main is None:
            raise Missing("scripts/make_pictures.py defines no main()")
        # main(argv) with no arguments means its defaults: the pictures into docs/images.
        status = main([]) if inspect.signature(main).parameters else main()
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path
        os.chdir(saved_cwd)
    if status not in (None, 0):
        raise RuntimeError(f"scripts/make_pictures.py main() returned status {status}")
    made = [IMAGES / name for name in PICTURES]
    stale = [p.name for p in made if not p.is_file() or p.stat().st_mtime < start]
    if stale:
        raise RuntimeError(
            f"scripts/make_pictures.py ran but did not write {', '.join(stale)} into "
            f"{IMAGES.relative_to(ROOT)}/"
        )
    return made


def build_train() -> list[Path]:
    _require("tinygrad_bp.commands.train")
    with tempfile.TemporaryDirectory(prefix="tgbp-docs-") as d:
        tmp = Path(d)
        out = _clean(_cli(["train", "--out", "runs/iris"], cwd=tmp), tmp)
        pngs = sorted((tmp / "runs" / "iris").rglob("*.png"))
        curves = [p for p in pngs if "curve" in p.name.lower()] or pngs
        if len(curves) != 1:
            raise RuntimeError(
                "`tinygrad-bp train --out runs/iris` should write one loss/accuracy curves PNG; "
                f"found {[str(p.relative_to(tmp)) for p in pngs] or 'none'}"
            )
        IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(curves[0], IMAGES / "iris_curves.png")
    _write(CLI_OUTPUT / "train.txt", out)
    return [IMAGES / "iris_curves.png", CLI_OUTPUT / "train.txt"]


def build_compare() -> list[Path]:
    _require("tinygrad_bp.commands.compare")
    with tempfile.TemporaryDirectory(prefix="tgbp-docs-") as d:
        out = _clean(_cli(["compare"], cwd=Path(d)), Path(d))
    _write(CLI_OUTPUT / "compare.txt", out)
    return [CLI_OUTPUT / "compare.txt"]


def build_compare_layers() -> list[Path]:
    """``compare --layer NAME`` for every layer the command knows (docs/layers/*.md include
    cli_output/compare_NAME.txt)."""
    _require("tinygrad_bp.commands.compare_layers")
    sys.path.insert(0, str(ROOT))
    try:
        from tinygrad_bp.commands.compare_layers import LAYERS
    finally:
        sys.path.remove(str(ROOT))
    written = []
    with tempfile.TemporaryDirectory(prefix="tgbp-docs-") as d:
        for name in LAYERS:
            out = _clean(_cli(["compare", "--layer", name], cwd=Path(d)), Path(d))
            path = CLI_OUTPUT / f"compare_{name}.txt"
            _write(path, out)
            written.append(path)
    return written


def build_first_graph() -> list[Path]:
    _require("tinygrad_bp.viz")
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import docs_hooks
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    page = DOCS / "index.md"
    blocks = [
        b
        for b in docs_hooks.python_blocks(page.read_text(encoding="utf-8"))
        if "first_graph.svg" in b.code
    ]
    if len(blocks) != 1:
        raise RuntimeError(
            "docs/index.md should have one Python block that saves first_graph.svg, "
            f"found {len(blocks)}"
        )
    with tempfile.TemporaryDirectory(prefix="tgbp-docs-") as d:
        proc = subprocess.run(
            [sys.executable, "-c", blocks[0].code],
            cwd=d,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        made = Path(d) / "first_graph.svg"
        if proc.returncode != 0 or not made.is_file():
            raise RuntimeError(
                f"the block at docs/index.md:{blocks[0].line} failed "
                f"(status {proc.returncode}):\n{proc.stderr[-2000:]}"
            )
        IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(made, IMAGES / "first_graph.svg")
    return [IMAGES / "first_graph.svg"]


def build_check_picture() -> list[Path]:
    _require("tinygrad_bp.check")
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import docs_hooks
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    page = DOCS / "own_backward.md"
    blocks = docs_hooks.python_blocks(page.read_text(encoding="utf-8"))
    upto = next((i for i, b in enumerate(blocks) if "check_slip.png" in b.code), None)
    if upto is None:
        raise RuntimeError("docs/own_backward.md should have a block that draws check_slip.png")
    code = "\n\n".join(b.code for b in blocks[: upto + 1])
    with tempfile.TemporaryDirectory(prefix="tgbp-docs-") as d:
        proc = subprocess.run(
            [sys.executable, "-c", code],
            cwd=d,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        made = Path(d) / "check_slip.png"
        if proc.returncode != 0 or not made.is_file():
            raise RuntimeError(
                f"the blocks of docs/own_backward.md up to line {blocks[upto].line} failed "
                f"(status {proc.returncode}):\n{proc.stderr[-2000:]}"
            )
        IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(made, IMAGES / "check_slip.png")
    return [IMAGES / "check_slip.png"]


def build_cli_help() -> list[Path]:
    missing = []
    for cmd in SUBCOMMANDS:
        module = f"tinygrad_bp.commands.{cmd}"  # cli.py's table
        try:
            _require(module)
        except Missing as exc:
            missing.append(f"{cmd}: {exc}")
    if missing:  # cli.py drops a subcommand whose module is absent: say which and why
        raise Missing("; ".join(missing))
    with tempfile.TemporaryDirectory(prefix="tgbp-docs-") as d:
        written = [CLI_HELP / "tinygrad-bp.txt"]
        _write(written[0], _clean(_cli(["--help"], cwd=Path(d)), Path(d)))
        for cmd in SUBCOMMANDS:
            path = CLI_HELP / f"{cmd}.txt"
            _write(path, _clean(_cli([cmd, "--help"], cwd=Path(d)), Path(d)))
            written.append(path)
    return written


PIECES: dict[str, Callable[[], list[Path]]] = {
    "pictures": build_pictures,
    "train": build_train,
    "compare": build_compare,
    "compare-layers": build_compare_layers,
    "first-graph": build_first_graph,
    "check-picture": build_check_picture,
    "cli-help": build_cli_help,
}

IMAGE_REF = re.compile(r"!\[[^\]]*\]\(([^)\s]+)")


def referenced_images() -> dict[Path, list[str]]:
    """Every local picture a page under docs/ shows, with the pages that show it."""
    refs: dict[Path, list[str]] = {}
    for page in sorted(DOCS.rglob("*.md")):
        for target in IMAGE_REF.findall(page.read_text(encoding="utf-8")):
            if "://" in target:
                continue
            path = (page.parent / target).resolve()
            refs.setdefault(path, []).append(str(page.relative_to(DOCS)))
    return refs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only",
        action="append",
        choices=list(PIECES),
        help="build only this piece (repeatable); default: all of them",
    )
    args = parser.parse_args(argv)
    chosen = args.only or list(PIECES)
    failed = False
    for name in chosen:
        try:
            made = PIECES[name]()
        except Missing as exc:
            print(f"{name:11s} MISSING  {exc}")
            failed = True
        except (RuntimeError, OSError, ValueError, subprocess.TimeoutExpired) as exc:
            print(f"{name:11s} FAILED   {exc}")
            failed = True
        else:
            print(f"{name:11s} ok       {', '.join(str(p.relative_to(ROOT)) for p in made)}")
    if args.only is None:
        absent = {p: pages for p, pages in referenced_images().items() if not p.is_file()}
        for path, pages in sorted(absent.items()):
            print(f"picture     ABSENT   {path.relative_to(ROOT)} (shown by {', '.join(pages)})")
        failed = failed or bool(absent)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
