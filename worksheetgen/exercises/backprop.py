"""Backpropagation through a small dense network (seed 002 Q3.3, seed 004 Ex2): gradients of
named weights or whole matrices by the chain rule, and one gradient-descent update."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp

from worksheetgen import activations, drawrules, nets, sympyfast
from worksheetgen.answers import make_answer
from worksheetgen.errors import CheckError, WorksheetError
from worksheetgen.exercises.forward_pass import (NETWORK_RULES, SCREEN_SLACK, ForwardData, answer_rules,
                                                 forward_parts, forward_values, network_quality)
from worksheetgen.family import Constraint, Family, Solved
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


@dataclass(frozen=True)
class BackpropGiven(nets.NetGiven):
    targets: list[str]  # as written: 'W2', 'w1[2,1]'
    learning_rate: sp.Rational | None  # None without the update
    update: bool


@dataclass(frozen=True)
class Asked:
    """One asked gradient: the target, ∂L/∂target, and the weights before and after the step."""

    target: Target
    gradient: Any  # a number or a matrix
    old: Any
    new: Any  # None without the update


@dataclass(frozen=True)
class BackpropData(ForwardData):
    deltas: list[tuple[Any, ...]]  # δ^{[l]} = ∂L/∂z^{[l]}, entry by entry
    grads: dict[int, sp.Matrix]  # ∂L/∂W^{[l]} as displayed, every layer
    asked: list[Asked]
    first_row: int  # 0 when W shows the bias as row 0, else 1
    back_terms: list[list[list[tuple[Any, Any, int]]]]
    lowest: int  # the lowest layer a target sits in: δ is worked back down to it
    blocked: bool  # some hidden δ is 0
    kink_notes: list[str]  # the derivative conventions at kinks the backward pass uses (TeX)


def kink_notes(given: nets.NetGiven) -> list[str]:
    """The conventions at the kink of every activation whose derivative the backward pass uses:
    the hidden one (if there is a hidden layer) and the output one (its δ comes from g' unless it
    is softmax or sigmoid with binary cross-entropy)."""
    used = [given.activation] if len(given.layers) > 2 else []
    if given.output_activation != "softmax" and not (given.output_activation == "sigmoid" and given.loss == "bce"):
        used.append(given.output_activation)
    notes: list[str] = []
    for name in dict.fromkeys(used):
        note = activations.get(name).kink_note
        if note:
            notes.append(note)
    return notes


def _nonzero(value: Any) -> bool:
    if isinstance(value, sp.MatrixBase):
        zero = sympyfast.rational_zero(value)
        if zero is not None:
            return not zero
    entries = list(value) if isinstance(value, sp.MatrixBase) else [value]
    if all(isinstance(v, (sp.Rational, sp.Float)) for v in entries):  # exactly zero or not
        return not all(map(sympyfast.is_zero, entries))
    return not sp.Matrix([value]).is_zero_matrix


def _passes_gradient(given: Any, solved: Solved) -> bool:
    return nets.passes_gradient(given, solved.data.layers)


def _network_gradient(given: Any, solved: Solved) -> bool:
    # A network that blocks every path back gives zero for every target y: that network is the
    # instructor's (pinned) or refused by the rule above (drawn), so y is not redrawn for it.
    return any(_nonzero(G) for G in solved.data.grads.values()) or not _passes_gradient(given, solved)


def _asked_gradient(given: Any, solved: Solved) -> bool:
    # Likewise: with the whole network's gradient zero no choice of targets helps.
    return (any(_nonzero(item.gradient) for item in solved.data.asked)
            or not any(_nonzero(G) for G in solved.data.grads.values()))


def _asked_gradients(solved: Solved) -> list[Any]:
    return [a for a in solved.answers if a.key.startswith("dL_d")]


def _gradients_in_band(given: Any, solved: Solved) -> bool:
    asked = _asked_gradients(solved)
    return not (drawrules.gradient_below(asked) or drawrules.gradient_above(asked))


def _gradients_plainly_outside(given: BackpropGiven) -> bool:
    """The float64 twin of :func:`_gradients_in_band`, with slack: a draw whose asked gradient
    is plainly out of the band is not solved exactly (the last layer's gradient is often tiny:
    four draws in ten of a sigmoid network)."""
    grads = _float_pass(given)[1]["grads"]
    first = 0 if given.bias == "row" else 1
    low, high = drawrules.GRADIENT_BAND
    for text in given.targets:
        t = parse_target(text, given)
        G = np.abs(grads[t.layer - 1])
        size = G[t.row - first, t.col - 1] if t.row is not None else G.max()
        if size < low * (1 - SCREEN_SLACK) or size > high * (1 + SCREEN_SLACK):
            return True
    return False


def _asked_floats(given: BackpropGiven) -> dict[str, Any]:
    return _float_pass(given)[0]


_last_pass: list[Any] = []  # [given, its float pass]: the draw being screened and checked


def _float_pass(given: BackpropGiven, result: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The independent float64 values of every asked key, and the network pass they come from
    (``result``: nets.numpy_forward_backward of these givens, if the caller has it). The draw,
    the rules' screens and the cross-check ask for the same draw in turn: worked out once for
    the draw at hand (a frozen record, whose matrices nothing changes)."""
    if _last_pass and _last_pass[0] is given:
        return _last_pass[1]
    result = result if result is not None else nets.numpy_forward_backward(given)
    values = forward_values(result)
    eta = float(given.learning_rate or 0)
    first = 0 if given.bias == "row" else 1
    for text in given.targets:
        t = parse_target(text, given)
        G = result["grads"][t.layer - 1]
        W = nets.floats(given.weights[t.layer - 1])
        if t.row is not None:
            G, W = G[t.row - first, t.col - 1], W[t.row - first, t.col - 1]
        values[f"dL_d{t.key}"] = G
        if given.update:
            values[f"{t.key}_new"] = W - eta * G
    for value in values.values():  # handed out again: nobody may change them in place
        if isinstance(value, np.ndarray):
            value.flags.writeable = False
    _last_pass[:] = [given, (values, result)]
    return values, result


def _pick_entry(rng: np.random.Generator, G: np.ndarray, net: dict[str, Any], options: dict[str, Any]) -> tuple[int, int]:
    """The (row, column) of W^{[1]}, as displayed, whose gradient is asked: drawn among the
    entries whose gradient ``G`` (of a float64 pass) lies in the band, so that a draw is not
    thrown away for asking ∂L/∂w = 0 of a weight into a dead unit; among all entries if none
    does (the rules then redraw the network)."""
    rows, cols = nets.display_shape(net["layers"][0], net["layers"][1], options)
    first = 0 if net["bias"] == "row" else 1
    low, high = drawrules.GRADIENT_BAND
    good = [(r, c) for r in range(rows) for c in range(cols) if low <= abs(G[r, c]) <= high]
    cells = good or [(r, c) for r in range(rows) for c in range(cols)]
    r, c = cells[int(rng.integers(0, len(cells)))]
    return r + first, c + 1


class Backprop(Family):
    name = "backprop"
    title = "Backpropagation"
    summary = "Forward pass, then ∂L/∂ of named weights or whole matrices and one gradient-descent step."
    params = nets.NET_PARAMS + (
        Param("targets", ListOf(Text(20), min_length=1, max_length=4), None,
              "what to differentiate: 'W2' (a whole matrix) or 'w1[2,1]' (one entry); drawn if omitted"),
        Param("learning_rate", Number(positive=True), None,
              "learning rate η of the update; drawn from " + ", ".join(LEARNING_RATES) + " if omitted"),
        Param("update", Bool(), True, "also ask for one gradient-descent update of the targets"),
    )
    Given = BackpropGiven
    Data = BackpropData
    constraints = NETWORK_RULES + (
        Constraint("a network that passes the gradient back", nets.NETWORK_VALUES, _passes_gradient),
        Constraint("a non-zero gradient in the network", nets.NETWORK_VALUES + ("y",), _network_gradient),
        Constraint("not every asked gradient zero", nets.NETWORK_VALUES + ("y", "targets"), _asked_gradient),
        Constraint(f"asked gradients between {drawrules.GRADIENT_BAND[0]} and {drawrules.GRADIENT_BAND[1]:g} in size "
                   "(the largest entry of a matrix)", nets.NETWORK_VALUES, _gradients_in_band,
                   plainly_broken=_gradients_plainly_outside),
    ) + answer_rules(_asked_floats)

    def quality(self, given: BackpropGiven, solved: Solved) -> dict[str, bool]:
        asked = _asked_gradients(solved)
        low, high = drawrules.GRADIENT_BAND
        return {**network_quality(given, solved),
                f"gradient below {low}": drawrules.gradient_below(asked),
                f"gradient above {high:g}": drawrules.gradient_above(asked)}

    def validate(self, options: dict[str, Any]) -> None:
        nets.validate_net(options)
        if options["loss"] == "none":
            raise WorksheetError("backpropagation needs a loss", field="loss",
                                 allowed=", ".join(l for l in nets.LOSSES if l != "none"))
        for text in options["targets"] or []:
            parse_target(text, options)

    def drawn(self, options: dict[str, Any]) -> frozenset[str]:
        drawn = nets.drawn_values(options)
        if options["targets"] is None:
            drawn.add("targets")
        if options["learning_rate"] is None and options["update"]:
            drawn.add("learning_rate")
        return frozenset(drawn)

    def sample(self, rng: np.random.Generator, options: dict[str, Any]) -> BackpropGiven:
        net = nets.sample_net(rng, options)
        targets = options["targets"]
        result = None
        if targets is None:
            # One entry of the first layer (the long chain) and the whole last layer.
            result = nets.numpy_forward_backward(net)
            row, col = _pick_entry(rng, result["grads"][0], net, options)
            targets = [f"w1[{row},{col}]", f"W{len(net['layers']) - 1}"]
        rate = options["learning_rate"]
        if rate is None and options["update"]:
            rate = sp.Rational(LEARNING_RATES[int(rng.integers(0, len(LEARNING_RATES)))])
        given = BackpropGiven(**net, diagram=options["diagram"], targets=list(targets),
                              learning_rate=rate, update=options["update"])
        if result is not None:  # the pass of these very numbers: the screens and the check read it
            _float_pass(given, result)
        return given

    def solve(self, given: BackpropGiven) -> Solved:
        layers = nets.forward(given)
        loss = nets.loss_exact(given, layers) if given.loss != "none" else None
        answers, data = forward_parts(given, layers, loss)
        deltas, deltas_mp = nets.backward(given, layers, loss)
        grads = {l: nets.weight_gradient(given, layers, deltas, deltas_mp, l) for l in range(1, len(layers) + 1)}
        eta = given.learning_rate
        if given.update and eta is None:
            raise CheckError("backprop: an update is asked but no learning rate was drawn or given")
        first = 0 if given.bias == "row" else 1
        asked = []
        for t in (parse_target(text, given) for text in given.targets):
            W, G = given.weights[t.layer - 1], grads[t.layer]
            if t.row is None:
                value, old = G, W
            else:
                value, old = G[t.row - first, t.col - 1], W[t.row - first, t.col - 1]
            answers.append(make_answer(f"dL_d{t.key}", rf"\frac{{\partial L}}{{\partial {t.label}}}", value))
            new = old - eta * value if given.update else None
            if given.update:
                answers.append(make_answer(f"{t.key}_new", t.new_label, new))
            asked.append(Asked(t, value, old, new))
        # For each hidden unit j of layer l: the (weight, δ of the next layer) pairs of
        # δ_j = g'(z_j) Σ_k w_jk δ_k, in the indices the student reads off W.
        back_terms = [
            [[(w, deltas[l][k], k + 1) for k, w in enumerate(col)] for col in layers[l].cols]
            for l in range(1, len(layers))
        ]
        data = BackpropData(
            **data, deltas=deltas, grads=grads, asked=asked, first_row=first, back_terms=back_terms,
            lowest=min(item.target.layer for item in asked),
            blocked=any(sympyfast.is_zero(v) for d in deltas[:-1] for v in d), kink_notes=kink_notes(given),
        )
        return Solved(answers, data, figures=nets.diagram(given, given.diagram))

    def check(self, given: BackpropGiven) -> dict[str, Any]:
        return dict(_float_pass(given)[0])
