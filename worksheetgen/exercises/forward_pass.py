"""Forward propagation through a small dense network (seeds 000/001 Q1, 002 Q3.1-3.2, 004 Ex1)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import sympy as sp

from worksheetgen import activations, drawrules, nets
from worksheetgen.answers import Answer, MatrixAnswer, NumberAnswer, to_float
from worksheetgen.family import Constraint, Family, Record, Solved


@dataclass(frozen=True)
class UnitSum:
    """One unit's weighted sum as the seeds write it out (h1 = i1 w11 + i2 w21 + b1 = ...)."""

    index: int  # 1-based unit
    pairs: list[tuple[Any, Any, int]]  # (weight, input value, 1-based input index)
    bias: Any
    z: Any


@dataclass(frozen=True)
class ForwardData(Record):
    layers: list[nets.Layer]
    units: list[list[UnitSum]]
    n_layers: int
    hidden: activations.Activation
    output: activations.Activation | None  # None for softmax
    loss_formula: str
    loss_name: str
    loss: sp.Expr | None
    loss_terms: list[sp.Expr] | None
    dl_dyhat: sp.Matrix | None


# The rules read what the network's values depend on; alpha is listed because leaky ReLU and
# ELU pass it on to later layers (it is never drawn: unset, it takes a fixed default).
NETWORK_RULES = (
    Constraint("no pre-activation exactly at a kink of the activation", nets.NETWORK_VALUES,
               lambda g, s: nets.no_kink_hit(s.data.layers)),
    Constraint("not every ReLU unit of a hidden layer dead", nets.NETWORK_VALUES,
               lambda g, s: nets.hidden_relu_alive(s.data.layers)),
    Constraint("every output ReLU unit alive", nets.NETWORK_VALUES,
               lambda g, s: nets.output_relu_alive(s.data.layers)),
    Constraint("pre-activations of moderate size", nets.NETWORK_VALUES,
               lambda g, s: nets.moderate(s.data.layers)),
    Constraint("no saturated unit (|g'(z)| >= 0.02, softmax outputs at most 0.99)", nets.NETWORK_VALUES,
               lambda g, s: not nets.saturated(s.data.layers)),
)
# The rules on what a student is asked. They read the network's values: a drawn network is drawn
# again with its target (and targets, learning rate), while around a pinned network the drawn
# target only picks among the instructor's numbers (seed 004 Ex2's dead layer asks a^{[1]} = 0).
# The float64 screens' margin: their values are good to ~1e-13 of the values' size, so a draw
# they call outside a bound by this much (relative) is outside for the exact values too.
SCREEN_SLACK = 1e-6
SCREEN_ZERO = 1e-9  # a float64 value this small may be an exact 0: never judged by the floor


def answer_rules(asked_floats: Callable[[Any], dict[str, Any]] | None = None) -> tuple[Constraint, ...]:
    """The rules on the asked values. ``asked_floats``: the family's float64 values of every
    asked key (its check), with which a draw that plainly breaks the floor or the loss band is
    refused before it is solved."""
    floor, loss_band = None, None
    if asked_floats is not None:
        def floor(given: Any) -> bool:
            return any(SCREEN_ZERO < m < drawrules.FLOOR * (1 - SCREEN_SLACK)
                       for v in asked_floats(given).values() for m in np.abs(np.ravel(v)).tolist())

        def loss_band(given: Any) -> bool:
            loss = asked_floats(given).get("loss")
            low, high = drawrules.LOSS_BAND
            return loss is not None and not low * (1 - SCREEN_SLACK) <= abs(loss) <= high * (1 + SCREEN_SLACK)
    return (
        Constraint("no asked value exactly 0", nets.NETWORK_VALUES,
                   lambda g, s: not drawrules.zero_asked(s.answers)),
        Constraint(f"every asked value 0 or at least {drawrules.FLOOR} in size", nets.NETWORK_VALUES,
                   lambda g, s: not drawrules.below_floor(s.answers), plainly_broken=floor),
        Constraint(f"a loss between {drawrules.LOSS_BAND[0]} and {drawrules.LOSS_BAND[1]:g}", nets.NETWORK_VALUES,
                   lambda g, s: not any(_loss_outside(s).values()), plainly_broken=loss_band),
    )


ANSWER_RULES = answer_rules()


def _loss_outside(solved: Solved) -> dict[str, bool]:
    low, high = drawrules.LOSS_BAND
    loss = solved.data.loss
    # to_float: the value settle() checked at 100 digits, remembered (float() would evaluate
    # the closed form again), and what the key stores.
    size = abs(to_float(loss)) if loss is not None else None
    return {f"loss below {low}": size is not None and size < low,
            f"loss above {high:g}": size is not None and size > high}


def network_quality(given: nets.NetGiven, solved: Solved) -> dict[str, bool]:
    """The defects the network rules reject, as the quality gate counts them."""
    layers = solved.data.layers
    return {
        "dead output unit": not nets.output_relu_alive(layers),
        "saturated unit": nets.saturated(layers),
        f"asked value below {drawrules.FLOOR}": drawrules.below_floor(solved.answers),
        **_loss_outside(solved),
    }


def forward_parts(given: nets.NetGiven, layers: list[nets.Layer],
                  loss: nets.Loss | None = None) -> tuple[list[Answer], dict[str, Any]]:
    """Answers and the fields of ForwardData, shared with the backprop family (``loss``: the
    network's loss, if the caller computed it already)."""
    answers: list[Answer] = []
    n = len(layers)
    for layer in layers:
        l = layer.index
        answers.append(MatrixAnswer(f"z{l}", f"z^{{[{l}]}}", nets.vector(layer.z)))
        label = r"\hat{y}" if l == n else f"a^{{[{l}]}}"
        answers.append(MatrixAnswer(f"a{l}", label, nets.vector(layer.a)))
    data: dict[str, Any] = dict(
        layers=layers,
        units=unit_sums(given, layers),
        n_layers=n,
        hidden=activations.get(given.activation),
        output=None if given.output_activation == "softmax" else activations.get(given.output_activation),
        loss_formula=nets.LOSS_TEXT.get(given.loss, ""),
        loss_name=nets.LOSS_NAME.get(given.loss, ""),
        loss=None, loss_terms=None, dl_dyhat=None,
    )
    if given.loss != "none":
        loss = loss if loss is not None else nets.loss_exact(given, layers)
        answers.append(NumberAnswer("loss", "L", loss.value))
        data.update(loss=loss.value, loss_terms=loss.terms, dl_dyhat=loss.dl_dyhat)
    return answers, data


def unit_sums(given: nets.NetGiven, layers: list[nets.Layer]) -> list[list[UnitSum]]:
    """Per layer and unit: the (weight, input) pairs and bias of its weighted sum."""
    return [[UnitSum(j + 1, [(row[i], layer.a_in[i], i + 1) for i in range(len(row))], layer.bias[j], layer.z[j])
             for j, row in enumerate(layer.rows)]
            for layer in layers]


def forward_check(given: nets.NetGiven) -> tuple[dict[str, Any], dict[str, Any]]:
    result = nets.numpy_forward_backward(given)
    return forward_values(result), result


def forward_values(result: dict[str, Any]) -> dict[str, Any]:
    """The asked forward values (and loss) of a NumPy pass, by answer key."""
    values: dict[str, Any] = {}
    for l, (z, a) in enumerate(zip(result["z"], result["a"]), start=1):
        values[f"z{l}"] = z.reshape(-1, 1)
        values[f"a{l}"] = a.reshape(-1, 1)
    if "loss" in result:
        values["loss"] = float(result["loss"])
    return values


class ForwardPass(Family):
    name = "forward_pass"
    title = "Forward propagation"
    summary = "Pre-activations, activations, output and loss of a small dense network."
    params = nets.NET_PARAMS
    Given = nets.NetGiven
    Data = ForwardData
    constraints = NETWORK_RULES + ANSWER_RULES

    def quality(self, given: nets.NetGiven, solved: Solved) -> dict[str, bool]:
        return network_quality(given, solved)

    def validate(self, options: dict[str, Any]) -> None:
        nets.validate_net(options)

    def drawn(self, options: dict[str, Any]) -> frozenset[str]:
        return frozenset(nets.drawn_values(options))

    def sample(self, rng: np.random.Generator, options: dict[str, Any]) -> nets.NetGiven:
        return nets.NetGiven(**nets.sample_net(rng, options), diagram=options["diagram"])

    def solve(self, given: nets.NetGiven) -> Solved:
        layers = nets.forward(given)
        answers, data = forward_parts(given, layers)
        return Solved(answers, ForwardData(**data), figures=nets.diagram(given, given.diagram))

    def check(self, given: nets.NetGiven) -> dict[str, Any]:
        return forward_check(given)[0]
