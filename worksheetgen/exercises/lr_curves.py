"""Learning rates to loss curves (seed 002 Q1.4): four rates, four curves A-D, match them.

The curves are not drawn by hand: each one is the training loss of stochastic gradient descent
(batch size 1) with that rate on a small L2-regularized least-squares problem, simulated here.
The problem is scaled to the rates so that the second-largest rate sits just below the
stability limit of SGD (its loss drops fast, then bounces on a high noise floor: "too high"),
the largest one is past it (the loss explodes: "way too high"), the next one converges to the
lowest loss ("good") and the smallest one is still far from the minimum after the run ("too
low"). A draw whose simulated curves do not show these four shapes clearly is redrawn.

Each rate's answer is a choice among the curves, whose letters (the panel titles, in printed
order) come from one tuple, ``CURVES``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import sympy as sp

from worksheetgen.answers import ChoiceAnswer
from worksheetgen.errors import WorksheetError
from worksheetgen.exercises.lr_grid import floor_log10
from worksheetgen.family import Constraint, Family, Record, Solved
from worksheetgen.figures import Panel, plot_grid
from worksheetgen.mathfmt import num
from worksheetgen.params import Choice, Int, ListOf, Number, Param

CURVES = ("A", "B", "C", "D")  # the panels' titles in printed order: the options of every rate
ROLES = ("way_too_high", "too_high", "good", "too_low")  # by decreasing rate
ROLE_TEXT = {
    "way_too_high": "way too high",
    "too_high": "too high",
    "good": "good",
    "too_low": "too low",
}
STEPS = 300  # SGD steps shown
SAMPLES = 100  # training examples
DIM = 4  # weights
EDGE = 1.1  # (too-high rate) x (squared norm of an input): SGD on one example is stable below 2
NOISE = 1.0  # label noise, relative to the signal
L2 = 0.02  # lambda relative to the curvature
Y_MAX = 1.6  # the plot shows the loss relative to its start up to this value
TAIL = STEPS // 3  # the last third of the run: the level a curve settles at
MAX_SEED = 2**31 - 1

# ratio windows between neighbouring roles of drawn rates
RATIOS = {"way_too_high": (10, 100), "too_high": (10, 50), "too_low": (10, 50)}


def _rate_tex(rate: sp.Rational) -> str:
    """3/10000 → '3 \\times 10^{-4}' (rates are one or two digits times a power of ten)."""
    rate = sp.Rational(rate)
    exponent = floor_log10(rate)
    m = num(rate / sp.Rational(10) ** exponent)
    return f"10^{{{exponent}}}" if m == "1" else f"{m} \\times 10^{{{exponent}}}"


def simulate(rates: Sequence[float], noise_seed: int) -> np.ndarray:
    """Training loss (relative to the start) of SGD with each rate: array (len(rates), STEPS + 1).

    All rates see the same data and the same sequence of examples; the problem's scale is set by
    the second-largest rate (see the module docstring). Losses that blow up are capped at 1e30.
    """
    rates = np.asarray(rates, dtype=float)
    rng = np.random.default_rng(noise_seed)
    second = np.sort(rates)[-2]
    scale = EDGE / (DIM * second)  # feature variance: every input has squared norm DIM * scale
    u = rng.normal(size=(SAMPLES, DIM))
    x = u * np.sqrt(DIM * scale) / np.linalg.norm(u, axis=1, keepdims=True)
    w_true = rng.normal(size=DIM)
    y = x @ w_true + NOISE * np.sqrt(scale) * rng.normal(size=SAMPLES)
    lam = L2 * scale
    order = rng.integers(0, SAMPLES, size=STEPS)

    def loss(w: np.ndarray) -> np.ndarray:
        r = w @ x.T - y
        return 0.5 * np.mean(r * r, axis=1) + 0.5 * lam * np.sum(w * w, axis=1)

    w = np.zeros((len(rates), DIM))
    out = np.empty((len(rates), STEPS + 1))
    with np.errstate(over="ignore", invalid="ignore"):
        out[:, 0] = loss(w)
        for t, i in enumerate(order, start=1):
            residual = w @ x[i] - y[i]
            grad = residual[:, None] * x[i][None, :] + lam * w
            w = np.clip(w - rates[:, None] * grad, -1e12, 1e12)
            out[:, t] = loss(w)
    out = out / out[:, :1]
    return np.minimum(np.nan_to_num(out, nan=1e30, posinf=1e30), 1e30)


def curve_traits(curve: np.ndarray) -> dict[str, float]:
    """What the eye reads off a loss curve (relative loss)."""
    steps = np.diff(curve)
    blocks = curve[1:].reshape(6, -1).mean(axis=1)
    return {
        "final": float(curve[-1]),
        "tail": float(curve[-TAIL:].mean()),
        "peak": float(curve[1:].max()),
        "early": float(curve[STEPS // 20]),
        "ups": float(np.mean(steps > 0)),
        "blocks_decreasing": float(np.all(np.diff(blocks) < 0)),
    }


Traits = dict[str, dict[str, float]]  # curve_traits() of each role

# What the four curves (by role) must show for the matching to be clear, in the order checked.
SHAPE_RULES: tuple[tuple[str, Callable[[Traits], bool]], ...] = (
    ("the way-too-high rate makes the loss explode",
     lambda t: t["way_too_high"]["final"] > 10),
    ("the good rate reaches clearly the lowest loss",
     lambda t: t["good"]["tail"] < min(t["too_high"]["tail"], t["too_low"]["tail"]) - 0.08),
    ("the too-high rate bounces (the loss often increases) without exploding",
     lambda t: t["too_high"]["peak"] < 1.15 and t["too_high"]["ups"] > 0.2),
    ("the too-high rate drops faster at first than the good one",
     lambda t: t["too_high"]["early"] < t["good"]["early"]),
    ("the too-low rate decreases steadily but is still far from the minimum",
     lambda t: (t["too_low"]["tail"] > t["too_high"]["tail"] + 0.05
                and t["good"]["tail"] + 0.25 < t["too_low"]["final"] < 0.97
                and bool(t["too_low"]["blocks_decreasing"]))),
)


# Two plotted curves whose mean distance (relative loss, clipped to the plot) is below this look
# alike on the sheet: the good and the too-high curve come closest (5th percentile 0.12 at the
# defaults, seen as two clearly different curves; 0.09 still tells them apart by the bouncing).
LOOK_ALIKE = 0.08


def closest_pair_gap(curves: np.ndarray) -> float:
    """The smallest mean absolute distance between two of the curves as plotted (cut at Y_MAX)."""
    shown = np.minimum(np.asarray(curves, dtype=float), Y_MAX)
    return min(float(np.mean(np.abs(shown[i] - shown[j])))
               for i in range(len(shown)) for j in range(i + 1, len(shown)))


def role_problem(traits: Traits) -> str | None:
    """None when the four curves (by role) show their shapes clearly, else what is missing."""
    return next((rule for rule, holds in SHAPE_RULES if not holds(traits)), None)


@dataclass(frozen=True)
class RateRow:
    """One rate in the solution, by decreasing size."""

    rate: str  # TeX
    decimal: sp.Rational
    letter: str  # its curve
    role: str
    role_text: str
    tail: float  # mean relative loss over the last third of the run
    final: float  # relative loss at the end


@dataclass(frozen=True)
class LrCurvesGiven(Record):
    rates: list[sp.Rational]  # in the order listed
    letters: list[str]  # the curve of each listed rate
    noise_seed: int


@dataclass(frozen=True)
class LrCurvesData(Record):
    options: tuple[str, ...]  # the curves' letters, as titled and printed
    rate_tex: list[str]
    rows: list[RateRow]
    steps: int
    traits: Traits
    curves: Any  # array (4, STEPS + 1): each listed rate's relative loss


class LrCurves(Family):
    name = "lr_curves"
    title = "Learning rates and loss curves"
    summary = ("Four learning rates (way too high, too high, good, too low) and the loss curves "
               "A-D that SGD actually produces with them; match each rate to its curve.")
    Given = LrCurvesGiven
    Data = LrCurvesData
    constraints = tuple(
        Constraint(rule, ("rates", "noise_seed"), lambda g, s, holds=holds: holds(s.data.traits))
        for rule, holds in SHAPE_RULES) + (
        Constraint("no two curves look alike on the plot", ("rates", "noise_seed"),
                   lambda g, s: closest_pair_gap(s.data.curves) >= LOOK_ALIKE),
    )

    def quality(self, given: "LrCurvesGiven", solved: Solved) -> dict[str, bool]:
        return {
            "curves without their four shapes": role_problem(solved.data.traits) is not None,
            "two curves look alike": closest_pair_gap(solved.data.curves) < LOOK_ALIKE,
        }
    params = (
        Param("rates", ListOf(Number(positive=True), min_length=4, max_length=4), None,
              "the four learning rates in the order they are listed (largest way too high, "
              "next too high, next good, smallest too low)"),
        Param("letters", ListOf(Choice(CURVES), min_length=4, max_length=4), None,
              "the curve letter of each listed rate (a permutation of A, B, C, D)"),
        Param("noise_seed", Int(0, MAX_SEED), None,
              "seed of the simulated data and example order (drawn when not given)"),
    )

    def validate(self, options: dict[str, Any]) -> None:
        rates = options["rates"]
        if rates is not None:
            ordered = sorted(rates, reverse=True)
            if any(a < 5 * b for a, b in zip(ordered, ordered[1:])):
                raise WorksheetError(
                    "rates too close to give four distinguishable curves", field="rates",
                    allowed="four rates, each at least 5 times the next smaller one, e.g. "
                            "[3e-4, 0.4, 2e-5, 8e-3]")
        letters = options["letters"]
        if letters is not None and sorted(letters) != list(CURVES):
            raise WorksheetError("letters must use each of A, B, C, D once", field="letters",
                                 allowed="a permutation of A, B, C, D")

    def sample(self, rng: np.random.Generator, options: dict[str, Any]) -> LrCurvesGiven:
        rates = options["rates"]
        if rates is None:
            rates = self._draw_rates(rng)
            rates = [rates[int(k)] for k in rng.permutation(4)]
        letters = options["letters"]
        if letters is None:
            letters = [CURVES[int(k)] for k in rng.permutation(4)]
        seed = options["noise_seed"]
        if seed is None:
            seed = int(rng.integers(0, MAX_SEED))
        return LrCurvesGiven(list(rates), list(letters), seed)

    @staticmethod
    def _draw_rates(rng: np.random.Generator) -> list[sp.Rational]:
        """One digit times a power of ten, neighbouring roles 10-100x apart (seed: 0.4, 8e-3,
        3e-4, 2e-5)."""
        grid = [sp.Integer(m) * sp.Rational(10) ** e for e in range(-7, 1) for m in range(1, 10)]

        def pick(candidates: list[sp.Rational]) -> sp.Rational:
            return candidates[int(rng.integers(0, len(candidates)))]

        good = pick([r for r in grid if sp.Rational(1, 10**4) <= r < sp.Rational(1, 1000)])
        lo, hi = RATIOS["too_high"]
        high = pick([r for r in grid if lo * good <= r <= hi * good])
        lo, hi = RATIOS["way_too_high"]
        way = pick([r for r in grid if lo * high <= r <= min(hi * high, 1)])
        lo, hi = RATIOS["too_low"]
        low = pick([r for r in grid if good / hi <= r <= good / lo])
        return [way, high, good, low]

    def solve(self, given: LrCurvesGiven) -> Solved:
        rates, letters = given.rates, given.letters
        by_size = sorted(range(4), key=lambda i: rates[i], reverse=True)
        role_of = {i: ROLES[k] for k, i in enumerate(by_size)}
        curves = simulate([float(r) for r in rates], given.noise_seed)
        traits = {role_of[i]: curve_traits(curves[i]) for i in range(4)}
        rate_of_letter = {letters[i]: i for i in range(4)}
        its = np.arange(STEPS + 1)
        panels = [Panel([("", its, curves[rate_of_letter[letter]], "solid")], title=letter,
                        xlabel=r"\text{iteration}", ylabel=r"\text{loss}",
                        xlim=(-STEPS / 25, STEPS), ylim=(0, Y_MAX), legend="none")
                  for letter in CURVES]
        figure = plot_grid(panels, columns=2, name="curves", width=5.2, height=3.0)
        answers = [ChoiceAnswer(f"alpha{i + 1}", rf"\alpha = {_rate_tex(rates[i])}",
                                options=CURVES, correct=CURVES.index(letters[i]))
                   for i in range(4)]
        rows = [RateRow(rate=_rate_tex(rates[i]), decimal=rates[i], letter=answers[i].value,
                        role=ROLES[k], role_text=ROLE_TEXT[ROLES[k]],
                        tail=traits[ROLES[k]]["tail"], final=traits[ROLES[k]]["final"])
                for k, i in enumerate(by_size)]
        data = LrCurvesData(options=CURVES, rate_tex=[_rate_tex(r) for r in rates], rows=rows,
                            steps=STEPS, traits=traits, curves=curves)
        return Solved(answers, data, [figure])

    def check(self, given: LrCurvesGiven) -> dict[str, Any]:
        # Re-run SGD one rate at a time with plain loops, classify the curves by their shape
        # alone (explodes / settles lowest / settles highest / the rest), then give each shape
        # to the rate of that rank: no use of solve()'s bookkeeping.
        rates = [float(r) for r in given.rates]
        finals, tails = [], []
        for rate in rates:
            curve = _plain_sgd(rate, rates, given.noise_seed)
            finals.append(curve[-1])
            tails.append(sum(curve[-TAIL:]) / TAIL)
        exploding = max(range(4), key=lambda i: finals[i])
        rest = [i for i in range(4) if i != exploding]
        lowest = min(rest, key=lambda i: tails[i])
        highest = max(rest, key=lambda i: tails[i])
        bouncing = next(i for i in rest if i not in (lowest, highest))
        shape_of_curve = {exploding: "way_too_high", bouncing: "too_high", lowest: "good",
                          highest: "too_low"}
        by_size = sorted(range(4), key=lambda i: rates[i], reverse=True)
        rate_of_role = {ROLES[k]: i for k, i in enumerate(by_size)}
        return {f"alpha{rate_of_role[shape] + 1}": given.letters[curve]
                for curve, shape in shape_of_curve.items()}


def _plain_sgd(rate: float, rates: Sequence[float], noise_seed: int) -> list[float]:
    """One rate's relative losses, written out with Python loops over coordinates."""
    rng = np.random.default_rng(noise_seed)
    second = sorted(rates)[-2]
    scale = EDGE / (DIM * second)
    u = rng.normal(size=(SAMPLES, DIM))
    norms = np.sqrt((u ** 2).sum(axis=1))
    x = [[float(u[n, k] / norms[n] * (DIM * scale) ** 0.5) for k in range(DIM)] for n in range(SAMPLES)]
    w_true = rng.normal(size=DIM)
    noise = rng.normal(size=SAMPLES)
    y = [sum(x[n][k] * float(w_true[k]) for k in range(DIM)) + NOISE * scale ** 0.5 * float(noise[n])
         for n in range(SAMPLES)]
    lam = L2 * scale
    order = rng.integers(0, SAMPLES, size=STEPS)
    # The loss as a quadratic form, J(w) = w'Aw/2 - b'w + c, instead of summing residuals.
    xm = np.array(x)
    ym = np.array(y)
    a = xm.T @ xm / SAMPLES + lam * np.eye(DIM)
    b = xm.T @ ym / SAMPLES
    c = float(ym @ ym) / (2 * SAMPLES)

    def loss(w: list[float]) -> float:
        v = np.array(w)
        return min(float(v @ a @ v / 2 - b @ v + c), 1e300)

    w = [0.0] * DIM
    start = loss(w)
    out = [1.0]
    for i in order:
        r = sum(x[i][k] * w[k] for k in range(DIM)) - y[i]
        w = [max(-1e12, min(1e12, w[k] - rate * (r * x[i][k] + lam * w[k]))) for k in range(DIM)]
        out.append(loss(w) / start)
    return out
