"""Min–max scaling and standardization of a small data matrix (seed 004 Ex3), and the comparison
of the two methods (what each does to the features, which suits what): a model answer, and
statements about this dataset's results to select (each decided from the exact results, and again
by the independent check).

Rows are samples, columns are features. Means, variances and scaled values are exact
rationals; standard deviations are square roots of rationals (e.g. √(50/3) = 5√6/3).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction
from typing import Any

import numpy as np
import sympy as sp

from worksheetgen import mathfmt
from worksheetgen.answers import MatrixAnswer, MultiChoiceAnswer, TextAnswer
from worksheetgen.errors import CheckError, WorksheetError
from worksheetgen.family import Constraint, Family, Record, Solved
from worksheetgen.params import Choice, Int, ListOf, Matrix, Param
from worksheetgen.sampling import grid_param, grid_values, require_grid

TASKS = ("minmax", "standardize", "compare")
# The statements of the comparison part, decided on this dataset's results. Their printed order
# is drawn (a permutation), so the letters of the right ones vary from sheet to sheet.
STATEMENTS = {
    "minmax_range": "After min–max scaling, every feature has minimum $0$ and maximum $1$.",
    "minmax_mean": r"After min–max scaling, every feature has mean $\tfrac{1}{2}$.",
    "std_moments": "After standardization, every feature has mean $0$ and standard deviation $1$.",
    "std_bounded": "After standardization, every value lies in $[-1, 1]$.",
    "order": "Both methods keep the order of the samples within each feature.",
}
STD_KINDS = ("population", "sample")
MAX_ROWS, MAX_COLS = 8, 6
# Entries beyond this size print as walls of digits and leave the range of a float in the key.
LARGEST = 10**12
# A constant column cannot be scaled; redraws are capped, then one entry is moved off the constant.
COLUMN_DRAWS = 64
# SymPy takes a rational's square root by factoring it: beyond this size (fractions with long
# denominators given in X) that takes seconds, so σ is then given to PRECISION digits.
EXACT_ROOT_LIMIT = 10**60
PRECISION = 50


def _relation(m: sp.Matrix) -> str:
    """'=' when every printed entry is exact, else '\\approx'."""
    return "=" if all(mathfmt.is_exact_decimal(v) for v in m) else r"\approx"


def _root(r: sp.Rational) -> sp.Expr:
    if max(abs(r.p), r.q) > EXACT_ROOT_LIMIT:
        return sp.sqrt(sp.Float(r, PRECISION + 10)).evalf(PRECISION)
    return sp.sqrt(r)


def _interior(s: Solved) -> bool:
    return any(0 < v < 1 for c in s.data.columns for v in c["scaled"])


def _twins(s: Solved) -> bool:
    """Two features whose min–max scaled columns are equal: the second repeats the first's work
    (one is the other shifted and stretched)."""
    scaled = [tuple(c["scaled"]) for c in s.data.columns]
    return len(set(scaled)) < len(scaled)


def _decimal40(v: sp.Expr) -> Decimal:
    return Decimal(str(sp.N(v, 40)).replace("*^", "E"))


def statement_truths(rows: list[list[Any]], ddof: int) -> tuple[dict[str, bool], dict[str, Any]]:
    """Which statements hold for the data (rows of exact rationals: SymPy's or Fractions), decided
    without square roots: a standardized value is (x - μ)/σ with σ > 0, so its sign and order are
    those of x - μ, Σz = Σ(x - μ)/σ, Σz² = Σ(x - μ)²/σ² and |z| <= 1 iff (x - μ)² <= σ².
    Also what the solution says: the scaled means and the largest z² of each feature."""
    n, d = len(rows), len(rows[0])
    scaled_means, z2_max, moments, order = [], [], True, True
    for j in range(d):
        col = [row[j] for row in rows]
        lo, hi = min(col), max(col)
        mean = sum(col) / n
        devs = [x - mean for x in col]
        variance = sum(dv * dv for dv in devs) / (n - ddof)
        scaled = [(x - lo) / (hi - lo) for x in col]
        scaled_means.append(sum(scaled) / n)
        z2_max.append(max(dv * dv for dv in devs) / variance)
        moments &= sum(devs) == 0 and sum(dv * dv for dv in devs) / variance == n - ddof
        for a in range(n):
            for b in range(n):
                if col[a] < col[b]:
                    order &= scaled[a] < scaled[b] and devs[a] < devs[b]
    truths = {
        "minmax_range": all(min([(x - min(c)) / (max(c) - min(c)) for x in c]) == 0
                            and max([(x - min(c)) / (max(c) - min(c)) for x in c]) == 1
                            for c in ([row[j] for row in rows] for j in range(d))),
        "minmax_mean": all(m * 2 == 1 for m in scaled_means),
        "std_moments": moments,
        "std_bounded": all(v <= 1 for v in z2_max),
        "order": order,
    }
    return truths, {"scaled_means": scaled_means, "z2_max": z2_max}


def _statement_facts(facts: dict[str, Any]) -> dict[str, Any]:
    """The facts in the form the solution prints: the largest |z| of each feature, exactly."""
    return {**facts, "z_abs_max": [sp.sqrt(sp.Rational(v)) for v in facts["z2_max"]]}


def _limit_text() -> str:
    return "entries at most 10^12 in size"


def _decimal_text(d: Decimal) -> str:
    """A value to 2 decimals (half up), as the model answer prints it; both the solver (from
    40 digits of the exact value) and the check (from its own 40-digit Decimals) call this."""
    q = d.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    text = format(q, "f")
    return "0.00" if text == "-0.00" else text


def compare_answer(z_min: str, z_max: str, ddof: int) -> str:
    """The model answer of the comparison part; the range of the standardized values is this
    dataset's (to 2 decimals)."""
    sigma = "n" if ddof == 0 else "n - 1"
    return (
        "Min–max scaling maps each feature linearly onto $[0, 1]$: its minimum goes to $0$ and its "
        "maximum to $1$, so all features share one bounded range, but where a feature's values lie "
        "inside that range (its mean and spread) is left as it was, and a single extreme value (an "
        "outlier) sets the range and squeezes all other values of that feature together. "
        "Standardization subtracts each feature's mean and divides by its standard deviation "
        f"(here the one that divides by ${sigma}$): every feature gets mean $0$ and standard deviation $1$ whatever its "
        f"units, but the values are not bounded (here they run from ${z_min}$ to ${z_max}$); an "
        "outlier moves the mean and enlarges $\\sigma$ but does not force the other values into a "
        "fixed interval, so standardization is less sensitive to outliers. Both are increasing "
        "linear maps of each feature, so they keep the order of the samples. Which suits what: "
        "min–max scaling when a fixed range is needed (pixel intensities, inputs of bounded "
        "activations or of methods that assume $[0, 1]$) and the data have no outliers; "
        "standardization for gradient-based training of neural networks and for distance- or "
        "variance-based methods (k-NN, SVM, PCA), for features in different units, and when "
        "outliers are present."
    )


@dataclass(frozen=True)
class PreprocessingGiven(Record):
    X: sp.Matrix  # rows = samples, columns = features
    std: str
    tasks: tuple[str, ...]
    statement_order: tuple[str, ...] = tuple(STATEMENTS)  # printed order of the statements


@dataclass(frozen=True)
class PreprocessingData(Record):
    columns: tuple[dict[str, Any], ...]  # per feature: values, min, max, range, mean, squares, ...
    n: int
    d: int
    ddof: int
    divisor: int  # n − ddof
    scaled: sp.Matrix
    standardized: sp.Matrix
    rel: dict[str, str]  # '=' or '\approx' per shown matrix
    statements: tuple[str, ...] = ()  # TeX of the comparison part's statements, in printed order
    truths: tuple[bool, ...] = ()  # which of them hold for this dataset
    facts: dict[str, Any] | None = None  # what the solution says about each statement
    statement_keys: tuple[str, ...] = ()  # STATEMENTS keys, in printed order


class Preprocessing(Family):
    """X is at most 8 × 6 and its entries at most 10^12 in size (refused beyond, naming the
    field), so the exact solution costs milliseconds whatever the grid."""

    name = "preprocessing"
    title = "Data preprocessing"
    summary = "Min–max scaling to [0, 1] and standardization (z-scores) of each feature column."
    Given = PreprocessingGiven
    Data = PreprocessingData
    params = (
        Param("X", Matrix(), None,
              f"data matrix, rows = samples, columns = features: 2 to {MAX_ROWS} rows, 1 to {MAX_COLS} "
              "columns, entries at most 10^12 in size, no constant column (drawn when not given)"),
        Param("rows", Int(3, MAX_ROWS), None, f"number of samples of a drawn X, 3 to {MAX_ROWS} (random 3 to 5)"),
        Param("cols", Int(1, MAX_COLS), None, f"number of features of a drawn X, 1 to {MAX_COLS} (random 2 to 4)"),
        grid_param("value_grid", (0, 30, 5),
                   "[lo, hi, step] for the entries of a drawn X: at least 3 values, at most 10^12 in size"),
        Param("std", Choice(STD_KINDS), "population",
              "population: σ divides by n (as the seed); sample: by n - 1"),
        Param("tasks", ListOf(Choice(TASKS), min_length=1, max_length=len(TASKS)), list(TASKS),
              "what is asked, in this order: minmax, standardize, compare (what each method does to "
              "the features and which suits what: a model answer and statements about this "
              "dataset's results to select)"),
    )
    constraints = (
        Constraint("some scaled value strictly between 0 and 1", ("X",),
                   lambda g, s: _interior(s)),
        Constraint("no two features that scale to the same column", ("X",),
                   lambda g, s: not _twins(s)),
    )

    def quality(self, given: PreprocessingGiven, solved: Solved) -> dict[str, bool]:
        return {
            "no scaled value strictly between 0 and 1": not _interior(solved),
            "two features scale to the same column": _twins(solved),
        }

    def validate(self, options: dict[str, Any]) -> None:
        if len(set(options["tasks"])) != len(options["tasks"]):
            raise WorksheetError("a task appears twice", field="tasks", allowed="distinct entries")
        require_grid(options, "value_grid")
        X = options["X"]
        if X is None:
            lo, hi, step = options["value_grid"]
            if (hi - lo) / step < 2:
                raise WorksheetError("the grid needs at least 3 values", field="value_grid",
                                     allowed="[lo, hi, step] with hi - lo >= 2 step")
            if max(abs(lo), abs(hi)) > LARGEST:
                raise WorksheetError("the grid reaches beyond 10^12", field="value_grid",
                                     allowed=f"[lo, hi, step] with {_limit_text()}")
            return
        n, d = X.shape
        for key, size in (("rows", n), ("cols", d)):
            if options[key] is not None and options[key] != size:
                raise WorksheetError(f"{key} = {options[key]} but X has {size}", field=key,
                                     allowed=f"{size} (or leave it out)")
        if not 2 <= n <= MAX_ROWS or d > MAX_COLS:
            raise WorksheetError(f"X is {n} x {d}", field="X",
                                 allowed=f"2 to {MAX_ROWS} rows (samples) and 1 to {MAX_COLS} columns")
        if any(abs(v) > LARGEST for v in X):
            raise WorksheetError("X has an entry beyond 10^12 in size", field="X", allowed=_limit_text())
        for j in range(d):
            if len(set(X[:, j])) == 1:
                raise WorksheetError(
                    f"column {j + 1} is constant: its range and standard deviation are 0",
                    field="X", allowed="every column with at least two different values")

    def sample(self, rng: np.random.Generator, options: dict[str, Any]) -> PreprocessingGiven:
        tasks = tuple(options["tasks"])
        order = tuple(STATEMENTS)
        if "compare" in tasks:
            order = tuple(order[int(k)] for k in rng.permutation(len(order)))
        if options["X"] is not None:
            return PreprocessingGiven(X=options["X"], std=options["std"], tasks=tasks, statement_order=order)
        n = options["rows"] if options["rows"] is not None else int(rng.integers(3, 6))
        d = options["cols"] if options["cols"] is not None else int(rng.integers(2, 5))
        columns = [self._column(rng, options["value_grid"], n) for _ in range(d)]
        X = sp.Matrix(n, d, lambda i, j: columns[j][i])
        return PreprocessingGiven(X=X, std=options["std"], tasks=tasks, statement_order=order)

    @staticmethod
    def _column(rng: np.random.Generator, grid: list[sp.Rational], n: int) -> list[sp.Rational]:
        """n grid values, not all equal. A constant draw has probability at most 1/9 (3 values,
        3 rows), so the capped redraws practically never run out; if they do, one entry moves
        to another grid value (validate() made sure the grid has at least 3)."""
        column = grid_values(rng, *grid, size=n)
        for _ in range(COLUMN_DRAWS):
            if len(set(column)) > 1:
                return column
            column = grid_values(rng, *grid, size=n)
        if len(set(column)) == 1:
            lo, _, step = grid
            other = grid_values(rng, lo, lo + step * (sp.floor((grid[1] - lo) / step) - 1), step)
            column[int(rng.integers(n))] = other if other < column[0] else other + step
        return column

    def solve(self, given: PreprocessingGiven) -> Solved:
        X: sp.Matrix = given.X
        n, d = X.shape
        ddof = 1 if given.std == "sample" else 0
        columns = []
        for j in range(d):
            col = list(X[:, j])
            lo, hi = min(col), max(col)
            if lo == hi:  # validate() refuses constant columns and sample() never draws one
                raise CheckError(f"preprocessing: column {j + 1} of X is constant ({lo})")
            mean = sum(col, sp.Integer(0)) / n
            squares = [(x - mean) ** 2 for x in col]
            variance = sum(squares, sp.Integer(0)) / (n - ddof)
            sigma = _root(variance)
            columns.append(dict(
                values=col, min=lo, max=hi, range=hi - lo, mean=mean, squares=squares,
                variance=variance, sigma=sigma,
                scaled=[(x - lo) / (hi - lo) for x in col],
                standardized=[(x - mean) / sigma if sigma.is_Float else sp.radsimp((x - mean) / sigma)
                              for x in col],
            ))
        scaled = sp.Matrix(n, d, lambda i, j: columns[j]["scaled"][i])
        standardized = sp.Matrix(n, d, lambda i, j: columns[j]["standardized"][i])
        mu = sp.Matrix([[c["mean"] for c in columns]])
        sigma = sp.Matrix([[c["sigma"] for c in columns]])
        answers: list[Any] = []
        truths, facts = statement_truths(
            [[c["values"][i] for c in columns] for i in range(n)], ddof)
        z_values = [_decimal40(v) for v in standardized]
        statements = tuple(STATEMENTS[k] for k in given.statement_order)
        order_truths = tuple(truths[k] for k in given.statement_order)
        for part, task in enumerate(given.tasks, start=1):
            if task == "minmax":
                answers.append(MatrixAnswer("X_scaled", r"X_{\text{scaled}}", scaled, part=part))
            elif task == "standardize":
                answers += [
                    MatrixAnswer("mu", r"\mu", mu, part=part),
                    MatrixAnswer("sigma", r"\sigma", sigma, part=part),
                    MatrixAnswer("X_standardized", r"X_{\text{standardized}}", standardized, part=part),
                ]
            else:
                answers += [
                    TextAnswer("comparison", r"\text{min–max scaling vs standardization}",
                               compare_answer(_decimal_text(min(z_values)), _decimal_text(max(z_values)), ddof),
                               part=part),
                    MultiChoiceAnswer("statements", r"\text{statements that hold for } X", options=statements,
                                      correct=tuple(i for i, t in enumerate(order_truths) if t), part=part),
                ]
        rel = {key: _relation(m) for key, m in (("scaled", scaled), ("mu", mu), ("sigma", sigma),
                                                 ("standardized", standardized))}
        data = PreprocessingData(columns=tuple(columns), n=n, d=d, ddof=ddof, divisor=n - ddof,
                                 scaled=scaled, standardized=standardized, rel=rel,
                                 statements=statements, truths=order_truths, facts=_statement_facts(facts),
                                 statement_keys=given.statement_order)
        return Solved(answers, data)

    def check(self, given: PreprocessingGiven) -> dict[str, Any]:
        """Recomputed without SymPy: exact Fractions for the ranges, means and variances (a float
        X would lose the differences of large, close entries), a 40-digit Decimal square root."""
        X = [[Fraction(int(v.p), int(v.q)) for v in row] for row in given.X.tolist()]
        n, d = len(X), len(X[0])
        ddof = 1 if given.std == "sample" else 0
        scaled = np.zeros((n, d))
        standardized = np.zeros((n, d))
        mu, sd = np.zeros((1, d)), np.zeros((1, d))
        z_decimals: list[Decimal] = []
        with localcontext() as ctx:
            ctx.prec = 40
            for j in range(d):
                col = [row[j] for row in X]
                lo, hi = min(col), max(col)
                mean = sum(col, Fraction(0)) / n
                variance = sum(((x - mean) ** 2 for x in col), Fraction(0)) / (n - ddof)
                sigma = (Decimal(variance.numerator) / Decimal(variance.denominator)).sqrt()
                mu[0, j], sd[0, j] = float(mean), float(sigma)
                for i, x in enumerate(col):
                    scaled[i, j] = float((x - lo) / (hi - lo))
                    dev = x - mean
                    z = Decimal(dev.numerator) / Decimal(dev.denominator) / sigma
                    z_decimals.append(z)
                    standardized[i, j] = float(z)
        out: dict[str, Any] = {}
        if "minmax" in given.tasks:
            out["X_scaled"] = scaled
        if "standardize" in given.tasks:
            out.update(mu=mu, sigma=sd, X_standardized=standardized)
        if "compare" in given.tasks:
            truths = check_statements(X, ddof, scaled, standardized)
            out["statements"] = [chr(ord("A") + i) for i, k in enumerate(given.statement_order) if truths[k]]
            out["comparison"] = compare_answer(_decimal_text(min(z_decimals)), _decimal_text(max(z_decimals)), ddof)
        return out


def check_statements(X: list[list[Fraction]], ddof: int, scaled: np.ndarray,
                     standardized: np.ndarray) -> dict[str, bool]:
    """The statements decided another way: exact Fractions where a value is compared with an
    exact bound (a mean of 1/2, |z| <= 1 as (x - μ)² <= σ²), the floating results of the check
    with a margin far above their error and far below the grid's resolution elsewhere."""
    n, d = len(X), len(X[0])
    cols = [[row[j] for row in X] for j in range(d)]
    means = [sum(c, Fraction(0)) / n for c in cols]
    variances = [sum(((x - m) ** 2 for x in c), Fraction(0)) / (n - ddof) for c, m in zip(cols, means)]
    ranks_kept = all(
        np.array_equal(np.argsort(np.array([float(x) for x in c]), kind="stable"), np.argsort(scaled[:, j], kind="stable"))
        and np.array_equal(np.argsort(scaled[:, j], kind="stable"), np.argsort(standardized[:, j], kind="stable"))
        for j, c in enumerate(cols))
    return {
        "minmax_range": bool(np.allclose(scaled.min(axis=0), 0, atol=1e-12) and np.allclose(scaled.max(axis=0), 1, atol=1e-12)),
        "minmax_mean": all(sum(((x - min(c)) / (max(c) - min(c)) for x in c), Fraction(0)) / n == Fraction(1, 2) for c in cols),
        "std_moments": bool(np.allclose(standardized.mean(axis=0), 0, atol=1e-9)
                            and np.allclose(standardized.std(axis=0, ddof=ddof), 1, atol=1e-9)),
        "std_bounded": all((x - m) ** 2 <= v for c, m, v in zip(cols, means, variances) for x in c),
        "order": ranks_kept,
    }
