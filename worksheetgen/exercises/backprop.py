"""Backpropagation through a small dense network (seed 002 Q3.3, seed 004 Ex2): gradients of
named weights or whole matrices by the chain rule, and one gradient-descent update."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp

from worksheetgen import nets
from worksheetgen.errors import WorksheetError
from worksheetgen.exercises.forward_pass import forward_answers, forward_check
from worksheetgen.family import Answer, Family, Solved
from worksheetgen.params import Bool, ListOf, Number, Param, Text

_TARGET = re.compile(r"^(?:W(\d)|w(\d)\[(\d),(\d)\])$")
LEARNING_RATES = ("0.1", "0.05", "0.5", "0.01", "0.2")


@dataclass(frozen=True)
class Target:
    layer: int
    row: int | None = None  # displayed row/column, as the student reads W (row 0 = bias row)
    col: int | None = None

    @property
    def key(self) -> str:
        return f"W{self.layer}" if self.row is None else f"w{self.layer}_{self.row}{self.col}"

    @property
    def label(self) -> str:
        if self.row is None:
            return rf"\mathbf{{W}}^{{[{self.layer}]}}"
        return f"w^{{[{self.layer}]}}_{{{self.row}{self.col}}}"

    @property
    def new_label(self) -> str:
        if self.row is None:
            return rf"\mathbf{{W}}^{{[{self.layer}]}}_{{\text{{new}}}}"
        return rf"{{w^{{[{self.layer}]}}_{{{self.row}{self.col}}}}}^{{\text{{new}}}}"


def parse_target(text: str, given_or_options: dict[str, Any]) -> Target:
    match = _TARGET.match(text.replace(" ", ""))
    allowed = "'W2' for a whole matrix or 'w1[2,1]' for one entry (row, column as W is printed)"
    if not match:
        raise WorksheetError(f"invalid target {text!r}", field="targets", allowed=allowed)
    layer = int(match.group(1) or match.group(2))
    sizes = given_or_options["layers"]
    if not 1 <= layer < len(sizes):
        raise WorksheetError(f"target {text!r} names layer {layer}", field="targets",
                             allowed=f"layers 1 to {len(sizes) - 1}")
    if match.group(1):
        return Target(layer)
    rows, cols = nets.display_shape(sizes[layer - 1], sizes[layer], given_or_options)
    row, col = int(match.group(3)), int(match.group(4))
    first = 0 if given_or_options["bias"] == "row" else 1
    if not (first <= row < rows + first and 1 <= col <= cols):
        raise WorksheetError(f"target {text!r} is outside W^[{layer}]", field="targets",
                             allowed=f"rows {first} to {rows + first - 1}, columns 1 to {cols}")
    return Target(layer, row, col)


class Backprop(Family):
    name = "backprop"
    title = "Backpropagation"
    summary = "Forward pass, then ∂L/∂ of named weights or whole matrices and one gradient-descent step."
    params = nets.NET_PARAMS + (
        Param("targets", ListOf(Text(20), min_length=1, max_length=4), None,
              "what to differentiate: 'W2' (a whole matrix) or 'w1[2,1]' (one entry); drawn if omitted"),
        Param("learning_rate", Number(positive=True), None, "learning rate η of the update"),
        Param("update", Bool(), True, "also ask for one gradient-descent update of the targets"),
    )

    def validate(self, options: dict[str, Any]) -> None:
        nets.validate_net(options)
        if options["loss"] == "none":
            raise WorksheetError("backpropagation needs a loss", field="loss",
                                 allowed=", ".join(l for l in nets.LOSSES if l != "none"))
        for text in options["targets"] or []:
            parse_target(text, options)

    def sample(self, rng: np.random.Generator, options: dict[str, Any]) -> dict[str, Any]:
        given = nets.sample_net(rng, options)
        targets = options["targets"]
        if targets is None:
            # One entry of the first layer (the long chain) and the whole last layer.
            rows, cols = nets.display_shape(given["layers"][0], given["layers"][1], given)
            first = 0 if given["bias"] == "row" else 1
            row = int(rng.integers(first, rows + first))
            col = int(rng.integers(1, cols + 1))
            targets = [f"w1[{row},{col}]", f"W{len(given['layers']) - 1}"]
        given["targets"] = list(targets)
        rate = options["learning_rate"]
        if rate is None and options["update"]:
            rate = sp.Rational(LEARNING_RATES[int(rng.integers(0, len(LEARNING_RATES)))])
        given["learning_rate"] = rate
        given["update"] = options["update"]
        given["diagram"] = options["diagram"]
        return given

    def solve(self, given: dict[str, Any]) -> Solved:
        layers = nets.forward(given)
        answers, data = forward_answers(given, layers)
        deltas = nets.backward(given, layers)
        grads = {l: nets.weight_gradient(given, layers, deltas, l) for l in range(1, len(layers) + 1)}
        targets = [parse_target(t, given) for t in given["targets"]]
        eta = given["learning_rate"]
        items = []
        first = 0 if given["bias"] == "row" else 1
        for t in targets:
            W, G = given["weights"][t.layer - 1], grads[t.layer]
            if t.row is None:
                value, old = G, W
                kind = "matrix"
            else:
                value, old = G[t.row - first, t.col - 1], W[t.row - first, t.col - 1]
                kind = "number"
            answers.append(Answer(f"dL_d{t.key}", rf"\frac{{\partial L}}{{\partial {t.label}}}", value, kind))
            new = old - eta * value if given["update"] else None
            if given["update"]:
                answers.append(Answer(f"{t.key}_new", t.new_label, new, kind))
            items.append({"target": t, "gradient": value, "old": old, "new": new})
        As, _ = nets.canonical(given)
        # For each hidden unit j of layer l: the (weight, δ of the next layer) pairs of
        # δ_j = g'(z_j) Σ_k w_jk δ_k, in the indices the student reads off W.
        back_terms = [
            [[(As[l][k, j], deltas[l][k], k + 1) for k in range(As[l].rows)] for j in range(As[l].cols)]
            for l in range(1, len(As))
        ]
        lowest = min(t.layer for t in targets)
        blocked = any(v == 0 for d in deltas[:-1] for v in d)
        data.update(deltas=deltas, grads=grads, asked=items, first_row=first,
                    back_terms=back_terms, lowest=lowest, blocked=blocked)
        return Solved(answers, data, figures=nets.diagram(given, given["diagram"]))

    def rejection(self, given: dict[str, Any], solved: Solved) -> str | None:
        reason = nets.degenerate(given, solved.data["layers"])
        if reason:
            return reason
        if all(sp.Matrix([item["gradient"]]).is_zero_matrix for item in solved.data["asked"]):
            return "not every asked gradient zero"
        return None

    def check(self, given: dict[str, Any]) -> dict[str, Any]:
        values, result = forward_check(given)
        eta = float(given["learning_rate"] or 0)
        first = 0 if given["bias"] == "row" else 1
        for text in given["targets"]:
            t = parse_target(text, given)
            G = result["grads"][t.layer - 1]
            W = np.array(given["weights"][t.layer - 1].tolist(), dtype=float)
            if t.row is not None:
                G, W = G[t.row - first, t.col - 1], W[t.row - first, t.col - 1]
            values[f"dL_d{t.key}"] = G
            if given["update"]:
                values[f"{t.key}_new"] = W - eta * G
        return values
