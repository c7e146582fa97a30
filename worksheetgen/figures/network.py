"""Network diagrams as scenes: units are circles with a label inside, connections are arrows
from border to border, weights are labels on the arrows (on a white box)."""

from __future__ import annotations

import math
from typing import Any, Sequence

from worksheetgen.figures.figure import Figure
from worksheetgen.figures.scene import Arrow, Circle, Label, Point, Scene

_UNIT_R = 0.36  # cm, a unit of network_diagram
_WEIGHT_PAD = 0.035  # cm (1pt) around a weight label's white box


def _border_to_border(a: Point, b: Point, ra: float, rb: float) -> tuple[Point, Point]:
    """The part of segment ab outside the two circles around its ends."""
    length = math.hypot(b[0] - a[0], b[1] - a[1])
    ux, uy = (b[0] - a[0]) / length, (b[1] - a[1]) / length
    return (a[0] + ux * ra, a[1] + uy * ra), (b[0] - ux * rb, b[1] - uy * rb)


def _along(start: Point, end: Point, t: float) -> Point:
    return (start[0] + (end[0] - start[0]) * t, start[1] + (end[1] - start[1]) * t)


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
    ``bias``: draw a bias unit "1" above every layer but the last, connected to the next layer;
    the bias unit and its connections are dashed.
    ``weights``: optional edge labels (TeX, no dollars; None or "" leaves an edge unlabelled):
    ``weights[l][i][j]`` labels the edge from node ``i`` of layer ``l`` to unit ``j`` of layer
    ``l + 1`` (0-based). With ``bias=True`` node ``i = 0`` is the bias unit and the units are
    ``i = 1 .. n_l`` - the layout of a matrix W with the bias weights as row 0, as in seed
    001's ``W^{[1]}`` (so ``weights[l]`` can be that matrix, formatted, as a list of rows).
    ``labels``: optional unit labels (TeX), ``labels[l][i]`` for unit ``i`` of layer ``l``
    (bias units are always "1"); default x_i, a^{[l]}_j, ŷ_k.
    ``layer_titles``: optional captions under the layers (TeX text), e.g. ["input", "output"].
    """
    args = (layer_sizes, bias, weights, labels, name, caption, layer_titles)
    try:
        key = _exactly(args)
        figure = _DIAGRAMS.get(key)
    except TypeError:  # an unhashable argument (an array): drawn, not remembered
        return _draw_network(*args)
    if figure is None:
        figure = _draw_network(*args)
        if len(_DIAGRAMS) >= 256:
            _DIAGRAMS.clear()
        _DIAGRAMS[key] = figure
    return figure


# Diagrams by their arguments: a family draws the same network for every student (its shape,
# the same labels), and a Figure is frozen, so one object serves them all.
_DIAGRAMS: dict[Any, Figure] = {}


def _exactly(value: Any) -> Any:
    """A key equal for arguments that draw alike only: sequences by their items, anything else
    by its type and value (1, 1.0 and True are equal values)."""
    if isinstance(value, (list, tuple)):
        return tuple(_exactly(v) for v in value)
    return (type(value), value)


def _draw_network(
    layer_sizes: Sequence[int],
    bias: bool,
    weights: Sequence[Sequence[Sequence[str | None]]] | None,
    labels: Sequence[Sequence[str]] | None,
    name: str,
    caption: str,
    layer_titles: Sequence[str] | None,
) -> Figure:
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
    pos: dict[tuple[int, int], Point] = {}
    for layer, n in enumerate(sizes):
        count = n + shift(layer)
        for k in range(count):
            pos[(layer, k)] = (layer * dx, (count - 1) * dy / 2 - k * dy)

    def is_bias(layer: int, i: int) -> bool:
        return shift(layer) == 1 and i == 0

    def label_pos(layer: int, j: int) -> float:
        # Edges into different targets carry their labels at different distances along the
        # edge, so no two labels share a spot: those into one target are a column apart from
        # the others, and within the column they are spread vertically like their sources.
        n_next = sizes[layer + 1]
        return 0.25 + (0.5 * j / (n_next - 1) if n_next > 1 else 0.0)

    arrows: list[Arrow] = []
    weight_labels: list[Label] = []
    for layer in range(last):
        for i in range(sizes[layer] + offset):
            for j in range(sizes[layer + 1]):
                start, end = _border_to_border(pos[(layer, i)], pos[(layer + 1, j + shift(layer + 1))],
                                               _UNIT_R, _UNIT_R)
                arrows.append(Arrow(start, end, dashed=is_bias(layer, i)))
                text = weights[layer][i][j] if weights is not None else None
                if text:
                    weight_labels.append(Label(_along(start, end, label_pos(layer, j)), text,
                                               size="scriptsize", background=True, pad=_WEIGHT_PAD))
    circles, unit_labels = [], []
    for (layer, i), p in sorted(pos.items()):
        bias_unit = is_bias(layer, i)
        circles.append(Circle(p, _UNIT_R, dashed=bias_unit, thick=not bias_unit))
        unit_labels.append(Label(p, "1" if bias_unit else labels[layer][i - shift(layer)]))
    bottom = min(y for _, y in pos.values()) - _UNIT_R
    titles = [Label((layer * dx, bottom - 0.45), title, size="small", math=False)
              for layer, title in enumerate((layer_titles or [])[: len(sizes)]) if title]

    margin = 0.6
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    bounds = (min(xs) - margin, min(ys) - margin - (0.6 if titles else 0.0),
              max(xs) + margin, max(ys) + margin)
    # Lines first, then units, then every text, so no line crosses a label.
    scene = Scene((*arrows, *circles, *unit_labels, *weight_labels, *titles), bounds)
    return Figure(name, scene, caption)


# The two-input network of the Boolean-function exercise (seed 003 Ex1), as the seed draws it.
_BOOL_R = 0.5  # cm
_BOOL_POS: dict[str, Point] = {"A": (0.0, 2.0), "B": (0.0, 0.0), "n1": (4.5, 2.0),
                               "n2": (4.5, 0.0), "out": (8.0, 1.0)}
_BOOL_NAMES = {"A": "A", "B": "B", "n1": "n_1", "n2": "n_2", "out": r"\mathit{out}"}
# (from, to, label position along the edge, label side); the two crossing edges carry their
# labels near the inputs so no two labels meet.
_BOOL_EDGES = (("A", "n1", 0.5, "above"), ("B", "n1", 0.22, ""), ("A", "n2", 0.22, ""),
               ("B", "n2", 0.5, "below"), ("n1", "out", 0.5, "above"), ("n2", "out", 0.5, "below"))
_SIDE_ANCHOR = {"above": "south", "below": "north", "": "center"}


def boolean_network(
    w1: Sequence[Sequence[str]],
    w2: Sequence[str],
    b1: Sequence[str] | None = None,
    b2: str | None = None,
    *,
    name: str = "network",
    caption: str = "",
) -> Figure:
    """The two-input, two-hidden-unit, one-output network of the Boolean-function exercise.

    Inputs A, B; hidden units n_1, n_2; output "out". Values are TeX strings (e.g. from
    ``mathfmt.num``): ``w1[j][i]`` is the weight from input i (A, B) into n_{j+1} - the layout of
    ``W^{(1)}``; ``w2[j]`` from n_{j+1} into out - the row ``W^{(2)}``. With biases, ``b1[j]``
    (of n_{j+1}) and ``b2`` (of out) are written beside their units as ``b^{(1)}_1 = ...``;
    give both or neither.
    """
    if len(w1) != 2 or any(len(row) != 2 for row in w1) or len(w2) != 2:
        raise ValueError("boolean_network needs w1 as 2 x 2 and w2 as 2 values")
    if (b1 is None) != (b2 is None) or (b1 is not None and len(b1) != 2):
        raise ValueError("boolean_network needs both biases (b1 as 2 values and b2) or neither")
    weights = [w1[0][0], w1[0][1], w1[1][0], w1[1][1], w2[0], w2[1]]

    arrows, weight_labels = [], []
    for (a, b, t, side), weight in zip(_BOOL_EDGES, weights):
        start, end = _border_to_border(_BOOL_POS[a], _BOOL_POS[b], _BOOL_R, _BOOL_R)
        arrows.append(Arrow(start, end))
        weight_labels.append(Label(_along(start, end, t), str(weight), anchor=_SIDE_ANCHOR[side],
                                   size="small", background=True, pad=0.05))
    circles = [Circle(p, _BOOL_R) for p in _BOOL_POS.values()]
    unit_labels = [Label(p, _BOOL_NAMES[key]) for key, p in _BOOL_POS.items()]
    bias_labels = []
    if b1 is not None and b2 is not None:
        texts = {"n1": f"b^{{(1)}}_1 = {b1[0]}", "n2": f"b^{{(1)}}_2 = {b1[1]}",
                 "out": f"b^{{(2)}} = {b2}"}
        for key, text in texts.items():
            x, y = _BOOL_POS[key]
            if key == "n2":  # every edge at n_2 meets it from the side or above
                bias_labels.append(Label((x, y - _BOOL_R), text, anchor="north", size="small"))
            else:
                bias_labels.append(Label((x, y + _BOOL_R), text, anchor="south", size="small"))
    room = 0.75 if bias_labels else 0.3
    bounds = (-_BOOL_R - 0.3, -_BOOL_R - room, 8.0 + _BOOL_R + 0.3, 2.0 + _BOOL_R + room)
    scene = Scene((*arrows, *circles, *unit_labels, *weight_labels, *bias_labels), bounds)
    return Figure(name, scene, caption)
