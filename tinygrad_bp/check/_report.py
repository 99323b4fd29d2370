"""The report of a check: one row per gradient, a table, and the picture."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Row:
    """One compared quantity (a gradient, or the forward's output).

    ``max_abs_engine``: ``max|yours − engine|`` (None without an engine twin);
    ``max_abs_fd``: ``max|yours − finite differences|`` (None where there are none: the
    forward's output, a network's intermediates); ``verdict``: ``"ok"`` or ``"wrong"``;
    ``first_bad_index`` with ``yours_at`` and ``right_at`` (both values there);
    ``diagnosis``: a sentence naming the slip, or None; ``exact``: whether yours equals
    the engine's bit for bit (network checks)."""

    name: str
    shape: tuple[int, ...]
    max_abs_engine: float | None
    max_abs_fd: float | None
    verdict: str
    first_bad_index: tuple[int, ...] | None = None
    yours_at: float | None = None
    right_at: float | None = None
    diagnosis: str | None = None
    exact: bool | None = None
    kind: str = "gradient"  # "output", "gradient" or "intermediate"

    @property
    def ok(self) -> bool:
        return self.verdict == "ok"


def _num(v: float | None) -> str:
    """A difference for the table: its value, or "< 1e-8" (rounding noise, or none: the
    rows keep the exact numbers)."""
    if v is None:
        return "—"
    return "< 1e-8" if v < 1e-8 else f"{v:.2e}"


def _shape(s: tuple[int, ...]) -> str:
    return "scalar" if s == () else "(" + ", ".join(map(str, s)) + ")"


@dataclass
class CheckReport:
    """What :func:`tinygrad_bp.check.layer`, :func:`~tinygrad_bp.check.functions` and
    :func:`~tinygrad_bp.check.network` found.

    ``ok`` is True when every row is; ``rows`` holds one :class:`Row` per gradient (and
    the forward's output, when an engine twin checked it); ``notes`` says what went
    unchecked or was noticed (an update inside ``backward``, no engine twin).
    ``str(report)`` is the table; :meth:`draw` the picture."""

    title: str
    rows: list[Row]
    notes: list[str] = field(default_factory=list)
    _drawer: Callable[[], Any] | None = field(default=None, repr=False)
    network: bool = False

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rows)

    def __bool__(self) -> bool:  # `assert report` reads as `assert report.ok`
        return self.ok

    def row(self, name: str) -> Row:
        """The row called ``name`` (KeyError naming the rows otherwise)."""
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(f"no row {name!r}; the rows are {[r.name for r in self.rows]}")

    def __str__(self) -> str:
        if self.network:
            head = ("", "shape", "exact", "close", "max|yours − engine|", "verdict")
            body = [
                (r.name, _shape(r.shape), "yes" if r.exact else "no",
                 "yes" if r.ok else "no", _num(r.max_abs_engine), _verdict(r))
                for r in self.rows
            ]  # fmt: skip
        else:
            head = ("", "shape", "max|yours − engine|", "max|yours − fin. diff.|", "verdict")
            body = [
                (r.name, _shape(r.shape), _num(r.max_abs_engine), _num(r.max_abs_fd), _verdict(r))
                for r in self.rows
            ]
        widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
        lines = [f"{self.title}: {'ok' if self.ok else 'WRONG'}"]
        for cells in (head, *body):
            lines.append("  " + "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip())
        for r in self.rows:
            if r.verdict != "ok":
                where = ""
                if r.first_bad_index is not None:
                    where = (
                        f" first wrong at {r.first_bad_index}: yours {r.yours_at:.6g}, "
                        f"right {r.right_at:.6g}."
                    )
                text = f"{r.name}:{where}" + (f" {r.diagnosis}" if r.diagnosis else "")
                lines += textwrap.wrap(text, 96, initial_indent="  ✗ ", subsequent_indent="    ")
        for n in self.notes:
            lines += textwrap.wrap(n, 96, initial_indent="  note: ", subsequent_indent="    ")
        return "\n".join(lines)

    def __repr__(self) -> str:
        bad = [r.name for r in self.rows if not r.ok]
        return f"<CheckReport {self.title}: {'ok' if self.ok else 'wrong: ' + ', '.join(bad)}>"

    def draw(self, path: str | os.PathLike[str] | None = None) -> Any:
        """The backward graph (the engine twin's ops, or your layer as one op) with each
        gradient green (ok) or red (wrong), your value beside the right one.  Returns a
        :class:`tinygrad_bp.viz.Graph`; with ``path`` it is also saved there (PNG, SVG,
        PDF or DOT by the suffix)."""
        if self._drawer is None:
            raise ValueError("CheckReport.draw: this report has no graph to draw")
        g = self._drawer()
        if path is not None:
            g.save(os.fspath(path))
        return g


def _verdict(r: Row) -> str:
    return r.verdict if r.verdict == "ok" else "WRONG"


def mark_lines(r: Row) -> list[str]:
    """The lines a picture shows beside a marked tensor."""
    if r.verdict == "ok":
        diff = r.max_abs_engine if r.max_abs_engine is not None else r.max_abs_fd
        return [f"✓ {r.name}: yours agrees (max diff {_num(diff)})"]
    lines = [f"✗ {r.name} wrong"]
    if r.first_bad_index is not None:
        lines.append(f"at {r.first_bad_index}: yours {r.yours_at:.4g}, right {r.right_at:.4g}")
    if r.diagnosis:
        lines += textwrap.wrap(r.diagnosis, 48)
    return lines
