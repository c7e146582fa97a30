"""A scene's text is remembered by the scene (figures.printer.remembered_print): what a printer
gives for an equal scene built anew, with zeros of either sign, floats or ints, is what it gives
for that scene printed afresh."""

from __future__ import annotations

import random

from worksheetgen.figures import Axes, Curve, Marks, Panel, Tick, network_diagram, plot_grid, to_svg, to_tikz
from worksheetgen.figures.scene import Arrow, Circle, Label, Scene
from worksheetgen.figures.svg import SvgPrinter
from worksheetgen.figures.tikz import TikzPrinter


def _fresh(scene: Scene) -> tuple[str, str]:
    return SvgPrinter().print_scene(scene), TikzPrinter().print_scene(scene)


def _networks(rng: random.Random) -> list[Scene]:
    scenes = []
    for _ in range(40):
        sizes = [rng.randint(1, 3) for _ in range(rng.randint(2, 4))]
        bias = rng.random() < 0.5
        weights = [[[rng.choice(["0.5", "-1.2", None, "w", "3"]) for _ in range(b)] for _ in range(a + bias)]
                   for a, b in zip(sizes, sizes[1:])]
        scenes.append(network_diagram(sizes, bias=bias, weights=weights).scene)
    return scenes


def _signed_zero_scenes() -> list[Scene]:
    def scene(z: float, one: float) -> Scene:
        axes = Axes(corner=(z, one), width=4 * one, height=3, xlim=(z, 2), ylim=(-1, one),
                    xticks=(Tick(z, "0"), Tick(1, "1")), yticks=(Tick(z, "0"),),
                    plots=(Curve((((z, z), (1, -z), (2, one)),), legend="f"), Marks(((z, -z), (1.5, 0.5)))))
        return Scene((Circle((z, -z), one), Arrow((z, z), (one, -z), dashed=bool(one)),
                      Label((-z, z), "x_1", anchor="north"), axes), (-1 + z, -4, 6, 2))
    return [scene(z, one) for z in (0.0, -0.0, 0) for one in (1, 1.0)]


def test_remembered_scene_texts_are_the_printers() -> None:
    rng = random.Random(5)
    xs = [i / 10 for i in range(-20, 21)]
    panels = [Panel([("f", xs, [k * x * x for x in xs])], title=f"p_{k}", points=[(0.0, -0.0)])
              for k in range(3)]
    scenes = _networks(rng) + _signed_zero_scenes() + [plot_grid(panels, columns=2).scene]
    for scene in scenes + _networks(random.Random(5)) + _signed_zero_scenes():  # each printed twice
        assert (to_svg(scene), to_tikz(scene)) == _fresh(scene)


def test_remembered_diagrams_are_drawn_anew() -> None:
    from worksheetgen.figures.network import _draw_network

    rng = random.Random(8)
    for _ in range(300):
        sizes = [rng.randint(1, 3) for _ in range(rng.randint(2, 4))]
        bias = rng.choice([False, True, 0, 1])
        weights = rng.choice([None, [[[rng.choice(["0.5", None, "", "w"]) for _ in range(b)]
                                      for _ in range(a + bool(bias))] for a, b in zip(sizes, sizes[1:])]])
        titles = rng.choice([None, ["input", "", "out"]])
        args = (rng.choice([sizes, tuple(sizes), [float(n) for n in sizes]]), bias, weights, None,
                "network", rng.choice(["", "A net"]), titles)
        expected = _draw_network(*args)
        for _ in range(2):
            figure = network_diagram(*args[:4], name=args[4], caption=args[5], layer_titles=args[6])
            assert figure == expected
            assert (figure.svg, figure.tikz) == (expected.svg, expected.tikz)
