"""Markdown with ``$…$`` math (GitHub, Jupyter); figures as SVG files beside it."""

from __future__ import annotations

from typing import Any

from worksheetgen import mathfmt
from worksheetgen.figures import to_svg
from worksheetgen.formats import Format


class Markdown(Format):
    name = "md"
    description = "Markdown with $…$ math and SVG figures"
    suffix = "md"
    folder = "markdown"
    shares_recording = True
    figures_as_files = True
    figure_suffix = "svg"

    def escape(self, text: str) -> str:
        return mathfmt.markdown_escape(text)

    def print_figure(self, figure: Any) -> str:
        return to_svg(figure)
