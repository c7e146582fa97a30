"""The TikZ picture and the SVG picture of a figure agree: read back from each printer's output,
both show the same units (dashed where the other is dashed, at the same places), the same
arrows, the same labels in the same order with math letters italic, and the same axes with the
same curve pieces, marks, ticks, titles and legend entries. The TikZ compiles with pdflatex."""

import re
import subprocess
import xml.etree.ElementTree as ET
from collections import Counter

import numpy as np
import pytest

from conftest import require_tex
from worksheetgen.figures import (Arrow, Axes, Circle, Curve, Label, Marks, Panel, boolean_network,
                                  function_plot, network_diagram, plot_grid)
from worksheetgen.figures.svg import CURVE_STROKES, PX_PER_CM
from worksheetgen.figures.texlabels import plain_text, runs
from worksheetgen.figures.tikz import CURVE_OPTIONS

SVG = "{http://www.w3.org/2000/svg}"


# ---- the figures: every generator on several inputs ------------------------------------------

def _seed_000():
    w1 = [["0.1", "0.1"], ["-0.1", "0.2"], ["0.3", "-0.4"]]
    w2 = [["0.1", "0.1"], ["0.5", "-0.6"], ["0.7", "-0.8"]]
    return network_diagram([2, 2, 2], bias=True, weights=[w1, w2],
                           layer_titles=["input", "hidden", "output"])


def _activation_panels():
    z = np.linspace(-4, 4, 81)
    sig = 1 / (1 + np.exp(-z))
    step = np.where(z > 0, 1.0, 0.0)
    step[np.isclose(z, 0)] = np.nan
    spec = [(r"\text{sigmoid}", sig, sig * (1 - sig), (-0.25, 1.25)),
            (r"\tanh", np.tanh(z), 1 - np.tanh(z) ** 2, (-1.25, 1.25)),
            (r"\text{ReLU}", np.maximum(z, 0), step, (-0.5, 2.5))]
    return [Panel([("g(z)", z, g, "solid"), ("g'(z)", z, dg, "dashed")], title=title, xlabel="z",
                  xlim=(-4, 4), ylim=ylim, legend="north west") for title, g, dg, ylim in spec]


def _loss_panels():
    its = np.arange(101)
    rates = (0.4, 2e-5, 8e-3, 3e-4)
    return [Panel([("", its, 4 * np.exp(-r * 50 * its) + 0.3 * np.sin(its) ** 2, "solid")],
                  title=letter, xlabel=r"\text{iteration}", ylabel=r"\text{loss}",
                  xlim=(-4, 100), ylim=(0, 5), legend="none")
            for letter, r in zip("ABCD", rates)]


def _scatter_panels():
    rng = np.random.default_rng(3)
    x = rng.uniform(-3, 3, 40)
    y = np.sin(x) + 0.2 * rng.normal(size=40)
    grid = np.linspace(-3, 3, 61)
    return [Panel([("", grid, k * np.sin(grid), "solid")], title=rf"\text{{Network {k}}}",
                  xlabel="x", ylabel="y", xlim=(-3, 3), ylim=(-1.6, 1.6),
                  points=list(zip(x, y)), legend="none") for k in (1, 2, 3)]


def _styled_plot():
    z = np.linspace(-2, 2, 41)
    curves = [(rf"f_{{{k}}}(z)", z, z ** k) for k in range(1, 5)]  # default styles in turn
    curves.append(("", z, np.full_like(z, np.nan)))  # nothing visible, no legend entry
    curves.append((r"\text{bound}", z, np.ones_like(z), "gray"))
    curves.append(("", z, -np.ones_like(z), "thin"))
    return function_plot(curves, "z", r"f(z)", ylim=(-3, 3), legend="south east",
                         points=[(0, 0), (1, 1), (9, 9)])


CASES = {
    "network seed 000": _seed_000,
    "network plain": lambda: network_diagram([3, 4, 1]),
    "network bias, no weights": lambda: network_diagram([2, 3, 1], bias=True),
    "network weights, some blank": lambda: network_diagram(
        [2, 2], weights=[[["1.5", None], ["", r"-\frac{1}{2}"]]],
        labels=[["x", r"\sigma"], ["u", "v"]], layer_titles=["in", "out"]),
    "network one unit": lambda: network_diagram([1, 1], bias=True, weights=[[["b"], ["w"]]]),
    "boolean with biases": lambda: boolean_network(
        [["1", "-1"], ["-1", "1"]], ["1", "1"], ["0", r"-\frac{1}{2}"], "1"),
    "boolean without biases": lambda: boolean_network([["0", "1"], ["1", "0"]], ["-1", "1"]),
    "sigmoid plot": lambda: function_plot(
        [("g(z)", np.linspace(-4, 4, 81), 1 / (1 + np.exp(-np.linspace(-4, 4, 81))))],
        "z", r"\sigma(z)", points=[(0, 0.5)], ylim=(-0.1, 1.1)),
    "styled plot": _styled_plot,
    "activation grid": lambda: plot_grid(_activation_panels(), columns=2, width=5.2, height=3.0),
    "loss grid": lambda: plot_grid(_loss_panels(), columns=2, width=5.2, height=3.0),
    "scatter grid": lambda: plot_grid(_scatter_panels(), columns=3, width=4.0, height=3.0),
}


# ---- reading each picture back ----------------------------------------------------------------

_NUM = r"(-?[\d.]+)"
_TIKZ_CIRCLE = re.compile(rf"^\\draw\[([^\]]*)\] \({_NUM},{_NUM}\) circle\[radius={_NUM}\];$")
_TIKZ_ARROW = re.compile(rf"^\\draw\[->(, dashed)?\] \({_NUM},{_NUM}\) -- \({_NUM},{_NUM}\);$")
_TIKZ_NODE = re.compile(r"^\\node\[([^\]]*)\] at \([^)]*\) \{(.*)\};$")


def _tikz_list(options: str, key: str) -> list[str]:
    match = re.search(key + r"=\{([^}]*)\}", options)
    return re.findall(r"\$([^$]*)\$", match.group(1)) if match else []


def read_tikz(tikz: str) -> dict:
    """What the TikZ draws, element by element."""
    out = {"circles": [], "arrows": [], "labels": [], "axes": []}
    axes = None
    for line in tikz.splitlines():
        if m := _TIKZ_CIRCLE.match(line):
            opts = m.group(1).split(", ")
            out["circles"].append((float(m.group(2)), float(m.group(3)), "dashed" in opts))
        elif m := _TIKZ_ARROW.match(line):
            out["arrows"].append((tuple(float(v) for v in m.group(2, 3, 4, 5)),
                                  m.group(1) is not None))
        elif m := _TIKZ_NODE.match(line):
            text = m.group(2)
            math = text.startswith("$") and text.endswith("$")
            out["labels"].append((text[1:-1] if math else text, math))
        elif line.startswith(r"\begin{axis}["):
            axes = {"options": line, "pieces": Counter(), "marks": 0, "legend": [],
                    "xticks": _tikz_list(line, "xticklabels"),
                    "yticks": _tikz_list(line, "yticklabels")}
        elif line.startswith(r"\addplot[only marks"):
            axes["marks"] += line.count("(")
        elif line.startswith(r"\addplot["):
            opts = line[len(r"\addplot["):line.index(", no markers")]
            style = next(s for s, o in CURVE_OPTIONS.items() if o == opts)
            axes["pieces"][style] += 1
        elif line.startswith(r"\addlegendentry{$"):
            axes["legend"].append(line[len(r"\addlegendentry{$"):-len("$}")])
        elif line == r"\end{axis}":
            out["axes"].append(axes)
            axes = None
        elif line not in (r"\begin{tikzpicture}[>={Stealth[length=2mm]}]", r"\end{tikzpicture}"):
            raise AssertionError(f"a TikZ line the test does not know: {line}")
    return out


def _attrs(text: str) -> dict[str, str]:
    return dict(re.findall(r'(\S+)="([^"]*)"', text))


_SVG_STYLES = {style: _attrs(attrs) for style, attrs in CURVE_STROKES.items()}


def _text(element) -> str:
    return "".join(element.itertext())


def read_svg(svg: str) -> dict:
    """What the SVG draws, element by element (and that it is well-formed XML)."""
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    out = {"circles": [], "arrows": [], "labels": [], "axes": [], "italic": []}
    for el in root:
        tag = el.tag[len(SVG):]
        if tag == "circle":
            out["circles"].append((float(el.get("cx")) / PX_PER_CM,
                                   -float(el.get("cy")) / PX_PER_CM,
                                   el.get("stroke-dasharray") is not None))
        elif tag == "line":
            assert el.get("marker-end") == "url(#arrow)"
            ends = [float(el.get(k)) / PX_PER_CM for k in ("x1", "y1", "x2", "y2")]
            ends[1], ends[3] = -ends[1], -ends[3]
            out["arrows"].append((tuple(ends), el.get("stroke-dasharray") is not None))
        elif tag == "text":
            out["labels"].append(_text(el))
            out["italic"].append(any(t.get("font-style") == "italic" for t in el.iter(f"{SVG}tspan")))
        elif tag == "g" and el.get("class") == "axes":
            pieces = Counter()
            for poly in el.findall(f"{SVG}polyline"):
                style = next(s for s, a in _SVG_STYLES.items()
                             if all(poly.get(k) == v for k, v in a.items())
                             and (poly.get("stroke-dasharray") is None) == ("stroke-dasharray" not in a))
                pieces[style] += 1
            marks = el.findall(f"{SVG}g[@class='marks']/{SVG}circle")
            legend = [_text(t) for t in el.findall(f"{SVG}g[@class='legend']/{SVG}text")]
            out["axes"].append({"pieces": pieces, "marks": len(marks), "legend": legend,
                                "texts": [_text(t) for t in el.findall(f"{SVG}text")]})
        elif tag != "defs":
            raise AssertionError(f"an SVG element the test does not know: {tag}")
    return out


# ---- the agreement ----------------------------------------------------------------------------

@pytest.mark.parametrize("case", CASES)
def test_both_pictures_show_the_same_elements(case):
    fig = CASES[case]()
    scene = fig.scene.walk()
    tikz, svg = read_tikz(fig.tikz), read_svg(fig.svg)

    circles = [e for e in scene if isinstance(e, Circle)]
    assert len(tikz["circles"]) == len(svg["circles"]) == len(circles)
    for (tx, ty, t_dashed), (sx, sy, s_dashed) in zip(tikz["circles"], svg["circles"]):
        # Same places (to the printers' precision: 0.001 cm, 0.01 px) and dashed alike.
        assert (tx, ty) == pytest.approx((sx, sy), abs=1e-3) and t_dashed == s_dashed
    assert sum(d for *_, d in tikz["circles"]) == sum(c.dashed for c in circles)

    arrows = [e for e in scene if isinstance(e, Arrow)]
    assert len(tikz["arrows"]) == len(svg["arrows"]) == len(arrows)
    for (t_ends, t_dashed), (s_ends, s_dashed) in zip(tikz["arrows"], svg["arrows"]):
        assert t_ends == pytest.approx(s_ends, abs=1e-3) and t_dashed == s_dashed
    assert sum(d for _, d in tikz["arrows"]) == sum(a.dashed for a in arrows)

    labels = [e for e in scene if isinstance(e, Label)]
    assert [(lab.tex, lab.math) for lab in labels] == tikz["labels"]
    assert [plain_text(tex, math) for tex, math in tikz["labels"]] == svg["labels"]
    for lab, italic in zip(labels, svg["italic"]):
        # TeX sets the letters of a math label italic; the SVG must too (and words upright).
        assert lab.math or not italic
        assert italic == any(slanted for _, _, slanted in runs(lab.tex, lab.math)), lab.tex

    axes = [e for e in scene if isinstance(e, Axes)]
    assert len(tikz["axes"]) == len(svg["axes"]) == len(axes)
    for a, t, s in zip(axes, tikz["axes"], svg["axes"]):
        curves = [p for p in a.plots if isinstance(p, Curve)]
        expected = Counter()
        for c in curves:
            expected[c.style] += len(c.pieces)
        assert t["pieces"] == s["pieces"] == +expected
        assert t["marks"] == s["marks"] == sum(len(p.points) for p in a.plots
                                               if isinstance(p, Marks))
        assert t["legend"] == [c.legend for c in a.legend_entries()]
        assert [plain_text(tex) for tex in t["legend"]] == s["legend"]
        assert t["xticks"] == [tick.tex for tick in a.xticks]
        assert t["yticks"] == [tick.tex for tick in a.yticks]
        words = [tex for tex in (a.title, a.xlabel, a.ylabel) if tex]
        for key, tex in (("title", a.title), ("xlabel", a.xlabel), ("ylabel", a.ylabel)):
            assert (f"{key}={{${tex}$}}" in t["options"]) == bool(tex)
        assert s["texts"] == [plain_text(tex) for tex in t["xticks"] + t["yticks"] + words]


def test_the_cases_cover_every_element_kind_and_style():
    seen = Counter(type(e).__name__ for case in CASES.values() for e in case().scene.walk())
    assert set(seen) == {"Circle", "Arrow", "Label", "Axes", "Curve", "Marks"}
    styles = {e.style for case in CASES.values() for e in case().scene.walk()
              if isinstance(e, Curve) and e.pieces}
    assert styles == set(CURVE_OPTIONS) == set(CURVE_STROKES)


@pytest.mark.pdf
def test_figures_compile(tmp_path):
    require_tex()
    body = "\n".join(r"\begin{center}" + CASES[case]().tikz + r"\end{center}" for case in CASES)
    # The packages templates/formats/latex/preamble.tex.j2 loads for figures.
    (tmp_path / "f.tex").write_text(
        r"\documentclass{article}\usepackage[T1]{fontenc}\usepackage{lmodern}"
        r"\usepackage{amsmath,amssymb}\usepackage{tikz}"
        r"\usetikzlibrary{positioning,arrows.meta}\usepackage{pgfplots}\pgfplotsset{compat=1.16}"
        "\n\\begin{document}\n" + body + "\n\\end{document}\n")
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "f.tex"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:]
    log = (tmp_path / "f.log").read_text(errors="replace")
    assert "Missing character" not in log and "Undefined control sequence" not in log
