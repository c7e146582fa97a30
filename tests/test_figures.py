"""worksheetgen.figures: generators build scenes, printers print them byte-stably.

The agreement of the two pictures (same elements in TikZ and SVG) and the TeX compile are in
test_figures_agreement.py.
"""

import math
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from worksheetgen.figures import (Arrow, Axes, Circle, Curve, Figure, Label, Marks, Panel, Scene,
                                  boolean_network, clip_polyline, function_plot, network_diagram,
                                  plot_grid, svg_text, tex_to_text, to_svg, to_tikz)
from worksheetgen.figures.scene import ELEMENT_KINDS
from worksheetgen.figures.svg import SvgPrinter
from worksheetgen.figures.texlabels import runs
from worksheetgen.figures.tikz import TikzPrinter

SVG = "{http://www.w3.org/2000/svg}"


def seed_000_network():
    # Seed 000/001 Q1: W^[1], W^[2] with the bias weights as row 0.
    w1 = [["0.1", "0.1"], ["-0.1", "0.2"], ["0.3", "-0.4"]]
    w2 = [["0.1", "0.1"], ["0.5", "-0.6"], ["0.7", "-0.8"]]
    return network_diagram([2, 2, 2], bias=True, weights=[w1, w2],
                           layer_titles=["input", "hidden", "output"])


def kinds(fig, kind):
    return [e for e in fig.scene.walk() if isinstance(e, kind)]


def test_network_diagram_units_edges_and_labels():
    fig = seed_000_network()
    circles, arrows, labels = kinds(fig, Circle), kinds(fig, Arrow), kinds(fig, Label)
    assert len(circles) == 2 + 1 + 2 + 1 + 2  # units plus one bias unit per non-output layer
    assert len(arrows) == 3 * 2 + 3 * 2  # (inputs + bias) x hidden + (hidden + bias) x outputs
    # The bias units and every edge leaving them are dashed; nothing else is.
    assert sum(c.dashed for c in circles) == 2 and sum(a.dashed for a in arrows) == 4
    texts = [lab.tex for lab in labels]
    assert texts.count("1") == 2 and r"\hat{y}_{2}" in texts and "a^{[1]}_{2}" in texts
    weights = [lab.tex for lab in labels if lab.background]
    assert sorted(weights) == sorted(["0.1", "0.1", "-0.1", "0.2", "0.3", "-0.4",
                                      "0.1", "0.1", "0.5", "-0.6", "0.7", "-0.8"])
    assert [lab.tex for lab in labels if not lab.math] == ["input", "hidden", "output"]
    # Every arrow starts and ends on a unit's border.
    centres = [c.center for c in circles]
    for a in arrows:
        for p in (a.start, a.end):
            assert min(math.dist(p, c) for c in centres) == pytest.approx(0.36)


def test_network_weight_labels_lie_on_their_edges():
    fig = network_diagram([2, 3], weights=[[["a", "b", "c"], ["d", "e", "f"]]])
    arrows = kinds(fig, Arrow)
    for lab in (lab for lab in kinds(fig, Label) if lab.background):
        on = [a for a in arrows if abs(math.dist(a.start, lab.at) + math.dist(lab.at, a.end)
                                       - math.dist(a.start, a.end)) < 1e-9]
        assert len(on) >= 1, lab
    spots = [lab.at for lab in kinds(fig, Label) if lab.background]
    assert len(set(spots)) == len(spots)  # no two weight labels on the same spot


def test_network_diagram_without_bias_and_shape_errors():
    fig = network_diagram([3, 4, 1], bias=False)
    assert len(kinds(fig, Arrow)) == 3 * 4 + 4 and not any(a.dashed for a in kinds(fig, Arrow))
    assert r"\hat{y}" in [lab.tex for lab in kinds(fig, Label)]
    with pytest.raises(ValueError):
        network_diagram([2, 2], bias=True, weights=[[["1", "2"], ["3", "4"]]])  # needs 3 rows
    with pytest.raises(ValueError):
        network_diagram([2], bias=False)
    with pytest.raises(ValueError):
        network_diagram([2, 1], labels=[["a"], ["b"]])


def test_boolean_network_matches_the_seed_layout():
    fig = boolean_network([["1", "-1"], ["-1", "1"]], ["1", "1"], ["0", r"-\frac{1}{2}"], "0",
                          caption="The network.")
    assert fig.name == "network" and fig.caption == "The network."
    centres = [c.center for c in kinds(fig, Circle)]
    assert centres == [(0.0, 2.0), (0.0, 0.0), (4.5, 2.0), (4.5, 0.0), (8.0, 1.0)]
    assert len(kinds(fig, Arrow)) == 6 and not any(a.dashed for a in kinds(fig, Arrow))
    labels = {lab.tex: lab for lab in kinds(fig, Label)}
    for name in ("A", "B", "n_1", "n_2", r"\mathit{out}"):
        assert name in labels
    weights = [lab.tex for lab in kinds(fig, Label) if lab.background]
    assert weights == ["1", "-1", "-1", "1", "1", "1"]  # A→n1, B→n1, A→n2, B→n2, n1→out, n2→out
    assert labels[r"b^{(1)}_2 = -\frac{1}{2}"].anchor == "north"  # below n_2
    assert labels["b^{(1)}_1 = 0"].anchor == "south" and labels["b^{(2)} = 0"].anchor == "south"
    # The first weight (A→n1) sits above the middle of its edge.
    a = kinds(fig, Arrow)[0]
    first = next(lab for lab in kinds(fig, Label) if lab.background)
    assert first.anchor == "south"
    assert first.at == pytest.approx(((a.start[0] + a.end[0]) / 2, (a.start[1] + a.end[1]) / 2))


def test_boolean_network_without_biases_and_bad_shapes():
    fig = boolean_network([["1", "0"], ["0", "1"]], ["1", "-1"])
    assert len(kinds(fig, Label)) == 5 + 6  # unit names and weights, no bias labels
    with pytest.raises(ValueError):
        boolean_network([["1", "0"]], ["1", "1"])
    with pytest.raises(ValueError):
        boolean_network([["1", "0"], ["0", "1"]], ["1", "1"], b1=["0", "0"])  # b2 missing


def test_figures_are_byte_stable():
    assert seed_000_network() == seed_000_network()
    assert seed_000_network().tikz == seed_000_network().tikz
    assert seed_000_network().svg == seed_000_network().svg
    z = np.linspace(-3, 3, 50)
    a = function_plot([("g(z)", z, np.tanh(z))], "z", "g(z)")
    b = function_plot([("g(z)", list(z), list(np.tanh(z)))], "z", "g(z)")
    assert a == b and a.tikz == b.tikz and a.svg == b.svg
    assert "-0.0000" not in a.tikz and "-0.00," not in a.svg and "-0.000)" not in a.tikz


def test_figure_takes_a_scene_not_text():
    fig = seed_000_network()
    assert to_tikz(fig) == fig.tikz == to_tikz(fig.scene)
    assert to_svg(fig) == fig.svg == to_svg(fig.scene)
    with pytest.raises(TypeError):
        Figure("network", r"\begin{tikzpicture}\end{tikzpicture}", "<svg/>")


def test_plot_clips_to_the_frame_and_breaks_at_nan():
    xs = [0, 1, 2, 3, 4]
    ys = [0, 1, 10, float("nan"), 0.5]
    pieces = clip_polyline(xs, ys, (0, 4, 0, 2))
    # Up to the frame at y = 2 (x = 1 + 1/9), then nothing until the NaN, then nothing (one point).
    assert len(pieces) == 1
    assert pieces[0][-1][1] == pytest.approx(2) and pieces[0][-1][0] == pytest.approx(1 + 1 / 9)
    fig = function_plot([("", xs, ys)], ylim=(0, 2))
    (curve,) = kinds(fig, Curve)
    assert len(curve.pieces) == 1
    root = ET.fromstring(fig.svg)
    for poly in root.iter(f"{SVG}polyline"):
        for pair in poly.get("points").split():
            x, y = map(float, pair.split(","))
            assert math.isfinite(x) and math.isfinite(y)


def test_points_outside_the_limits_are_left_out():
    fig = function_plot([], points=[(0, 0), (5, 0), (1, 1)], xlim=(-1, 2), ylim=(-1, 2))
    (marks,) = kinds(fig, Marks)
    assert marks.points == ((0.0, 0.0), (1.0, 1.0))


def test_grid_of_panels_has_one_axis_per_panel():
    t = np.arange(10)
    panels = [Panel([("", t, t * k)], title=letter) for k, letter in enumerate("ABCD", start=1)]
    fig = plot_grid(panels, columns=2)
    axes = kinds(fig, Axes)
    assert [a.title for a in axes] == ["A", "B", "C", "D"]
    # Row by row: A B on top, C D below; same size, aligned.
    (ax, ay), (bx, by), (cx, cy), (dx, dy) = (a.corner for a in axes)
    assert ay == by > cy == dy and ax == cx < bx == dx
    root = ET.fromstring(fig.svg)
    titles = [t for t in ("".join(e.itertext()) for e in root.iter(f"{SVG}text")) if t in "ABCD"]
    assert titles == ["A", "B", "C", "D"]


def test_ticks_are_round_and_inside_the_limits():
    fig = function_plot([("", [0, 1], [0, 1])], xlim=(-0.35, 1.2), ylim=(-4, 4))
    (axes,) = kinds(fig, Axes)
    xs = [t.value for t in axes.xticks]
    assert all(-0.35 <= v <= 1.2 for v in xs) and xs == sorted(xs) and len(xs) >= 3
    assert [t.tex for t in axes.yticks] == ["-4", "-2", "0", "2", "4"]


def test_bad_panel_options_are_refused():
    with pytest.raises(ValueError):
        function_plot([("", [0, 1], [0, 1], "wavy")])
    with pytest.raises(ValueError):
        function_plot([("", [0, 1], [0, 1])], legend="middle")
    with pytest.raises(ValueError):
        function_plot([("", [0, 1], [0, 1])], xlim=(1, 0))
    with pytest.raises(ValueError):
        plot_grid([])


def test_tex_labels_in_svg():
    assert tex_to_text(r"a^{[1]}_{2}") == "a^[1]_2"
    assert tex_to_text(r"\hat{y}_1") == "ŷ_1"
    assert tex_to_text(r"\sigma'(z)") == "σ'(z)"
    assert tex_to_text(r"\frac{1}{2}") == "1/2" and tex_to_text("-0.4") == "−0.4"
    escaped = svg_text("x < y & z")
    assert "&lt;" in escaped and "&amp;" in escaped
    assert "<" not in escaped.replace("<tspan", "").replace("</tspan", "")


def test_math_letters_are_italic_and_words_upright():
    def slanted(tex, math=True):
        return {text: italic for text, _, italic in runs(tex, math)}

    assert slanted("x_{1}") == {"x": True, "1": False}
    assert slanted(r"\hat{y}") == {"ŷ": True}
    assert slanted(r"\sigma(z)") == {"σ": True, "(": False, "z": True, ")": False}
    assert slanted(r"\tanh") == {"tanh": False}
    assert slanted(r"\text{ReLU}") == {"ReLU": False}
    assert slanted(r"\mathit{out}") == {"out": True}
    assert slanted(r"\Delta w") == {"Δ ": False, "w": True}
    assert slanted("hidden layer", math=False) == {"hidden layer": False}
    assert 'font-style="italic">x</tspan>' in svg_text("x_1")


def test_every_printer_prints_every_element_kind():
    for printer in (TikzPrinter, SvgPrinter):
        for kind in ELEMENT_KINDS:
            assert callable(getattr(printer, f"_print_{kind.__name__}", None)), (printer, kind)
    with pytest.raises(TypeError):
        TikzPrinter().doprint(object())
    with pytest.raises(TypeError):
        SvgPrinter().doprint(object())
    for printer in (TikzPrinter(), SvgPrinter()):  # plots belong to axes
        with pytest.raises(TypeError):
            printer.doprint(Curve((((0, 0), (1, 1)),)))
        with pytest.raises(TypeError):
            printer.doprint(Marks(((0, 0),)))


def test_scene_elements_check_their_values():
    with pytest.raises(ValueError):
        Label((0, 0), "x", anchor="up")
    with pytest.raises(ValueError):
        Label((0, 0), "x", size="huge")
    with pytest.raises(ValueError):
        Label((0, 0), "")
    with pytest.raises(ValueError):
        Circle((0, 0), 0)
    with pytest.raises(ValueError):
        Scene((), (0, 0, 0, 1))
    with pytest.raises(ValueError):
        Axes((0, 0), 1, 1, (0, 1), (0, 1), legend="centre")
