"""Griffe extension for the API pages: Sphinx cross-reference roles as code.

The engine's docstrings say :func:`get_default_dtype` and :class:`~tinygrad_bp.Tensor`,
which read well in ``help()`` and in Sphinx; mkdocstrings would print the role verbatim.
This turns each into a code span (``get_default_dtype``, ``Tensor``: a leading ``~``
keeps only the last name, as in Sphinx).  Used by mkdocs.yml's mkdocstrings options.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:func|meth|class|mod|attr|data|obj|exc|const):`(~?)([^`]+)`")


def roles_as_code(text: str) -> str:
    """``text`` with every Sphinx role replaced by a Markdown code span."""
    return ROLE.sub(lambda m: f"`{m[2].rsplit('.', 1)[-1] if m[1] else m[2]}`", text)


class SphinxRolesAsCode(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = roles_as_code(obj.docstring.value)
