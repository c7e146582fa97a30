"""Min–max scaling and standardization of a small data matrix (seed 004 Ex3).

Rows are samples, columns are features. Means, variances and scaled values are exact
rationals; standard deviations are square roots of rationals (e.g. √(50/3) = 5√6/3).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction
from typing import Any

import numpy as np
import sympy as sp

from worksheetgen import mathfmt
from worksheetgen.answers import MatrixAnswer
from worksheetgen.errors import CheckError, WorksheetError
from worksheetgen.family import Constraint, Family, Record, Solved
from worksheetgen.params import Choice, Int, ListOf, Matrix, Param
from worksheetgen.sampling import grid_param, grid_values, require_grid

TASKS = ("minmax", "standardize")
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


def _limit_text() -> str:
    return "entries at most 10^12 in size"


@dataclass(frozen=True)
class PreprocessingGiven(Record):
    X: sp.Matrix  # rows = samples, columns = features
    std: str
    tasks: tuple[str, ...]


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
        Param("tasks", ListOf(Choice(TASKS), min_length=1, max_length=2), list(TASKS),
              "what is asked, in this order"),
    )
    constraints = (
        Constraint("some scaled value strictly between 0 and 1", ("X",),
                   lambda g, s: any(0 < v < 1 for c in s.data.columns for v in c["scaled"])),
    )

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
        if options["X"] is not None:
            return PreprocessingGiven(X=options["X"], std=options["std"], tasks=tasks)
        n = options["rows"] if options["rows"] is not None else int(rng.integers(3, 6))
        d = options["cols"] if options["cols"] is not None else int(rng.integers(2, 5))
        columns = [self._column(rng, options["value_grid"], n) for _ in range(d)]
        X = sp.Matrix(n, d, lambda i, j: columns[j][i])
        return PreprocessingGiven(X=X, std=options["std"], tasks=tasks)

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
        for task in given.tasks:
            if task == "minmax":
                answers.append(MatrixAnswer("X_scaled", r"X_{\text{scaled}}", scaled))
            else:
                answers += [
                    MatrixAnswer("mu", r"\mu", mu),
                    MatrixAnswer("sigma", r"\sigma", sigma),
                    MatrixAnswer("X_standardized", r"X_{\text{standardized}}", standardized),
                ]
        rel = {key: _relation(m) for key, m in (("scaled", scaled), ("mu", mu), ("sigma", sigma),
                                                 ("standardized", standardized))}
        data = PreprocessingData(columns=tuple(columns), n=n, d=d, ddof=ddof, divisor=n - ddof,
                                 scaled=scaled, standardized=standardized, rel=rel)
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
                    standardized[i, j] = float(Decimal(dev.numerator) / Decimal(dev.denominator) / sigma)
        out: dict[str, Any] = {}
        if "minmax" in given.tasks:
            out["X_scaled"] = scaled
        if "standardize" in given.tasks:
            out.update(mu=mu, sigma=sd, X_standardized=standardized)
        return out
