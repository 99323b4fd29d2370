"""Shared look of every picture: fonts, colours, limits, and the optional imports."""

from __future__ import annotations

import html
from typing import Any

#: File suffixes :meth:`Graph.save` understands, and the Graphviz format of each.
FORMATS: dict[str, str] = {".png": "png", ".svg": "svg", ".pdf": "pdf", ".dot": "dot"}

DEFAULT_MAX_NODES = 120
_FONT = "DejaVu Sans,Helvetica,Arial,sans-serif"

# Colours: one place, so that the legend and the nodes agree.
_FILL = {
    "param": "#ffd966",  # gold: what training changes
    "input": "#ffffff",
    "const": "#ffffff",
    "tensor": "#dbe9f6",  # light blue: computed
    "op": "#eeeeee",
    "group": "#d9ead3",  # light green: a whole Dense layer
    "more": "#ffffff",
}
_GRAD = "#a61c00"  # gradient text and arrows
_PENDING = "#b0b0b0"  # not reached yet (step frames)
_CURRENT = "#e8590c"  # the node being processed (step frames)
_MUTED = "#666666"

_SUP = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def _pygraphviz() -> Any:
    try:
        import pygraphviz
    except ImportError:
        raise ImportError(
            "tinygrad_bp.viz needs pygraphviz (its wheel bundles the Graphviz engine, no "
            "system package needed): pip install pygraphviz"
        ) from None
    return pygraphviz


def _pillow() -> Any:
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(
            "tinygrad_bp.viz.backward_steps needs Pillow for the GIF: pip install pillow"
        ) from None
    return Image


def _esc(s: str) -> str:
    return html.escape(s, quote=False)
