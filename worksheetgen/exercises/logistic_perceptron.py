"""The perceptron learning rule and gradient descent for logistic regression, by hand.

Perceptron: ŷ = 1 if w·x + b ≥ 0, else 0 (labels {0, 1}) or −1 (labels {−1, 1}); after each
example w ← w + η(y − ŷ)x and b ← b + η(y − ŷ), examples visited in the order given, for a
number of epochs. Every number is a rational (Fraction-exact).

Logistic regression: ŷ = σ(w·x + b), the loss is the mean binary cross-entropy of a small
batch, and its gradient is ∂J/∂w = (1/m) Σ (σ(w·x_i + b) − y_i) x_i, ∂J/∂b = (1/m) Σ (σ(·) − y_i);
one or a few steps w ← w − η ∂J/∂w. Exact with SymPy (σ of a rational is 1/(1 + e^{−z})).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import sympy as sp

from worksheetgen import mathfmt
from worksheetgen.answers import Answer, BooleanAnswer, IntegerAnswer, MatrixAnswer, NumberAnswer
from worksheetgen.errors import CheckError, WorksheetError
from worksheetgen.family import Constraint, Family, Record, Solved
from worksheetgen.params import Choice, Int, ListOf, Matrix, Number, Param
from worksheetgen.sampling import grid_param, grid_values, require_grid

PARTS = ("perceptron", "logistic")
LABELS = ("01", "pm1")
# Limits, as the help texts state them: hand-sized data (at most 8 perceptron examples and 6
# logistic ones, of at most 4 features; 5 epochs; 2 logistic steps), values within ±10, so every
# pre-activation stays below 4·10·10 + 10 in size and σ of it is a finite float. The exact value
# after a second step nests σ of the first step's weights, so its size grows like batch^steps:
# 2 steps of 6 examples keep a key entry to a few kilobytes and a solve under a second.
MAX_POINTS = 8
MAX_BATCH = 6
MAX_FEATURES = 4
MAX_EPOCHS = 5
MAX_STEPS = 2
VALUE_LIMIT = 10
ETA_LIMIT = 10
Z_PLEASANT = 4  # drawn logistic pre-activations stay within ±4 (σ neither 0 nor 1 to 4 digits)
# Drawn logistic gradients and updated parameters are at least this in size: a gradient of 0.003
# (or one that is 0 without looking it, σ(z) + σ(-z) - 1) is another exercise than one of 0.3.
FLOOR = sp.Rational(1, 100)
P_ETAS = (sp.Integer(1), sp.Rational(1, 2))
LR_ETAS = (sp.Rational(1, 10), sp.Rational(1, 2), sp.Integer(1))


def _labels(rng: np.random.Generator, n: int, low: int) -> tuple[int, ...]:
    """n labels in {low, 1} with both classes when n > 1: the bits of one number drawn from
    1 … 2^n − 2 (every mixed pattern equally likely, no redraw)."""
    if n == 1:
        return (1 if rng.integers(0, 2) else low,)
    bits = int(rng.integers(1, 2**n - 1))
    return tuple(1 if (bits >> i) & 1 else low for i in range(n))


def _row(values: Any) -> sp.ImmutableMatrix:
    return sp.ImmutableMatrix([list(values)])


@dataclass(frozen=True)
class LogisticPerceptronGiven(Record):
    parts: tuple[str, ...]
    labels: str
    # perceptron
    p_X: sp.ImmutableMatrix | None = None  # one example per row
    p_y: tuple[int, ...] | None = None
    p_w: tuple[sp.Rational, ...] | None = None
    p_b: sp.Rational | None = None
    p_eta: sp.Rational | None = None
    epochs: int | None = None
    # logistic regression
    lr_X: sp.ImmutableMatrix | None = None
    lr_y: tuple[int, ...] | None = None
    lr_w: tuple[sp.Rational, ...] | None = None
    lr_b: sp.Rational | None = None
    lr_eta: sp.Rational | None = None
    lr_steps: int | None = None


@dataclass(frozen=True)
class PerceptronStep(Record):
    t: int  # step number, 1-based
    epoch: int
    i: int  # example, 1-based
    x: tuple[sp.Rational, ...]
    y: int
    z: sp.Rational
    z_terms: str  # TeX of w·x + b written out
    yhat: int
    error: int  # y − ŷ
    w_before: tuple[sp.Rational, ...]
    b_before: sp.Rational
    w: tuple[sp.Rational, ...]  # after the step
    b: sp.Rational


@dataclass(frozen=True)
class LogisticExample(Record):
    x: tuple[sp.Rational, ...]
    y: int
    z: sp.Expr
    z_terms: str
    p: sp.Expr  # σ(z)
    error: sp.Expr  # σ(z) − y
    loss: sp.Expr


@dataclass(frozen=True)
class LogisticStep(Record):
    t: int
    w: tuple[sp.Expr, ...]  # before the step
    b: sp.Expr
    examples: tuple[LogisticExample, ...]
    loss: sp.Expr
    grad_w: tuple[sp.Expr, ...]
    grad_b: sp.Expr
    grad_terms: tuple[tuple[str, ...], ...]  # TeX of the products (σ − y) x_j summed in ∂J/∂w_j, per feature j
    grad_b_terms: tuple[str, ...]  # TeX of the errors σ − y summed in ∂J/∂b
    new_w: tuple[sp.Expr, ...]
    new_b: sp.Expr
    start_exact: bool  # w and b before the step print exactly (else they are shown rounded)


@dataclass(frozen=True)
class LogisticPerceptronData(Record):
    parts: tuple[str, ...]
    low: int | None = None  # the negative label, 0 or −1
    steps: tuple[PerceptronStep, ...] | None = None
    mistakes: int | None = None
    final_w: tuple[sp.Rational, ...] | None = None
    final_b: sp.Rational | None = None
    final_preds: tuple[int, ...] | None = None  # the trained perceptron on every example
    final_z: tuple[sp.Rational, ...] | None = None
    separates: bool | None = None
    lr: tuple[LogisticStep, ...] | None = None
    lr_final_w: tuple[sp.Expr, ...] | None = None
    lr_final_b: sp.Expr | None = None
    lr_final_loss: sp.Expr | None = None
    lr_final_examples: tuple[LogisticExample, ...] | None = None
    lr_decreased: bool | None = None


# -- the exact computations ------------------------------------------------------------------

def _dot_terms(w: tuple[Any, ...], x: tuple[Any, ...], b: Any) -> str:
    terms = " + ".join(f"{mathfmt.pnum(wj)} \\cdot {mathfmt.pnum(xj)}" for wj, xj in zip(w, x))
    return f"{terms} {mathfmt.signed(b)}"


def perceptron_run(X: sp.Matrix, y: tuple[int, ...], w: tuple[Any, ...], b: Any, eta: Any,
                   epochs: int, low: int) -> tuple[list[PerceptronStep], tuple[Any, ...], Any]:
    steps = []
    w, b = tuple(sp.Rational(v) for v in w), sp.Rational(b)
    t = 0
    for epoch in range(1, epochs + 1):
        for i in range(X.rows):
            t += 1
            x = tuple(X.row(i))
            z = sum((wj * xj for wj, xj in zip(w, x)), sp.Integer(0)) + b
            yhat = 1 if z >= 0 else low
            error = y[i] - yhat
            terms = _dot_terms(w, x, b)
            w_before, b_before = w, b
            if error:
                w = tuple(wj + eta * error * xj for wj, xj in zip(w, x))
                b = b + eta * error
            steps.append(PerceptronStep(t=t, epoch=epoch, i=i + 1, x=x, y=y[i], z=z, z_terms=terms,
                                        yhat=yhat, error=error, w_before=w_before, b_before=b_before, w=w, b=b))
    return steps, w, b


def _exp(z: sp.Expr) -> sp.Expr:
    # After a gradient step z nests σ of the previous step; SymPy's automatic evaluation of
    # exp/log would evaluate that whole tree numerically (to test signs and zeros) at every
    # level. The value is the same unevaluated, so only a rational z (e^0 = 1) is evaluated.
    return sp.exp(z, evaluate=bool(z.is_Rational))


def _sigmoid(z: sp.Expr) -> sp.Expr:
    return 1 / (1 + _exp(-z))


def _bce(p: sp.Expr, y: int, z: sp.Expr) -> sp.Expr:
    # -ln σ(z) = ln(1 + e^{-z}) and -ln(1 - σ(z)) = ln(1 + e^{z}): exact and short.
    arg = 1 + _exp(-z) if y == 1 else 1 + _exp(z)
    return sp.log(arg, evaluate=bool(z.is_Rational))


def _logistic_examples(X: sp.Matrix, y: tuple[int, ...], w: tuple[Any, ...], b: Any) -> tuple[LogisticExample, ...]:
    out = []
    for i in range(X.rows):
        x = tuple(X.row(i))
        z = sum((wj * xj for wj, xj in zip(w, x)), sp.Integer(0)) + b
        p = _sigmoid(z)
        out.append(LogisticExample(x=x, y=y[i], z=z, z_terms=_dot_terms(w, x, b), p=p,
                                   error=p - y[i], loss=_bce(p, y[i], z)))
    return tuple(out)


def logistic_run(X: sp.Matrix, y: tuple[int, ...], w: tuple[Any, ...], b: Any, eta: Any,
                 steps: int) -> tuple[list[LogisticStep], tuple[LogisticExample, ...]]:
    m = X.rows
    out = []
    w, b = tuple(w), b
    for t in range(1, steps + 1):
        ex = _logistic_examples(X, y, w, b)
        loss = sum((e.loss for e in ex), sp.Integer(0)) / m
        grad_w = tuple(sum((e.error * e.x[j] for e in ex), sp.Integer(0)) / m for j in range(X.cols))
        grad_b = sum((e.error for e in ex), sp.Integer(0)) / m
        # Terms, not one string: the template writes (1/m)(… + …) on lines that fit (chain_lines).
        grad_terms = tuple(tuple(f"{mathfmt.pnum(e.error)} \\cdot {mathfmt.pnum(e.x[j])}" for e in ex)
                           for j in range(X.cols))
        grad_b_terms = tuple(mathfmt.pnum(e.error) for e in ex)
        new_w = tuple(wj - eta * gj for wj, gj in zip(w, grad_w))
        new_b = b - eta * grad_b
        out.append(LogisticStep(t=t, w=w, b=b, examples=ex, loss=loss, grad_w=grad_w, grad_b=grad_b,
                                grad_terms=grad_terms, grad_b_terms=grad_b_terms, new_w=new_w, new_b=new_b,
                                start_exact=all(mathfmt.is_exact_decimal(v) for v in (*w, b))))
        w, b = new_w, new_b
    return out, _logistic_examples(X, y, w, b)


# -- teaching rules ----------------------------------------------------------------------------

def _logistic_examples_all(d: LogisticPerceptronData) -> list[LogisticExample]:
    """Every example σ is taken of: at each step, and after the last (the loss after it)."""
    return [e for step in d.lr for e in step.examples] + list(d.lr_final_examples)


def _perceptron_ok(given: LogisticPerceptronGiven, solved: Solved, rule: str) -> bool:
    if "perceptron" not in given.parts:
        return True
    d = solved.data
    if rule == "trained":
        return any(v != 0 for v in d.final_w)
    if rule == "threshold":
        return all(s.z != 0 for s in d.steps) and all(z != 0 for z in d.final_z)
    if rule == "mixed":
        return 0 < d.mistakes < len(d.steps)
    if rule == "classes":
        return len(set(given.p_y)) == 2
    if rule == "distinct":
        rows = [tuple(given.p_X.row(i)) for i in range(given.p_X.rows)]
        return len(set(rows)) == len(rows) and all(any(v != 0 for v in r) for r in rows)
    raise KeyError(rule)


def _logistic_ok(given: LogisticPerceptronGiven, solved: Solved, rule: str) -> bool:
    if "logistic" not in given.parts:
        return True
    d = solved.data
    if rule == "classes":
        return len(given.lr_y) == 1 or len(set(given.lr_y)) == 2
    if rule == "pleasant":
        return all(abs(float(e.z)) <= Z_PLEASANT for e in _logistic_examples_all(d))
    if rule == "gradient":
        return all(abs(float(g)) >= FLOOR for g in (*d.lr[0].grad_w, d.lr[0].grad_b))
    if rule == "updated":
        return all(abs(float(v)) >= FLOOR for v in (*d.lr_final_w, d.lr_final_b))
    if rule == "descent":
        return bool(d.lr_decreased)
    raise KeyError(rule)


SAMPLE_TRIES = 30


def _perceptron_quick(X: Any, y: tuple[int, ...], w: Any, b: Any, eta: Any, epochs: int, low: int) -> bool:
    """The perceptron's teaching rules in fractions (a pre-filter of the sampler): distinct,
    non-zero examples, no pre-activation at 0, some mistakes and some right, trained weights
    not all 0."""
    rows = [tuple(_fraction(v) for v in sp.Matrix(X).row(i)) for i in range(sp.Matrix(X).rows)]
    if len(set(rows)) != len(rows) or any(all(v == 0 for v in r) for r in rows):
        return False
    wt, bt, et = [_fraction(v) for v in w], _fraction(b), _fraction(eta)
    mistakes = steps = 0
    for _ in range(epochs):
        for x, label in zip(rows, y):
            z = sum((a * c for a, c in zip(wt, x)), Fraction(0)) + bt
            if z == 0:
                return False
            steps += 1
            error = label - (1 if z > 0 else low)
            if error:
                mistakes += 1
                wt = [a + et * error * c for a, c in zip(wt, x)]
                bt += et * error
    final = [sum((a * c for a, c in zip(wt, x)), Fraction(0)) + bt for x in rows]
    return 0 < mistakes < steps and all(z != 0 for z in final) and any(a != 0 for a in wt)


def _logistic_quick(X: Any, y: Any, w: Any, b: Any, eta: Any, steps: int) -> bool:
    """Logistic regression's teaching rules in floats (a pre-filter of the sampler): no
    saturated σ, gradient components and updated parameters at least FLOOR in size, and a loss
    that decreases."""
    A = np.array(sp.Matrix(X).tolist(), dtype=float)
    t = np.array([float(v) for v in y])
    wt, bt, et, floor = np.array([float(v) for v in w]), float(b), float(eta), float(FLOOR)

    def loss(z: np.ndarray) -> float:
        return float(np.mean(t * np.logaddexp(0, -z) + (1 - t) * np.logaddexp(0, z)))

    first = None
    for step in range(steps + 1):
        z = A @ wt + bt
        if np.abs(z).max() > Z_PLEASANT:
            return False
        if step == steps:
            return loss(z) < first and min(np.abs(wt).min(), abs(bt)) >= floor  # type: ignore[operator]
        err = 1 / (1 + np.exp(-z)) - t
        gw, gb = A.T @ err / len(t), float(err.mean())
        if step == 0:
            first = loss(z)
            if min(np.abs(gw).min(), abs(gb)) < floor:
                return False
        wt, bt = wt - et * gw, bt - et * gb
    return True


P_READS = ("p_X", "p_y", "p_w", "p_b")
LR_READS = ("lr_X", "lr_y", "lr_w", "lr_b")


class LogisticPerceptron(Family):
    name = "logistic_perceptron"
    title = "Perceptron and logistic regression"
    summary = ("Perceptron learning rule w ← w + η(y − ŷ)x over an epoch (labels {0, 1} or {−1, 1}); "
               "gradient steps of logistic regression with ∂J/∂w = mean (σ(w·x + b) − y)x.")
    Given = LogisticPerceptronGiven
    Data = LogisticPerceptronData
    params = (
        Param("parts", ListOf(Choice(PARTS), min_length=1, max_length=len(PARTS)), list(PARTS),
              "which parts to ask: perceptron (the learning rule), logistic (gradient descent)"),
        Param("labels", Choice(LABELS), "01",
              "perceptron labels: 01 for {0, 1} (ŷ = 0 below the threshold), pm1 for {−1, 1} (ŷ = −1)"),
        Param("points", Int(2, MAX_POINTS), None,
              f"perceptron training examples, 2 to {MAX_POINTS} (drawn 3 or 4)"),
        Param("features", Int(1, MAX_FEATURES), None, f"features per example, 1 to {MAX_FEATURES} (drawn 2)"),
        Param("p_X", Matrix(), None,
              f"perceptron examples, one per row (at most {MAX_POINTS}), entries from {-VALUE_LIMIT} to {VALUE_LIMIT}"),
        Param("p_y", ListOf(Int(-1, 1), 2, MAX_POINTS), None, "perceptron labels, one per example (0/1 or −1/1)"),
        Param("p_w", ListOf(Number(), 1, MAX_FEATURES), None,
              f"initial perceptron weights, from {-VALUE_LIMIT} to {VALUE_LIMIT}"),
        Param("p_b", Number(), None, f"initial perceptron bias, from {-VALUE_LIMIT} to {VALUE_LIMIT}"),
        Param("p_eta", Number(positive=True), None, f"perceptron learning rate η, at most {ETA_LIMIT} (drawn 1 or 0.5)"),
        Param("epochs", Int(1, MAX_EPOCHS), 1, f"passes over the perceptron examples, 1 to {MAX_EPOCHS}"),
        Param("batch", Int(1, MAX_BATCH), None, f"logistic regression examples, 1 to {MAX_BATCH} (drawn 2 or 3)"),
        Param("lr_X", Matrix(), None,
              f"logistic regression examples, one per row (at most {MAX_BATCH}), entries from {-VALUE_LIMIT} to {VALUE_LIMIT}"),
        Param("lr_y", ListOf(Int(0, 1), 1, MAX_BATCH), None, "logistic regression labels 0 or 1, one per example"),
        Param("lr_w", ListOf(Number(), 1, MAX_FEATURES), None,
              f"initial logistic regression weights, from {-VALUE_LIMIT} to {VALUE_LIMIT}"),
        Param("lr_b", Number(), None, f"initial logistic regression bias, from {-VALUE_LIMIT} to {VALUE_LIMIT}"),
        Param("lr_eta", Number(positive=True), None,
              f"logistic regression learning rate η, at most {ETA_LIMIT} (drawn 0.1, 0.5 or 1)"),
        Param("lr_steps", Int(1, MAX_STEPS), 1, f"gradient-descent steps, 1 to {MAX_STEPS}"),
        grid_param("feature_grid", (-3, 3, 1),
                   f"[lo, hi, step] for drawn features, from {-VALUE_LIMIT} to {VALUE_LIMIT}"),
        grid_param("weight_grid", (-1, 1, 0.5),
                   f"[lo, hi, step] for drawn weights (and logistic biases), from {-VALUE_LIMIT} to {VALUE_LIMIT}"),
        grid_param("bias_grid", (-0.75, 0.75, 0.5),
                   f"[lo, hi, step] for the drawn perceptron bias, from {-VALUE_LIMIT} to {VALUE_LIMIT}; "
                   "the default (±0.25, ±0.75) with weights in steps of 0.5, whole features and "
                   "η = 0.5 or 1 keeps every w·x + b off the threshold 0"),
    )
    constraints = (
        Constraint("no perceptron pre-activation exactly at the threshold 0", P_READS,
                   lambda g, s: _perceptron_ok(g, s, "threshold")),
        Constraint("the perceptron both errs and gets some examples right", P_READS,
                   lambda g, s: _perceptron_ok(g, s, "mixed")),
        Constraint("both perceptron classes present", ("p_y",), lambda g, s: _perceptron_ok(g, s, "classes")),
        Constraint("distinct, non-zero perceptron examples", ("p_X",), lambda g, s: _perceptron_ok(g, s, "distinct")),
        Constraint("trained perceptron weights that are not all 0", (*P_READS, "p_eta"),
                   lambda g, s: _perceptron_ok(g, s, "trained")),
        Constraint("both logistic classes present", ("lr_y",), lambda g, s: _logistic_ok(g, s, "classes")),
        Constraint(f"logistic pre-activations within ±{Z_PLEASANT}, before and after the updates (no saturated σ)",
                   (*LR_READS, "lr_eta"), lambda g, s: _logistic_ok(g, s, "pleasant")),
        Constraint(f"every gradient component at least {float(FLOOR):g} in size", LR_READS,
                   lambda g, s: _logistic_ok(g, s, "gradient")),
        Constraint(f"updated weights and bias at least {float(FLOOR):g} in size", (*LR_READS, "lr_eta"),
                   lambda g, s: _logistic_ok(g, s, "updated")),
        Constraint("the gradient steps lower the loss", (*LR_READS, "lr_eta"),
                   lambda g, s: _logistic_ok(g, s, "descent")),
    )

    # ŷ at each step is a class label: with labels {0, 1} a row of 0s is an answer like any other.
    zero_ok = frozenset({"p_yhat"})

    def quality(self, given: LogisticPerceptronGiven, solved: Solved) -> dict[str, bool]:
        d = solved.data
        out: dict[str, bool] = {}
        if "perceptron" in given.parts:
            out.update({
                "perceptron pre-activation at the threshold 0": not _perceptron_ok(given, solved, "threshold"),
                "perceptron never errs or never gets one right": not _perceptron_ok(given, solved, "mixed"),
                "perceptron weights all 0 after training": not _perceptron_ok(given, solved, "trained"),
            })
        if "logistic" in given.parts:
            out.update({
                "saturated unit": not _logistic_ok(given, solved, "pleasant"),
                f"gradient below {float(FLOOR):g}": not _logistic_ok(given, solved, "gradient"),
                f"updated parameter below {float(FLOOR):g}": not _logistic_ok(given, solved, "updated"),
                "loss does not decrease": not d.lr_decreased,
            })
        return out

    # -- validation ----------------------------------------------------------------------------
    def validate(self, options: dict[str, Any]) -> None:
        parts = options["parts"]
        if len(set(parts)) != len(parts):
            raise WorksheetError("a part is listed twice", field="parts", allowed=", ".join(PARTS))
        for key in ("feature_grid", "weight_grid", "bias_grid"):
            require_grid(options, key)
            lo, hi, _ = options[key]
            if lo < -VALUE_LIMIT or hi > VALUE_LIMIT:
                raise WorksheetError("grid outside the allowed range", field=key,
                                     allowed=f"values from {-VALUE_LIMIT} to {VALUE_LIMIT}")
        for key in ("p_eta", "lr_eta"):
            if options[key] is not None and options[key] > ETA_LIMIT:
                raise WorksheetError(f"η = {mathfmt.num(options[key])} is too large", field=key,
                                     allowed=f"0 < η <= {ETA_LIMIT}")
        for key, rows in (("p_X", MAX_POINTS), ("lr_X", MAX_BATCH)):
            M = options[key]
            if M is not None and (M.rows > rows or M.cols > MAX_FEATURES):
                raise WorksheetError(f"{key} is {M.rows}×{M.cols}", field=key,
                                     allowed=f"at most {rows} rows (examples) and {MAX_FEATURES} columns (features)")
        for key in ("p_X", "lr_X", "p_w", "lr_w"):
            for v in options[key] if options[key] is not None else ():
                if abs(v) > VALUE_LIMIT:
                    raise WorksheetError(f"entry {mathfmt.num(v)} is outside the allowed range", field=key,
                                         allowed=f"values from {-VALUE_LIMIT} to {VALUE_LIMIT}")
        for key in ("p_b", "lr_b"):
            if options[key] is not None and abs(options[key]) > VALUE_LIMIT:
                raise WorksheetError(f"{mathfmt.num(options[key])} is outside the allowed range", field=key,
                                     allowed=f"values from {-VALUE_LIMIT} to {VALUE_LIMIT}")
        low = 0 if options["labels"] == "01" else -1
        if options["p_y"] is not None and any(v not in (low, 1) for v in options["p_y"]):
            raise WorksheetError(f"labels {options['p_y']} do not match labels = {options['labels']!r}",
                                 field="p_y", allowed=f"{low} or 1 each")
        # Sizes: points, features and the pinned lists and matrices must agree.
        for prefix, count_key in (("p", "points"), ("lr", "batch")):
            X, y, w = options[f"{prefix}_X"], options[f"{prefix}_y"], options[f"{prefix}_w"]
            rows = {count_key: options[count_key]} if options[count_key] is not None else {}
            cols = {"features": options["features"]} if options["features"] is not None else {}
            if X is not None:
                rows[f"{prefix}_X"], cols[f"{prefix}_X"] = X.rows, X.cols
            if y is not None:
                rows[f"{prefix}_y"] = len(y)
            if w is not None:
                cols[f"{prefix}_w"] = len(w)
            for what, sizes in (("examples", rows), ("features", cols)):
                if len(set(sizes.values())) > 1:
                    (first, n), *rest = sizes.items()
                    bad = next(k for k, v in rest if v != n)
                    raise WorksheetError(f"{bad} gives {sizes[bad]} {what} but {first} gives {n}",
                                         field=bad, allowed=f"{n} {what}")

    # -- sampling ------------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator, options: dict[str, Any]) -> LogisticPerceptronGiven:
        parts = tuple(p for p in PARTS if p in options["parts"])
        fields: dict[str, Any] = {"parts": parts, "labels": options["labels"]}
        low = 0 if options["labels"] == "01" else -1
        features = options["features"]
        for key in ("p_X", "lr_X"):
            if features is None and options[key] is not None:
                features = options[key].cols
        for key in ("p_w", "lr_w"):
            if features is None and options[key] is not None:
                features = len(options[key])
        features = features or 2
        fgrid, wgrid = options["feature_grid"], options["weight_grid"]

        def pick(values: tuple[Any, ...]) -> Any:
            return values[int(rng.integers(len(values)))]

        # Each part is drawn again (at most SAMPLE_TRIES times) until a cheap pass - fractions for
        # the perceptron, floats for logistic regression - meets its teaching rules; the
        # constraints decide on the exact values of the draw that is kept.
        if "perceptron" in parts:
            random = any(options[k] is None for k in ("p_X", "p_y", "p_w", "p_b", "p_eta"))
            for _ in range(SAMPLE_TRIES):
                X, y = options["p_X"], options["p_y"]
                n = options["points"] or (X.rows if X is not None else len(y) if y is not None else int(rng.integers(3, 5)))
                X = X if X is not None else grid_values(rng, *fgrid, size=(n, features))
                y = tuple(int(v) for v in y) if y is not None else _labels(rng, n, low)
                w = options["p_w"] or grid_values(rng, *wgrid, size=features)
                b = options["p_b"] if options["p_b"] is not None else grid_values(rng, *options["bias_grid"])
                eta = options["p_eta"] or pick(P_ETAS)
                if not random or _perceptron_quick(X, y, w, b, eta, options["epochs"], low):
                    break
            fields.update(p_X=sp.ImmutableMatrix(X), p_y=y, p_w=tuple(w), p_b=b, p_eta=eta, epochs=options["epochs"])
        if "logistic" in parts:
            random = any(options[k] is None for k in ("lr_X", "lr_y", "lr_w", "lr_b", "lr_eta"))
            for _ in range(SAMPLE_TRIES):
                X, y = options["lr_X"], options["lr_y"]
                m = options["batch"] or (X.rows if X is not None else len(y) if y is not None else int(rng.integers(2, 4)))
                X = X if X is not None else grid_values(rng, *fgrid, size=(m, features))
                if y is None:
                    y = _labels(rng, m, 0)
                w = options["lr_w"] or grid_values(rng, *wgrid, size=features)
                b = options["lr_b"] if options["lr_b"] is not None else grid_values(rng, *wgrid)
                eta = options["lr_eta"] or pick(LR_ETAS)
                if not random or _logistic_quick(X, y, w, b, eta, options["lr_steps"]):
                    break
            fields.update(lr_X=sp.ImmutableMatrix(X), lr_y=tuple(int(v) for v in y), lr_w=tuple(w), lr_b=b,
                          lr_eta=eta, lr_steps=options["lr_steps"])
        return LogisticPerceptronGiven(**fields)

    # -- solving -------------------------------------------------------------------------------
    def solve(self, given: LogisticPerceptronGiven) -> Solved:
        parts = given.parts
        answers: list[Answer] = []
        data: dict[str, Any] = {"parts": parts}
        if "perceptron" in parts:
            low = 0 if given.labels == "01" else -1
            X = sp.Matrix(given.p_X)
            steps, w, b = perceptron_run(X, given.p_y, given.p_w, given.p_b, given.p_eta, given.epochs, low)
            final_z = tuple(sum((wj * xj for wj, xj in zip(w, X.row(i))), sp.Integer(0)) + b for i in range(X.rows))
            final_preds = tuple(1 if z >= 0 else low for z in final_z)
            mistakes = sum(1 for s in steps if s.error)
            separates = final_preds == tuple(given.p_y)
            data.update(low=low, steps=tuple(steps), mistakes=mistakes, final_w=w, final_b=b,
                        final_preds=final_preds, final_z=final_z, separates=separates)
            answers += [
                MatrixAnswer("p_yhat", r"\hat{y} \text{ at each step}", _row(s.yhat for s in steps),
                             tolerance={"kind": "exact"}),
                MatrixAnswer("p_w", r"w \text{ after training}", _row(w)),
                NumberAnswer("p_b", r"b \text{ after training}", b),
                IntegerAnswer("p_updates", r"\text{number of updates}", mistakes),
                BooleanAnswer("p_separates", r"\text{all training examples classified correctly}", separates),
            ]
        if "logistic" in parts:
            X = sp.Matrix(given.lr_X)
            lr, final_examples = logistic_run(X, given.lr_y, given.lr_w, given.lr_b, given.lr_eta, given.lr_steps)
            final_loss = sum((e.loss for e in final_examples), sp.Integer(0)) / X.rows
            data.update(lr=tuple(lr), lr_final_w=lr[-1].new_w, lr_final_b=lr[-1].new_b,
                        lr_final_loss=final_loss, lr_final_examples=final_examples,
                        lr_decreased=bool(sp.N(final_loss - lr[0].loss, 30) < 0))
            first = lr[0]
            answers += [
                MatrixAnswer("lr_p", r"\hat{y}_i = \sigma(w \cdot x_i + b)", _row(e.p for e in first.examples)),
                NumberAnswer("lr_loss", "J", first.loss),
                MatrixAnswer("lr_grad_w", r"\frac{\partial J}{\partial w}", _row(first.grad_w)),
                NumberAnswer("lr_grad_b", r"\frac{\partial J}{\partial b}", first.grad_b),
                MatrixAnswer("lr_w", r"w \text{ after the update" + ("s" if given.lr_steps > 1 else "") + "}",
                             _row(lr[-1].new_w)),
                NumberAnswer("lr_b", r"b \text{ after the update" + ("s" if given.lr_steps > 1 else "") + "}",
                             lr[-1].new_b),
                NumberAnswer("lr_loss_after", r"J \text{ after the update" + ("s" if given.lr_steps > 1 else "") + "}",
                             final_loss),
            ]
        return Solved(answers, LogisticPerceptronData(**data))

    # -- independent check ---------------------------------------------------------------------
    def check(self, given: LogisticPerceptronGiven) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if "perceptron" in given.parts:
            out.update(_check_perceptron(given))
        if "logistic" in given.parts:
            out.update(_check_logistic(given))
        return out


def _fraction(v: Any) -> Fraction:
    v = sp.Rational(v)
    return Fraction(int(v.p), int(v.q))


def _check_perceptron(given: LogisticPerceptronGiven) -> dict[str, Any]:
    """The rule on augmented vectors (x̃ = (1, x), w̃ = (b, w)) in exact fractions, as a
    textbook writes it: one weight vector, the bias its first entry."""
    low = 0 if given.labels == "01" else -1
    X = [[Fraction(1)] + [_fraction(v) for v in given.p_X.row(i)] for i in range(given.p_X.rows)]
    wt = [_fraction(given.p_b)] + [_fraction(v) for v in given.p_w]
    eta = _fraction(given.p_eta)
    preds, updates = [], 0
    for _ in range(given.epochs):
        for x, y in zip(X, given.p_y):
            yhat = 1 if sum(a * c for a, c in zip(wt, x)) >= 0 else low
            preds.append(yhat)
            if yhat != y:
                updates += 1
                wt = [a + eta * (y - yhat) * c for a, c in zip(wt, x)]
    if updates != sum(1 for p, y in zip(preds, list(given.p_y) * given.epochs) if p != y):
        raise CheckError(f"logistic_perceptron: {updates} updates but the predictions {preds} disagree")
    final = [1 if sum(a * c for a, c in zip(wt, x)) >= 0 else low for x in X]
    return {"p_yhat": np.array([preds], dtype=float), "p_w": np.array([[float(v) for v in wt[1:]]]),
            "p_b": float(wt[0]), "p_updates": updates, "p_separates": final == list(given.p_y)}


def _mean_bce(w: np.ndarray, X: np.ndarray, y: np.ndarray) -> Any:
    """The batch loss; complex-safe (no abs, no max), so its complex step is its derivative."""
    z = X @ w[1:] + w[0]
    return np.mean(y * np.log(1 + np.exp(-z)) + (1 - y) * np.log(1 + np.exp(z)))


def _check_logistic(given: LogisticPerceptronGiven) -> dict[str, Any]:
    """Gradient descent with the gradient taken by the complex step of the loss itself,
    Im J(w + ih e_j)/h with h = 1e-30: the derivative to machine precision, without the formula
    (σ − y)x that solve() uses."""
    X = np.array(sp.Matrix(given.lr_X).tolist(), dtype=float)
    y = np.array(given.lr_y, dtype=float)
    wt = np.array([float(given.lr_b)] + [float(v) for v in given.lr_w])
    eta = float(given.lr_eta)
    h = 1e-30

    def grad(w: np.ndarray) -> np.ndarray:
        return np.array([_mean_bce(w + 1j * h * e, X, y).imag / h for e in np.eye(len(w))])

    def loss(w: np.ndarray) -> float:
        z = X @ w[1:] + w[0]
        return float(np.mean(y * np.logaddexp(0, -z) + (1 - y) * np.logaddexp(0, z)))

    z0 = X @ wt[1:] + wt[0]
    p0 = np.where(z0 >= 0, 1 / (1 + np.exp(-np.abs(z0))), np.exp(-np.abs(z0)) / (1 + np.exp(-np.abs(z0))))
    out: dict[str, Any] = {"lr_p": p0[None, :], "lr_loss": loss(wt)}
    g0 = grad(wt)
    out.update(lr_grad_w=g0[None, 1:], lr_grad_b=g0[0])
    for _ in range(given.lr_steps):
        wt = wt - eta * grad(wt)
    out.update(lr_w=wt[None, 1:], lr_b=wt[0], lr_loss_after=loss(wt))
    return out
