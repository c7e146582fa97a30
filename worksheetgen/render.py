"""Rendering one exercise by format name: the entry point for previews, stress runs and tests.

A family's template (``templates/exercises/<family>.j2``) defines two macros, ``problem()`` and
``solution()``. It writes math as TeX between dollar signs and everything format-specific
through the macros of ``templates/formats/<folder>/macros.j2``, which have the same names in
every format (as SymPy's printers have parallel ``_print_`` methods). So an exercise's wording
exists once; the formats themselves live in :mod:`worksheetgen.formats`.
"""

from __future__ import annotations

from typing import Any

from worksheetgen.formats import get_format
from worksheetgen.instance import Instance

# Older names of the two text formats, still accepted.
ALIASES = {"latex": "tex", "markdown": "md"}


def render_exercise(instance: Instance, fmt: str, layout: Any = None) -> tuple[str, str]:
    """(problem, solution) text of one instance in the format named ``fmt``."""
    return get_format(ALIASES.get(fmt, fmt)).render_exercise(instance, layout)


def figure_files(instance: Instance, fmt: str = "md") -> dict[str, str]:
    return get_format(ALIASES.get(fmt, fmt)).figure_files([instance])
