"""LaTeX with the ``exam`` document class; figures inline as TikZ."""

from __future__ import annotations

from typing import Any

from worksheetgen import mathfmt
from worksheetgen.figures import to_tikz
from worksheetgen.formats import Format


class Latex(Format):
    name = "tex"
    description = "LaTeX source (exam class)"
    suffix = "tex"
    folder = "latex"

    def escape(self, text: str) -> str:
        return mathfmt.latex_escape(text)

    def print_figure(self, figure: Any) -> str:
        return to_tikz(figure)
