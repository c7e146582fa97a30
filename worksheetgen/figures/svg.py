"""The SVG printer: a scene as a standalone SVG document for the Markdown sheet.

User units are PX_PER_CM per centimetre of the scene, y grows downwards (the scene's y is
negated), numbers are printed with two decimals, and the only id is the fixed arrow marker's:
the same scene always gives the same bytes. Labels are shown with texlabels' reading of the TeX
(italic letters, sub/superscripts as smaller raised or lowered text).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from worksheetgen.figures.printer import Printer, fixed, remembered_print
from worksheetgen.figures.scene import Arrow, Axes, Circle, Curve, Label, Marks, Scene
from worksheetgen.figures.texlabels import svg_text, tex_to_text

if TYPE_CHECKING:
    from worksheetgen.figures.figure import Figure

PX_PER_CM = 40.0
FONT_PX = {"normal": 12.0, "small": 11.0, "footnotesize": 10.0, "scriptsize": 9.0}
# Where the alphabetic baseline sits, in font sizes: below the top of the text and above the
# bottom (capitals' height and descenders' depth), and below the middle of the text.
_ASCENT, _DESCENT, _MIDDLE = 0.72, 0.22, 0.33
_DASH = ' stroke-dasharray="4 3"'
# stroke attributes of each curve style of scene.STYLES
CURVE_STROKES = {
    "solid": 'stroke="black" stroke-width="1.6"',
    "dashed": 'stroke="black" stroke-width="1.6" stroke-dasharray="6 4"',
    "dotted": 'stroke="black" stroke-width="1.6" stroke-dasharray="1.5 3"',
    "dashdotted": 'stroke="black" stroke-width="1.6" stroke-dasharray="6 3 1.5 3"',
    "gray": 'stroke="#808080" stroke-width="1.6"',
    "thin": 'stroke="black" stroke-width="1"',
}
_ARROW_MARKER = (
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
    'markerHeight="7" orient="auto"><path d="M 0 0 L 10 5 L 0 10 z" fill="black"/></marker></defs>'
)


def _px(cm: float) -> str:
    """A length or an x coordinate (or an already downward y) in user units."""
    return fixed(cm * PX_PER_CM, 2)


def _py(y: float) -> str:
    """A scene y coordinate (upwards) in user units (downwards)."""
    return fixed(-y * PX_PER_CM, 2)


def _frame(axes: Axes) -> tuple[Callable[[float], float], Callable[[float], float]]:
    """Data coordinates → centimetres from the canvas' top-left (y downwards) in these axes."""
    (xmin, xmax), (ymin, ymax) = axes.xlim, axes.ylim
    left, top = axes.corner[0], -axes.corner[1]

    def sx(x: float) -> float:
        return left + (x - xmin) / (xmax - xmin) * axes.width

    def sy(y: float) -> float:
        return top + (ymax - y) / (ymax - ymin) * axes.height

    return sx, sy


class SvgPrinter(Printer):
    def __init__(self) -> None:
        self._axes: Axes | None = None  # the axes whose plots are being printed

    def print_scene(self, scene: Scene) -> str:
        xmin, ymin, xmax, ymax = scene.bounds
        w, h = _px(xmax - xmin), _px(ymax - ymin)
        head = (
            '<svg xmlns="http://www.w3.org/2000/svg" version="1.1" '
            f'width="{w}" height="{h}" viewBox="{_px(xmin)} {_py(ymax)} {w} {h}" '
            'font-family="serif" font-size="12" xml:space="preserve">'
        )
        body = [_ARROW_MARKER] if any(isinstance(e, Arrow) for e in scene.elements) else []
        for element in scene.elements:
            body += self.doprint(element)
        return "\n".join([head, *body, "</svg>"]) + "\n"

    def _print_Circle(self, circle: Circle) -> list[str]:
        x, y = circle.center
        width = "1.5" if circle.thick else "1"
        dash = _DASH if circle.dashed else ""
        return [f'<circle cx="{_px(x)}" cy="{_py(y)}" r="{_px(circle.radius)}" fill="white" '
                f'stroke="black" stroke-width="{width}"{dash}/>']

    def _print_Arrow(self, arrow: Arrow) -> list[str]:
        (ax, ay), (bx, by) = arrow.start, arrow.end
        dash = _DASH if arrow.dashed else ""
        return [f'<line x1="{_px(ax)}" y1="{_py(ay)}" x2="{_px(bx)}" y2="{_py(by)}" stroke="black" '
                f'stroke-width="1"{dash} marker-end="url(#arrow)"/>']

    def _print_Label(self, label: Label) -> list[str]:
        size = FONT_PX[label.size]
        pad = label.pad * PX_PER_CM
        x, y = label.at[0] * PX_PER_CM, -label.at[1] * PX_PER_CM
        # Baselines are computed rather than left to dominant-baseline, which renderers differ on.
        if "north" in label.anchor:
            y += pad + _ASCENT * size
        elif "south" in label.anchor:
            y -= pad + _DESCENT * size
        else:
            y += _MIDDLE * size
        if "east" in label.anchor:
            x, align = x - pad, "end"
        elif "west" in label.anchor:
            x, align = x + pad, "start"
        else:
            align = "middle"
        halo = ' stroke="white" stroke-width="3" paint-order="stroke"' if label.background else ""
        return [f'<text x="{fixed(x, 2)}" y="{fixed(y, 2)}" text-anchor="{align}" '
                f'font-size="{fixed(size, 2)}"{halo}>{svg_text(label.tex, size, label.math)}</text>']

    def _print_Axes(self, axes: Axes) -> list[str]:
        left, top = axes.corner[0], -axes.corner[1]
        width, height = axes.width, axes.height
        tick = FONT_PX["scriptsize"]
        big, small = FONT_PX["normal"], FONT_PX["small"]
        sx, sy = _frame(axes)
        out = ['<g class="axes">',
               f'<rect x="{_px(left)}" y="{_px(top)}" width="{_px(width)}" height="{_px(height)}" '
               'fill="none" stroke="black" stroke-width="0.8"/>']
        for t in axes.xticks:
            x = sx(t.value)
            out.append(f'<line x1="{_px(x)}" y1="{_px(top + height)}" x2="{_px(x)}" '
                       f'y2="{_px(top + height - 0.12)}" stroke="black" stroke-width="0.8"/>')
            out.append(f'<text x="{_px(x)}" y="{_px(top + height + 0.4)}" text-anchor="middle" '
                       f'font-size="{fixed(tick, 2)}">{svg_text(t.tex, tick)}</text>')
        for t in axes.yticks:
            y = sy(t.value)
            out.append(f'<line x1="{_px(left)}" y1="{_px(y)}" x2="{_px(left + 0.12)}" y2="{_px(y)}" '
                       'stroke="black" stroke-width="0.8"/>')
            out.append(f'<text x="{_px(left - 0.1)}" y="{fixed(y * PX_PER_CM + _MIDDLE * tick, 2)}" '
                       f'text-anchor="end" font-size="{fixed(tick, 2)}">{svg_text(t.tex, tick)}</text>')
        if axes.title:
            out.append(f'<text x="{_px(left + width / 2)}" y="{_px(top - 0.2)}" text-anchor="middle" '
                       f'font-size="{fixed(big, 2)}">{svg_text(axes.title, big)}</text>')
        if axes.xlabel:
            out.append(f'<text x="{_px(left + width / 2)}" y="{_px(top + height + 0.95)}" '
                       f'text-anchor="middle" font-size="{fixed(small, 2)}">'
                       f'{svg_text(axes.xlabel, small)}</text>')
        if axes.ylabel:
            cx, cy = left - 1.05, top + height / 2
            out.append(f'<text x="{_px(cx)}" y="{_px(cy)}" text-anchor="middle" '
                       f'font-size="{fixed(small, 2)}" transform="rotate(-90 {_px(cx)} {_px(cy)})">'
                       f'{svg_text(axes.ylabel, small)}</text>')
        self._axes = axes
        try:
            for plot in axes.plots:
                out += self.doprint(plot)
        finally:
            self._axes = None
        out += self._legend(axes, left, top, width, height)
        out.append("</g>")
        return out

    def _legend(self, axes: Axes, left: float, top: float, width: float, height: float
                ) -> list[str]:
        entries = axes.legend_entries()
        if not entries or axes.legend is None:
            return []
        size = FONT_PX["scriptsize"]
        row = 0.42
        lw = 0.7 + 0.2 * max(len(tex_to_text(c.legend)) for c in entries)
        lx = left + width - lw - 0.15 if axes.legend.endswith("east") else left + 0.15
        ly = top + 0.15 if axes.legend.startswith("north") else top + height - 0.15 - row * len(entries)
        out = ['<g class="legend">',
               f'<rect x="{_px(lx)}" y="{_px(ly)}" width="{_px(lw)}" '
               f'height="{_px(row * len(entries))}" fill="white" fill-opacity="0.8"/>']
        for k, curve in enumerate(entries):
            y = ly + row * (k + 0.5)
            out.append(f'<line x1="{_px(lx + 0.08)}" y1="{_px(y)}" x2="{_px(lx + 0.58)}" '
                       f'y2="{_px(y)}" {CURVE_STROKES[curve.style]}/>')
            out.append(f'<text x="{_px(lx + 0.68)}" y="{fixed(y * PX_PER_CM + _MIDDLE * size, 2)}" '
                       f'font-size="{fixed(size, 2)}">{svg_text(curve.legend, size)}</text>')
        out.append("</g>")
        return out

    def _to_px(self, what: str) -> Callable[[tuple[float, float]], tuple[str, str]]:
        if self._axes is None:
            raise TypeError(f"a {what} is drawn inside Axes, not on its own")
        sx, sy = _frame(self._axes)
        return lambda p: (_px(sx(p[0])), _px(sy(p[1])))

    def _print_Curve(self, curve: Curve) -> list[str]:
        to_px = self._to_px("Curve")
        out = []
        for piece in curve.pieces:
            pts = " ".join(",".join(to_px(p)) for p in piece)
            out.append(f'<polyline points="{pts}" fill="none" {CURVE_STROKES[curve.style]} '
                       'stroke-linejoin="round"/>')
        return out

    def _print_Marks(self, marks: Marks) -> list[str]:
        to_px = self._to_px("Marks")
        if not marks.points:
            return []
        out = ['<g class="marks">']
        for p in marks.points:
            cx, cy = to_px(p)
            out.append(f'<circle cx="{cx}" cy="{cy}" r="1.4" fill="#808080"/>')
        out.append("</g>")
        return out


def to_svg(figure: Figure | Scene) -> str:
    """A complete SVG document of a figure (or of a bare scene)."""
    scene = figure if isinstance(figure, Scene) else figure.scene
    return remembered_print(_TEXTS, scene, lambda s: SvgPrinter().print_scene(s))


_TEXTS: dict[Scene, str] = {}
