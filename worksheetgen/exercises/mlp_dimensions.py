"""Dimensions in an MLP on flattened images (seed 000 Q3 "Working with Dimensions", seed 002 Q2.1).

A table of input / weight / (bias) / output dimensions per layer with some cells left blank; the
blanks are chosen so that the table can be completed from the text and the cells that are given.
Optionally the shapes for a batch X ∈ ℝ^{D×m} and the parameter count of each layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from worksheetgen.answers import IntegerAnswer
from worksheetgen.errors import CheckError, WorksheetError
from worksheetgen.family import Family, Record, Solved
from worksheetgen.params import Bool, Choice, Int, ListOf, Param, Text

# Drawn sizes: the parameter counts of a class stay within 2.7 decades of each other (5th to
# 95th percentile; with 480×640 images and hidden widths 16 and 2048 they spread over 3.9).
IMAGE_SIZES = ((28, 28), (32, 32), (48, 48), (64, 64), (96, 96), (128, 128), (224, 224),
               (32, 64), (64, 128))
CLASS_COUNTS = (2, 3, 4, 5, 10, 20, 100)
HIDDEN_SIZES = (512, 256, 128, 64, 32)
WIDER_HIDDEN = (2048, 1024)  # only when a deep network above many classes needs more widths
BATCH_SIZES = (8, 16, 32, 64, 128, 256)
CONVENTIONS = ("WT", "W")
ROLES = ("in", "Win", "Wout", "out", "b")
MAX_LAYERS = 6  # at most 5 hidden layers
ROLE_TEXT = {"in": "input dim", "Win": "weight dim (input side)", "Wout": "weight dim (output side)",
             "out": "output dim", "b": "bias dim"}


def cell_names(layers: int, convention: str) -> list[str]:
    """Every numeric cell of the table: role + layer, e.g. 'Win2'."""
    roles = ROLES if convention == "W" else ROLES[:4]
    return [f"{role}{l}" for l in range(1, layers + 1) for role in roles]


def _split(cell: str) -> tuple[str, int]:
    role = cell.rstrip("0123456789")
    return role, int(cell[len(role):])


def cell_variable(cell: str) -> int:
    """Which width d_k a cell holds: inputs of layer l are d_{l-1}, outputs d_l."""
    role, l = _split(cell)
    return l - 1 if role in ("in", "Win") else l


def unsolvable_cells(layers: int, convention: str, blanks: set[str]) -> list[str]:
    """Blank cells that cannot be filled in. The text gives the flattened image size d_0 and
    the number of classes d_L; every cell that is given shows its width d_k, and each blank holds
    the same width as some other cell (output of layer l = input of layer l+1 = weight side =
    bias), so a blank is solvable exactly when its width is shown somewhere."""
    cells = cell_names(layers, convention)
    known = {0, layers} | {cell_variable(c) for c in cells if c not in blanks}
    return [c for c in cells if c in blanks and cell_variable(c) not in known]


def most_blanks(layers: int, convention: str) -> int:
    """Every cell may be blank except one per hidden width."""
    return len(cell_names(layers, convention)) - (layers - 1)


def _fewest_layers(options: dict[str, Any]) -> int | None:
    """The smallest network that holds the requested blanks (None: more than MAX_LAYERS).

    A table that can be completed stays completable with more layers: the widths a deeper
    network adds appear only in cells of the new layers, which are given."""
    need = 2
    if options["blank_cells"]:
        need = max(need, *(_split(c)[1] for c in options["blank_cells"]))
    for layers in range(need, MAX_LAYERS + 1):
        if options["blanks"] is None or most_blanks(layers, options["convention"]) >= options["blanks"]:
            return layers
    return None


@dataclass(frozen=True)
class MlpDimensionsGiven(Record):
    height: int
    width: int
    channels: int
    classes: int
    hidden: tuple[int, ...]
    convention: str
    batch: int
    blank_cells: tuple[str, ...]
    ask_batch: bool
    ask_params: bool


@dataclass(frozen=True)
class MlpDimensionsData(Record):
    dims: tuple[int, ...]  # d_0 (flattened image), hidden widths, d_L (classes)
    layers: int
    rows: tuple[dict[str, int], ...]  # per layer: l, d_in, d_out, weights, params
    value: dict[str, int]  # every cell's number, blank or not
    blanks: frozenset[str]
    bias: bool
    total: int
    d0: int
    cells: tuple[str, ...]


class MlpDimensions(Family):
    """Every count is integer arithmetic on the sizes and the check pushes zero-size arrays, so the
    largest documented sizes (4096×4096×4 images, 100 000-wide layers, batches of 100 000) cost
    microseconds and no memory: nothing needs refusing for its cost."""

    name = "mlp_dimensions"
    title = "Working with dimensions"
    summary = ("An MLP on flattened H×W×C images: fill in the blanks of the layer table "
               "(input / weight / bias / output dims), batch shapes and parameter counts.")
    Given = MlpDimensionsGiven
    Data = MlpDimensionsData
    params = (
        Param("height", Int(1, 4096), None, "image height in pixels, 1 to 4096"),
        Param("width", Int(1, 4096), None,
              "image width in pixels, 1 to 4096 (the height when only that is given)"),
        Param("channels", Int(1, 4), None, "channels per pixel, 1 to 4; drawn from 1 (grayscale) and 3 (RGB)"),
        Param("classes", Int(2, 10000), None, "number of classes = size of the last layer, 2 to 10 000"),
        Param("hidden", ListOf(Int(1, 100000), min_length=1, max_length=MAX_LAYERS - 1), None,
              "sizes of the 1 to 5 hidden layers, each 1 to 100 000, e.g. [512, 128]"),
        Param("hidden_layers", Int(1, MAX_LAYERS - 1), None,
              "how many hidden layers to draw, 1 to 5 (1 to 3 when not given)"),
        Param("convention", Choice(CONVENTIONS), "WT",
              "WT: y = Wᵀx with W ∈ ℝ^{in×out}, no bias (seed 000); W: y = Wx + b with W ∈ ℝ^{out×in}"),
        Param("batch", Int(1, 100000), None, "batch size m for the vectorized part, 1 to 100 000"),
        Param("blanks", Int(1, 50), None,
              "how many table cells are left blank: every cell but one per hidden width may be "
              "blank, so at most 3L + 1 (WT) or 4L + 1 (W) for L layers"),
        Param("blank_cells", ListOf(Text(12), min_length=1, max_length=50), None,
              "exactly which cells are blank: in<l>, Win<l>, Wout<l>, out<l>, b<l> (b only for W), "
              "e.g. [\"in1\", \"Win1\", \"Wout1\"]; each hidden width must stay visible in a given cell"),
        Param("ask_batch", Bool(), True, "ask for the shape of every layer's output for a batch of m"),
        Param("ask_params", Bool(), True, "ask for the number of parameters of every layer"),
    )
    # No teaching rule needs redrawing: the blanks are drawn so that the table can be completed.

    def quality(self, given: MlpDimensionsGiven, solved: Solved) -> dict[str, bool]:
        return {
            "a blank that cannot be filled in": bool(unsolvable_cells(
                len(given.hidden) + 1, given.convention, set(given.blank_cells))),
            "a hidden layer no wider than the output": any(h <= given.classes for h in given.hidden),
        }

    def validate(self, options: dict[str, Any]) -> None:
        hidden = options["hidden"]
        if hidden is not None and options["hidden_layers"] not in (None, len(hidden)):
            raise WorksheetError(
                f"hidden_layers = {options['hidden_layers']} but hidden lists {len(hidden)} sizes",
                field="hidden_layers", allowed=f"{len(hidden)} or leave it out")
        layers = len(hidden) + 1 if hidden is not None else (
            options["hidden_layers"] + 1 if options["hidden_layers"] else None)
        convention = options["convention"]
        blank_cells = options["blank_cells"]
        if blank_cells is not None:
            for cell in blank_cells:
                role, digits = cell.rstrip("0123456789"), cell[len(cell.rstrip("0123456789")):]
                if role not in ROLES or not digits or (role == "b" and convention != "W"):
                    raise WorksheetError(
                        f"unknown cell {cell!r}", field="blank_cells",
                        allowed="in<l>, Win<l>, Wout<l>, out<l>" + (", b<l>" if convention == "W" else "")
                        + " with l the layer number")
            if len(set(blank_cells)) != len(blank_cells):
                raise WorksheetError("a cell is listed twice", field="blank_cells",
                                     allowed="each cell once")
            if options["blanks"] not in (None, len(blank_cells)):
                raise WorksheetError(f"blanks = {options['blanks']} but blank_cells lists {len(blank_cells)}",
                                     field="blanks", allowed=f"{len(blank_cells)} or leave it out")
            if layers is None and max(_split(c)[1] for c in blank_cells) > MAX_LAYERS:
                raise WorksheetError(f"blank_cells name a layer beyond {MAX_LAYERS}", field="blank_cells",
                                     allowed=f"layers 1 to {MAX_LAYERS} (at most {MAX_LAYERS - 1} hidden layers)")
        if options["blanks"] is not None:
            top = layers or MAX_LAYERS
            most = most_blanks(top, convention)
            if options["blanks"] > most:
                raise WorksheetError(
                    f"{options['blanks']} blanks leave the {top}-layer table unsolvable",
                    field="blanks",
                    allowed=f"at most {most}: every hidden width must appear in at least one given cell")
        if blank_cells is not None:
            # With the layer count drawn, the fewest layers that hold the cells decide: a table
            # that can be completed there can be completed with any more layers.
            self._check_cells(blank_cells, layers or _fewest_layers(options) or MAX_LAYERS, convention)

    def _check_cells(self, blank_cells: list[str], layers: int, convention: str) -> None:
        for cell in blank_cells:
            if _split(cell)[1] not in range(1, layers + 1):
                raise WorksheetError(f"cell {cell!r}: there are only {layers} layers",
                                     field="blank_cells", allowed=f"layers 1 to {layers}")
        missing = unsolvable_cells(layers, convention, set(blank_cells))
        if missing:
            raise WorksheetError(
                f"the table cannot be completed: {', '.join(missing)} depend(s) on a hidden width "
                "that no given cell shows", field="blank_cells",
                allowed="leave at least one cell of every hidden width filled")

    def sample(self, rng: np.random.Generator, options: dict[str, Any]) -> MlpDimensionsGiven:
        height, width = options["height"], options["width"]
        if height is None and width is None:
            height, width = IMAGE_SIZES[int(rng.integers(len(IMAGE_SIZES)))]
        height = height if height is not None else width
        width = width if width is not None else height
        channels = options["channels"] if options["channels"] is not None else int(rng.choice([1, 3]))
        classes = options["classes"] if options["classes"] is not None else int(rng.choice(CLASS_COUNTS))
        hidden = options["hidden"]
        if hidden is None:
            fewest = (_fewest_layers(options) or MAX_LAYERS) - 1
            count = options["hidden_layers"] or max(fewest, int(rng.integers(1, 4)))
            pool = [h for h in HIDDEN_SIZES if h > classes and h < height * width * channels]
            if len(pool) < count:  # deep, or many classes: wider layers, still above the classes
                pool = [h for h in (*HIDDEN_SIZES, *WIDER_HIDDEN) if h > classes and h < height * width * channels]
            # Still too few widths between the classes and the input: some width repeats.
            pool = pool or list(HIDDEN_SIZES)
            hidden = sorted((int(h) for h in rng.choice(pool, size=count, replace=len(pool) < count)), reverse=True)
        convention = options["convention"]
        layers = len(hidden) + 1
        batch = options["batch"] if options["batch"] is not None else int(rng.choice(BATCH_SIZES))
        blank_cells = options["blank_cells"]
        if blank_cells is None:
            blank_cells = self._draw_blanks(rng, layers, convention, options["blanks"])
        return MlpDimensionsGiven(
            height=height, width=width, channels=channels, classes=classes, hidden=tuple(hidden),
            convention=convention, batch=batch, blank_cells=tuple(blank_cells),
            ask_batch=options["ask_batch"], ask_params=options["ask_params"])

    def _draw_blanks(self, rng: np.random.Generator, layers: int, convention: str,
                     count: int | None) -> list[str]:
        cells = cell_names(layers, convention)
        # One cell of every hidden width stays given, so the table can be completed.
        keep = set()
        for v in range(1, layers):
            holders = [c for c in cells if cell_variable(c) == v]
            keep.add(holders[int(rng.integers(len(holders)))])
        free = [c for c in cells if c not in keep]
        if count is None:
            count = int(rng.integers(max(2, len(free) // 2), len(free) + 1))
        if count > len(free):  # validate() sized the network for the blanks
            raise CheckError(f"mlp_dimensions: {count} blanks drawn for a {layers}-layer table "
                             f"that holds at most {len(free)}")
        chosen = set(rng.choice(free, size=count, replace=False).tolist())
        return [c for c in cells if c in chosen]

    def solve(self, given: MlpDimensionsGiven) -> Solved:
        hidden, classes = given.hidden, given.classes
        d0 = given.height * given.width * given.channels
        dims = (d0, *hidden, classes)
        layers = len(dims) - 1
        convention = given.convention
        blanks = frozenset(given.blank_cells)
        cells = cell_names(layers, convention)
        missing = unsolvable_cells(layers, convention, set(blanks))
        if missing:  # validate() and the blank drawing both rule this out
            raise CheckError(f"mlp_dimensions: blanks {missing} cannot be completed "
                             f"(layers {list(dims)}, blank cells {list(given.blank_cells)})")
        bias = convention == "W"
        value = {cell: dims[cell_variable(cell)] for cell in cells}
        answers: list[Any] = [
            IntegerAnswer(cell, rf"\text{{layer {_split(cell)[1]}: {ROLE_TEXT[_split(cell)[0]]}}}", value[cell])
            for cell in cells if cell in blanks
        ]
        rows = []
        for l in range(1, layers + 1):
            weights = dims[l - 1] * dims[l]
            params = weights + (dims[l] if bias else 0)
            rows.append(dict(l=l, d_in=dims[l - 1], d_out=dims[l], weights=weights, params=params))
        if given.ask_batch:
            for row in rows:
                answers.append(IntegerAnswer(f"A{row['l']}_rows", rf"\text{{layer {row['l']} output rows}}",
                                             row["d_out"]))
                answers.append(IntegerAnswer(f"A{row['l']}_cols", rf"\text{{layer {row['l']} output columns}}",
                                             given.batch))
        total = sum(r["params"] for r in rows)
        if given.ask_params:
            for row in rows:
                answers.append(IntegerAnswer(f"params{row['l']}", rf"\text{{parameters of layer {row['l']}}}",
                                             row["params"]))
            answers.append(IntegerAnswer("params_total", r"\text{parameters in total}", total))
        data = MlpDimensionsData(dims=dims, layers=layers, rows=tuple(rows), value=value, blanks=blanks,
                                 bias=bias, total=total, d0=d0, cells=tuple(cells))
        return Solved(answers, data)

    def check(self, given: MlpDimensionsGiven) -> dict[str, Any]:
        """Shapes read off NumPy arrays pushed through the layers, not from the formulas.

        Nothing of the real size is allocated: the image and the weights are zero-memory
        broadcast views of their real shape (the flattened image has ``image.size`` entries,
        counted, not copied), and products are taken on empty stacks (leading axis 0), so NumPy
        checks and propagates the shapes without multiplying 67 million × 100 000 matrices."""
        image = np.broadcast_to(np.uint8(0), (given.height, given.width, given.channels))
        bias = given.convention == "W"
        widths = [*given.hidden, given.classes]

        def propagate(m: int) -> list[dict[str, Any]]:
            x = np.empty((0, image.size, m))  # a batch of m flattened images, one per column
            seen = []
            for width in widths:
                if bias:
                    w = np.broadcast_to(np.int8(0), (width, x.shape[1]))  # W ∈ ℝ^{out×in}
                    b = np.broadcast_to(np.int8(0), (width, 1))
                    y = np.matmul(np.empty((0, *w.shape)), x) + b
                    cells = {"in": x.shape[1], "Wout": w.shape[0], "Win": w.shape[1],
                             "b": b.shape[0], "out": y.shape[1]}
                    count = w.size + b.size
                else:
                    w = np.broadcast_to(np.int8(0), (x.shape[1], width))  # W ∈ ℝ^{in×out}
                    y = np.matmul(np.empty((0, *w.T.shape)), x)
                    cells = {"in": x.shape[1], "Win": w.shape[0], "Wout": w.shape[1], "out": y.shape[1]}
                    count = w.size
                seen.append({"cells": cells, "shape": y.shape[1:], "count": int(count)})
                x = y
            return seen

        single = propagate(1)
        out: dict[str, Any] = {}
        blanks = set(given.blank_cells)
        for l, layer in enumerate(single, start=1):
            for role, size in layer["cells"].items():
                if f"{role}{l}" in blanks:
                    out[f"{role}{l}"] = int(size)
        if given.ask_batch:
            for l, layer in enumerate(propagate(given.batch), start=1):
                out[f"A{l}_rows"], out[f"A{l}_cols"] = (int(v) for v in layer["shape"])
        if given.ask_params:
            for l, layer in enumerate(single, start=1):
                out[f"params{l}"] = layer["count"]
            out["params_total"] = sum(layer["count"] for layer in single)
        return out
