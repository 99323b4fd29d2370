"""The documentation's promises, tested.

- Every ```python block of the tutorial pages (and of the Getting started page) runs, in
  order, in one namespace per page, in a temporary folder; a block followed by a
  ```text title="Output" block must print exactly that.
- The English and Chinese tutorials hold the same code.
- Every picture the tutorial pages show exists under docs/ (they are made by
  scripts/build_docs_assets.py; see that script).
- The engine source quoted into the pages (``<!-- quote: file::name -->``) resolves to
  the real definition, closure included.
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import io
import os
import re
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
sys.path.insert(0, str(ROOT / "scripts"))
import docs_hooks  # noqa: E402

TUTORIALS = ["tutorial.md", "zh/tutorial.md"]
OWN_BACKWARD = ["own_backward.md", "zh/own_backward.md"]
LAYER_PAGES = [f"layers/{p}.md" for p in ("convolution", "normalization", "recurrent", "attention")]
RUN_PAGES = [
    "index.md",
    *TUTORIALS,
    *OWN_BACKWARD,
    "design.md",
    *LAYER_PAGES,
    "higher_order.md",
    "coming_from_pytorch.md",
    "compile.md",
]


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def run_page(page: str, tmp_path: Path) -> tuple[list[tuple[docs_hooks.Block, str]], list[str]]:
    """Run a page's Python blocks; return ``(block, what it printed)`` pairs and the
    reasons for blocks not run."""
    text = (DOCS / page).read_text(encoding="utf-8")
    namespace: dict[str, object] = {"__name__": f"docs_{page.replace('/', '_')}"}
    ran, skipped = [], []
    previous = os.getcwd()
    os.chdir(tmp_path)  # contextlib.chdir needs Python 3.11; the project supports 3.10
    try:
        for block in docs_hooks.python_blocks(text):
            where = f"{page}:{block.line}"
            if block.no_run is not None:
                skipped.append(f"{where} not run: {block.no_run}")
                continue
            absent = [m for m in block.requires if not _importable(m)]
            if absent:
                skipped.append(f"{where} needs {', '.join(absent)}, not in this tree")
                continue
            out = io.StringIO()
            try:
                code = compile(block.code, where, "exec")
                with contextlib.redirect_stdout(out):
                    exec(code, namespace)
            except Exception as exc:
                raise AssertionError(
                    f"the code block at {where} raised {type(exc).__name__}: {exc}"
                ) from exc
            ran.append((block, out.getvalue()))
    finally:
        os.chdir(previous)
    return ran, skipped


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.strip("\n").splitlines()]


@pytest.mark.parametrize("page", RUN_PAGES)
def test_code_blocks_run_and_print_what_the_page_shows(page: str, tmp_path: Path) -> None:
    ran, skipped = run_page(page, tmp_path)
    assert ran, f"{page} has no Python block that ran"
    for block, printed in ran:
        if block.output is not None:
            assert _lines(printed) == _lines(block.output), (
                f"{page}:{block.line}: the block printed\n{printed}\nbut the page shows\n"
                f"{block.output}"
            )
    if skipped:  # every other block passed; say plainly what was not run, and why
        pytest.skip(f"{len(ran)} blocks passed; " + "; ".join(skipped))


@pytest.mark.parametrize("pages", [TUTORIALS, OWN_BACKWARD], ids=["tutorial", "own_backward"])
def test_the_tutorials_show_the_same_code(pages: list[str]) -> None:
    en, zh = (docs_hooks.python_blocks((DOCS / p).read_text(encoding="utf-8")) for p in pages)
    assert [b.code for b in en] == [b.code for b in zh]
    assert [b.output for b in en] == [b.output for b in zh]
    assert [b.requires for b in en] == [b.requires for b in zh]
    quotes = [docs_hooks.find_directives((DOCS / p).read_text(encoding="utf-8")) for p in pages]
    assert quotes[0] == quotes[1]


def test_markers_are_rare() -> None:
    """``no-run`` hides a block from this test; it must stay the exception."""
    for page in RUN_PAGES:
        blocks = docs_hooks.python_blocks((DOCS / page).read_text(encoding="utf-8"))
        assert sum(b.no_run is not None for b in blocks) <= 1, page
        assert sum(bool(b.requires) for b in blocks) <= 2, page


IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)")


@pytest.mark.parametrize(
    "page", [*TUTORIALS, *OWN_BACKWARD, "index.md", "gallery.md", "higher_order.md"]
)
def test_every_picture_shown_exists(page: str) -> None:
    """The pictures are made by ``python scripts/build_docs_assets.py``."""
    text = (DOCS / page).read_text(encoding="utf-8")
    targets = [t for t in IMAGE.findall(text) if "://" not in t]
    assert targets, f"{page} shows no picture"
    absent = [t for t in targets if not ((DOCS / page).parent / t).is_file()]
    assert not absent, (
        f"{page} shows pictures that do not exist: {absent}; make them with "
        f"`python scripts/build_docs_assets.py`"
    )


def _all_quotes() -> list[tuple[str, str]]:
    found = set()
    for page in sorted(DOCS.rglob("*.md")):
        found.update(docs_hooks.find_directives(page.read_text(encoding="utf-8")))
    return sorted(found)


def test_tutorial_quotes_the_closures() -> None:
    quoted = {name for path, name in _all_quotes() if path.startswith("tinygrad_bp/ops/")}
    for op in ("tanh", "sigmoid", "relu", "matmul", "add", "cross_entropy"):
        assert op in quoted, f"the tutorial should quote ops.{op}"


@pytest.mark.parametrize(("path", "name"), _all_quotes())
def test_quoted_source_is_the_real_definition(path: str, name: str) -> None:
    code, first = docs_hooks.quote(path, name)
    module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    obj, parts = module, name.split(".")
    while parts and hasattr(obj, parts[0]):  # down to the innermost importable object
        obj = getattr(obj, parts.pop(0))
    lines, start = inspect.getsourcelines(obj)
    source = "".join(lines)
    if not parts:  # the definition itself
        assert first == start
        # a method is quoted dedented by its class's indent
        assert code in (inspect.cleandoc(source), textwrap.dedent(source).rstrip("\n"))
    else:  # a closure inside it: its lines, at their place
        assert inspect.isfunction(obj) and parts == ["backward"], name
        inner = source.splitlines()[first - start :]
        assert inner[0].strip().startswith("def backward("), inner[0]
        assert all(line.strip() in source for line in code.splitlines())
    if path.startswith("tinygrad_bp/ops/"):
        assert "def backward(" in code, f"{name}: the quote should show the backward closure"


def test_quote_directive_renders_a_numbered_block(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text(
        "x = 1\n\n\nclass K:\n    def f(self):\n        return 2\n\n\n"
        "def outer(a):\n    if a:\n        def backward(g):\n            return g\n"
        "    else:\n        def backward(g):\n            return -g\n    return backward\n"
    )
    md = "text\n<!-- quote: m.py::K.f -->\nmore\n    <!-- quote: m.py::outer.backward -->\n"
    out = docs_hooks.render(md, root=tmp_path)
    assert '```python title="m.py · K.f" linenums="5"\ndef f(self):\n    return 2\n```' in out
    assert (
        '    ```python title="m.py · outer.backward" linenums="11"\n'
        "    def backward(g):\n        return g\n    ```"
    ) in out
    with pytest.raises(docs_hooks.QuoteError, match="no definition 'g'"):
        docs_hooks.render("<!-- quote: m.py::g -->\n", root=tmp_path)
    with pytest.raises(docs_hooks.QuoteError, match="nope.py does not exist"):
        docs_hooks.render("<!-- quote: nope.py::g -->\n", root=tmp_path)


def test_block_parser_pairs_outputs_and_markers() -> None:
    md = (
        "<!-- requires: a.b, c -->\n```python\nprint(1)\n```\n\n"
        '```text title="Output"\n1\n```\n'
        "!!! note\n    ```python\n    y = 2\n    ```\n"
        "<!-- no-run: shows an error on purpose -->\n```py\nraise SystemExit\n```\n"
        "```text\nnot an output\n```\n"
    )
    blocks = docs_hooks.python_blocks(md)
    assert [b.code for b in blocks] == ["print(1)\n", "y = 2\n", "raise SystemExit\n"]
    assert blocks[0].requires == ["a.b", "c"] and blocks[0].output == "1\n"
    assert blocks[1].output is None and blocks[1].requires == []
    assert blocks[2].no_run == "shows an error on purpose" and blocks[2].output is None


def test_design_lists_exactly_the_primitives_of_ops() -> None:
    """docs/design.md's table of primitives is generated from their declarations."""
    from tinygrad_bp import ops

    page = (DOCS / "design.md").read_text(encoding="utf-8")
    assert "<!-- primitives -->" in page.split("## The primitive set")[1].split("\n## ")[0]
    table = docs_hooks.render(page).split("## The primitive set")[1].split("\n\n")[2]
    in_docs = re.findall(r"`(\w+)`", table)
    by_family = [p.name for f in ops.FAMILIES for p in ops.PRIMITIVES.values() if p.family == f]
    assert in_docs == by_family and sorted(in_docs) == sorted(ops.PRIMITIVES)  # each, once
    assert all(callable(getattr(ops, name)) for name in in_docs)


def test_sphinx_roles_become_code_spans() -> None:
    pytest.importorskip("griffe", reason="the docs extra (mkdocstrings) is not installed")
    import griffe_sphinx_roles as roles

    text = "See :func:`get_default_dtype`, :class:`~tinygrad_bp.Tensor` and :mod:`tinygrad_bp.ops`."
    assert roles.roles_as_code(text) == ("See `get_default_dtype`, `Tensor` and `tinygrad_bp.ops`.")


# ---------------------------------------------------------------- the two commands
def test_the_readme_test_command_is_what_ci_runs_and_the_first_is_light() -> None:
    import tomllib

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Quickstart: two commands.*?```bash\n(.*?)```", readme, re.S)
    assert block is not None
    first, second = block.group(1).strip().splitlines()
    assert "pip install -e . &&" in first and "[" not in first.split("&&")[2]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert second in ci, f"{second!r} is not a line of .ci/run"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    main = " ".join(project["dependencies"])
    for heavy in ("torch", "playwright", "pytest", "mygrad"):  # test-only, or the peers'
        assert heavy not in main
    assert any("torch" in d for d in project["optional-dependencies"]["test"])


# ---------------------------------------------------------------- numbers from one source
def test_the_readmes_numbers_are_the_ones_their_sources_print() -> None:
    """The README quotes compare's maxima (docs/cli_output/compare.txt, made by the
    command) and the benchmark's goals (benchmarks/page.py): the same numbers."""
    sys.path.insert(0, str(ROOT))
    try:
        from benchmarks import page
    finally:
        sys.path.remove(str(ROOT))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    out = (DOCS / "cli_output" / "compare.txt").read_text(encoding="utf-8")

    def printed(label: str) -> float:
        line = next(x for x in out.splitlines() if x.strip().startswith(label))
        return float(line.split()[-1])

    for label in ("|engine - hand-written| parameter gradients", "|engine - finite differences|"):
        assert f"{printed(label):.1e}" in readme, label
    moved = float(re.search(r"by up to ([0-9.e+-]+) \(relative", out).group(1))
    assert f"by up to {moved * 100:.1f} %" in readme
    rows = re.findall(r"^\| (W\d) .*\| ([0-9.]+)x [✓✗] \|$", readme, re.M)
    assert len(rows) == len(page.GOALS) == 7  # W1-W7, every workload with its goal
    for wl, goal in rows:
        assert float(goal) == page.GOALS[wl], wl


def test_the_readmes_cnn_time_is_the_measured_one() -> None:
    import json

    run = json.loads((ROOT / "benchmarks/results/models/cnn.json").read_text(encoding="utf-8"))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"98.61 %; {run['cpu_s']:.0f} s CPU" in readme
