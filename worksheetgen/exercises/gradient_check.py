"""Gradient checking (seed 004 Ex5): an analytic gradient against the central difference
(L(W+ε) − L(W−ε)) / (2ε) computed exactly with the given ε, and their relative error.

Models: ŷ = g(W x + b) with g the identity (the seed), the sigmoid or tanh, and L = ½(y − ŷ)².
For the linear model L is a quadratic in W, so the central difference is exact (rational
arithmetic shows a relative error of exactly 0); for the smooth models it carries an O(ε²)
truncation error, kept in closed form. In the "verify" variant the student is handed an analytic
gradient that may contain a typical mistake, which the relative error must expose.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal
from fractions import Fraction
from typing import Any, Callable

import mpmath
import numpy as np
import sympy as sp

from worksheetgen import activations, mathfmt
from worksheetgen.answers import Answer, BooleanAnswer, NumberAnswer, Rounding, TextAnswer, margin
from worksheetgen.errors import CheckError, WorksheetError
from worksheetgen.family import Constraint, Family, Record, Solved
from worksheetgen.params import Bool, Choice, ListOf, Number, Param
from worksheetgen.sampling import grid_param, grid_values, nonzero_grid_values, require_grid

MODELS = {"linear": "identity", "sigmoid": "sigmoid", "tanh": "tanh"}
MISTAKES = ("sign", "missing_x", "factor_2")
RELATIVE_ERRORS = ("max", "sum")
# Limits of the given values, as the help text states them: below ε = 1e-12 the two losses agree
# in more digits than the exact evaluation carries reliably (and no course uses such a step);
# beyond |W x + b| = 30 a sigmoid or tanh unit is saturated to 1e-13 and its gradient is noise.
EPS_TEXT = ("1e-12", "0.5")
EPS_MIN, EPS_MAX = (sp.Rational(t) for t in EPS_TEXT)
EPS_RANGE = f"from {EPS_TEXT[0]} to {EPS_TEXT[1]}"
Z_MAX = 30
# Targets a model can reach: a sigmoid output lives in (0, 1), a tanh output in (-1, 1).
TARGET_GRIDS = {
    "linear": (sp.Integer(-2), sp.Integer(2), sp.Rational(1, 10)),
    "sigmoid": (sp.Integer(0), sp.Integer(1), sp.Rational(1, 10)),
    "tanh": (sp.Integer(-1), sp.Integer(1), sp.Rational(1, 10)),
}
# The model's output at z = 0, where ∂L/∂W = 0 if the target equals it.
AT_ZERO = {"sigmoid": sp.Rational(1, 2), "tanh": sp.Integer(0)}
MISTAKE_TEX = {
    "sign": r"the minus sign of $\frac{\partial L}{\partial \hat{y}} = -(y - \hat{y})$ is missing, so the "
            r"gradient points the wrong way",
    "missing_x": r"the inner derivative $\frac{\partial z}{\partial W} = x$ of $z = W x + b$ is missing",
    "factor_2": r"the $\frac{1}{2}$ of the loss was forgotten: the derivative $-2(y - \hat{y})$ of "
                r"$(y - \hat{y})^2$ was used, which doubles the gradient",
}
# The relative error is asked in scientific notation with this many significant digits; with a
# tolerance of one unit in the last of them it is at least 5 % of its value away from a threshold
# it is not within 10 % of (a rule for drawn values), so no accepted value implies the other verdict.
REL_DIGITS = 2
# Significant digits asked for g_a and g_n (at least), and the most any instance is asked for.
GRAD_DIGITS = 4
MAX_DIGITS = 60
_WORK = Context(prec=120)
# ∂ŷ/∂z written with ŷ, as students write it.
GPRIME_TEX = {"linear": "", "sigmoid": r" \cdot \hat{y}(1 - \hat{y})", "tanh": r" \cdot (1 - \hat{y}^2)"}
MISTAKE_TEXT = {
    "sign": "missing minus sign: dL/dy_hat = -(y - y_hat) was used as +(y - y_hat)",
    "missing_x": "missing factor x: the inner derivative dz/dW = x was dropped",
    "factor_2": "forgot the 1/2 of the loss: the derivative of (y - y_hat)^2 was used, doubling the gradient",
}


@dataclass(frozen=True)
class GradientCheckGiven(Record):
    model: str
    epsilon: sp.Rational
    relative_error: str
    threshold: sp.Rational
    W: sp.Rational
    x: sp.Rational
    b: sp.Rational
    y: sp.Rational
    verify: bool  # the student is handed a gradient to verify (else derives it)
    wrong: bool  # the handed gradient is wrong
    mistake: str | None


@dataclass(frozen=True)
class GradientCheckData(Record):
    z: sp.Expr
    yhat: sp.Expr
    loss: sp.Expr
    gprime: sp.Expr
    dl_dyhat: sp.Expr
    grad: sp.Expr  # the true ∂L/∂W
    claimed: sp.Expr  # g_a: the gradient being checked
    W_plus: sp.Rational
    W_minus: sp.Rational
    z_plus: sp.Expr
    z_minus: sp.Expr
    yhat_plus: sp.Expr
    yhat_minus: sp.Expr
    loss_plus: sp.Expr
    loss_minus: sp.Expr
    diff: sp.Expr
    two_eps: sp.Rational
    numerical: sp.Expr  # g_n
    gap: sp.Expr
    abs_a: sp.Expr
    abs_n: sp.Expr
    denom: sp.Expr
    rel: sp.Expr
    decision: bool  # the relative-error test accepts g_a
    truth: bool  # g_a is in fact correct
    misleading: bool  # the test's verdict is not the truth
    truncation: sp.Expr
    eps_power: int | None
    threshold_power: int | None
    grad_digits: int  # significant digits of g_a and g_n that determine the relative error
    loss_digits: int  # significant digits of L(W ± ε) that determine g_n to grad_digits
    linear: bool
    mistake_tex: str
    formula_true: str
    formula_claimed: str


def _abs(e: sp.Expr) -> sp.Expr:
    """|e| kept exact: the sign is read off a 50-digit evaluation (e is never 0 here unless exactly 0);
    a rational's is its numerator's (the linear model's values)."""
    if isinstance(e, sp.Rational):
        return -e if e.p < 0 else e
    if e == 0:
        return sp.Integer(0)
    return e if sp.N(e, 50) > 0 else -e


def _dec(e: sp.Expr) -> Decimal:
    """100 significant digits of an exact value."""
    return Decimal(str(sp.N(e, 100)).replace("*^", "E"))


def _round_sig(d: Decimal, k: int) -> Decimal:
    if d == 0:
        return d
    return d.quantize(Decimal(1).scaleb(d.adjusted() - k + 1), rounding=ROUND_HALF_UP, context=_WORK)


def _unit(d: Decimal, k: int) -> Decimal:
    """One unit of the k-th significant digit of d."""
    return Decimal(1).scaleb(d.adjusted() - k + 1) if d != 0 else Decimal(0)


def _relative_dec(kind: str, a: Decimal, n: Decimal) -> Decimal:
    denom = max(abs(a), abs(n)) if kind == "max" else abs(a) + abs(n)
    return _WORK.divide(abs(a - n), denom) if denom else Decimal(0)


def _prints_exactly(d: Decimal, k: int) -> bool:
    return d == _round_sig(d, k)


def carried_digits(kind: str, threshold: sp.Rational, eps: sp.Rational, claimed: sp.Expr,
                   numerical: sp.Expr, loss_plus: sp.Expr, loss_minus: sp.Expr) -> tuple[int, int]:
    """(digits of g_a and g_n, digits of L(W ± ε)): the fewest significant digits (at least
    GRAD_DIGITS) that are enough whatever the rounding, by worst-case bounds: g_a and g_n rounded
    to them (each within half a unit) leave the relative error within half a unit of its
    REL_DIGITS-th digit and on its side of the threshold; the losses rounded to theirs leave g_n
    within half a unit of its last asked digit. Values that print exactly carry no error. The
    linear model's exact values need few digits; a smooth model's correct gradient, whose
    relative error is ε²-small, about 12, and its losses more (they agree in their leading
    digits)."""
    a, n = _dec(claimed), _dec(numerical)
    thr = Decimal(int(threshold.p)) / Decimal(int(threshold.q))
    r = _relative_dec(kind, a, n)
    denom = max(abs(a), abs(n)) if kind == "max" else abs(a) + abs(n)
    k = MAX_DIGITS
    for trial in range(GRAD_DIGITS, MAX_DIGITS + 1):
        if a == n or (_prints_exactly(a, trial) and _prints_exactly(n, trial)):
            k = trial  # both exact (or equal, so rounded alike): the relative error is exact
            break
        err = _unit(max(abs(a), abs(n)), trial)  # |Δ(g_a - g_n)| ≤ two half units
        spread = _WORK.divide(err * (1 + r), denom) if denom else Decimal(0)
        if spread <= _unit(r, REL_DIGITS) / 2 and (r - spread < thr) == (r + spread < thr) == (r < thr):
            k = trial
            break
    lp, lm = _dec(loss_plus), _dec(loss_minus)
    eps_d = Decimal(int(eps.p)) / Decimal(int(eps.q))
    need = eps_d * _unit(n, k)  # (half + half a unit of the losses) / 2ε ≤ half a unit of g_n
    for trial in range(GRAD_DIGITS, MAX_DIGITS + 1):
        if _prints_exactly(lp, trial) and _prints_exactly(lm, trial):
            return k, trial
        if max(_unit(lp, trial), _unit(lm, trial)) <= need:
            return k, trial
    return k, MAX_DIGITS


def _power_of_ten(x: sp.Rational) -> int | None:
    return _POWERS_OF_TEN.get(x)


_POWERS_OF_TEN = {sp.Rational(10) ** k: k for k in range(-12, 13)}


def _formula(model: str, mistake: str | None) -> str:
    """TeX of ∂L/∂W as derived (mistake None) or with the given mistake."""
    gp = GPRIME_TEX[model]
    return {
        None: rf"-(y - \hat{{y}}){gp} \cdot x",
        "sign": rf"(y - \hat{{y}}){gp} \cdot x",
        "missing_x": rf"-(y - \hat{{y}}){gp}",
        "factor_2": rf"-2(y - \hat{{y}}){gp} \cdot x",
    }[mistake]


def _derivatives(model: str, f: sp.Expr) -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    """f', f'', f''' of the output function, written in its value f."""
    if model == "linear":
        return sp.Integer(1), sp.Integer(0), sp.Integer(0)
    if model == "sigmoid":
        f1 = f * (1 - f)
        return f1, f1 * (1 - 2 * f), f1 * (1 - 6 * f + 6 * f**2)
    f1 = 1 - f**2
    return f1, -2 * f * f1, f1 * (6 * f**2 - 2)


class GradientCheck(Family):
    name = "gradient_check"
    title = "Gradient checking with a central difference"
    summary = ("ŷ = g(W x + b), L = ½(y − ŷ)²: analytic ∂L/∂W, the central difference with ε computed "
               "exactly, the relative error, and whether the analytic gradient is correct.")
    Given = GradientCheckGiven
    Data = GradientCheckData
    # The linear model's central difference is exact: a relative error of exactly 0 is its lesson.
    zero_ok = frozenset({"rel_error"})
    params = (
        Param("model", Choice(tuple(MODELS)), "linear",
              "linear: ŷ = W x + b (the seed; the central difference is exact); sigmoid / tanh: ŷ = g(W x + b), "
              f"with |W x + b| at most {Z_MAX} when W, x and b are all given"),
        Param("W", Number(), None, "the weight W"),
        Param("x", Number(), None, "the input x (not 0)"),
        Param("b", Number(), None, "the bias b"),
        Param("y", Number(), None, "the target y (not the prediction itself: ∂L/∂W would be 0)"),
        Param("epsilon", Number(positive=True), sp.Rational(1, 10**4),
              f"the step ε of the central difference, {EPS_RANGE}"),
        Param("relative_error", Choice(RELATIVE_ERRORS), "max",
              "max: |g_a − g_n| / max(|g_a|, |g_n|); sum: |g_a − g_n| / (|g_a| + |g_n|)"),
        Param("threshold", Number(positive=True, maximum=0.01), sp.Rational(1, 10**7),
              "accept the analytic gradient when the relative error is below this"),
        Param("wrong_gradient", Bool(), None,
              "true: the student is handed a wrong analytic gradient to check; false: a correct one; "
              "unset: wrong with probability wrong_probability"),
        Param("wrong_probability", Number(minimum=0, maximum=1), sp.Integer(0),
              "chance that the handed gradient is wrong when wrong_gradient is unset; with 0 and "
              "wrong_gradient unset the student derives the gradient (the seed's exercise)"),
        Param("mistake", Choice(MISTAKES), None,
              "the mistake in a wrong gradient: sign (missing minus), missing_x (missing factor x; "
              "not with x = ±1), factor_2 (forgot the ½ of the loss)"),
        grid_param("weight_grid", (-1, 1, 0.1), "[lo, hi, step] for a drawn W"),
        grid_param("input_grid", (-2, 2, 0.5), "[lo, hi, step] for a drawn x (never 0)"),
        grid_param("bias_grid", (-0.5, 0.5, 0.1), "[lo, hi, step] for a drawn b"),
        Param("target_grid", ListOf(Number(), min_length=3, max_length=3), None,
              "[lo, hi, step] for a drawn y (default: [-2, 2, 0.1] linear, [0, 1, 0.1] sigmoid, [-1, 1, 0.1] tanh)"),
    )
    constraints = (
        Constraint("a gradient that is not (nearly) zero", ("W", "x", "b", "y"),
                   lambda g, s: s.data.grad != 0 and sp.N(_abs(s.data.grad), 30) >= sp.Rational(1, 1000)),
        Constraint("a prediction that is not exactly 0", ("W", "x", "b"), lambda g, s: s.data.yhat != 0),
        Constraint("an output unit that is not saturated (|z| ≤ 4)", ("W", "x", "b"),
                   lambda g, s: abs(sp.N(s.data.z, 30)) <= 4),
        Constraint("a mistake that changes the gradient", ("W", "x", "b", "y", "wrong_gradient", "mistake"),
                   lambda g, s: not g.wrong
                   or sp.N(_abs(s.data.claimed - s.data.grad), 30) >= sp.Rational(1, 1000)),
        Constraint("a missing factor x that does not look like a sign error", ("x", "wrong_gradient", "mistake"),
                   lambda g, s: not (g.mistake == "missing_x" and abs(g.x) == 1)),
        Constraint("the relative-error test with this ε and threshold gives the right verdict",
                   ("W", "x", "b", "y", "wrong_gradient", "mistake"),
                   lambda g, s: not s.data.misleading),
        Constraint("a relative error whose accepted answers all give the same verdict",
                   ("W", "x", "b", "y", "wrong_gradient", "mistake"),
                   lambda g, s: _clear_verdict(s.answers, g.threshold)),
    )

    def validate(self, options: dict[str, Any]) -> None:
        require_grid(options, "input_grid", nonzero=True)
        for key in ("weight_grid", "bias_grid", "target_grid"):
            require_grid(options, key)
        eps = options["epsilon"]
        if not EPS_MIN <= eps <= EPS_MAX:
            raise WorksheetError(f"ε = {mathfmt.num(eps, 12)} is outside the allowed range", field="epsilon",
                                 allowed=EPS_RANGE)
        W, x, b, y = (options[k] for k in ("W", "x", "b", "y"))
        if x is not None and x == 0:
            raise WorksheetError("x = 0 makes ∂L/∂W = 0: nothing to check", field="x",
                                 allowed="a non-zero number")
        model = options["model"]
        if None not in (W, x, b):
            z = W * x + b
            if model != "linear" and abs(z) > Z_MAX:
                raise WorksheetError(f"W x + b = {mathfmt.num(z, 12)}: the {model} unit is saturated and "
                                     "its gradient is noise", field="W",
                                     allowed=f"W, x, b with |W x + b| <= {Z_MAX}")
            at_rest = z if model == "linear" else (AT_ZERO[model] if z == 0 else None)
            if y is not None and at_rest is not None and y == at_rest:
                raise WorksheetError(f"y = {mathfmt.num(y, 12)} is the prediction itself, so ∂L/∂W = 0: "
                                     "nothing to check", field="y", allowed="a target other than the prediction")
        if options["wrong_gradient"] is False and options["mistake"] is not None:
            raise WorksheetError("a mistake was chosen but wrong_gradient = false", field="mistake",
                                 allowed="leave mistake unset, or set wrong_gradient = true")
        if (options["mistake"] is not None and options["wrong_gradient"] is None
                and options["wrong_probability"] == 0):
            raise WorksheetError("a mistake was chosen but no gradient is ever wrong", field="mistake",
                                 allowed="set wrong_gradient = true or wrong_probability > 0 as well")
        if options["mistake"] == "missing_x" and x is not None and abs(x) == 1:
            raise WorksheetError(
                "with x = ±1 a missing factor x is invisible (or looks like a sign error)",
                field="mistake", allowed="sign or factor_2, or an x other than ±1")

    def drawn(self, options: dict[str, Any]) -> frozenset[str]:
        """As the base class, less the unset options nothing random decides: wrong_gradient when
        wrong_probability is 0 or 1, mistake when no gradient can be wrong, target_grid (a grid,
        not a value). So the seed's fully pinned exercise is not held to the rules."""
        drawn = set(super().drawn(options))
        p = options["wrong_probability"]
        if options["wrong_gradient"] is None and p in (0, 1):
            drawn.discard("wrong_gradient")
        if options["wrong_gradient"] is False or (options["wrong_gradient"] is None and p == 0):
            drawn.discard("mistake")
        drawn.discard("target_grid")
        return frozenset(drawn)

    def sample(self, rng: np.random.Generator, options: dict[str, Any]) -> GradientCheckGiven:
        target_grid = options["target_grid"] or TARGET_GRIDS[options["model"]]
        grids = {"W": options["weight_grid"], "x": options["input_grid"], "b": options["bias_grid"],
                 "y": target_grid}
        values: dict[str, Any] = {}
        for key, grid in grids.items():
            if options[key] is not None:
                values[key] = options[key]
            elif key == "x":
                values[key] = nonzero_grid_values(rng, *grid)
            else:
                values[key] = grid_values(rng, *grid)
        wrong = options["wrong_gradient"]
        # A Python bool: the SymPy comparison wrong_probability > 0 would be printed as "False".
        verify = wrong is not None or bool(options["wrong_probability"] > 0)
        if wrong is None:
            wrong = bool(rng.random() < float(options["wrong_probability"]))
        mistake = (options["mistake"] or MISTAKES[int(rng.integers(len(MISTAKES)))]) if wrong else None
        return GradientCheckGiven(
            model=options["model"], epsilon=options["epsilon"], relative_error=options["relative_error"],
            threshold=options["threshold"], verify=verify, wrong=bool(wrong), mistake=mistake, **values)

    def solve(self, given: GradientCheckGiven) -> Solved:
        g = activations.get(MODELS[given.model])
        W, x, b, y, eps = given.W, given.x, given.b, given.y, given.epsilon

        def loss_at(w: sp.Expr) -> tuple[sp.Expr, sp.Expr, sp.Expr]:
            z = w * x + b
            yhat = g.at(z)
            return z, yhat, (y - yhat) ** 2 / 2

        z, yhat, loss = loss_at(W)
        gprime = g.grad_at(z)
        dl_dyhat = -(y - yhat)
        grad = dl_dyhat * gprime * x
        claimed = {
            None: grad,
            "sign": (y - yhat) * gprime * x,
            "missing_x": dl_dyhat * gprime,
            "factor_2": 2 * dl_dyhat * gprime * x,
        }[given.mistake]

        z_plus, yhat_plus, loss_plus = loss_at(W + eps)
        z_minus, yhat_minus, loss_minus = loss_at(W - eps)
        diff = loss_plus - loss_minus
        numerical = diff / (2 * eps)

        gap = _abs(claimed - numerical)
        abs_a, abs_n = _abs(claimed), _abs(numerical)
        if given.relative_error == "max":
            denom = abs_a if sp.N(abs_a - abs_n, 50) >= 0 else abs_n
        else:
            denom = abs_a + abs_n
        rel = gap / denom if denom != 0 else sp.Integer(0)
        decision = bool(sp.N(rel, 50) < given.threshold)

        # The O(ε²) term of the central difference, ε²/6 · L'''(W), explains the smooth models' error.
        # L'''(W) = x^3 (3 f' f'' - (y - yhat) f''') with f's derivatives written in yhat:
        # sp.diff of the nested exponentials is far slower.
        f1, f2, f3 = _derivatives(given.model, yhat)
        third = x**3 * (3 * f1 * f2 - (y - yhat) * f3)
        truncation = eps**2 / 6 * third
        grad_digits, loss_digits = carried_digits(given.relative_error, given.threshold, eps, claimed, numerical,
                                                  loss_plus, loss_minus)

        data = GradientCheckData(
            z=z, yhat=yhat, loss=loss, gprime=gprime, dl_dyhat=dl_dyhat, grad=grad, claimed=claimed,
            W_plus=W + eps, W_minus=W - eps, z_plus=z_plus, z_minus=z_minus,
            yhat_plus=yhat_plus, yhat_minus=yhat_minus, loss_plus=loss_plus, loss_minus=loss_minus,
            diff=diff, two_eps=2 * eps, numerical=numerical, gap=gap, abs_a=abs_a, abs_n=abs_n,
            denom=denom, rel=rel, decision=decision, truth=not given.wrong,
            misleading=decision != (not given.wrong), truncation=truncation,
            eps_power=_power_of_ten(eps), threshold_power=_power_of_ten(given.threshold),
            grad_digits=grad_digits, loss_digits=loss_digits,
            linear=given.model == "linear",
            mistake_tex=MISTAKE_TEX.get(given.mistake or "", ""),
            formula_true=_formula(given.model, None),
            formula_claimed=_formula(given.model, given.mistake),
        )
        # Precision as the text asks it: g_a, g_n and the losses with the digits that determine
        # the relative error; the relative error itself in scientific notation.
        grads, losses = Rounding("significant", grad_digits), Rounding("significant", loss_digits)
        answers: list[Answer] = [NumberAnswer("yhat", r"\hat{y}", yhat)]
        if given.verify:
            answers.append(NumberAnswer("grad_claimed", r"g_a", claimed, rounding=grads))
        answers += [
            NumberAnswer("grad_analytic", r"\frac{\partial L}{\partial W}", grad, rounding=grads),
            NumberAnswer("loss_plus", r"L(W + \varepsilon)", loss_plus, rounding=losses),
            NumberAnswer("loss_minus", r"L(W - \varepsilon)", loss_minus, rounding=losses),
            NumberAnswer("grad_numerical", r"g_n", numerical, rounding=grads),
            NumberAnswer("rel_error", r"\text{relative error}", rel, rounding=Rounding("significant", REL_DIGITS)),
            BooleanAnswer("correct", r"\text{analytic gradient correct?}", not given.wrong),
        ]
        if given.wrong:
            answers.append(TextAnswer("mistake", r"\text{mistake}", MISTAKE_TEXT[given.mistake]))
        return Solved(answers, data)

    def check(self, given: GradientCheckGiven) -> dict[str, Any]:
        if given.model == "linear":
            return self._check_linear(given)
        return self._check_smooth(given)

    def _check_linear(self, given: GradientCheckGiven) -> dict[str, Any]:
        # Python fractions: the central difference of a quadratic is exact, so the check is too.
        W, x, b, y, eps = (Fraction(int(v.p), int(v.q)) for v in (given.W, given.x, given.b, given.y, given.epsilon))

        def loss(w: Fraction) -> Fraction:
            return (y - (w * x + b)) ** 2 / 2

        yhat = W * x + b
        true_grad = (yhat - y) * x
        claimed = self._claimed(given.mistake, true_grad, y - yhat, x)
        numerical = (loss(W + eps) - loss(W - eps)) / (2 * eps)
        rel = self._relative(given.relative_error, claimed, numerical)
        return self._pack(given, yhat, claimed, true_grad, loss(W + eps), loss(W - eps), numerical, rel)

    def _check_smooth(self, given: GradientCheckGiven) -> dict[str, Any]:
        """mpmath at a working precision that grows until the results settle.

        L(W + ε) and L(W - ε) agree in about log10(L / (ε |g|)) digits and g_a - g_n is of order
        ε² g, so double precision cannot resolve g_n or the relative error, and the digits an
        instance needs depend on ε and on how saturated the unit is. The values are recomputed
        with twice the digits until two passes agree to 1e-20 (relative): far inside the
        comparison tolerance, so a disagreement is never a rounding artefact."""
        previous: dict[str, Any] | None = None
        for dps in (30, 60, 120, 240, 480):
            current = self._smooth_at(given, dps)
            if previous is not None and all(_settled(previous[k], current[k]) for k in current):
                return self._pack(given, *(current[k] for k in (
                    "yhat", "claimed", "true_grad", "loss_plus", "loss_minus", "numerical", "rel")))
            previous = current
        raise CheckError(f"gradient_check: the independent check did not settle at 480 digits "
                         f"(model {given.model}, W={given.W}, x={given.x}, b={given.b}, y={given.y}, "
                         f"epsilon={given.epsilon})")

    def _smooth_at(self, given: GradientCheckGiven, dps: int) -> dict[str, Any]:
        with mpmath.workdps(dps):
            def P(r: sp.Rational) -> Any:
                return mpmath.mpf(int(r.p)) / int(r.q)

            W, x, b, y, eps = (P(v) for v in (given.W, given.x, given.b, given.y, given.epsilon))
            f: Callable[[Any], Any]
            if given.model == "sigmoid":
                f = lambda t: 1 / (1 + mpmath.exp(-t))  # noqa: E731
                slope = lambda t: f(t) * f(-t)  # noqa: E731 - σ' = σ(z)(1 - σ(z)), 1 - σ(z) = σ(-z)
            else:
                f = mpmath.tanh
                slope = lambda t: mpmath.sech(t) ** 2  # noqa: E731

            def loss(w: Any) -> Any:
                return (y - f(w * x + b)) ** 2 / 2

            z = W * x + b
            yhat = f(z)
            true_grad = (yhat - y) * slope(z) * x
            claimed = self._claimed(given.mistake, true_grad, (y - yhat) * slope(z), x)
            numerical = (loss(W + eps) - loss(W - eps)) / (2 * eps)
            return {"yhat": yhat, "claimed": claimed, "true_grad": true_grad, "loss_plus": loss(W + eps),
                    "loss_minus": loss(W - eps), "numerical": numerical,
                    "rel": self._relative(given.relative_error, claimed, numerical)}

    @staticmethod
    def _claimed(mistake: str | None, true_grad: Any, y_minus_yhat_gprime: Any, x: Any) -> Any:
        if mistake is None:
            return true_grad
        if mistake == "sign":
            return y_minus_yhat_gprime * x
        if mistake == "missing_x":
            return -y_minus_yhat_gprime
        return 2 * true_grad

    @staticmethod
    def _relative(kind: str, a: Any, n: Any) -> Any:
        denom = max(abs(a), abs(n)) if kind == "max" else abs(a) + abs(n)
        return abs(a - n) / denom if denom else 0 * denom

    @staticmethod
    def _pack(given: GradientCheckGiven, yhat: Any, claimed: Any, true_grad: Any, lp: Any, lm: Any,
              numerical: Any, rel: Any) -> dict[str, Any]:
        out = {"yhat": float(yhat), "grad_analytic": float(true_grad), "loss_plus": float(lp),
               "loss_minus": float(lm), "grad_numerical": float(numerical), "rel_error": float(rel),
               # The truth, from the two gradients themselves (not from the relative-error verdict).
               "correct": bool(abs(claimed - true_grad) <= 1e-12 * abs(true_grad))}
        if given.verify:
            out["grad_claimed"] = float(claimed)
        if given.wrong:
            out["mistake"] = MISTAKE_TEXT[given.mistake]
        return out


def _clear_verdict(answers: Any, threshold: sp.Rational) -> bool:
    """No value the key accepts for the relative error lies on the other side of the threshold."""
    answer = next(a for a in answers if a.key == "rel_error")
    r, t = float(_dec(answer.value)), float(threshold)
    m = margin({"kind": "significant", "digits": REL_DIGITS}, r) * (1 + 1e-9)
    return (r + m < t) if r < t else (r - m >= t)


def _settled(a: Any, b: Any) -> bool:
    """Two passes agree to 1e-20 of their size (exact zeros agree with each other)."""
    return bool(abs(a - b) <= mpmath.mpf(10) ** -20 * max(abs(a), abs(b)))
