"""Min–max scaling and standardization of a small data matrix (seed 004 Ex3).

Rows are samples, columns are features. Means, variances and scaled values are exact
rationals; standard deviations are square roots of rationals (e.g. √(50/3) = 5√6/3).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp

from worksheetgen import mathfmt
from worksheetgen.errors import WorksheetError
from worksheetgen.family import Answer, Family, Solved
from worksheetgen.params import Choice, Int, ListOf, Matrix, Param
from worksheetgen.sampling import require_grid, grid_param, grid_values

TASKS = ("minmax", "standardize")
STD_KINDS = ("population", "sample")
MAX_ROWS, MAX_COLS = 8, 6


def _relation(m: sp.Matrix) -> str:
    """'=' when every printed entry is exact, else '\\approx'."""
    return "=" if all(mathfmt.is_exact_decimal(v) for v in m) else r"\approx"


class Preprocessing(Family):
    name = "preprocessing"
    title = "Data preprocessing"
    summary = "Min–max scaling to [0, 1] and standardization (z-scores) of each feature column."
    params = (
        Param("X", Matrix(), None, "data matrix, rows = samples, columns = features (drawn when not given)"),
        Param("rows", Int(3, MAX_ROWS), None, "number of samples of a drawn X (random 3 to 5)"),
        Param("cols", Int(1, MAX_COLS), None, "number of features of a drawn X (random 2 to 4)"),
        grid_param("value_grid", (0, 30, 5), "[lo, hi, step] for the entries of a drawn X"),
        Param("std", Choice(STD_KINDS), "population",
              "population: σ divides by n (as the seed); sample: by n - 1"),
        Param("tasks", ListOf(Choice(TASKS), min_length=1, max_length=2), list(TASKS),
              "what is asked, in this order"),
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
            return
        n, d = X.shape
        for key, size in (("rows", n), ("cols", d)):
            if options[key] is not None and options[key] != size:
                raise WorksheetError(f"{key} = {options[key]} but X has {size}", field=key,
                                     allowed=f"{size} (or leave it out)")
        if not 2 <= n <= MAX_ROWS or d > MAX_COLS:
            raise WorksheetError(f"X is {n} x {d}", field="X",
                                 allowed=f"2 to {MAX_ROWS} rows (samples) and 1 to {MAX_COLS} columns")
        for j in range(d):
            if len(set(X[:, j])) == 1:
                raise WorksheetError(
                    f"column {j + 1} is constant: its range and standard deviation are 0",
                    field="X", allowed="every column with at least two different values")

    def sample(self, rng: np.random.Generator, options: dict[str, Any]) -> dict[str, Any]:
        given = {k: options[k] for k in ("std", "tasks")}
        if options["X"] is not None:
            given["X"] = options["X"]
            return given
        n = options["rows"] if options["rows"] is not None else int(rng.integers(3, 6))
        d = options["cols"] if options["cols"] is not None else int(rng.integers(2, 5))
        # Each column is redrawn until it is not constant (a constant feature cannot be scaled).
        columns = []
        for _ in range(d):
            column = grid_values(rng, *options["value_grid"], size=n)
            while len(set(column)) == 1:
                column = grid_values(rng, *options["value_grid"], size=n)
            columns.append(column)
        given["X"] = sp.Matrix(n, d, lambda i, j: columns[j][i])
        return given

    def solve(self, given: dict[str, Any]) -> Solved:
        X: sp.Matrix = given["X"]
        n, d = X.shape
        ddof = 1 if given["std"] == "sample" else 0
        columns = []
        for j in range(d):
            col = list(X[:, j])
            lo, hi = min(col), max(col)
            mean = sum(col, sp.Integer(0)) / n
            squares = [(x - mean) ** 2 for x in col]
            variance = sum(squares, sp.Integer(0)) / (n - ddof)
            sigma = sp.sqrt(variance)
            columns.append(dict(
                values=col, min=lo, max=hi, range=hi - lo, mean=mean, squares=squares,
                variance=variance, sigma=sigma,
                scaled=[(x - lo) / (hi - lo) for x in col],
                standardized=[sp.radsimp((x - mean) / sigma) for x in col],
            ))
        scaled = sp.Matrix(n, d, lambda i, j: columns[j]["scaled"][i])
        standardized = sp.Matrix(n, d, lambda i, j: columns[j]["standardized"][i])
        mu = sp.Matrix([[c["mean"] for c in columns]])
        sigma = sp.Matrix([[c["sigma"] for c in columns]])
        answers = []
        for task in given["tasks"]:
            if task == "minmax":
                answers.append(Answer("X_scaled", r"X_{\text{scaled}}", scaled, "matrix"))
            else:
                answers += [
                    Answer("mu", r"\mu", mu, "matrix"),
                    Answer("sigma", r"\sigma", sigma, "matrix"),
                    Answer("X_standardized", r"X_{\text{standardized}}", standardized, "matrix"),
                ]
        rel = {key: _relation(m) for key, m in (("scaled", scaled), ("mu", mu), ("sigma", sigma),
                                                 ("standardized", standardized))}
        data = dict(columns=columns, n=n, d=d, ddof=ddof, divisor=n - ddof,
                    scaled=scaled, standardized=standardized, rel=rel)
        return Solved(answers, data)

    def rejection(self, given: dict[str, Any], solved: Solved) -> str | None:
        columns = solved.data["columns"]
        if any(c["range"] == 0 for c in columns):
            return "no constant column"
        if all(set(c["scaled"]) <= {0, 1} for c in columns):
            return "some scaled value strictly between 0 and 1"
        return None

    def check(self, given: dict[str, Any]) -> dict[str, Any]:
        X = np.array([[float(v) for v in row] for row in given["X"].tolist()])
        ddof = 1 if given["std"] == "sample" else 0
        lo, hi = X.min(axis=0), X.max(axis=0)
        mu, sd = X.mean(axis=0), X.std(axis=0, ddof=ddof)
        out: dict[str, Any] = {}
        if "minmax" in given["tasks"]:
            out["X_scaled"] = (X - lo) / (hi - lo)
        if "standardize" in given["tasks"]:
            out.update(mu=mu, sigma=sd, X_standardized=(X - mu) / sd)
        return out
