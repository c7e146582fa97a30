"""Computation graphs as scenes (CS231n's staged-computation pictures): every operation is a
circle with its symbol inside, wires run left to right from operands to operations, each wire
can carry a label above it (a name or a forward value) and one below it (a gradient), and the
output leaves the last operation to the right.

Layout: an operation sits one column right of its deepest operand; an input sits one column
left of its first consumer, so no input wire runs across the picture. Within a column the order
comes from barycentre sweeps, then (if a wire still passes through a circle it does not belong
to) from a bounded, deterministic search over orders and staggered columns; :func:`graph_layout`
reports whether the picture it settled on is clean.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from worksheetgen.figures.figure import Figure
from worksheetgen.figures.scene import Arrow, Circle, Label, Point, Scene

NODE_R = 0.42  # cm, an operation's circle
INPUT_R = 0.25  # cm, the room kept free around an input's wire end
DX = 2.6  # cm between columns (shrunk for deep graphs, see MAX_WIDTH)
MIN_DX = 1.6  # cm: closer columns leave no room for a wire's labels (the layout is not clean)
DY = 1.7  # cm between rows
# cm from the first column to the last: with the input names on the left and the output wire on
# the right the picture stays within about 13.5 cm, the width of an answer on an A4 sheet.
MAX_WIDTH = 10.0
OUT_LENGTH = 1.1  # cm, the output wire
CLEARANCE = 0.15  # cm a wire keeps from a circle it does not touch
MAX_CANDIDATES = 240  # layouts tried before settling on the best one found


@dataclass(frozen=True)
class GraphLayout:
    """Where every value sits: inputs first (index < n_inputs), then the operations."""

    positions: tuple[Point, ...]
    clean: bool  # no wire passes through a circle (or an input) it does not connect; room for labels
    collisions: int
    crossings: int


def _depths(n_inputs: int, operands: Sequence[Sequence[int]]) -> list[int]:
    depth = [0] * n_inputs
    for k, ops in enumerate(operands):
        if any(o >= n_inputs + k for o in ops):
            raise ValueError(f"operation {k} uses a value that is not computed before it")
        depth.append(1 + max((depth[o] for o in ops), default=0))
    consumers: dict[int, list[int]] = {}
    for k, ops in enumerate(operands):
        for o in ops:
            consumers.setdefault(o, []).append(n_inputs + k)
    for i in range(n_inputs):
        uses = consumers.get(i)
        depth[i] = min(depth[c] for c in uses) - 1 if uses else 0
    return depth


def _edges(n_inputs: int, operands: Sequence[Sequence[int]]) -> list[tuple[int, int]]:
    return [(o, n_inputs + k) for k, ops in enumerate(operands) for o in ops]


def _radius(v: int, n_inputs: int) -> float:
    return INPUT_R if v < n_inputs else NODE_R


def _segment_distance(p: Point, a: Point, b: Point) -> float:
    ax, ay = a
    bx, by = b
    px, py = p
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / length2))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


def _crosses(a: Point, b: Point, c: Point, d: Point) -> bool:
    def orient(p: Point, q: Point, r: Point) -> float:
        return (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])

    o1, o2, o3, o4 = orient(a, b, c), orient(a, b, d), orient(c, d, a), orient(c, d, b)
    return o1 * o2 < 0 and o3 * o4 < 0


def _score(pos: list[Point], edges: list[tuple[int, int]], n_inputs: int) -> tuple[int, int]:
    collisions = 0
    for a, b in edges:
        for v, p in enumerate(pos):
            if v in (a, b):
                continue
            if _segment_distance(p, pos[a], pos[b]) < _radius(v, n_inputs) + CLEARANCE:
                collisions += 1
    crossings = sum(1 for (a, b), (c, d) in itertools.combinations(edges, 2)
                    if len({a, b, c, d}) == 4 and _crosses(pos[a], pos[b], pos[c], pos[d]))
    return collisions, crossings


def graph_layout(n_inputs: int, operands: Sequence[Sequence[int]]) -> GraphLayout:
    """Positions for the values of a graph: ``operands[k]`` lists the values operation k reads
    (value i < n_inputs is input i, value n_inputs + j is operation j). Deterministic."""
    if not operands:
        raise ValueError("a computation graph needs at least one operation")
    depth = _depths(n_inputs, operands)
    n = len(depth)
    columns: dict[int, list[int]] = {}
    for v in range(n):
        columns.setdefault(depth[v], []).append(v)
    first, last = min(columns), max(columns)
    dx = min(DX, MAX_WIDTH / max(1, last - first))
    edges = _edges(n_inputs, operands)
    neighbours: dict[int, list[int]] = {v: [] for v in range(n)}
    for a, b in edges:
        neighbours[a].append(b)
        neighbours[b].append(a)

    def place(order: dict[int, list[int]], stagger: dict[int, float]) -> list[Point]:
        pos: list[Point] = [(0.0, 0.0)] * n
        for c, vs in order.items():
            for i, v in enumerate(vs):
                pos[v] = ((c - first) * dx, ((len(vs) - 1) / 2 - i + stagger.get(c, 0.0)) * DY)
        return pos

    # Barycentre sweeps: each column ordered by the mean height of its neighbours.
    order = {c: list(vs) for c, vs in sorted(columns.items())}
    for _ in range(4):
        pos = place(order, {})
        for c in sorted(order):
            order[c].sort(key=lambda v: -np.mean([pos[u][1] for u in neighbours[v]]) if neighbours[v] else 0.0)
            pos = place(order, {})
    candidates = [(dict(order), {})]
    staggers = [{}, {c: 0.5 for c in order if (c - first) % 2}, {c: 0.5 for c in order if (c - first) % 2 == 0}]
    perms = [list(itertools.permutations(order[c])) for c in sorted(order)]
    total = math.prod(len(p) for p in perms)
    rng = np.random.default_rng(0)  # a fixed stream: the same graph always gets the same picture
    for stagger in staggers:
        candidates.append(({c: list(v) for c, v in order.items()}, stagger))
    tries = min(total, MAX_CANDIDATES // len(staggers))
    for t in range(tries):
        if total <= tries:
            choice = np.unravel_index(t, [len(p) for p in perms]) if total > 1 else [0] * len(perms)
        else:
            choice = [int(rng.integers(len(p))) for p in perms]
        new = {c: list(perms[i][int(choice[i])]) for i, c in enumerate(sorted(order))}
        for stagger in staggers:
            candidates.append((new, stagger))
    best: tuple[tuple[int, int], list[Point]] | None = None
    for cand, stagger in candidates:
        pos = place(cand, stagger)
        score = _score(pos, edges, n_inputs)
        if best is None or score < best[0]:
            best = (score, pos)
        if score == (0, 0):
            break
    assert best is not None
    (collisions, crossings), pos = best
    return GraphLayout(tuple(pos), collisions == 0 and dx >= MIN_DX - 1e-9, collisions, crossings)


Box = tuple[float, float, float, float]  # xmin, ymin, xmax, ymax

CHAR_W = 0.14  # cm, about one character of a scriptsize label
LABEL_H = 0.36  # cm, a scriptsize label with its padding
LABEL_MARGIN = 0.08  # cm a wire keeps from a label it does not carry
SPOTS = (0.5, 0.4, 0.6, 0.3, 0.7, 0.25, 0.75)  # where along its wire a label may sit


def _text_width(tex: str) -> float:
    from worksheetgen.figures.texlabels import tex_to_text

    return CHAR_W * len(tex_to_text(tex)) + 0.1


def _anchor(side: str, p: Point, q: Point) -> str:
    """Where a label hangs off its spot on wire pq: straight above or below a level wire; on a
    sloped wire towards the side where the wire falls away, so the text clears the line."""
    dx, dy = q[0] - p[0], q[1] - p[1]
    slope = dy / dx if dx else math.copysign(math.inf, dy)
    if abs(slope) < 0.15:
        return "south" if side == "above" else "north"
    falling = slope < 0
    if side == "above":
        return "south west" if falling else "south east"
    return "north east" if falling else "north west"


def _label_box(at: Point, tex: str, anchor: str) -> Box:
    w = _text_width(tex)
    x, y = at
    left = x - w / 2 if anchor in ("south", "north") else (x if anchor.endswith("west") else x - w)
    bottom = y if anchor.startswith("south") else y - LABEL_H
    return (left, bottom, left + w, bottom + LABEL_H)


def _boxes_meet(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _segment_meets_box(p: Point, q: Point, box: Box) -> bool:
    """Liang-Barsky: whether segment pq passes through the box (grown by LABEL_MARGIN)."""
    xmin, ymin, xmax, ymax = (box[0] - LABEL_MARGIN, box[1] - LABEL_MARGIN,
                              box[2] + LABEL_MARGIN, box[3] + LABEL_MARGIN)
    dx, dy = q[0] - p[0], q[1] - p[1]
    lo, hi = 0.0, 1.0
    for step, room in ((-dx, p[0] - xmin), (dx, xmax - p[0]), (-dy, p[1] - ymin), (dy, ymax - p[1])):
        if step == 0:
            if room < 0:
                return False
            continue
        t = room / step
        if step < 0:
            lo = max(lo, t)
        else:
            hi = min(hi, t)
        if lo > hi:
            return False
    return True


def _place_labels(wires: list[tuple[Point, Point]], texts: list[tuple[str | None, str | None]],
                  circles: list[tuple[Point, float]]) -> list[float]:
    """For each wire the spot t along it for its labels: the first of SPOTS where its labels
    meet no label already placed, no other wire and no circle (else the spot meeting fewest)."""
    placed: list[Box] = []
    spots = []
    for w, ((p, q), (top, bottom)) in enumerate(zip(wires, texts)):
        best: tuple[int, float, list[Box]] | None = None
        for t in SPOTS:
            at = (p[0] + (q[0] - p[0]) * t, p[1] + (q[1] - p[1]) * t)
            boxes = [_label_box(at, tex, _anchor(side, p, q)) for tex, side in ((top, "above"), (bottom, "below"))
                     if tex]
            bad = sum(_boxes_meet(b, o) for b in boxes for o in placed)
            bad += sum(_segment_meets_box(a, c, b) for b in boxes for v, (a, c) in enumerate(wires) if v != w)
            bad += sum(_boxes_meet(b, (c[0] - r, c[1] - r, c[0] + r, c[1] + r)) for b in boxes for c, r in circles)
            if best is None or bad < best[0]:
                best = (bad, t, boxes)
            if bad == 0:
                break
        assert best is not None
        spots.append(best[1])
        placed += best[2]
    return spots


def _toward(a: Point, b: Point, ra: float, rb: float) -> tuple[Point, Point]:
    length = math.hypot(b[0] - a[0], b[1] - a[1])
    ux, uy = (b[0] - a[0]) / length, (b[1] - a[1]) / length
    return (a[0] + ux * ra, a[1] + uy * ra), (b[0] - ux * rb, b[1] - uy * rb)


def expression_graph(
    n_inputs: int,
    operands: Sequence[Sequence[int]],
    symbols: Sequence[str],
    input_labels: Sequence[str],
    above: Sequence[str | None] | None = None,
    below: Sequence[str | None] | None = None,
    output: tuple[str, str | None, str | None] = ("f", None, None),
    *,
    name: str = "graph",
    caption: str = "",
    layout: GraphLayout | None = None,
) -> Figure:
    """A computation graph.

    ``symbols[k]``: TeX inside operation k's circle (``+``, ``\\times``, ``\\max`` ...).
    ``input_labels[i]``: TeX left of input i's wire end (e.g. ``x = -2``).
    ``above[v]``: optional TeX above every wire leaving value v (inputs first, then operations),
    e.g. its forward value (CS231n's green numbers). ``below[w]``: optional TeX below wire w, the
    wires numbered operation by operation and operand by operand, e.g. the gradient flowing back
    along it (the red numbers; a value feeding two wires has two). ``output``: (label at the end
    of the output wire, above it, below it).
    """
    n = n_inputs + len(operands)
    if len(symbols) != len(operands) or len(input_labels) != n_inputs:
        raise ValueError("one symbol per operation and one label per input")
    edges = _edges(n_inputs, operands)
    if above is not None and len(above) != n:
        raise ValueError("labels above wires need one entry per value (inputs, then operations)")
    if below is not None and len(below) != len(edges):
        raise ValueError("labels below wires need one entry per wire (operation by operation)")
    layout = layout or graph_layout(n_inputs, operands)
    pos = layout.positions
    arrows: list[Arrow] = []
    texts: list[Label] = []
    wires = [_toward(pos[a], pos[b], 0.0 if a < n_inputs else NODE_R, NODE_R) for a, b in edges]
    wire_texts = [(above[a] if above is not None else None, below[w] if below is not None else None)
                  for w, (a, _) in enumerate(edges)]
    circles = [(pos[n_inputs + k], NODE_R) for k in range(len(operands))]
    spots = _place_labels(wires, wire_texts, circles)
    for (start, end), (top, bottom), t in zip(wires, wire_texts, spots):
        arrows.append(Arrow(start, end))
        at = (start[0] + (end[0] - start[0]) * t, start[1] + (end[1] - start[1]) * t)
        if top:
            texts.append(Label(at, top, anchor=_anchor("above", start, end), size="scriptsize", pad=0.05))
        if bottom:
            texts.append(Label(at, bottom, anchor=_anchor("below", start, end), size="scriptsize", pad=0.05))
    last = pos[n - 1]
    out_start, out_end = (last[0] + NODE_R, last[1]), (last[0] + NODE_R + OUT_LENGTH, last[1])
    arrows.append(Arrow(out_start, out_end))
    out_mid = ((out_start[0] + out_end[0]) / 2, last[1])
    if output[1]:
        texts.append(Label(out_mid, output[1], anchor="south", size="scriptsize", pad=0.05))
    if output[2]:
        texts.append(Label(out_mid, output[2], anchor="north", size="scriptsize", pad=0.05))
    texts.append(Label((out_end[0] + 0.08, last[1]), output[0], anchor="west"))
    circles, symbols_ = [], []
    for k, symbol in enumerate(symbols):
        p = pos[n_inputs + k]
        circles.append(Circle(p, NODE_R, thick=True))
        symbols_.append(Label(p, symbol, size="small"))
    names = [Label((pos[i][0] - 0.05, pos[i][1]), input_labels[i], anchor="east", size="small")
             for i in range(n_inputs)]
    xs = [p[0] for p in pos]
    ys = [p[1] for p in pos]
    left_room = 0.25 + max(0.17 * len(label) for label in input_labels) * 0.6
    bounds = (min(xs) - left_room - 0.6, min(ys) - NODE_R - 0.6,
              out_end[0] + 0.3 + 0.2 * len(output[0]), max(ys) + NODE_R + 0.6)
    # Wires first, then circles over their ends, then every text.
    scene = Scene((*arrows, *circles, *symbols_, *names, *texts), bounds)
    return Figure(name, scene, caption)
