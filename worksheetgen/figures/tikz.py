"""The TikZ printer: a scene as one tikzpicture (tikz + pgfplots are loaded by the preamble).

Coordinates are printed in centimetres at a fixed precision (data coordinates inside axes with
four decimals), so the same scene always gives the same text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from worksheetgen.figures.printer import Printer, fixed, remembered_print
from worksheetgen.figures.scene import Arrow, Axes, Circle, Curve, Label, Marks, Scene

if TYPE_CHECKING:
    from worksheetgen.figures.figure import Figure

# pgfplots options of each curve style of scene.STYLES
CURVE_OPTIONS = {
    "solid": "black, thick",
    "dashed": "black, thick, dashed",
    "dotted": "black, thick, dotted",
    "dashdotted": "black, thick, dash dot",
    "gray": "gray, thick",
    "thin": "black",
}
_LEGEND_AT = {"north east": "0.98,0.98", "north west": "0.02,0.98", "south east": "0.98,0.02",
              "south west": "0.02,0.02"}


def _xy(p: tuple[float, float]) -> str:
    return f"({fixed(p[0])},{fixed(p[1])})"


def _coords(piece: tuple[tuple[float, float], ...]) -> str:
    return " ".join(f"({fixed(x, 4)},{fixed(y, 4)})" for x, y in piece)


class TikzPrinter(Printer):
    def __init__(self) -> None:
        self._axes: Axes | None = None  # the axes whose plots are being printed

    def print_scene(self, scene: Scene) -> str:
        lines = [r"\begin{tikzpicture}[>={Stealth[length=2mm]}]"]
        for element in scene.elements:
            lines += self.doprint(element)
        lines.append(r"\end{tikzpicture}")
        return "\n".join(lines)

    def _print_Circle(self, circle: Circle) -> list[str]:
        opts = (["thick"] if circle.thick else []) + (["dashed"] if circle.dashed else [])
        opts.append("fill=white")
        return [rf"\draw[{', '.join(opts)}] {_xy(circle.center)} "
                rf"circle[radius={fixed(circle.radius)}];"]

    def _print_Arrow(self, arrow: Arrow) -> list[str]:
        opts = "->, dashed" if arrow.dashed else "->"
        return [rf"\draw[{opts}] {_xy(arrow.start)} -- {_xy(arrow.end)};"]

    def _print_Label(self, label: Label) -> list[str]:
        opts = []
        if label.anchor != "center":
            opts.append(f"anchor={label.anchor}")
        if label.size != "normal":
            opts.append(rf"font=\{label.size}")
        if label.background:
            opts.append("fill=white")
        opts.append(f"inner sep={fixed(label.pad)}cm")
        text = f"${label.tex}$" if label.math else label.tex
        return [rf"\node[{', '.join(opts)}] at {_xy(label.at)} {{{text}}};"]

    def _print_Axes(self, axes: Axes) -> list[str]:
        (xmin, xmax), (ymin, ymax) = axes.xlim, axes.ylim
        x, y = axes.corner
        opts = [
            f"at={{({fixed(x)}cm,{fixed(y)}cm)}}", "anchor=north west", "scale only axis",
            f"width={fixed(axes.width)}cm", f"height={fixed(axes.height)}cm",
            f"xmin={fixed(xmin, 4)}", f"xmax={fixed(xmax, 4)}",
            f"ymin={fixed(ymin, 4)}", f"ymax={fixed(ymax, 4)}",
            "xtick={" + ",".join(fixed(t.value, 6) for t in axes.xticks) + "}",
            "xticklabels={" + ",".join(f"${t.tex}$" for t in axes.xticks) + "}",
            "ytick={" + ",".join(fixed(t.value, 6) for t in axes.yticks) + "}",
            "yticklabels={" + ",".join(f"${t.tex}$" for t in axes.yticks) + "}",
            r"tick label style={font=\scriptsize}", r"label style={font=\small}",
            "tick align=inside", "axis line style={thin}",
        ]
        if axes.title:
            opts.append(f"title={{${axes.title}$}}")
        if axes.xlabel:
            opts.append(f"xlabel={{${axes.xlabel}$}}")
        if axes.ylabel:
            opts.append(f"ylabel={{${axes.ylabel}$}}")
        if axes.legend_entries():
            opts.append(
                rf"legend style={{font=\scriptsize, draw=none, fill=white, fill opacity=0.8, "
                rf"text opacity=1, at={{({_LEGEND_AT[axes.legend]})}}, anchor={axes.legend}}}"
            )
            opts.append("legend cell align=left")
        lines = [r"\begin{axis}[" + ", ".join(opts) + "]"]
        self._axes = axes
        try:
            for plot in axes.plots:
                lines += self.doprint(plot)
        finally:
            self._axes = None
        lines.append(r"\end{axis}")
        return lines

    def _inside(self, what: str) -> Axes:
        if self._axes is None:
            raise TypeError(f"a {what} is drawn inside Axes, not on its own")
        return self._axes

    def _print_Curve(self, curve: Curve) -> list[str]:
        in_legend = curve in self._inside("Curve").legend_entries()
        lines = []
        for k, piece in enumerate(curve.pieces):
            entry = in_legend and k == 0
            forget = "" if entry else ", forget plot"
            lines.append(rf"\addplot[{CURVE_OPTIONS[curve.style]}, no markers{forget}] coordinates {{"
                         + _coords(piece) + "};")
            if entry:
                lines.append(rf"\addlegendentry{{${curve.legend}$}}")
        return lines

    def _print_Marks(self, marks: Marks) -> list[str]:
        self._inside("Marks")
        if not marks.points:
            return []
        return [r"\addplot[only marks, mark=*, mark size=0.7pt, gray, forget plot] coordinates {"
                + _coords(marks.points) + "};"]


def to_tikz(figure: Figure | Scene) -> str:
    """A complete tikzpicture of a figure (or of a bare scene)."""
    scene = figure if isinstance(figure, Scene) else figure.scene
    return remembered_print(_TEXTS, scene, lambda s: TikzPrinter().print_scene(s))


_TEXTS: dict[Scene, str] = {}
