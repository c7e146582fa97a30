"""Figures generated from an instance: TikZ/pgfplots for LaTeX and an SVG beside the Markdown.

A figure is part of an exercise's output like its text: families put :class:`Figure` objects in
``Solved.figures`` and templates place them with ``m.figure(fig, figure_path(fig))``.

One scene, two printers: a generator describes the picture once as a :class:`Scene` of plain
elements (scene.py, centimetres), and ``Figure.tikz`` / ``Figure.svg`` print that same scene
(tikz.py, svg.py), so the PDF and the SVG show the same units, arrows, dashes and labels. Numbers
are printed at a fixed precision and nothing depends on the date or a random id: the same
arguments give the same bytes. Labels are TeX without dollar signs; the SVG shows a plain-text
reading of them (texlabels.py).

Generators:

- :func:`network_diagram` - a fully connected network: units per layer, optional (dashed) bias
  units, optional weight labels on the edges.
- :func:`boolean_network` - the two-input network of the Boolean-function exercise.
- :func:`function_plot` - one axis with curves (and optionally scattered data points).
- :func:`plot_grid` - several such axes (:class:`Panel`) in a grid, e.g. curves A, B, C, D.
"""

from worksheetgen.figures.figure import Figure
from worksheetgen.figures.network import boolean_network, network_diagram
from worksheetgen.figures.plots import CurveSpec, Panel, clip_polyline, function_plot, plot_grid
from worksheetgen.figures.scene import (STYLES, Arrow, Axes, Circle, Curve, Label, Marks, Scene,
                                        Tick)
from worksheetgen.figures.svg import PX_PER_CM, to_svg
from worksheetgen.figures.texlabels import svg_text, tex_to_text
from worksheetgen.figures.tikz import to_tikz

__all__ = [
    "Figure", "network_diagram", "boolean_network", "function_plot", "plot_grid", "Panel",
    "CurveSpec", "clip_polyline", "STYLES", "Scene", "Circle", "Arrow", "Label", "Axes", "Curve",
    "Marks", "Tick", "to_tikz", "to_svg", "svg_text", "tex_to_text", "PX_PER_CM",
]
