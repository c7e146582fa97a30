"""figures.py: byte-stable TikZ and well-formed SVG from one geometry; TeX compiles."""

import math
import subprocess
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from conftest import require_tex
from worksheetgen.figures import (Panel, clip_polyline, function_plot, network_diagram, plot_grid,
                                  svg_text, tex_to_text)

SVG = "{http://www.w3.org/2000/svg}"


def seed_000_network():
    # Seed 000/001 Q1: W^[1], W^[2] with the bias weights as row 0.
    w1 = [["0.1", "0.1"], ["-0.1", "0.2"], ["0.3", "-0.4"]]
    w2 = [["0.1", "0.1"], ["0.5", "-0.6"], ["0.7", "-0.8"]]
    return network_diagram([2, 2, 2], bias=True, weights=[w1, w2],
                           layer_titles=["input", "hidden", "output"])


def test_network_diagram_nodes_edges_and_labels():
    fig = seed_000_network()
    root = ET.fromstring(fig.svg)
    circles = root.findall(f"{SVG}circle")
    lines = root.findall(f"{SVG}line")
    assert len(circles) == 2 + 1 + 2 + 1 + 2  # units plus one bias unit per non-output layer
    assert len(lines) == 3 * 2 + 3 * 2  # (inputs + bias) x hidden + (hidden + bias) x outputs
    assert fig.tikz.count(r"\node[unit]") == 6 and fig.tikz.count(r"\node[biasunit]") == 2
    assert fig.tikz.count(r"\draw[->]") == 12
    for w in ("$-0.4$", "$0.7$", "$-0.8$"):
        assert w in fig.tikz
    # The bias unit's edges are dashed in the SVG, and every weight label is there as text.
    assert sum(1 for ln in lines if ln.get("stroke-dasharray")) == 4
    texts = "".join("".join(t.itertext()) for t in root.iter(f"{SVG}text"))
    assert "−0.4" in texts and "0.7" in texts and "ŷ" in texts


def test_network_diagram_without_bias_and_shape_errors():
    fig = network_diagram([3, 4, 1], bias=False)
    assert fig.tikz.count(r"\draw[->]") == 3 * 4 + 4 and r"\hat{y}" in fig.tikz
    with pytest.raises(ValueError):
        network_diagram([2, 2], bias=True, weights=[[["1", "2"], ["3", "4"]]])  # needs 3 rows
    with pytest.raises(ValueError):
        network_diagram([2], bias=False)


def test_figures_are_byte_stable():
    assert seed_000_network() == seed_000_network()
    z = np.linspace(-3, 3, 50)
    a = function_plot([("g(z)", z, np.tanh(z))], "z", "g(z)")
    b = function_plot([("g(z)", list(z), list(np.tanh(z)))], "z", "g(z)")
    assert a == b
    assert "-0.0000" not in a.tikz and "-0.00," not in a.svg


def test_plot_clips_to_the_frame_and_breaks_at_nan():
    xs = [0, 1, 2, 3, 4]
    ys = [0, 1, 10, float("nan"), 0.5]
    pieces = clip_polyline(xs, ys, (0, 4, 0, 2))
    # Up to the frame at y = 2 (x = 1 + 1/9), then nothing until the NaN, then nothing (one point).
    assert len(pieces) == 1
    assert pieces[0][-1][1] == pytest.approx(2) and pieces[0][-1][0] == pytest.approx(1 + 1 / 9)
    fig = function_plot([("", xs, ys)], ylim=(0, 2))
    root = ET.fromstring(fig.svg)
    for poly in root.iter(f"{SVG}polyline"):
        for pair in poly.get("points").split():
            x, y = map(float, pair.split(","))
            assert math.isfinite(x) and math.isfinite(y)


def test_grid_of_panels_has_one_axis_per_panel():
    t = np.arange(10)
    panels = [Panel([("", t, t * k)], title=letter) for k, letter in enumerate("ABCD", start=1)]
    fig = plot_grid(panels, columns=2)
    assert fig.tikz.count(r"\begin{axis}") == 4
    root = ET.fromstring(fig.svg)
    assert len(root.findall(f"{SVG}polyline")) == 4
    titles = [t for t in ("".join(e.itertext()) for e in root.iter(f"{SVG}text")) if t in "ABCD"]
    assert titles == ["A", "B", "C", "D"]


def test_tex_labels_in_svg():
    assert tex_to_text(r"a^{[1]}_{2}") == "a^[1]_2"
    assert tex_to_text(r"\hat{y}_1") == "ŷ_1"
    assert tex_to_text(r"\sigma'(z)") == "σ'(z)"
    assert "<" not in svg_text("x < y").replace("<tspan", "")  # escaped


@pytest.mark.pdf
def test_figures_compile(tmp_path):
    require_tex()
    z = np.linspace(-4, 4, 81)
    figs = [seed_000_network(), network_diagram([3, 4, 1]),
            function_plot([("g(z)", z, 1 / (1 + np.exp(-z))), ("g'(z)", z, np.exp(-z) / (1 + np.exp(-z)) ** 2)],
                          "z", r"\sigma", points=[(0, 0.5)], ylim=(-0.1, 1.1))]
    body = "\n".join(r"\begin{center}" + f.tikz + r"\end{center}" for f in figs)
    (tmp_path / "f.tex").write_text(
        r"\documentclass{article}\usepackage{amsmath}\usepackage{tikz}"
        r"\usetikzlibrary{positioning,arrows.meta}\usepackage{pgfplots}\pgfplotsset{compat=1.16}"
        r"\begin{document}" + body + r"\end{document}")
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "f.tex"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:]
