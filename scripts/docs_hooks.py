"""MkDocs hook: quote the engine's real source into the docs, so the docs cannot drift.

A line of the form::

    <!-- quote: tinygrad_bp/ops.py::tanh -->

in a Markdown page is replaced, at build time, by a fenced Python block holding the
current source of ``tanh`` in ``tinygrad_bp/ops.py`` (its decorators, signature,
docstring and body), titled with the file and numbered with its real line numbers.  A
dotted name quotes a method (``Tensor.backward``) or a closure defined inside a function
(``cross_entropy.backward``, the first one in the source).  A directive naming a file or a
function that does not exist stops the build with an error naming both.

Line numbers in pymdownx.snippets drift when the file changes and section markers would
have to be written into ``ops.py``; finding the function by name with :mod:`ast` does
neither.  ``tests/test_docs.py`` uses :func:`quote` and :func:`find_directives` too.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

DIRECTIVE = re.compile(
    r"^(?P<indent>[ \t]*)<!-- quote: (?P<path>[\w./-]+)::(?P<name>[\w.]+) -->$", re.M
)


class QuoteError(ValueError):
    """A quote directive names a file or a definition that does not exist."""


def find_directives(markdown: str) -> list[tuple[str, str]]:
    """``(path, name)`` for every quote directive in ``markdown``, in order."""
    return [(m["path"], m["name"]) for m in DIRECTIVE.finditer(markdown)]


def _find(tree: ast.Module, dotted: str) -> ast.AST | None:
    """The definition ``dotted`` names: ``f``, ``Class.method``, or ``f.inner`` for a
    closure defined anywhere inside function ``f`` (the first one, in source order)."""
    defs = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    scope: Any = tree
    node = None
    for part in dotted.split("."):
        if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
            inner = [n for n in ast.walk(scope) if isinstance(n, defs) and n is not scope]
            candidates = sorted(inner, key=lambda n: n.lineno)
        else:
            candidates = [n for n in getattr(scope, "body", []) if isinstance(n, defs)]
        node = next((n for n in candidates if n.name == part), None)
        if node is None:
            return None
        scope = node
    return node


def quote(path: str, name: str, root: Path = ROOT) -> tuple[str, int]:
    """The source text of definition ``name`` in ``path`` (relative to ``root``) and the
    line number it starts on (its first decorator, if any)."""
    file = root / path
    if not file.is_file():
        raise QuoteError(f"quote: file {path} does not exist (looked in {root})")
    text = file.read_text(encoding="utf-8")
    node = _find(ast.parse(text, filename=path), name)
    if node is None:
        raise QuoteError(f"quote: {path} has no definition {name!r}")
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    lines = text.splitlines()[first - 1 : node.end_lineno]
    # A method is indented inside its class: dedent so the block reads as code.
    pad = min(len(s) - len(s.lstrip()) for s in lines if s.strip())
    return "\n".join(s[pad:] for s in lines), first


def render(markdown: str, root: Path = ROOT) -> str:
    """``markdown`` with every quote directive replaced by its fenced code block."""

    def block(m: re.Match[str]) -> str:
        code, first = quote(m["path"], m["name"], root)
        ind = m["indent"]
        title = f"{m['path']} · {m['name']}"
        body = "\n".join(ind + s if s else s for s in code.splitlines())
        return f'{ind}```python title="{title}" linenums="{first}"\n{body}\n{ind}```'

    return PRIMITIVES_DIRECTIVE.sub(lambda m: primitives_table(), DIRECTIVE.sub(block, markdown))


PRIMITIVES_DIRECTIVE = re.compile(r"^<!-- primitives -->$", re.M)


def primitives_table() -> str:
    """The table of primitives, by family, from their declarations in ``tinygrad_bp.ops``
    (``@primitive`` where each is defined): the docs list what the code declares."""
    import sys

    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tinygrad_bp import ops

    rows = ["| family (module) | primitives |", "|---|---|"]
    for family, label in ops.FAMILIES.items():
        names = [p.name for p in ops.PRIMITIVES.values() if p.family == family]
        if names:
            rows.append(f"| {label} | {', '.join(f'`{n}`' for n in names)} |")
    return "\n".join(rows)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """MkDocs event: runs on each page's Markdown before it is converted to HTML."""
    from mkdocs.exceptions import PluginError

    try:
        return render(markdown)
    except QuoteError as exc:
        raise PluginError(f"{page.file.src_path}: {exc}") from None


# ------------------------------------------------------------------ code blocks in pages
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`\n]*)$")
MARKER = re.compile(r"^\s*<!-- (?P<kind>requires|no-run): (?P<value>.+?) -->\s*$")


@dataclass
class Block:
    """A fenced code block of a page: its language, first line number (1-based), code,
    and for Python blocks the markers before it and the ``Output`` block after it."""

    lang: str
    line: int
    code: str
    info: str = ""
    requires: list[str] = field(default_factory=list)
    no_run: str | None = None
    output: str | None = None
    end: int = 0  # the line number of the closing fence


def code_blocks(markdown: str) -> list[Block]:
    """Every fenced block in ``markdown`` (indented ones too, as in admonitions).

    A Python block may be preceded by ``<!-- requires: module, ... -->`` (run it only where
    those modules import) or ``<!-- no-run: reason -->`` (never run it), and followed, after
    blank lines only, by a ````text title="Output"```` block: what the Python block must
    print, exactly.
    """
    lines = markdown.splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, info = m["indent"], m["fence"], m["info"].strip()
        start = i
        body: list[str] = []
        i += 1
        while i < len(lines):
            close = lines[i].strip()
            if close.startswith(fence[0] * len(fence)) and not close.strip(fence[0]):
                break
            body.append(lines[i][len(indent) :] if lines[i].startswith(indent) else lines[i])
            i += 1
        i += 1
        lang = info.split()[0].lstrip(".").lower() if info else ""
        code = "\n".join(body) + "\n"
        blocks.append(Block(lang=lang, line=start + 1, code=code, info=info, end=i))
        k = start - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        while k >= 0 and MARKER.match(lines[k]):
            mk = MARKER.match(lines[k])
            if mk["kind"] == "requires":
                blocks[-1].requires += [s.strip() for s in mk["value"].split(",")]
            else:
                blocks[-1].no_run = mk["value"]
            k -= 1
    # attach each Output block to the Python block right before it
    for prev, nxt in zip(blocks, blocks[1:]):
        between = lines[prev.end : nxt.line - 1]
        if (
            prev.lang in ("python", "py")
            and nxt.lang == "text"
            and 'title="Output"' in nxt.info
            and all(not s.strip() for s in between)
        ):
            prev.output = nxt.code
    return blocks


def python_blocks(markdown: str) -> list[Block]:
    """The page's Python blocks, in order."""
    return [b for b in code_blocks(markdown) if b.lang in ("python", "py")]
