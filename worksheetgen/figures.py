"""Figures generated from an instance: TikZ/pgfplots for LaTeX and an SVG beside the Markdown.

A figure is part of an exercise's output like its text: families put Figure objects in
``Solved.figures`` and templates place them with ``m.figure(fig)``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    name: str  # file stem, unique within one exercise, e.g. "network"
    tikz: str  # a complete tikzpicture (tikz + pgfplots are loaded by the preamble)
    svg: str  # a complete SVG document
    caption: str = ""
