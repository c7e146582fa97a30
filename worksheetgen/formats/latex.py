"""LaTeX with the ``exam`` document class; figures inline as TikZ."""

from __future__ import annotations

from typing import Any

import jinja2

from worksheetgen import mathfmt, texfit
from worksheetgen.figures import to_tikz
from worksheetgen.formats import Format
from worksheetgen.widecells import kill_row


class Latex(Format):
    name = "tex"
    description = "LaTeX source (exam class)"
    suffix = "tex"
    folder = "latex"
    shares_recording = True

    def escape(self, text: str) -> str:
        return mathfmt.latex_escape(text)

    def print_figure(self, figure: Any) -> str:
        return to_tikz(figure)

    def text_lines(self, text: str) -> float:
        """Estimated height of a piece of this format's text, in lines (an exam's answer space)."""
        return texfit.lines_of(text)

    def build_environment(self) -> jinja2.Environment:
        env = super().build_environment()
        # the running head's parts, shortened so a long title cannot overprint its neighbours
        env.globals.update(fit_header=texfit.fit_header, fit_display=texfit.fit_display,
                           table_chunks=texfit.table_chunks,
                           kill_row=kill_row)  # a long table's head row that makes one pass enough
        # a display's rows cut where they would run into the margin
        env.filters.update(fit_rows=texfit.fit_rows)
        return env
