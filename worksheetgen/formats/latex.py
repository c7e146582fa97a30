"""LaTeX with the ``exam`` document class; figures inline as TikZ."""

from __future__ import annotations

from typing import Any

from worksheetgen import mathfmt
from worksheetgen.formats import Format


class Latex(Format):
    name = "tex"
    description = "LaTeX source (exam class)"
    suffix = "tex"
    folder = "latex"

    def escape(self, text: str) -> str:
        return mathfmt.latex_escape(text)

    def print_figure(self, figure: Any) -> str:
        try:  # TRANSITION until the figures package lands
            from worksheetgen.figures.tikz import to_tikz
        except ImportError:
            return figure.tikz
        return to_tikz(figure)
