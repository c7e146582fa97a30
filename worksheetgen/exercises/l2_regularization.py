"""L2 regularization (seed 004 Ex6): the weight penalty and one gradient-descent step with
weight decay, w − η(∂L/∂w + c λ w).

Three conventions, each stated in the text:
- ``seed``:     penalty λ Σ w², update with λ w (c = 1), as the seed does. This step is gradient
                descent on L + (λ/2) Σ w², not on L + λ Σ w² (whose gradient is 2λw); the solution says so.
- ``gradient``: penalty λ Σ w², update with 2λ w (c = 2, the derivative of the penalty).
- ``half``:     penalty (λ/2) Σ w², update with λ w (c = 1, the derivative of the penalty).
Everything is an exact decimal.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp

from worksheetgen.errors import WorksheetError
from worksheetgen.family import Answer, Family, Solved
from worksheetgen.params import Choice, Int, ListOf, Number, Param
from worksheetgen.sampling import require_grid, grid_param, nonzero_grid_values

CONVENTIONS = ("seed", "gradient", "half")
# (penalty factor in front of Σw², c in the update)
FACTORS = {
    "seed": (sp.Integer(1), sp.Integer(1)),
    "gradient": (sp.Integer(1), sp.Integer(2)),
    "half": (sp.Rational(1, 2), sp.Integer(1)),
}
LAMBDAS = tuple(sp.Rational(v) for v in ("0.01", "0.02", "0.05", "0.1"))
RATES = tuple(sp.Rational(v) for v in ("0.01", "0.05", "0.1", "0.2", "0.5"))


def _row(values: list[sp.Expr]) -> sp.Matrix:
    return sp.Matrix([list(values)])


class L2Regularization(Family):
    name = "l2_regularization"
    title = "L2 regularization and weight decay"
    summary = "Penalty λΣw² (or (λ/2)Σw²) and one gradient step w − η(∂L/∂w + cλw) for 3–5 weights."
    params = (
        Param("convention", Choice(CONVENTIONS), "seed",
              "seed: penalty λΣw², update with λw (as the seed); gradient: penalty λΣw², update with 2λw; "
              "half: penalty (λ/2)Σw², update with λw"),
        Param("n", Int(minimum=2, maximum=8), None, "number of weights (drawn from 3 to 5 unless weights are given)"),
        Param("weights", ListOf(Number(), min_length=2, max_length=8), None, "the weights W"),
        Param("gradient", ListOf(Number(), min_length=2, max_length=8), None, "the loss gradient ∂L/∂W"),
        Param("lam", Number(positive=True, maximum=10), None, "the regularization strength λ (drawn from 0.01, 0.02, 0.05, 0.1)"),
        Param("eta", Number(positive=True, maximum=10), None, "the learning rate η (drawn from 0.01, 0.05, 0.1, 0.2, 0.5)"),
        grid_param("weight_grid", (-3, 3, 0.5), "[lo, hi, step] for drawn weights (never 0)"),
        grid_param("gradient_grid", (-1, 1, 0.1), "[lo, hi, step] for a drawn gradient (never 0)"),
    )

    def validate(self, options: dict[str, Any]) -> None:
        for key in ("weight_grid", "gradient_grid"):
            require_grid(options, key)
            lo, hi, _ = options[key]
            if lo == hi == 0:
                raise WorksheetError("the grid holds only 0", field=key, allowed="a grid with a non-zero value")
        sizes = {k: len(options[k]) for k in ("weights", "gradient") if options[k] is not None}
        if options["n"] is not None:
            sizes["n"] = options["n"]
        if len(set(sizes.values())) > 1:
            field = "gradient" if "gradient" in sizes else "n"
            raise WorksheetError(
                "the numbers of weights and gradient entries differ: "
                + ", ".join(f"{k} has {v}" for k, v in sizes.items()),
                field=field, allowed="as many gradient entries as weights")

    def sample(self, rng: np.random.Generator, options: dict[str, Any]) -> dict[str, Any]:
        given: dict[str, Any] = {"convention": options["convention"]}
        n = options["n"]
        for key in ("weights", "gradient"):
            if options[key] is not None:
                n = len(options[key])
        if n is None:
            n = int(rng.integers(3, 6))
        given["weights"] = options["weights"] or nonzero_grid_values(rng, *options["weight_grid"], size=n)
        given["gradient"] = options["gradient"] or nonzero_grid_values(rng, *options["gradient_grid"], size=n)
        given["lam"] = options["lam"] if options["lam"] is not None else LAMBDAS[int(rng.integers(len(LAMBDAS)))]
        given["eta"] = options["eta"] if options["eta"] is not None else RATES[int(rng.integers(len(RATES)))]
        return given

    def solve(self, given: dict[str, Any]) -> Solved:
        w, grad, lam, eta = given["weights"], given["gradient"], given["lam"], given["eta"]
        factor, c = FACTORS[given["convention"]]
        squares = [v**2 for v in w]
        sum_sq = sum(squares, sp.Integer(0))
        penalty = factor * lam * sum_sq
        decay = [c * lam * v for v in w]
        total = [gi + di for gi, di in zip(grad, decay)]
        step = [eta * t for t in total]
        new = [v - s for v, s in zip(w, step)]
        data = dict(factor=factor, c=c, squares=squares, sum_sq=sum_sq, penalty=penalty, decay=decay,
                    total=total, step=step, new=new, n=len(w))
        answers = [
            Answer("penalty", r"\text{Penalty}", penalty),
            Answer("decay", r"c\lambda W", _row(decay), kind="matrix"),
            Answer("w_new", r"W_{\text{new}}", _row(new), kind="matrix"),
        ]
        return Solved(answers, data)

    def rejection(self, given: dict[str, Any], solved: Solved) -> str | None:
        w = given["weights"]
        if len({abs(v) for v in w}) < 2:
            return "weights of more than one size"
        if any(s == 0 for s in solved.data["total"]):
            return "no weight whose regularized gradient is exactly 0"
        return None

    def check(self, given: dict[str, Any]) -> dict[str, Any]:
        w = np.array([float(v) for v in given["weights"]])
        grad = np.array([float(v) for v in given["gradient"]])
        lam, eta = float(given["lam"]), float(given["eta"])
        # The penalty's own derivative, taken numerically, gives the decay term for the consistent
        # conventions; the seed's convention halves it on purpose.
        scale = {"seed": 1.0, "gradient": 1.0, "half": 0.5}[given["convention"]]
        halve = {"seed": 0.5, "gradient": 1.0, "half": 1.0}[given["convention"]]
        penalty = scale * lam * float(np.dot(w, w))
        decay = halve * 2 * scale * lam * w
        return {"penalty": penalty, "decay": decay.reshape(1, -1), "w_new": (w - eta * (grad + decay)).reshape(1, -1)}
