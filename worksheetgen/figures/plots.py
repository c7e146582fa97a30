"""Function plots as scenes: each :class:`Panel` becomes one :class:`~.scene.Axes` with its
limits, ticks on a 1-2-2.5-5 grid and its curves clipped to the frame."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

from worksheetgen.figures.figure import Figure
from worksheetgen.figures.printer import fixed
from worksheetgen.figures.scene import STYLES, Axes, Curve, Marks, Point, Scene, Tick

CurveSpec = tuple  # (label, xs, ys) or (label, xs, ys, style); NaN in ys breaks the line
_STYLE_ORDER = ("solid", "dashed", "dotted", "dashdotted")


@dataclass(frozen=True)
class Panel:
    """One axis: curves (label, xs, ys[, style]) and optional scattered points (x, y)."""

    curves: Sequence[CurveSpec] = ()
    title: str = ""  # TeX, shown above the axis (e.g. "A" or "\text{(a) sigmoid}")
    xlabel: str = ""  # TeX
    ylabel: str = ""  # TeX
    xlim: tuple[float, float] | None = None
    ylim: tuple[float, float] | None = None
    points: Sequence[tuple[float, float]] = field(default_factory=tuple)
    legend: str = "north east"  # north east | north west | south east | south west | none


def _nice_step(span: float, target: int = 4) -> float:
    raw = span / max(1, target)
    power = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if m * power >= raw * 0.999:
            return m * power
    return 10 * power


def _ticks(lo: float, hi: float) -> tuple[Tick, ...]:
    """Ticks inside [lo, hi] on a 1-2-2.5-5 grid, labelled with the decimals they need."""
    step = _nice_step(hi - lo)
    first = math.ceil(lo / step - 1e-9)
    last = math.floor(hi / step + 1e-9)
    values = [round(k * step, 10) for k in range(first, last + 1)]
    decimals = 0
    while decimals < 6 and any(abs(round(t, decimals) - t) > 1e-9 for t in values):
        decimals += 1
    return tuple(Tick(t, fixed(t, decimals)) for t in values)


def _limits(values: list[float], given: tuple[float, float] | None) -> tuple[float, float]:
    if given is not None:
        lo, hi = float(given[0]), float(given[1])
        if not hi > lo:
            raise ValueError("an axis limit pair must be increasing")
        return lo, hi
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return 0.0, 1.0
    lo, hi = min(finite), max(finite)
    if hi - lo < 1e-12:
        return lo - 1.0, hi + 1.0
    pad = 0.05 * (hi - lo)
    return lo - pad, hi + pad


def _clip_segment(p: Point, q: Point, box: tuple[float, float, float, float]
                  ) -> tuple[Point, Point] | None:
    """Liang-Barsky: the part of segment pq inside the box (xmin, xmax, ymin, ymax)."""
    xmin, xmax, ymin, ymax = box
    (x0, y0), (x1, y1) = p, q
    dx, dy = x1 - x0, y1 - y0
    t0, t1 = 0.0, 1.0
    for pk, qk in ((-dx, x0 - xmin), (dx, xmax - x0), (-dy, y0 - ymin), (dy, ymax - y0)):
        if pk == 0:
            if qk < 0:
                return None
            continue
        t = qk / pk
        if pk < 0:
            t0 = max(t0, t)
        else:
            t1 = min(t1, t)
        if t0 > t1:
            return None
    return (x0 + t0 * dx, y0 + t0 * dy), (x0 + t1 * dx, y0 + t1 * dy)


def clip_polyline(xs: Sequence[float], ys: Sequence[float],
                  box: tuple[float, float, float, float]) -> list[list[Point]]:
    """The visible pieces of a polyline (NaN or inf values break it) inside the box."""
    pieces: list[list[Point]] = []
    current: list[Point] = []
    pts = [(float(x), float(y)) for x, y in zip(xs, ys)]
    for a, b in zip(pts, pts[1:]):
        if not all(math.isfinite(v) for v in (*a, *b)):
            if current:
                pieces.append(current)
            current = []
            continue
        seg = _clip_segment(a, b, box)
        if seg is None:
            if current:
                pieces.append(current)
            current = []
            continue
        s, e = seg
        if current and current[-1] == s:
            current.append(e)
        else:
            if current:
                pieces.append(current)
            current = [s, e]
        if e != b:  # left the box
            pieces.append(current)
            current = []
    if current:
        pieces.append(current)
    if len(pts) == 1 and all(math.isfinite(v) for v in pts[0]):
        x, y = pts[0]
        if box[0] <= x <= box[1] and box[2] <= y <= box[3]:
            pieces.append([pts[0]])
    return pieces


def _curve_parts(curve: CurveSpec, index: int) -> tuple[str, list[float], list[float], str]:
    if len(curve) not in (3, 4):
        raise ValueError("a curve is (label, xs, ys) or (label, xs, ys, style)")
    label, xs, ys = curve[0], list(curve[1]), list(curve[2])
    style = curve[3] if len(curve) == 4 else _STYLE_ORDER[index % len(_STYLE_ORDER)]
    if style not in STYLES:
        raise ValueError(f"unknown curve style {style!r} (allowed: {', '.join(STYLES)})")
    if len(xs) != len(ys):
        raise ValueError("a curve needs as many x as y values")
    return str(label), [float(x) for x in xs], [float(y) for y in ys], style


def panel_axes(panel: Panel, corner: Point, width: float, height: float) -> Axes:
    """The axes of one panel, its plot area's top-left corner at ``corner`` (cm)."""
    parts = [_curve_parts(curve, i) for i, curve in enumerate(panel.curves)]
    xs = [x for _, cx, _, _ in parts for x in cx] + [float(p[0]) for p in panel.points]
    ys = [y for _, _, cy, _ in parts for y in cy] + [float(p[1]) for p in panel.points]
    (xmin, xmax), (ymin, ymax) = _limits(xs, panel.xlim), _limits(ys, panel.ylim)
    box = (xmin, xmax, ymin, ymax)
    plots: list[Curve | Marks] = []
    inside = tuple((float(x), float(y)) for x, y in panel.points
                   if xmin <= x <= xmax and ymin <= y <= ymax)
    if inside:
        plots.append(Marks(inside))
    for label, cx, cy, style in parts:
        pieces = clip_polyline(cx, cy, box)
        plots.append(Curve(tuple(tuple(piece) for piece in pieces), style, label))
    return Axes(corner, width, height, (xmin, xmax), (ymin, ymax), _ticks(xmin, xmax),
                _ticks(ymin, ymax), panel.title, panel.xlabel, panel.ylabel,
                None if panel.legend == "none" else panel.legend, tuple(plots))


def plot_grid(
    panels: Sequence[Panel],
    *,
    columns: int = 2,
    name: str = "plots",
    caption: str = "",
    width: float = 5.2,
    height: float = 3.4,
) -> Figure:
    """Several axes in a grid, row by row (``width``/``height``: one plot area, in cm)."""
    panels = list(panels)
    if not panels:
        raise ValueError("plot_grid needs at least one panel")
    columns = max(1, min(columns, len(panels)))
    # Room left of and below each plot area for tick labels and axis labels, above for titles.
    gap_x = 1.9 if any(p.ylabel for p in panels) else 1.4
    gap_y = 1.9 if any(p.xlabel for p in panels) else 1.3
    title_room = 0.6 if any(p.title for p in panels) else 0.0
    axes = []
    for k, panel in enumerate(panels):
        row, col = divmod(k, columns)
        corner = (col * (width + gap_x), -row * (height + gap_y + title_room))
        axes.append(panel_axes(panel, corner, width, height))
    rows = (len(panels) + columns - 1) // columns
    top = title_room + 0.2
    bounds = (-gap_x, top - rows * (height + gap_y + title_room) - 0.2,
              -gap_x + columns * (width + gap_x) + 0.4, top)
    return Figure(name, Scene(tuple(axes), bounds), caption)


def function_plot(
    curves: Sequence[CurveSpec],
    xlabel: str = "",
    ylabel: str = "",
    *,
    title: str = "",
    xlim: tuple[float, float] | None = None,
    ylim: tuple[float, float] | None = None,
    points: Sequence[tuple[float, float]] = (),
    legend: str = "north east",
    name: str = "plot",
    caption: str = "",
    width: float = 7.0,
    height: float = 4.2,
) -> Figure:
    """One axis with curves ``(label, xs, ys)`` (optionally ``(label, xs, ys, style)`` with a
    style from :data:`~.scene.STYLES`; NaN in ys breaks a line, e.g. at a jump) and optional
    scattered ``points``. Parts outside ``xlim``/``ylim`` are cut off at the frame."""
    panel = Panel(tuple(curves), title, xlabel, ylabel, xlim, ylim, tuple(points), legend)
    return plot_grid([panel], columns=1, name=name, caption=caption, width=width, height=height)
