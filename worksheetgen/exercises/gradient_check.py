"""Gradient checking (seed 004 Ex5): an analytic gradient against the central difference
(L(W+ε) − L(W−ε)) / (2ε) computed exactly with the given ε, and their relative error.

Models: ŷ = g(W x + b) with g the identity (the seed), the sigmoid or tanh, and L = ½(y − ŷ)².
For the linear model L is a quadratic in W, so the central difference is exact (rational
arithmetic shows a relative error of exactly 0); for the smooth models it carries an O(ε²)
truncation error, kept in closed form. In the "verify" variant the student is handed an analytic
gradient that may contain a typical mistake, which the relative error must expose.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import mpmath
import numpy as np
import sympy as sp

from worksheetgen import activations
from worksheetgen.errors import WorksheetError
from worksheetgen.family import Answer, Family, Solved
from worksheetgen.params import Bool, Choice, ListOf, Number, Param
from worksheetgen.sampling import require_grid, grid_param, grid_values, nonzero_grid_values

MODELS = {"linear": "identity", "sigmoid": "sigmoid", "tanh": "tanh"}
MISTAKES = ("sign", "missing_x", "factor_2")
RELATIVE_ERRORS = ("max", "sum")
# Targets a model can reach: a sigmoid output lives in (0, 1), a tanh output in (-1, 1).
TARGET_GRIDS = {
    "linear": (sp.Integer(-2), sp.Integer(2), sp.Rational(1, 10)),
    "sigmoid": (sp.Integer(0), sp.Integer(1), sp.Rational(1, 10)),
    "tanh": (sp.Integer(-1), sp.Integer(1), sp.Rational(1, 10)),
}
MISTAKE_TEX = {
    "sign": r"the minus sign of $\frac{\partial L}{\partial \hat{y}} = -(y - \hat{y})$ is missing, so the "
            r"gradient points the wrong way",
    "missing_x": r"the inner derivative $\frac{\partial z}{\partial W} = x$ of $z = W x + b$ is missing",
    "factor_2": r"the $\frac{1}{2}$ of the loss was forgotten: the derivative $-2(y - \hat{y})$ of "
                r"$(y - \hat{y})^2$ was used, which doubles the gradient",
}
# ∂ŷ/∂z written with ŷ, as students write it.
GPRIME_TEX = {"linear": "", "sigmoid": r" \cdot \hat{y}(1 - \hat{y})", "tanh": r" \cdot (1 - \hat{y}^2)"}
MISTAKE_TEXT = {
    "sign": "missing minus sign: dL/dy_hat = -(y - y_hat) was used as +(y - y_hat)",
    "missing_x": "missing factor x: the inner derivative dz/dW = x was dropped",
    "factor_2": "forgot the 1/2 of the loss: the derivative of (y - y_hat)^2 was used, doubling the gradient",
}


def _abs(e: sp.Expr) -> sp.Expr:
    """|e| kept exact: the sign is read off a 50-digit evaluation (e is never 0 here unless exactly 0)."""
    if e == 0:
        return sp.Integer(0)
    return e if sp.N(e, 50) > 0 else -e


def _power_of_ten(x: sp.Rational) -> int | None:
    for k in range(-12, 13):
        if x == sp.Rational(10) ** k:
            return k
    return None


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
    params = (
        Param("model", Choice(tuple(MODELS)), "linear",
              "linear: ŷ = W x + b (the seed; the central difference is exact); sigmoid / tanh: ŷ = g(W x + b)"),
        Param("W", Number(), None, "the weight W"),
        Param("x", Number(), None, "the input x"),
        Param("b", Number(), None, "the bias b"),
        Param("y", Number(), None, "the target y"),
        Param("epsilon", Number(positive=True, maximum=0.5), sp.Rational(1, 10**4), "the step ε of the central difference"),
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
              "the mistake in a wrong gradient: sign (missing minus), missing_x (missing factor x), "
              "factor_2 (forgot the ½ of the loss)"),
        grid_param("weight_grid", (-1, 1, 0.1), "[lo, hi, step] for a drawn W"),
        grid_param("input_grid", (-2, 2, 0.5), "[lo, hi, step] for a drawn x (never 0)"),
        grid_param("bias_grid", (-0.5, 0.5, 0.1), "[lo, hi, step] for a drawn b"),
        Param("target_grid", ListOf(Number(), min_length=3, max_length=3), None,
              "[lo, hi, step] for a drawn y (default: [-2, 2, 0.1] linear, [0, 1, 0.1] sigmoid, [-1, 1, 0.1] tanh)"),
    )

    def validate(self, options: dict[str, Any]) -> None:
        for key in ("weight_grid", "input_grid", "bias_grid", "target_grid"):
            require_grid(options, key)
        if options["x"] is not None and options["x"] == 0:
            raise WorksheetError("x = 0 makes ∂L/∂W = 0: nothing to check", field="x",
                                 allowed="a non-zero number")
        lo, hi, _ = options["input_grid"]
        if lo == hi == 0:
            raise WorksheetError("the grid holds only x = 0", field="input_grid",
                                 allowed="a grid with a non-zero value")
        if options["wrong_gradient"] is False and options["mistake"] is not None:
            raise WorksheetError("a mistake was chosen but wrong_gradient = false", field="mistake",
                                 allowed="leave mistake unset, or set wrong_gradient = true")
        if (options["mistake"] is not None and options["wrong_gradient"] is None
                and options["wrong_probability"] == 0):
            raise WorksheetError("a mistake was chosen but no gradient is ever wrong", field="mistake",
                                 allowed="set wrong_gradient = true or wrong_probability > 0 as well")
        if (options["mistake"] == "missing_x" and options["x"] is not None and abs(options["x"]) == 1
                and options["wrong_gradient"]):
            raise WorksheetError(
                "with x = ±1 a missing factor x is invisible (or looks like a sign error)",
                field="mistake", allowed="sign or factor_2, or an x other than ±1")

    def sample(self, rng: np.random.Generator, options: dict[str, Any]) -> dict[str, Any]:
        given: dict[str, Any] = {k: options[k] for k in ("model", "epsilon", "relative_error", "threshold")}
        target_grid = options["target_grid"] or TARGET_GRIDS[options["model"]]
        grids = {"W": options["weight_grid"], "x": options["input_grid"], "b": options["bias_grid"],
                 "y": target_grid}
        for key, grid in grids.items():
            if options[key] is not None:
                given[key] = options[key]
            elif key == "x":
                given[key] = nonzero_grid_values(rng, *grid)
            else:
                given[key] = grid_values(rng, *grid)
        wrong = options["wrong_gradient"]
        given["verify"] = wrong is not None or options["wrong_probability"] > 0
        if wrong is None:
            wrong = bool(rng.random() < float(options["wrong_probability"]))
        given["wrong"] = wrong
        if wrong:
            given["mistake"] = options["mistake"] or MISTAKES[int(rng.integers(len(MISTAKES)))]
        else:
            given["mistake"] = None
        return given

    def solve(self, given: dict[str, Any]) -> Solved:
        g = activations.get(MODELS[given["model"]])
        W, x, b, y, eps = (given[k] for k in ("W", "x", "b", "y", "epsilon"))

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
        }[given["mistake"]]

        z_plus, yhat_plus, loss_plus = loss_at(W + eps)
        z_minus, yhat_minus, loss_minus = loss_at(W - eps)
        diff = loss_plus - loss_minus
        numerical = diff / (2 * eps)

        gap = _abs(claimed - numerical)
        abs_a, abs_n = _abs(claimed), _abs(numerical)
        if given["relative_error"] == "max":
            denom = abs_a if sp.N(abs_a - abs_n, 50) >= 0 else abs_n
        else:
            denom = abs_a + abs_n
        rel = gap / denom if denom != 0 else sp.Integer(0)
        decision = bool(sp.N(rel, 50) < given["threshold"])

        # The O(ε²) term of the central difference, ε²/6 · L'''(W), explains the smooth models' error.
        # L'''(W) = x^3 (3 f' f'' - (y - yhat) f''') with f's derivatives written in yhat:
        # sp.diff of the nested exponentials is far slower.
        f1, f2, f3 = _derivatives(given["model"], yhat)
        third = x**3 * (3 * f1 * f2 - (y - yhat) * f3)
        truncation = eps**2 / 6 * third

        data = dict(
            g=g, z=z, yhat=yhat, loss=loss, gprime=gprime, dl_dyhat=dl_dyhat, grad=grad, claimed=claimed,
            W_plus=W + eps, W_minus=W - eps, z_plus=z_plus, z_minus=z_minus,
            yhat_plus=yhat_plus, yhat_minus=yhat_minus, loss_plus=loss_plus, loss_minus=loss_minus,
            diff=diff, two_eps=2 * eps, numerical=numerical, gap=gap, abs_a=abs_a, abs_n=abs_n,
            denom=denom, rel=rel, decision=decision, truth=not given["wrong"],
            misleading=decision != (not given["wrong"]), truncation=truncation,
            eps_power=_power_of_ten(eps), threshold_power=_power_of_ten(given["threshold"]), linear=given["model"] == "linear",
            mistake_tex=MISTAKE_TEX.get(given["mistake"] or "", ""),
            formula_true=_formula(given["model"], None),
            formula_claimed=_formula(given["model"], given["mistake"]),
        )
        answers = [Answer("yhat", r"\hat{y}", yhat)]
        if given["verify"]:
            answers.append(Answer("grad_claimed", r"g_a", claimed))
        answers += [
            Answer("grad_analytic", r"\frac{\partial L}{\partial W}", grad),
            Answer("loss_plus", r"L(W + \varepsilon)", loss_plus),
            Answer("loss_minus", r"L(W - \varepsilon)", loss_minus),
            Answer("grad_numerical", r"g_n", numerical),
            Answer("rel_error", r"\text{relative error}", rel),
            Answer("correct", r"\text{analytic gradient correct?}", not given["wrong"], kind="boolean"),
        ]
        if given["wrong"]:
            answers.append(Answer("mistake", r"\text{mistake}", MISTAKE_TEXT[given["mistake"]], kind="text"))
        return Solved(answers, data)

    def rejection(self, given: dict[str, Any], solved: Solved) -> str | None:
        d = solved.data
        if d["grad"] == 0 or sp.N(_abs(d["grad"]), 30) < sp.Rational(1, 1000):
            return "a gradient that is not (nearly) zero"
        if abs(sp.N(d["z"], 30)) > 4:
            return "an output unit that is not saturated (|z| ≤ 4)"
        if given["wrong"] and sp.N(_abs(d["claimed"] - d["grad"]), 30) < sp.Rational(1, 1000):
            return "a mistake that changes the gradient"
        if given["mistake"] == "missing_x" and abs(given["x"]) == 1:
            return "a missing factor x that does not look like a sign error"
        if d["misleading"]:
            return "the relative-error test with this ε and threshold gives the right verdict"
        return None

    def check(self, given: dict[str, Any]) -> dict[str, Any]:
        if given["model"] == "linear":
            return self._check_linear(given)
        return self._check_smooth(given)

    def _check_linear(self, given: dict[str, Any]) -> dict[str, Any]:
        # Python fractions: the central difference of a quadratic is exact, so the check is too.
        W, x, b, y, eps = (Fraction(int(given[k].p), int(given[k].q)) for k in ("W", "x", "b", "y", "epsilon"))

        def loss(w: Fraction) -> Fraction:
            return (y - (w * x + b)) ** 2 / 2

        yhat = W * x + b
        true_grad = (yhat - y) * x
        claimed = self._claimed(given["mistake"], true_grad, y - yhat, x)
        numerical = (loss(W + eps) - loss(W - eps)) / (2 * eps)
        rel = self._relative(given["relative_error"], claimed, numerical)
        return self._pack(given, yhat, claimed, true_grad, loss(W + eps), loss(W - eps), numerical, rel)

    def _check_smooth(self, given: dict[str, Any]) -> dict[str, Any]:
        W, x, b, y, eps = (float(given[k]) for k in ("W", "x", "b", "y", "epsilon"))
        if given["model"] == "sigmoid":
            f = lambda z: 1.0 / (1.0 + np.exp(-z))  # noqa: E731
            fp = lambda z: np.exp(-z) / (1.0 + np.exp(-z)) ** 2  # noqa: E731
        else:
            f, fp = np.tanh, lambda z: 1.0 / np.cosh(z) ** 2  # noqa: E731

        def loss(w: float) -> float:
            return 0.5 * (y - f(w * x + b)) ** 2

        z = W * x + b
        true_grad = (f(z) - y) * fp(z) * x
        claimed = self._claimed(given["mistake"], true_grad, (y - f(z)) * fp(z), x)
        numerical = (loss(W + eps) - loss(W - eps)) / (2 * eps)
        # g_a − g_n is ~1e-9 of g, far below double precision after the subtraction of two
        # nearly equal losses; the relative error alone is recomputed with 50-digit mpmath.
        with mpmath.workdps(50):
            P = lambda r: mpmath.mpf(int(r.p)) / int(r.q)  # noqa: E731
            mW, mx, mb, my, me = (P(given[k]) for k in ("W", "x", "b", "y", "epsilon"))
            mf = (lambda t: 1 / (1 + mpmath.exp(-t))) if given["model"] == "sigmoid" else mpmath.tanh
            mloss = lambda w: (my - mf(w * mx + mb)) ** 2 / 2  # noqa: E731
            mz = mW * mx + mb
            mfp = mf(mz) * (1 - mf(mz)) if given["model"] == "sigmoid" else 1 - mf(mz) ** 2
            m_claimed = self._claimed(given["mistake"], (mf(mz) - my) * mfp * mx, (my - mf(mz)) * mfp, mx)
            m_numerical = (mloss(mW + me) - mloss(mW - me)) / (2 * me)
            rel = float(self._relative(given["relative_error"], m_claimed, m_numerical))
        return self._pack(given, f(z), claimed, true_grad, loss(W + eps), loss(W - eps), numerical, rel)

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
    def _pack(given: dict[str, Any], yhat: Any, claimed: Any, true_grad: Any, lp: Any, lm: Any,
              numerical: Any, rel: Any) -> dict[str, Any]:
        out = {"yhat": float(yhat), "grad_analytic": float(true_grad), "loss_plus": float(lp),
               "loss_minus": float(lm), "grad_numerical": float(numerical), "rel_error": float(rel),
               # The truth, from the two gradients themselves (not from the relative-error verdict).
               "correct": bool(abs(claimed - true_grad) <= 1e-12 * abs(true_grad))}
        if given["verify"]:
            out["grad_claimed"] = float(claimed)
        if given["wrong"]:
            out["mistake"] = MISTAKE_TEXT[given["mistake"]]
        return out
