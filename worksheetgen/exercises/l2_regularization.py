"""L2 regularization (seed 004 Ex6): the weight penalty and one gradient-descent step with
weight decay, w − η(∂L/∂w + c λ w).

Three conventions, each stated in the text the student reads:
- ``gradient`` (default, the textbook one): penalty λ Σ w², update with 2λ w (c = 2, the
                derivative of the penalty). The concept bank (question l2-update) keys the same.
- ``half``:     penalty (λ/2) Σ w², update with λ w (c = 1, the derivative of the penalty).
- ``seed``:     penalty λ Σ w², update with λ w (c = 1), as seed 004 Ex6 does, to reproduce its
                numbers. That step is gradient descent on L + (λ/2) Σ w², not on the printed
                L + λ Σ w², so the problem itself says which term this sheet uses and why
                (never a printed λ Σ w² silently followed by an update with λ w).
Everything is an exact decimal.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import sympy as sp

from worksheetgen.answers import MatrixAnswer, NumberAnswer
from worksheetgen.errors import WorksheetError
from worksheetgen.family import Constraint, Family, Record, Solved
from worksheetgen.params import Choice, Int, ListOf, Number, Param
from worksheetgen.sampling import grid_param, nonzero_grid_values, require_grid

CONVENTIONS = ("gradient", "half", "seed")
# (penalty factor in front of Σw², c in the update)
FACTORS = {
    "seed": (sp.Integer(1), sp.Integer(1)),
    "gradient": (sp.Integer(1), sp.Integer(2)),
    "half": (sp.Rational(1, 2), sp.Integer(1)),
}
# The decay term as the student reads it (an LMS shows the label with the answer box).
DECAY_LABEL = {"gradient": r"2\lambda W", "half": r"\lambda W", "seed": r"\lambda W"}
LAMBDAS = tuple(sp.Rational(v) for v in ("0.01", "0.02", "0.05", "0.1"))
RATES = tuple(sp.Rational(v) for v in ("0.01", "0.05", "0.1", "0.2", "0.5"))


def _row(values: list[sp.Expr]) -> sp.Matrix:
    return sp.Matrix([list(values)])


@dataclass(frozen=True)
class L2RegularizationGiven(Record):
    convention: str
    weights: tuple[sp.Rational, ...]
    gradient: tuple[sp.Rational, ...]
    lam: sp.Rational
    eta: sp.Rational


@dataclass(frozen=True)
class L2RegularizationData(Record):
    factor: sp.Rational  # in front of Σw² in the penalty
    c: sp.Integer  # the decay term is cλw
    squares: tuple[sp.Rational, ...]
    sum_sq: sp.Rational
    penalty: sp.Rational
    decay: tuple[sp.Rational, ...]
    total: tuple[sp.Rational, ...]  # ∂L/∂w + cλw
    step: tuple[sp.Rational, ...]
    new: tuple[sp.Rational, ...]
    n: int


class L2Regularization(Family):
    name = "l2_regularization"
    title = "L2 regularization and weight decay"
    summary = ("Penalty λΣw² (or (λ/2)Σw²) and one gradient step w − η(∂L/∂w + 2λw) (or + λw, "
               "as stated) for 3–5 weights.")
    Given = L2RegularizationGiven
    Data = L2RegularizationData
    params = (
        Param("convention", Choice(CONVENTIONS), "gradient",
              "gradient: penalty λΣw², update with its derivative 2λw (the default); half: penalty "
              "(λ/2)Σw², update with λw; seed: penalty λΣw² but update with λw, as seed 004 Ex6 "
              "(the problem states that it uses λw, the derivative of (λ/2)Σw²)"),
        Param("n", Int(minimum=2, maximum=8), None, "number of weights (drawn from 3 to 5 unless weights are given)"),
        Param("weights", ListOf(Number(), min_length=2, max_length=8), None, "the weights W"),
        Param("gradient", ListOf(Number(), min_length=2, max_length=8), None, "the loss gradient ∂L/∂W"),
        Param("lam", Number(positive=True, maximum=10), None, "the regularization strength λ (drawn from 0.01, 0.02, 0.05, 0.1)"),
        Param("eta", Number(positive=True, maximum=10), None, "the learning rate η (drawn from 0.01, 0.05, 0.1, 0.2, 0.5)"),
        grid_param("weight_grid", (-3, 3, 0.5), "[lo, hi, step] for drawn weights (never 0)"),
        grid_param("gradient_grid", (-1, 1, 0.1), "[lo, hi, step] for a drawn gradient (never 0)"),
    )
    constraints = (
        Constraint("weights of more than one size", ("weights",),
                   lambda g, s: len({abs(v) for v in g.weights}) >= 2),
        Constraint("no weight whose regularized gradient is exactly 0", ("weights", "gradient", "lam"),
                   lambda g, s: all(t != 0 for t in s.data.total)),
    )

    def validate(self, options: dict[str, Any]) -> None:
        for key in ("weight_grid", "gradient_grid"):
            require_grid(options, key, nonzero=True)
        sizes = {k: len(options[k]) for k in ("weights", "gradient") if options[k] is not None}
        if options["n"] is not None:
            sizes["n"] = options["n"]
        if len(set(sizes.values())) > 1:
            field = "gradient" if "gradient" in sizes else "n"
            raise WorksheetError(
                "the numbers of weights and gradient entries differ: "
                + ", ".join(f"{k} has {v}" for k, v in sizes.items()),
                field=field, allowed="as many gradient entries as weights")

    def sample(self, rng: np.random.Generator, options: dict[str, Any]) -> L2RegularizationGiven:
        n = options["n"]
        for key in ("weights", "gradient"):
            if options[key] is not None:
                n = len(options[key])
        if n is None:
            n = int(rng.integers(3, 6))
        weights = options["weights"] or nonzero_grid_values(rng, *options["weight_grid"], size=n)
        gradient = options["gradient"] or nonzero_grid_values(rng, *options["gradient_grid"], size=n)
        lam = options["lam"] if options["lam"] is not None else LAMBDAS[int(rng.integers(len(LAMBDAS)))]
        eta = options["eta"] if options["eta"] is not None else RATES[int(rng.integers(len(RATES)))]
        return L2RegularizationGiven(convention=options["convention"], weights=tuple(weights),
                                     gradient=tuple(gradient), lam=lam, eta=eta)

    def solve(self, given: L2RegularizationGiven) -> Solved:
        w, grad, lam, eta = given.weights, given.gradient, given.lam, given.eta
        factor, c = FACTORS[given.convention]
        squares = tuple(v**2 for v in w)
        sum_sq = sum(squares, sp.Integer(0))
        penalty = factor * lam * sum_sq
        decay = tuple(c * lam * v for v in w)
        total = tuple(gi + di for gi, di in zip(grad, decay))
        step = tuple(eta * t for t in total)
        new = tuple(v - s for v, s in zip(w, step))
        data = L2RegularizationData(factor=factor, c=c, squares=squares, sum_sq=sum_sq, penalty=penalty,
                                    decay=decay, total=total, step=step, new=new, n=len(w))
        answers = [
            NumberAnswer("penalty", r"\text{Penalty}", penalty),
            MatrixAnswer("decay", DECAY_LABEL[given.convention], _row(decay)),
            MatrixAnswer("w_new", r"W_{\text{new}}", _row(new)),
        ]
        return Solved(answers, data)

    def check(self, given: L2RegularizationGiven) -> dict[str, Any]:
        """Python fractions, from the penalty's definition: every given is an exact decimal, so
        the update is computed exactly (a float step w − η(…) could cancel away the digits that
        matter when w is large and ηλ close to 1)."""
        def exact(v: sp.Rational) -> Fraction:
            return Fraction(int(v.p), int(v.q))

        w = [exact(v) for v in given.weights]
        grad = [exact(v) for v in given.gradient]
        lam, eta = exact(given.lam), exact(given.eta)
        # The printed penalty's factor; its derivative gives the decay term for the consistent
        # conventions, while the seed's convention uses half of it on purpose.
        scale = {"seed": Fraction(1), "gradient": Fraction(1), "half": Fraction(1, 2)}[given.convention]
        halve = {"seed": Fraction(1, 2), "gradient": Fraction(1), "half": Fraction(1)}[given.convention]
        penalty = scale * lam * sum(v * v for v in w)
        decay = [halve * 2 * scale * lam * v for v in w]
        new = [v - eta * (gv + dv) for v, gv, dv in zip(w, grad, decay)]
        return {"penalty": float(penalty), "decay": np.array([[float(v) for v in decay]]),
                "w_new": np.array([[float(v) for v in new]])}
