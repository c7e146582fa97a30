"""A figure described once: plain frozen dataclasses, positions in centimetres, y upwards.

A scene is what both printers (tikz.py, svg.py) read; generators (network.py, plots.py) only
build scenes. Paint order is the order of ``Scene.elements`` (later elements on top), and the
same in both printers. Labels are TeX without dollar signs.

Kinds:

- :class:`Circle` - a unit of a network (white inside, optionally dashed or thick).
- :class:`Arrow` - a straight edge with an arrow head at its end, solid or dashed.
- :class:`Label` - TeX text placed by an anchor (TikZ's meaning: ``anchor="south"`` puts the
  bottom of the text at the point, i.e. the text above it).
- :class:`Axes` - a plot area with limits, ticks, title, axis labels and a legend, holding
  :class:`Curve` (visible polyline pieces, in data coordinates) and :class:`Marks` (data points).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

Point = tuple[float, float]

ANCHORS = ("center", "north", "south", "east", "west",
           "north east", "north west", "south east", "south west")
SIZES = ("normal", "small", "footnotesize", "scriptsize")
# Line styles of plotted curves; each printer maps every name to its own drawing options.
STYLES = ("solid", "dashed", "dotted", "dashdotted", "gray", "thin")
LEGEND_POSITIONS = ("north east", "north west", "south east", "south west")


def _point(p: Point) -> Point:
    return (float(p[0]), float(p[1]))


@dataclass(frozen=True)
class Circle:
    center: Point
    radius: float
    dashed: bool = False
    thick: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "center", _point(self.center))
        if not self.radius > 0:
            raise ValueError("a circle needs a positive radius")


@dataclass(frozen=True)
class Arrow:
    start: Point
    end: Point
    dashed: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", _point(self.start))
        object.__setattr__(self, "end", _point(self.end))


@dataclass(frozen=True)
class Label:
    at: Point
    tex: str
    anchor: str = "center"
    size: str = "normal"
    math: bool = True  # False: TeX text mode (upright words), e.g. "hidden layer"
    background: bool = False  # a white box behind the text, for labels lying on lines
    pad: float = 0.1  # cm between the text and the edge of its box (TikZ's inner sep)

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", _point(self.at))
        if not self.tex:
            raise ValueError("a label needs text (leave out the label instead)")
        if self.anchor not in ANCHORS:
            raise ValueError(f"unknown anchor {self.anchor!r} (allowed: {', '.join(ANCHORS)})")
        if self.size not in SIZES:
            raise ValueError(f"unknown size {self.size!r} (allowed: {', '.join(SIZES)})")


@dataclass(frozen=True)
class Curve:
    """The visible pieces of one plotted line (already clipped to its axes), in data units."""

    pieces: tuple[tuple[Point, ...], ...]
    style: str = "solid"
    legend: str = ""  # TeX; "" leaves the curve out of the legend

    def __post_init__(self) -> None:
        object.__setattr__(self, "pieces",
                           tuple(tuple(_point(p) for p in piece) for piece in self.pieces))
        if self.style not in STYLES:
            raise ValueError(f"unknown curve style {self.style!r} (allowed: {', '.join(STYLES)})")


@dataclass(frozen=True)
class Marks:
    """Scattered data points (inside the axes' limits), in data units."""

    points: tuple[Point, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "points", tuple(_point(p) for p in self.points))


@dataclass(frozen=True)
class Tick:
    value: float
    tex: str


@dataclass(frozen=True)
class Axes:
    corner: Point  # top-left corner of the plot area, cm
    width: float  # of the plot area, cm
    height: float
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    xticks: tuple[Tick, ...] = ()
    yticks: tuple[Tick, ...] = ()
    title: str = ""  # TeX (math), above the plot area
    xlabel: str = ""
    ylabel: str = ""
    legend: str | None = "north east"  # a corner of LEGEND_POSITIONS, or None for no legend
    plots: tuple[Union[Curve, Marks], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "corner", _point(self.corner))
        object.__setattr__(self, "plots", tuple(self.plots))
        if not (self.xlim[1] > self.xlim[0] and self.ylim[1] > self.ylim[0]):
            raise ValueError("axis limits must be increasing")
        if self.legend is not None and self.legend not in LEGEND_POSITIONS:
            raise ValueError(f"unknown legend position {self.legend!r} "
                             f"(allowed: {', '.join(LEGEND_POSITIONS)}, none)")

    def legend_entries(self) -> list[Curve]:
        """The curves listed in the legend, in order: labelled and visible somewhere."""
        if self.legend is None:
            return []
        return [c for c in self.plots if isinstance(c, Curve) and c.legend and c.pieces]


Element = Union[Circle, Arrow, Label, Axes]
ELEMENT_KINDS = (Circle, Arrow, Label, Axes, Curve, Marks)  # every class a printer must print


@dataclass(frozen=True)
class Scene:
    elements: tuple[Element, ...]
    bounds: tuple[float, float, float, float]  # xmin, ymin, xmax, ymax in cm: the SVG's canvas

    def __post_init__(self) -> None:
        object.__setattr__(self, "elements", tuple(self.elements))
        xmin, ymin, xmax, ymax = self.bounds
        if not (xmax > xmin and ymax > ymin):
            raise ValueError("scene bounds must have positive width and height")

    def walk(self) -> list[object]:
        """Every element, the plots inside axes included (for counting and checking)."""
        out: list[object] = []
        for element in self.elements:
            out.append(element)
            if isinstance(element, Axes):
                out.extend(element.plots)
        return out
