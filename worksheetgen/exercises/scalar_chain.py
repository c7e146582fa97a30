"""Two single-perceptron layers in a chain (seed 000/001 Q4): forward values, squared error and
both weight gradients by the chain rule."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp

from worksheetgen import activations, drawrules, sympyfast
from worksheetgen.activations import add, mul, neg, positive, power
from worksheetgen.answers import NumberAnswer, to_float
from worksheetgen.family import Constraint, Family, Record, Solved
from worksheetgen.nets import is_closed, settle, to_mp
from worksheetgen.params import Choice, Number, Param
from worksheetgen.sampling import grid_param, nonzero_grid_values, require_grid

LOSSES = ("squared", "half_squared")
SCREEN_DRAWS = 200  # candidates screened in float64 per draw (see ScalarChain.sample)
MAX_LOSS = 25  # a random draw with a larger error is refused (not pleasant by hand)
# Asked gradients: drawrules' band, narrower at the top (weights up to ±3 and x up to ±2 would
# reach 50 for identity or GELU units, four decades from the smallest; 10 keeps three).
GRADIENT_BAND = (drawrules.GRADIENT_BAND[0], 10.0)
MIN_LOSS = sp.Rational(1, 100)  # nor one already (almost) on target: students' losses within four decades
VALUES = ("w1", "w2", "x", "alpha")  # what the chain's pre-activations depend on


@dataclass(frozen=True)
class ScalarChainGiven(Record):
    activation: str
    alpha: sp.Rational
    loss: str
    w1: sp.Rational
    w2: sp.Rational
    x: sp.Rational
    y: sp.Rational


@dataclass(frozen=True)
class ScalarChainData(Record):
    g: activations.Activation
    z1: sp.Expr
    a1: sp.Expr
    z2: sp.Expr
    a2: sp.Expr
    loss: sp.Expr
    dl_da2: sp.Expr  # ∂L/∂ŷ
    g1: sp.Expr  # g'(z1)
    g2: sp.Expr  # g'(z2)
    factor: sp.Integer  # 2 for (y - ŷ)², 1 for ½(y - ŷ)²
    half: bool


def _no_kink_hit(given: ScalarChainGiven, solved: Solved) -> bool:
    d = solved.data
    return not (sympyfast.at_kink(d.z1, d.g.kinks) or sympyfast.at_kink(d.z2, d.g.kinks))


def _one_unit_nonlinear(given: ScalarChainGiven, solved: Solved) -> bool:
    """With a kinked activation, not both units on the linear (z > 0) side, where the chain would
    be plain multiplication - unless the negative side passes no gradient (ReLU)."""
    d = solved.data
    negative_side_learns = d.g.grad_at(-1, given.alpha) != 0
    # z > 0, read off the value settle() checked when there is one (activations.positive).
    return not (d.g.kinks and negative_side_learns and positive(d.z1) and positive(d.z2))


def _chain_passes_gradient(given: ScalarChainGiven, solved: Solved) -> bool:
    """∂ŷ/∂w² and ∂ŷ/∂w¹ are non-zero: no unit blocks the gradient, whatever the target."""
    d = solved.data
    # SymPy's product of finite values is 0 exactly when a factor is: the factors are compared
    # rather than multiplied (building the products of closed forms costs more than the rest).
    return not any(map(sympyfast.is_zero, (d.g2, d.a1, given.w2, d.g1, given.x)))


def _nonzero_gradients(given: ScalarChainGiven, solved: Solved) -> bool:
    # A chain that blocks the gradient gives zero for every target: that chain is the
    # instructor's (pinned) or refused by the rule above (drawn), so the target is not redrawn.
    nonzero = not (sympyfast.is_zero(solved.answer("dL_dw1").value) or sympyfast.is_zero(solved.answer("dL_dw2").value))
    return nonzero or not _chain_passes_gradient(given, solved)


def _moderate_error(given: ScalarChainGiven, solved: Solved) -> bool:
    # to_float: the value settle() checked, remembered (float() would evaluate it again).
    return MIN_LOSS <= abs(to_float(solved.data.loss)) <= MAX_LOSS


def _saturated(given: ScalarChainGiven, solved: Solved) -> bool:
    """A unit on the flat part of a smooth activation (ELU at z ≤ -3.9: g' = e^z < 0.02), where
    the chain rule multiplies by almost nothing (issue 10: 31 % of ELU draws)."""
    d = solved.data
    return any(drawrules.saturated(given.activation, to_float(z), to_float(gp))
               for z, gp in ((d.z1, d.g1), (d.z2, d.g2)))


def _gradients(solved: Solved) -> list[Any]:
    return [solved.answer("dL_dw2"), solved.answer("dL_dw1")]


def _gradients_in_band(given: ScalarChainGiven, solved: Solved) -> bool:
    grads = _gradients(solved)
    return not (drawrules.gradient_below(grads, GRADIENT_BAND[0]) or drawrules.gradient_above(grads, GRADIENT_BAND[1]))


def _half(value: sp.Expr, half: bool) -> sp.Expr:
    """``value / 2`` (Mul with 1/2) or ``value / 1`` (the value itself), as SymPy builds them."""
    return mul(value, sp.Rational(1, 2)) if half else value


class ScalarChain(Family):
    name = "scalar_chain"
    title = "Backpropagation through a two-layer chain"
    summary = "x → w¹ → g → w² → g → ŷ with one unit per layer, no bias; a¹, a², the error, ∂L/∂w², ∂L/∂w¹."
    params = (
        Param("activation", Choice(activations.NAMES), "elu",
              "activation g of both units (at a kink: ReLU'(0) = 0, LeakyReLU'(0) = α, ELU'(0) = 1 for every α)"
              + drawrules.GELU_NOTE),
        Param("alpha", Number(positive=True), sp.Integer(1), "α of ELU / leaky ReLU"),
        Param("loss", Choice(LOSSES), "squared", "squared: (y - ŷ)² as in the seed; half_squared: ½(y - ŷ)²"),
        Param("w1", Number(), None, "first weight; drawn from weight_grid (never 0) if omitted"),
        Param("w2", Number(), None, "second weight; drawn from weight_grid (never 0) if omitted"),
        Param("x", Number(), None, "input; drawn from input_grid (never 0) if omitted"),
        Param("y", Number(), None, "target; drawn from target_grid (never 0) if omitted"),
        grid_param("weight_grid", (-3, 3, 0.5), "[lo, hi, step] for drawn weights, with a non-zero point"),
        grid_param("input_grid", (-2, 2, 1), "[lo, hi, step] for a drawn input, with a non-zero point"),
        grid_param("target_grid", (-2, 2, 0.1), "[lo, hi, step] for a drawn target, with a non-zero point"),
    )
    Given = ScalarChainGiven
    Data = ScalarChainData
    constraints = (
        Constraint("no pre-activation exactly at the kink of the activation", VALUES, _no_kink_hit),
        Constraint("at least one unit on the non-linear side of the activation", VALUES, _one_unit_nonlinear),
        Constraint("a chain that passes the gradient back", VALUES, _chain_passes_gradient),
        Constraint("non-zero gradients", VALUES + ("y",), _nonzero_gradients),
        Constraint(f"an error between {MIN_LOSS} and {MAX_LOSS}", VALUES + ("y",), _moderate_error),
        Constraint("no saturated unit (|g'(z)| >= 0.02)", VALUES, lambda g, s: not _saturated(g, s)),
        Constraint(f"both gradients between {GRADIENT_BAND[0]} and {GRADIENT_BAND[1]:g} in size",
                   VALUES, _gradients_in_band),
        Constraint(f"every asked value at least {drawrules.FLOOR} in size", VALUES,
                   lambda g, s: not drawrules.below_floor(s.answers)),
    )

    def quality(self, given: ScalarChainGiven, solved: Solved) -> dict[str, bool]:
        grads = _gradients(solved)
        low, high = GRADIENT_BAND
        return {
            "saturated unit": _saturated(given, solved),
            f"gradient below {low}": drawrules.gradient_below(grads, low),
            f"gradient above {high:g}": drawrules.gradient_above(grads, high),
            f"asked value below {drawrules.FLOOR}": drawrules.below_floor(solved.answers),
        }

    def validate(self, options: dict[str, Any]) -> None:
        # Each grid is drawn from (without 0) only for the values the spec leaves unset.
        require_grid(options, "weight_grid", nonzero=options["w1"] is None or options["w2"] is None)
        require_grid(options, "input_grid", nonzero=options["x"] is None)
        require_grid(options, "target_grid", nonzero=options["y"] is None)

    def sample(self, rng: np.random.Generator, options: dict[str, Any]) -> ScalarChainGiven:
        """Values on their grids. When the chain itself is drawn, candidates are first screened
        against the rules in float64 (microseconds), so the exact solve runs about once per
        instance (a ReLU chain passes in one draw of eight); the constraints then decide."""
        screen = any(options[key] is None for key in ("w1", "w2", "x"))
        for _ in range(SCREEN_DRAWS if screen else 1):
            values = {}
            for key, grid in (("w1", "weight_grid"), ("w2", "weight_grid"), ("x", "input_grid"),
                              ("y", "target_grid")):
                values[key] = options[key] if options[key] is not None else nonzero_grid_values(rng, *options[grid])
            given = ScalarChainGiven(activation=options["activation"], alpha=options["alpha"],
                                     loss=options["loss"], **values)
            if not screen or self._plainly_fine(given):
                break
        return given  # the last candidate when none passed: the constraints name the rule

    def _plainly_fine(self, given: ScalarChainGiven) -> bool:
        """No rule plainly broken in float64 (a little slack: the exact rules decide the
        borderline cases)."""
        g = activations.get(given.activation)
        alpha, w2, x = float(given.alpha), float(given.w2), float(given.x)
        values = self.check(given)
        z1 = float(given.w1) * x
        z2 = w2 * values["a1"]
        g1, g2 = (float(g.numeric_grad(np.array([z]), alpha)[0]) for z in (z1, z2))
        tight, loose = 1 - 1e-9, 1 + 1e-9
        if g.kinks and (abs(z1) < 1e-12 or abs(z2) < 1e-12):
            return False
        if g.kinks and g.numeric_grad(np.array([-1.0]), alpha)[0] != 0 and z1 > 0 and z2 > 0:
            return False
        if g2 * values["a1"] == 0 or g2 * w2 * g1 * x == 0:
            return False
        if not float(MIN_LOSS) * tight <= values["loss"] <= MAX_LOSS * loose:
            return False
        if any(drawrules.saturated(given.activation, z, d / tight) for z, d in ((z1, g1), (z2, g2))):
            return False
        low, high = GRADIENT_BAND
        if any(not low * tight <= abs(values[k]) <= high * loose for k in ("dL_dw1", "dL_dw2")):
            return False
        return not any(1e-12 < abs(v) < drawrules.FLOOR * tight for v in values.values())

    def solve(self, given: ScalarChainGiven) -> Solved:
        g = activations.get(given.activation)
        alpha, w1, w2, x, y = given.alpha, given.w1, given.w2, given.x, given.y
        mp_alpha, mp_w2, mp_x, mp_y = to_mp(alpha), to_mp(w2), to_mp(x), to_mp(y)
        half = given.loss == "half_squared"
        factor = sp.Integer(1) if half else sp.Integer(2)

        # Every value is its closed form while that is short and cheap to evaluate, else its
        # 60-digit twin to 50 digits (worksheetgen.nets.settle): GELU(-300) = -150 (1 +
        # erf(-150√2)) would need ~20 000 digits to tell from 0, and the 80-operation closed
        # forms of ∂L/∂w¹ with GELU cost more to evaluate than the rest of the exercise.
        exact = settle

        def closed(*values: Any) -> bool:
            return all(map(is_closed, values))

        z1_mp = to_mp(w1) * mp_x
        z1 = w1 * x
        a1_mp = g.precise(z1_mp, mp_alpha)
        a1 = exact(g.at(z1, alpha), a1_mp)
        z2_mp = mp_w2 * a1_mp
        z2 = exact(mul(w2, a1) if closed(a1) else None, z2_mp)
        a2_mp = g.precise(z2_mp, mp_alpha)
        a2 = exact(g.at(z2, alpha) if closed(z2) else None, a2_mp)
        ok = closed(a2)
        loss_mp = (mp_y - a2_mp) ** 2 / (2 if half else 1)
        # (y - a2)**2 / 2 (or / 1), built as those operators build it
        loss = exact(_half(power(add(y, neg(a2)), sp.Integer(2)), half) if ok else None, loss_mp)
        dl_da2_mp = -int(factor) * (mp_y - a2_mp)
        dl_da2 = exact(mul(-factor, add(y, neg(a2))) if ok else None, dl_da2_mp)
        g2_mp, g1_mp = g.precise_grad(z2_mp, mp_alpha), g.precise_grad(z1_mp, mp_alpha)
        g2 = exact(g.grad_at(z2, alpha) if closed(z2) else None, g2_mp)
        g1 = exact(g.grad_at(z1, alpha), g1_mp)
        ok = closed(dl_da2, g2, g1, a1)
        dl_dw2 = exact(mul(mul(dl_da2, g2), a1) if ok else None, dl_da2_mp * g2_mp * a1_mp)
        dl_dw1 = exact(mul(mul(mul(mul(dl_da2, g2), w2), g1), x) if ok else None,
                       dl_da2_mp * g2_mp * mp_w2 * g1_mp * mp_x)
        data = ScalarChainData(g=g, z1=z1, a1=a1, z2=z2, a2=a2, loss=loss, dl_da2=dl_da2, g1=g1, g2=g2,
                               factor=factor, half=half)
        answers = [
            NumberAnswer("a1", "a^{[1]}", a1, part=1),
            NumberAnswer("a2", "a^{[2]}", a2, part=1),
            NumberAnswer("loss", "L", loss, part=2),
            NumberAnswer("dL_dw2", r"\frac{\partial L}{\partial w^{[2]}}", dl_dw2, part=3),
            NumberAnswer("dL_dw1", r"\frac{\partial L}{\partial w^{[1]}}", dl_dw1, part=3),
        ]
        return Solved(answers, data)

    def check(self, given: ScalarChainGiven) -> dict[str, Any]:
        g = activations.get(given.activation)
        alpha = float(given.alpha)
        w1, w2, x, y = (float(v) for v in (given.w1, given.w2, given.x, given.y))
        scale = 0.5 if given.loss == "half_squared" else 1.0
        a1 = g.numeric(np.array([w1 * x]), alpha)[0]
        a2 = g.numeric(np.array([w2 * a1]), alpha)[0]
        # Backward pass written out with NumPy derivatives, not the SymPy ones.
        d_a2 = -2 * scale * (y - a2)
        d_z2 = d_a2 * g.numeric_grad(np.array([w2 * a1]), alpha)[0]
        d_z1 = d_z2 * w2 * g.numeric_grad(np.array([w1 * x]), alpha)[0]
        return {"a1": a1, "a2": a2, "loss": scale * (y - a2) ** 2, "dL_dw2": d_z2 * a1, "dL_dw1": d_z1 * x}
