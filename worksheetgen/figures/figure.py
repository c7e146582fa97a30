"""A figure of an exercise: a name, a caption and one scene that both printers draw."""

from __future__ import annotations

from dataclasses import dataclass

from worksheetgen.figures.scene import Scene
from worksheetgen.figures.svg import to_svg
from worksheetgen.figures.tikz import to_tikz


@dataclass(frozen=True)
class Figure:
    """Families put these in ``Solved.figures``; templates place them with
    ``m.figure(fig, figure_path(fig))``: LaTeX reads ``fig.tikz``, the SVG file is ``fig.svg``."""

    name: str  # file stem, unique within one exercise, e.g. "network"
    scene: Scene
    caption: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.scene, Scene):
            raise TypeError(
                f"Figure({self.name!r}, ...) needs a Scene, not {type(self.scene).__name__}: "
                "figures are drawn from a scene (worksheetgen.figures: network_diagram, "
                "boolean_network, function_plot, plot_grid), not from TikZ/SVG text"
            )

    @property
    def tikz(self) -> str:
        """A complete tikzpicture (tikz + pgfplots are loaded by the preamble)."""
        return to_tikz(self.scene)

    @property
    def svg(self) -> str:
        """A complete SVG document."""
        return to_svg(self.scene)
