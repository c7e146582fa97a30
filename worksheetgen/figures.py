"""Figures generated from an instance: TikZ/pgfplots for LaTeX and an SVG beside the Markdown.

A figure is part of an exercise's output like its text: families put Figure objects in
``Solved.figures`` and templates place them with ``m.figure(fig, figure_path(fig))``.

Both pictures are built from one geometry computed here (positions in centimetres), so the PDF
and the SVG show the same thing. Everything is plain string building with numbers printed at a
fixed precision: the same arguments give the same bytes on every run (no plotting library, no
dates, no random ids). Labels are written as TeX (without dollar signs); the LaTeX picture typesets
them in math mode, the SVG shows a plain-text rendering of the same TeX (sub/superscripts as
raised or lowered smaller text, Greek letters and a few operators as Unicode).

Generators:

- :func:`network_diagram` - a fully connected network: units per layer, optional bias units,
  optional weight labels on the edges.
- :func:`function_plot` - one axis with curves (and optionally scattered data points).
- :func:`plot_grid` - several such axes (:class:`Panel`) in a grid, e.g. curves A, B, C, D.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Sequence

PX_PER_CM = 40.0  # SVG user units per centimetre of the TikZ picture


@dataclass(frozen=True)
class Figure:
    name: str  # file stem, unique within one exercise, e.g. "network"
    tikz: str  # a complete tikzpicture (tikz + pgfplots are loaded by the preamble)
    svg: str  # a complete SVG document
    caption: str = ""


# ---------------------------------------------------------------------------------------------
# number and text helpers
# ---------------------------------------------------------------------------------------------


def _f(value: float, places: int = 3) -> str:
    """A coordinate at fixed precision, never '-0.000'."""
    text = f"{value:.{places}f}"
    if text.startswith("-") and set(text[1:]) <= {"0", "."}:
        text = text[1:]
    return text


def _px(cm: float) -> str:
    return _f(cm * PX_PER_CM, 2)


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


_SYMBOLS = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "varepsilon": "ε",
    "eta": "η", "theta": "θ", "lambda": "λ", "mu": "μ", "pi": "π", "sigma": "σ", "tau": "τ",
    "phi": "φ", "varphi": "φ", "omega": "ω", "Delta": "Δ", "Sigma": "Σ", "Phi": "Φ",
    "partial": "∂", "nabla": "∇", "cdot": "·", "times": "×", "approx": "≈", "le": "≤",
    "leq": "≤", "ge": "≥", "geq": "≥", "ne": "≠", "neq": "≠", "infty": "∞", "prime": "′",
    "ldots": "…", "cdots": "⋯", "dots": "…", "to": "→", "rightarrow": "→", "in": "∈",
    "sum": "∑", "pm": "±", "circ": "∘", "odot": "⊙", "quad": " ", "qquad": "  ",
    ",": " ", ";": " ", ":": " ", "!": "", " ": " ", "{": "{", "}": "}", "%": "%", "_": "_",
    "&": "&", "#": "#", "$": "$", "left": "", "right": "", "big": "", "Big": "",
    "displaystyle": "", "textstyle": "", "scriptstyle": "",
}
_ACCENTS = {"hat": "\u0302", "tilde": "\u0303", "bar": "\u0304", "vec": "\u20d7", "dot": "\u0307"}
_TEXT_COMMANDS = {"operatorname", "mathrm", "text", "textrm", "mathit", "mathbf", "boldsymbol",
                  "mathcal", "textbf", "textit", "emph", "mbox"}


def _group(tex: str, i: int) -> tuple[str, int]:
    """The argument starting at tex[i] (a braced group or one character) and the next index."""
    while i < len(tex) and tex[i] == " ":
        i += 1
    if i >= len(tex):
        return "", i
    if tex[i] == "{":
        depth, j = 0, i
        while j < len(tex):
            if tex[j] == "{":
                depth += 1
            elif tex[j] == "}":
                depth -= 1
                if depth == 0:
                    return tex[i + 1:j], j + 1
            j += 1
        return tex[i + 1:], len(tex)
    if tex[i] == "\\":
        m = re.match(r"\\([A-Za-z]+|.)", tex[i:])
        assert m is not None
        return m.group(0), i + len(m.group(0))
    return tex[i], i + 1


def _runs(tex: str, level: int = 0) -> list[tuple[str, int]]:
    """TeX math → [(plain text, level)], level -1 subscript, +1 superscript, 0 baseline."""
    out: list[tuple[str, int]] = []

    def add(text: str, lvl: int = level) -> None:
        if not text:
            return
        if out and out[-1][1] == lvl:
            out[-1] = (out[-1][0] + text, lvl)
        else:
            out.append((text, lvl))

    i = 0
    while i < len(tex):
        ch = tex[i]
        if ch in "_^":
            arg, i = _group(tex, i + 1)
            shift = -1 if ch == "_" else 1
            for text, lvl in _runs(arg, level + shift if level == 0 else level):
                add(text, lvl)
        elif ch == "\\":
            m = re.match(r"\\([A-Za-z]+|.)", tex[i:])
            assert m is not None
            name = m.group(1)
            i += len(m.group(0))
            if name in _ACCENTS:
                arg, i = _group(tex, i)
                for text, lvl in _runs(arg, level):
                    accented = text + _ACCENTS[name] if len(text) == 1 else text
                    add(unicodedata.normalize("NFC", accented), lvl)
            elif name in _TEXT_COMMANDS:
                arg, i = _group(tex, i)
                add(arg.replace("\\", ""))
            elif name in ("frac", "tfrac", "dfrac"):
                num, i = _group(tex, i)
                den, i = _group(tex, i)
                for text, lvl in _runs(_wrap(num) + "/" + _wrap(den), level):
                    add(text, lvl)
            elif name == "sqrt":
                arg, i = _group(tex, i)
                for text, lvl in _runs("√" + _wrap(arg), level):
                    add(text, lvl)
            elif name in _SYMBOLS:
                add(_SYMBOLS[name])
            else:
                add(name)
        elif ch in "{}$":
            i += 1
        elif ch == "-":
            add("−")
            i += 1
        elif ch == "~":
            add(" ")
            i += 1
        else:
            add(ch)
            i += 1
    return out


def _wrap(tex: str) -> str:
    return tex if len(tex) <= 1 or re.fullmatch(r"[A-Za-z0-9.]+", tex) else f"({tex})"


def tex_to_text(tex: str) -> str:
    """A one-line plain-text reading of a TeX label (sub/superscripts written inline)."""
    parts = []
    for text, lvl in _runs(tex):
        parts.append(text if lvl == 0 else ("_" if lvl < 0 else "^") + text)
    return "".join(parts)


def svg_text(tex: str, size: float = 12.0) -> str:
    """XML content of an SVG <text> element showing a TeX label (sub/superscripts via dy)."""
    pieces = []
    offset = 0.0
    for text, lvl in _runs(tex):
        target = {-1: 0.3 * size, 0: 0.0, 1: -0.4 * size}[max(-1, min(1, lvl))]
        dy = target - offset
        offset = target
        attrs = f' dy="{_f(dy, 2)}"' if dy else ""
        if lvl:
            attrs += f' font-size="{_f(0.7 * size, 2)}"'
        pieces.append(f"<tspan{attrs}>{_xml(text)}</tspan>" if attrs else _xml(text))
    return "".join(pieces)


def _svg_document(width_cm: float, height_cm: float, body: list[str], x0: float = 0.0,
                  y0: float = 0.0) -> str:
    """An SVG whose user units are PX_PER_CM per centimetre; (x0, y0) is the top-left in cm."""
    w, h = width_cm * PX_PER_CM, height_cm * PX_PER_CM
    head = (
        '<svg xmlns="http://www.w3.org/2000/svg" version="1.1" '
        f'width="{_f(w, 2)}" height="{_f(h, 2)}" '
        f'viewBox="{_px(x0)} {_px(y0)} {_f(w, 2)} {_f(h, 2)}" '
        'font-family="serif" font-size="12">'
    )
    return "\n".join([head, *body, "</svg>"]) + "\n"


# ---------------------------------------------------------------------------------------------
# network diagrams
# ---------------------------------------------------------------------------------------------

_UNIT_R = 0.36  # cm


def _default_labels(layer_sizes: Sequence[int]) -> list[list[str]]:
    last = len(layer_sizes) - 1
    labels = []
    for layer, size in enumerate(layer_sizes):
        if layer == 0:
            labels.append([f"x_{{{i + 1}}}" for i in range(size)])
        elif layer == last:
            labels.append([r"\hat{y}" if size == 1 else rf"\hat{{y}}_{{{k + 1}}}" for k in range(size)])
        else:
            labels.append([f"a^{{[{layer}]}}_{{{j + 1}}}" for j in range(size)])
    return labels


def network_diagram(
    layer_sizes: Sequence[int],
    bias: bool = False,
    weights: Sequence[Sequence[Sequence[str | None]]] | None = None,
    labels: Sequence[Sequence[str]] | None = None,
    *,
    name: str = "network",
    caption: str = "",
    layer_titles: Sequence[str] | None = None,
) -> Figure:
    """A fully connected feed-forward network, inputs on the left, outputs on the right.

    ``layer_sizes``: units per layer, input layer first, e.g. ``[2, 2, 2]``.
    ``bias``: draw a bias unit "1" above every layer but the last, connected to the next layer.
    ``weights``: optional edge labels (TeX, no dollars; None or "" leaves an edge unlabelled):
    ``weights[l][i][j]`` labels the edge from node ``i`` of layer ``l`` to unit ``j`` of layer
    ``l + 1`` (0-based). With ``bias=True`` node ``i = 0`` is the bias unit and the units are
    ``i = 1 .. n_l`` - the layout of a matrix W with the bias weights as row 0, as in seed
    001's ``W^{[1]}`` (so ``weights[l]`` can be that matrix, formatted, as a list of rows).
    ``labels``: optional unit labels (TeX), ``labels[l][i]`` for unit ``i`` of layer ``l``
    (bias units are always "1"); default x_i, a^{[l]}_j, ŷ_k.
    ``layer_titles``: optional captions under the layers, e.g. ["input", "hidden", "output"].
    """
    sizes = [int(n) for n in layer_sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError("a network needs at least two layers of at least one unit")
    labels = [list(row) for row in labels] if labels is not None else _default_labels(sizes)
    if len(labels) != len(sizes) or any(len(r) != n for r, n in zip(labels, sizes)):
        raise ValueError("labels must give one label per unit of every layer")
    offset = 1 if bias else 0
    if weights is not None:
        if len(weights) != len(sizes) - 1:
            raise ValueError("weights needs one matrix per pair of consecutive layers")
        for layer, w in enumerate(weights):
            if len(w) != sizes[layer] + offset or any(len(row) != sizes[layer + 1] for row in w):
                raise ValueError(
                    f"weights[{layer}] must be {sizes[layer] + offset} x {sizes[layer + 1]}"
                    + (" (bias row first)" if bias else "")
                )

    dx = 3.2 if weights is not None else 2.4
    dy = 1.25
    last = len(sizes) - 1

    def shift(layer: int) -> int:
        return offset if layer < last else 0  # the output layer has no bias unit

    # Node (layer, i) with i as in ``weights``: the bias unit first when present.
    pos: dict[tuple[int, int], tuple[float, float]] = {}
    for layer, n in enumerate(sizes):
        count = n + shift(layer)
        for k in range(count):
            pos[(layer, k)] = (layer * dx, (count - 1) * dy / 2 - k * dy)

    def is_bias(layer: int, i: int) -> bool:
        return shift(layer) == 1 and i == 0

    def node_label(layer: int, i: int) -> str:
        return "1" if is_bias(layer, i) else labels[layer][i - shift(layer)]

    def node_id(layer: int, i: int) -> str:
        return f"l{layer}u{i}"

    nodes = sorted(pos)
    # (layer, source node, target unit j, target node key, label)
    edges = []
    for layer in range(last):
        for i in range(sizes[layer] + offset):
            for j in range(sizes[layer + 1]):
                text = weights[layer][i][j] if weights is not None else None
                edges.append((layer, i, j, (layer + 1, j + shift(layer + 1)), text or ""))

    def label_pos(layer: int, j: int) -> float:
        # Edges into different targets carry their labels at different distances along the
        # edge, so no two labels share a spot: those into one target are a column apart from
        # the others, and within the column they are spread vertically like their sources.
        n_next = sizes[layer + 1]
        return 0.25 + (0.5 * j / (n_next - 1) if n_next > 1 else 0.0)

    # ---- TikZ
    tikz = [
        r"\begin{tikzpicture}[>={Stealth[length=2mm]},"
        r" unit/.style={circle, draw, thick, minimum size=7.2mm, inner sep=0pt},"
        r" biasunit/.style={circle, draw, dashed, minimum size=7.2mm, inner sep=0pt},"
        r" wlabel/.style={fill=white, inner sep=1pt, font=\scriptsize}]"
    ]
    for layer, i in nodes:
        x, y = pos[(layer, i)]
        style = "biasunit" if is_bias(layer, i) else "unit"
        tikz.append(rf"\node[{style}] ({node_id(layer, i)}) at ({_f(x)},{_f(y)}) {{${node_label(layer, i)}$}};")
    for layer, i, j, dst_key, text in edges:
        src, dst = node_id(layer, i), node_id(*dst_key)
        mid = rf" node[wlabel, pos={_f(label_pos(layer, j), 2)}] {{${text}$}}" if text else ""
        tikz.append(rf"\draw[->] ({src}) --{mid} ({dst});")
    bottom = min(y for _, y in pos.values()) - _UNIT_R
    if layer_titles:
        for layer, title in enumerate(layer_titles[: len(sizes)]):
            tikz.append(rf"\node[font=\small] at ({_f(layer * dx)},{_f(bottom - 0.45)}) {{{title}}};")
    tikz.append(r"\end{tikzpicture}")

    # ---- SVG (y grows downwards)
    xs = [p[0] for p in pos.values()]
    ys = [-p[1] for p in pos.values()]
    margin = 0.6
    x0, x1 = min(xs) - margin, max(xs) + margin
    y0, y1 = min(ys) - margin, max(ys) + margin + (0.6 if layer_titles else 0)
    body = [
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto"><path d="M 0 0 L 10 5 L 0 10 z" fill="black"/></marker></defs>'
    ]
    for layer, i, j, dst_key, text in edges:
        (ax, ay), (bx, by) = pos[(layer, i)], pos[dst_key]
        ay, by = -ay, -by
        length = math.hypot(bx - ax, by - ay)
        ux, uy = (bx - ax) / length, (by - ay) / length
        sx, sy = ax + ux * _UNIT_R, ay + uy * _UNIT_R
        ex, ey = bx - ux * _UNIT_R, by - uy * _UNIT_R
        dash = ' stroke-dasharray="4 3"' if is_bias(layer, i) else ""
        body.append(
            f'<line x1="{_px(sx)}" y1="{_px(sy)}" x2="{_px(ex)}" y2="{_px(ey)}" stroke="black" '
            f'stroke-width="1"{dash} marker-end="url(#arrow)"/>'
        )
        if text:
            t = label_pos(layer, j)
            lx, ly = sx + (ex - sx) * t, sy + (ey - sy) * t
            body.append(
                f'<text x="{_px(lx)}" y="{_px(ly)}" text-anchor="middle" dominant-baseline="middle" '
                f'font-size="10" stroke="white" stroke-width="3" paint-order="stroke">'
                f"{svg_text(text, 10)}</text>"
            )
    for layer, i in nodes:
        x, y = pos[(layer, i)]
        dash = ' stroke-dasharray="4 3"' if is_bias(layer, i) else ""
        body.append(
            f'<circle cx="{_px(x)}" cy="{_px(-y)}" r="{_px(_UNIT_R)}" fill="white" stroke="black" '
            f'stroke-width="1.5"{dash}/>'
        )
        body.append(
            f'<text x="{_px(x)}" y="{_px(-y)}" text-anchor="middle" dominant-baseline="central">'
            f"{svg_text(node_label(layer, i))}</text>"
        )
    if layer_titles:
        for layer, title in enumerate(layer_titles[: len(sizes)]):
            body.append(
                f'<text x="{_px(layer * dx)}" y="{_px(-bottom + 0.5)}" text-anchor="middle" '
                f'font-size="11">{_xml(title)}</text>'
            )
    svg = _svg_document(x1 - x0, y1 - y0, body, x0, y0)
    return Figure(name, "\n".join(tikz), svg, caption)


# ---------------------------------------------------------------------------------------------
# function plots
# ---------------------------------------------------------------------------------------------

Curve = tuple  # (label, xs, ys) or (label, xs, ys, style); NaN in ys breaks the line

# name → (pgfplots options, SVG stroke attributes)
STYLES: dict[str, tuple[str, str]] = {
    "solid": ("black, thick", 'stroke="black" stroke-width="1.6"'),
    "dashed": ("black, thick, dashed", 'stroke="black" stroke-width="1.6" stroke-dasharray="6 4"'),
    "dotted": ("black, thick, dotted", 'stroke="black" stroke-width="1.6" stroke-dasharray="1.5 3"'),
    "dashdotted": ("black, thick, dash dot", 'stroke="black" stroke-width="1.6" stroke-dasharray="6 3 1.5 3"'),
    "gray": ("gray, thick", 'stroke="#808080" stroke-width="1.6"'),
    "thin": ("black", 'stroke="black" stroke-width="1"'),
}
_STYLE_ORDER = ("solid", "dashed", "dotted", "dashdotted")


@dataclass(frozen=True)
class Panel:
    """One axis: curves (label, xs, ys[, style]) and optional scattered points (x, y)."""

    curves: Sequence[Curve] = ()
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


def _ticks(lo: float, hi: float) -> tuple[list[float], int]:
    """Tick positions inside [lo, hi] on a 1-2-2.5-5 grid, and the decimals they need."""
    step = _nice_step(hi - lo)
    first = math.ceil(lo / step - 1e-9)
    last = math.floor(hi / step + 1e-9)
    ticks = [round(k * step, 10) for k in range(first, last + 1)]
    decimals = 0
    while decimals < 6 and any(abs(round(t, decimals) - t) > 1e-9 for t in ticks):
        decimals += 1
    return ticks, decimals


def _tick_text(value: float, decimals: int) -> str:
    return _f(value, decimals)


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


def _clip_segment(p: tuple[float, float], q: tuple[float, float], box: tuple[float, float, float, float]
                  ) -> tuple[tuple[float, float], tuple[float, float]] | None:
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
                  box: tuple[float, float, float, float]) -> list[list[tuple[float, float]]]:
    """The visible pieces of a polyline (NaN or inf values break it) inside the box."""
    pieces: list[list[tuple[float, float]]] = []
    current: list[tuple[float, float]] = []
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


def _curve_parts(curve: Curve, index: int) -> tuple[str, list[float], list[float], str]:
    if len(curve) not in (3, 4):
        raise ValueError("a curve is (label, xs, ys) or (label, xs, ys, style)")
    label, xs, ys = curve[0], list(curve[1]), list(curve[2])
    style = curve[3] if len(curve) == 4 else _STYLE_ORDER[index % len(_STYLE_ORDER)]
    if style not in STYLES:
        raise ValueError(f"unknown curve style {style!r} (allowed: {', '.join(STYLES)})")
    if len(xs) != len(ys):
        raise ValueError("a curve needs as many x as y values")
    return str(label), [float(x) for x in xs], [float(y) for y in ys], style


def _panel_geometry(panel: Panel) -> tuple[tuple[float, float], tuple[float, float]]:
    xs: list[float] = []
    ys: list[float] = []
    for i, curve in enumerate(panel.curves):
        _, cx, cy, _ = _curve_parts(curve, i)
        xs += cx
        ys += cy
    xs += [p[0] for p in panel.points]
    ys += [p[1] for p in panel.points]
    return _limits(xs, panel.xlim), _limits(ys, panel.ylim)


def _coords(piece: list[tuple[float, float]]) -> str:
    return " ".join(f"({_f(x, 4)},{_f(y, 4)})" for x, y in piece)


def _panel_tikz(panel: Panel, at: tuple[float, float], width: float, height: float) -> list[str]:
    (xmin, xmax), (ymin, ymax) = _panel_geometry(panel)
    xt, xd = _ticks(xmin, xmax)
    yt, yd = _ticks(ymin, ymax)
    opts = [
        f"at={{({_f(at[0])}cm,{_f(at[1])}cm)}}", "anchor=north west", "scale only axis",
        f"width={_f(width)}cm", f"height={_f(height)}cm",
        f"xmin={_f(xmin, 4)}", f"xmax={_f(xmax, 4)}", f"ymin={_f(ymin, 4)}", f"ymax={_f(ymax, 4)}",
        "xtick={" + ",".join(_f(t, 6) for t in xt) + "}",
        "xticklabels={" + ",".join(f"${_tick_text(t, xd).replace('-', '-')}$" for t in xt) + "}",
        "ytick={" + ",".join(_f(t, 6) for t in yt) + "}",
        "yticklabels={" + ",".join(f"${_tick_text(t, yd)}$" for t in yt) + "}",
        r"tick label style={font=\scriptsize}", r"label style={font=\small}",
        "tick align=inside", "axis line style={thin}",
    ]
    if panel.title:
        opts.append(f"title={{${panel.title}$}}")
    if panel.xlabel:
        opts.append(f"xlabel={{${panel.xlabel}$}}")
    if panel.ylabel:
        opts.append(f"ylabel={{${panel.ylabel}$}}")
    labelled = [c for c in panel.curves if str(c[0])]
    if labelled and panel.legend != "none":
        anchor = panel.legend
        frac = {"north east": "0.98,0.98", "north west": "0.02,0.98", "south east": "0.98,0.02",
                "south west": "0.02,0.02"}[anchor]
        opts.append(
            rf"legend style={{font=\scriptsize, draw=none, fill=white, fill opacity=0.8, "
            rf"text opacity=1, at={{({frac})}}, anchor={anchor}}}"
        )
        opts.append("legend cell align=left")
    lines = [r"\begin{axis}[" + ", ".join(opts) + "]"]
    box = (xmin, xmax, ymin, ymax)
    if panel.points:
        inside = [(x, y) for x, y in panel.points if xmin <= x <= xmax and ymin <= y <= ymax]
        lines.append(r"\addplot[only marks, mark=*, mark size=0.7pt, gray, forget plot] coordinates {"
                     + _coords(inside) + "};")
    for i, curve in enumerate(panel.curves):
        label, xs, ys, style = _curve_parts(curve, i)
        pieces = clip_polyline(xs, ys, box)
        for k, piece in enumerate(pieces):
            legend_entry = label and k == 0 and panel.legend != "none"
            forget = "" if legend_entry else ", forget plot"
            lines.append(rf"\addplot[{STYLES[style][0]}, no markers{forget}] coordinates {{"
                         + _coords(piece) + "};")
            if legend_entry:
                lines.append(rf"\addlegendentry{{${label}$}}")
    lines.append(r"\end{axis}")
    return lines


def _panel_svg(panel: Panel, at: tuple[float, float], width: float, height: float) -> list[str]:
    """SVG of one axis whose plot area's top-left corner is at ``at`` (cm, y downwards)."""
    (xmin, xmax), (ymin, ymax) = _panel_geometry(panel)
    left, top = at

    def sx(x: float) -> float:
        return left + (x - xmin) / (xmax - xmin) * width

    def sy(y: float) -> float:
        return top + (ymax - y) / (ymax - ymin) * height

    out = [f'<rect x="{_px(left)}" y="{_px(top)}" width="{_px(width)}" height="{_px(height)}" '
           'fill="none" stroke="black" stroke-width="0.8"/>']
    xt, xd = _ticks(xmin, xmax)
    yt, yd = _ticks(ymin, ymax)
    for t in xt:
        x = sx(t)
        out.append(f'<line x1="{_px(x)}" y1="{_px(top + height)}" x2="{_px(x)}" '
                   f'y2="{_px(top + height - 0.12)}" stroke="black" stroke-width="0.8"/>')
        out.append(f'<text x="{_px(x)}" y="{_px(top + height + 0.4)}" text-anchor="middle" '
                   f'font-size="9">{svg_text(_tick_text(t, xd), 9)}</text>')
    for t in yt:
        y = sy(t)
        out.append(f'<line x1="{_px(left)}" y1="{_px(y)}" x2="{_px(left + 0.12)}" y2="{_px(y)}" '
                   'stroke="black" stroke-width="0.8"/>')
        out.append(f'<text x="{_px(left - 0.1)}" y="{_px(y)}" text-anchor="end" '
                   f'dominant-baseline="middle" font-size="9">{svg_text(_tick_text(t, yd), 9)}</text>')
    if panel.title:
        out.append(f'<text x="{_px(left + width / 2)}" y="{_px(top - 0.2)}" text-anchor="middle" '
                   f'font-size="12">{svg_text(panel.title)}</text>')
    if panel.xlabel:
        out.append(f'<text x="{_px(left + width / 2)}" y="{_px(top + height + 0.95)}" '
                   f'text-anchor="middle" font-size="11">{svg_text(panel.xlabel, 11)}</text>')
    if panel.ylabel:
        cx, cy = left - 1.05, top + height / 2
        out.append(f'<text x="{_px(cx)}" y="{_px(cy)}" text-anchor="middle" font-size="11" '
                   f'transform="rotate(-90 {_px(cx)} {_px(cy)})">{svg_text(panel.ylabel, 11)}</text>')
    box = (xmin, xmax, ymin, ymax)
    for x, y in panel.points:
        if xmin <= x <= xmax and ymin <= y <= ymax:
            out.append(f'<circle cx="{_px(sx(x))}" cy="{_px(sy(y))}" r="1.4" fill="#808080"/>')
    legend = []
    for i, curve in enumerate(panel.curves):
        label, xs, ys, style = _curve_parts(curve, i)
        for piece in clip_polyline(xs, ys, box):
            pts = " ".join(f"{_px(sx(x))},{_px(sy(y))}" for x, y in piece)
            out.append(f'<polyline points="{pts}" fill="none" {STYLES[style][1]} '
                       'stroke-linejoin="round"/>')
        if label:
            legend.append((label, style))
    if legend and panel.legend != "none":
        row = 0.42
        lw = 0.7 + 0.2 * max(len(tex_to_text(lab)) for lab, _ in legend)
        east = panel.legend.endswith("east")
        north = panel.legend.startswith("north")
        lx = left + width - lw - 0.15 if east else left + 0.15
        ly = top + 0.15 if north else top + height - 0.15 - row * len(legend)
        out.append(f'<rect x="{_px(lx)}" y="{_px(ly)}" width="{_px(lw)}" '
                   f'height="{_px(row * len(legend))}" fill="white" fill-opacity="0.8"/>')
        for k, (label, style) in enumerate(legend):
            y = ly + row * (k + 0.5)
            out.append(f'<line x1="{_px(lx + 0.08)}" y1="{_px(y)}" x2="{_px(lx + 0.58)}" y2="{_px(y)}" '
                       f'{STYLES[style][1]}/>')
            out.append(f'<text x="{_px(lx + 0.68)}" y="{_px(y)}" dominant-baseline="middle" '
                       f'font-size="10">{svg_text(label, 10)}</text>')
    return out


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
    gap_x = 1.9 if any(p.ylabel for p in panels) else 1.4
    gap_y = 1.9 if any(p.xlabel for p in panels) else 1.3
    title_room = 0.6 if any(p.title for p in panels) else 0.0
    tikz = [r"\begin{tikzpicture}"]
    body: list[str] = []
    for k, panel in enumerate(panels):
        row, col = divmod(k, columns)
        x = col * (width + gap_x)
        y = row * (height + gap_y + title_room)
        tikz += _panel_tikz(panel, (x, -y), width, height)
        body += _panel_svg(panel, (x + gap_x, y + title_room + 0.2), width, height)
    tikz.append(r"\end{tikzpicture}")
    rows = (len(panels) + columns - 1) // columns
    total_w = columns * (width + gap_x) + 0.4
    total_h = rows * (height + gap_y + title_room) + 0.2
    svg = _svg_document(total_w, total_h, body)
    return Figure(name, "\n".join(tikz), svg, caption)


def function_plot(
    curves: Sequence[Curve],
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
    style from :data:`STYLES`; NaN in ys breaks a line, e.g. at a jump) and optional scattered
    ``points``. Parts outside ``xlim``/``ylim`` are cut off at the frame."""
    panel = Panel(tuple(curves), title, xlabel, ylabel, xlim, ylim, tuple(points), legend)
    return plot_grid([panel], columns=1, name=name, caption=caption, width=width, height=height)
