"""Batch normalization of a small mini-batch: the training-mode forward pass (batch mean, biased
variance, normalize, scale and shift), the running statistics with a stated momentum convention,
inference mode against training mode, and the backward pass through the batch statistics.

Rows of X are the examples of the batch, columns the features; every feature is normalized on its
own. Everything is exact: means and variances are rationals, √(σ² + ε) is a square root of a
rational (the sampler prefers batches where it is a terminating decimal, so x̂ is exact too).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import sympy as sp

from worksheetgen import mathfmt
from worksheetgen.answers import Answer, MatrixAnswer, NumberAnswer
from worksheetgen.errors import CheckError, WorksheetError
from worksheetgen.family import Constraint, Family, Record, Solved
from worksheetgen.params import Bool, Choice, Int, ListOf, Matrix, Number, Param
from worksheetgen.sampling import grid_param, grid_values, nonzero_grid_values, require_grid

PARTS = ("forward", "running", "inference", "backward")
RUNNING_VARIANCES = ("unbiased", "biased")
MIN_ROWS, MAX_ROWS = 2, 8
MAX_FEATURES = 4
# Entries beyond this size are not hand computation; the limit also keeps every value a float.
LARGEST = 1000
LIMIT_TEXT = f"values from -{LARGEST} to {LARGEST}"
# Redraws of one feature column looking for a terminating √(σ² + ε): each is a few Fraction
# operations, and about one draw in twenty succeeds for m = 4 or 5 on the default grid.
PLEASANT_TRIES = 200
NEAR_ZERO = 0.001


def _fraction(v: sp.Rational) -> Fraction:
    return Fraction(int(v.p), int(v.q))


def _terminating(q: int) -> bool:
    for p in (2, 5):
        while q % p == 0:
            q //= p
    return q == 1


def _pleasant_root(value: Fraction) -> bool:
    """√value is a terminating decimal (so the normalized values are exact decimals)."""
    if value <= 0:
        return False
    n, d = value.numerator, value.denominator
    rn, rd = math.isqrt(n), math.isqrt(d)
    return rn * rn == n and rd * rd == d and _terminating(rd)


def _column_stats(column: list[Fraction], eps: Fraction) -> tuple[Fraction, Fraction]:
    m = len(column)
    mean = sum(column, Fraction(0)) / m
    return mean, sum(((v - mean) ** 2 for v in column), Fraction(0)) / m + eps


@dataclass(frozen=True)
class BatchNormGiven(Record):
    parts: tuple[str, ...]  # in the printed order of PARTS
    X: sp.Matrix  # m × d, rows = examples
    gamma: tuple[sp.Rational, ...]
    beta: tuple[sp.Rational, ...]
    epsilon: sp.Rational
    momentum: sp.Rational
    running_variance: str
    running_mean: tuple[sp.Rational, ...] | None = None  # running / inference parts
    running_var: tuple[sp.Rational, ...] | None = None
    x_test: tuple[sp.Rational, ...] | None = None  # inference part
    upstream: sp.Matrix | None = None  # backward part: ∂L/∂y, m × d


@dataclass(frozen=True)
class BatchNormFeature(Record):
    """One feature's worked values (the template reads them as ``f.<name>``)."""

    j: int
    x: tuple[sp.Rational, ...]
    mean: sp.Rational
    dev: tuple[sp.Rational, ...]  # x_i - μ_B
    sq: tuple[sp.Rational, ...]  # (x_i - μ_B)²
    var: sp.Rational  # biased, divides by m
    var_unbiased: sp.Rational  # divides by m - 1
    var_eps: sp.Rational  # σ_B² + ε
    std: sp.Expr  # √(σ_B² + ε)
    xhat: tuple[sp.Expr, ...]
    gamma: sp.Rational
    beta: sp.Rational
    y: tuple[sp.Expr, ...]
    rm_old: sp.Rational | None = None
    rv_old: sp.Rational | None = None
    var_for_running: sp.Rational | None = None
    rm_new: sp.Rational | None = None
    rv_new: sp.Rational | None = None
    inf_mean: sp.Rational | None = None  # the running estimates inference uses
    inf_var: sp.Rational | None = None
    inf_std: sp.Expr | None = None
    x_test: sp.Rational | None = None
    xhat_inf: sp.Expr | None = None
    y_inf: sp.Expr | None = None
    xhat_batch: sp.Expr | None = None
    y_batch: sp.Expr | None = None
    g: tuple[sp.Rational, ...] | None = None  # ∂L/∂y_i
    dbeta: sp.Rational | None = None
    gx: tuple[sp.Expr, ...] | None = None  # ∂L/∂y_i · x̂_i
    dgamma: sp.Expr | None = None
    dxhat: tuple[sp.Rational, ...] | None = None
    dvar_sum: sp.Rational | None = None  # Σ ∂L/∂x̂_i (x_i - μ_B)
    dvar: sp.Expr | None = None
    dmu: sp.Expr | None = None
    dx: tuple[sp.Expr, ...] | None = None
    sum_dxhat: sp.Rational | None = None
    sum_dxhat_xhat: sp.Expr | None = None


@dataclass(frozen=True)
class BatchNormData(Record):
    parts: tuple[str, ...]
    m: int
    d: int
    features: tuple[BatchNormFeature, ...]
    unbiased: bool
    updated: bool  # inference uses the estimates after this batch's update (running part asked)
    exact_std: bool  # every √(σ_B² + ε) is a terminating decimal


def _near_zero(s: Solved) -> bool:
    """Some normalized value, output or ∂L/∂x_i is not 0 but within NEAR_ZERO of it: printed
    to 4 decimals it reads as 0 or as one digit (with ε > 0, an x_i at the mean of the others
    gives such a ∂L/∂x_i)."""
    for f in s.data.features:
        for v in (*f.xhat, *f.y, *(f.dx or ())):
            if v != 0 and abs(float(v)) < NEAR_ZERO:
                return True
    return False


def _vector_answer(key: str, label: str, values: list[sp.Expr]) -> Answer:
    """One value per feature: a number for one feature, a row for several."""
    if len(values) == 1:
        return NumberAnswer(key, label, values[0])
    return MatrixAnswer(key, label, sp.Matrix([values]))


def _grid_points(grid: list[sp.Rational]) -> int:
    lo, hi, step = grid
    return int(sp.floor((hi - lo) / step)) + 1


class BatchNorm(Family):
    name = "batch_norm"
    title = "Batch normalization"
    summary = ("Batch normalization of a small batch: mean, biased variance, normalize, scale and shift; "
               "running statistics (momentum convention stated); inference vs training mode; the backward "
               "pass through the batch statistics.")
    Given = BatchNormGiven
    Data = BatchNormData
    params = (
        Param("parts", ListOf(Choice(PARTS), min_length=1, max_length=len(PARTS)), list(PARTS),
              "which parts to ask: forward (a), running (b), inference (c), backward (d)"),
        Param("X", Matrix(), None,
              f"the batch, rows = examples, columns = features: {MIN_ROWS} to {MAX_ROWS} rows, 1 to "
              f"{MAX_FEATURES} columns, {LIMIT_TEXT}; with epsilon = 0 no constant column"),
        Param("batch_size", Int(3, MAX_ROWS), None,
              f"examples m of a drawn batch, 3 to {MAX_ROWS} (random 4 or 5)"),
        Param("features", Int(1, MAX_FEATURES), None,
              f"features d of a drawn batch, 1 to {MAX_FEATURES} (default 1, or the size of the pinned values)"),
        Param("gamma", ListOf(Number(), 1, MAX_FEATURES), None, f"scale γ, one per feature, {LIMIT_TEXT}"),
        Param("beta", ListOf(Number(), 1, MAX_FEATURES), None, f"shift β, one per feature, {LIMIT_TEXT}"),
        Param("epsilon", Number(minimum=0, maximum=1), sp.Integer(0),
              "ε added to the variance under the square root, from 0 to 1 (0 keeps the numbers exact; "
              "frameworks use 1e-5)"),
        Param("momentum", Number(minimum=0, maximum=1), sp.Rational(1, 10),
              "momentum ρ of the running estimates, above 0 and at most 1: "
              "running ← (1 - ρ) · running + ρ · batch statistic (PyTorch's convention)"),
        Param("running_variance", Choice(RUNNING_VARIANCES), "unbiased",
              "the batch variance that updates the running variance: unbiased (divide by m - 1, as "
              "PyTorch) or biased (divide by m, the one used to normalize)"),
        Param("running_mean", ListOf(Number(), 1, MAX_FEATURES), None,
              f"running mean before this batch, one per feature, {LIMIT_TEXT}"),
        Param("running_var", ListOf(Number(), 1, MAX_FEATURES), None,
              f"running variance before this batch, one per feature, above 0 and at most {LARGEST}"),
        Param("x_test", ListOf(Number(), 1, MAX_FEATURES), None,
              f"the example of the inference part, one value per feature, {LIMIT_TEXT}"),
        Param("upstream", Matrix(), None,
              f"∂L/∂y of the backward part, the shape of X, {LIMIT_TEXT}"),
        Param("pleasant", Bool(), True,
              "draw batches whose √(σ² + ε) is a terminating decimal when one exists (exact normalized values)"),
        grid_param("value_grid", (-3, 6, 1), f"[lo, hi, step] for the entries of a drawn batch and x_test, {LIMIT_TEXT}"),
        grid_param("gamma_grid", (0.5, 3, 0.5), f"[lo, hi, step] for a drawn γ (never 0), {LIMIT_TEXT}"),
        grid_param("beta_grid", (-2, 2, 0.5), f"[lo, hi, step] for a drawn β, {LIMIT_TEXT}"),
        grid_param("running_mean_grid", (-1, 2, 0.5), f"[lo, hi, step] for a drawn running mean, {LIMIT_TEXT}"),
        grid_param("running_var_grid", (0.5, 4, 0.5),
                   f"[lo, hi, step] for a drawn running variance, above 0 and at most {LARGEST}"),
        grid_param("upstream_grid", (-1, 1, 0.5), f"[lo, hi, step] for a drawn ∂L/∂y, {LIMIT_TEXT}"),
    )
    constraints = (
        Constraint("every feature varies within the batch", ("X", "batch_size"),
                   lambda g, s: all(f.var != 0 for f in s.data.features)),
        Constraint("normalized values that are not all ±1", ("X", "batch_size"),
                   lambda g, s: any(abs(v) != 1 for f in s.data.features for v in f.xhat)),
        Constraint("an upstream gradient that is not constant over the batch", ("upstream",),
                   lambda g, s: "backward" not in g.parts or all(len(set(f.g)) > 1 for f in s.data.features)),
        Constraint("non-zero ∂L/∂γ, ∂L/∂β and ∂L/∂x for every feature", ("upstream", "X", "gamma"),
                   lambda g, s: "backward" not in g.parts or all(
                       f.dgamma != 0 and f.dbeta != 0 and any(v != 0 for v in f.dx) for f in s.data.features)),
        Constraint("an inference example whose two normalizations differ", ("x_test", "running_mean", "running_var"),
                   lambda g, s: "inference" not in g.parts or all(
                       sp.N(abs(f.y_inf - f.y_batch), 30) >= sp.Rational(1, 100) for f in s.data.features)),
        Constraint(f"no entry of x̂, y or ∂L/∂x within {NEAR_ZERO} of 0 but not 0 (with ε > 0 what would be 0 is not)",
                   ("X", "batch_size", "gamma", "beta", "upstream"), lambda g, s: not _near_zero(s)),
        Constraint("a batch mean that is not 0 in any feature", ("X", "batch_size"),
                   lambda g, s: all(f.mean != 0 for f in s.data.features)),
        Constraint("an updated running mean that is not 0", ("X", "batch_size", "running_mean"),
                   lambda g, s: "running" not in g.parts or all(f.rm_new != 0 for f in s.data.features)),
        Constraint("inference outputs that are not 0", ("X", "batch_size", "x_test", "running_mean", "running_var",
                                                        "gamma", "beta"),
                   lambda g, s: "inference" not in g.parts or all(
                       f.y_inf != 0 and f.y_batch != 0 for f in s.data.features)),
    )

    def quality(self, given: BatchNormGiven, solved: Solved) -> dict[str, bool]:
        features = solved.data.features
        out = {
            f"entry within {NEAR_ZERO} of 0 but not 0": _near_zero(solved),
            "zero batch mean": any(f.mean == 0 for f in features),
            "constant feature (variance 0)": any(f.var == 0 for f in features),
            # ε above a tenth of σ² changes x̂ by more than 5 %: the exercise is about ε then.
            "variance dominated by ε": any(given.epsilon * 10 > f.var for f in features),
            "normalized values all ±1": all(abs(v) == 1 for f in features for v in f.xhat),
        }
        if "running" in given.parts:
            out["zero running mean"] = any(f.rm_new == 0 for f in features)
        if "inference" in given.parts:
            out["zero inference output"] = any(f.y_inf == 0 or f.y_batch == 0 for f in features)
            out["inference and batch statistics agree"] = any(
                sp.N(abs(f.y_inf - f.y_batch), 30) < sp.Rational(1, 100) for f in features)
        if "backward" in given.parts:
            out["zero gradient"] = any(f.dgamma == 0 or f.dbeta == 0 or all(v == 0 for v in f.dx) for f in features)
            out["upstream gradient constant over the batch"] = any(len(set(f.g)) == 1 for f in features)
        return out

    # -- validation ----------------------------------------------------------------------------
    def validate(self, options: dict[str, Any]) -> None:
        parts = options["parts"]
        if len(set(parts)) != len(parts):
            raise WorksheetError("a part is listed twice", field="parts", allowed=", ".join(PARTS))
        for key in ("value_grid", "beta_grid", "running_mean_grid", "upstream_grid"):
            require_grid(options, key)
            self._limit(options, key, options[key])
        require_grid(options, "gamma_grid", nonzero=True)
        self._limit(options, "gamma_grid", options["gamma_grid"])
        require_grid(options, "running_var_grid")
        lo, hi, _ = options["running_var_grid"]
        if lo <= 0 or hi > LARGEST:
            raise WorksheetError("the grid reaches 0 or below, or beyond the limit", field="running_var_grid",
                                 allowed=f"[lo, hi, step] with 0 < lo and hi <= {LARGEST}")
        if options["momentum"] == 0:
            raise WorksheetError("momentum 0 never updates the running estimates", field="momentum",
                                 allowed="a number above 0 and at most 1")
        if options["X"] is None and _grid_points(options["value_grid"]) < 2:
            raise WorksheetError("the grid has one point, so every batch would be constant", field="value_grid",
                                 allowed="a grid with at least two points")

        X = options["X"]
        sizes: dict[str, int] = {}
        if X is not None:
            m, d = X.shape
            if not MIN_ROWS <= m <= MAX_ROWS or d > MAX_FEATURES:
                raise WorksheetError(f"X is {m} x {d}", field="X",
                                     allowed=f"{MIN_ROWS} to {MAX_ROWS} rows (examples) and 1 to {MAX_FEATURES} columns")
            self._limit(options, "X", list(X))
            for key, size in (("batch_size", m), ("features", d)):
                if options[key] is not None and options[key] != size:
                    raise WorksheetError(f"{key} = {options[key]} but X has {size}", field=key,
                                         allowed=f"{size} (or leave it out)")
            if options["epsilon"] == 0:
                for j in range(d):
                    if len(set(X[:, j])) == 1:
                        raise WorksheetError(f"column {j + 1} is constant: with ε = 0 its variance 0 is a division by zero",
                                             field="X", allowed="columns with two different values, or epsilon > 0")
            sizes["X"] = d
        if options["features"] is not None:
            sizes.setdefault("features", options["features"])
        for key in ("gamma", "beta", "running_mean", "running_var", "x_test"):
            if options[key] is not None:
                self._limit(options, key, options[key])
                sizes.setdefault(key, len(options[key]))
        if len(set(sizes.values())) > 1:
            first, *rest = sizes.items()
            bad = next(k for k, n in rest if n != first[1])
            raise WorksheetError(f"{bad} has {sizes[bad]} entries but {first[0]} says {first[1]} features",
                                 field=bad, allowed=f"{first[1]} entries, one per feature")
        if options["running_var"] is not None and any(v <= 0 for v in options["running_var"]):
            raise WorksheetError("a running variance is 0 or negative", field="running_var",
                                 allowed=f"numbers above 0 and at most {LARGEST}")
        G = options["upstream"]
        if G is not None:
            self._limit(options, "upstream", list(G))
            m = X.shape[0] if X is not None else options["batch_size"]
            d = next(iter(sizes.values()), None)
            if (m is not None and G.shape[0] != m) or (d is not None and G.shape[1] != d):
                raise WorksheetError(f"upstream is {G.shape[0]} x {G.shape[1]}", field="upstream",
                                     allowed=f"the shape of the batch ({m or 'm'} x {d or 'd'})")
            if X is None and options["batch_size"] is None and not 3 <= G.shape[0] <= MAX_ROWS:
                raise WorksheetError(f"upstream has {G.shape[0]} rows", field="upstream",
                                     allowed=f"3 to {MAX_ROWS} rows (one per example)")

    @staticmethod
    def _limit(options: dict[str, Any], key: str, values: Any) -> None:
        for i, v in enumerate(values, start=1):
            if abs(v) > LARGEST:
                raise WorksheetError(f"entry {i} ({mathfmt.num(v, 12)}) is outside the allowed range", field=key,
                                     allowed=LIMIT_TEXT)

    def drawn(self, options: dict[str, Any]) -> frozenset[str]:
        """As the base class, less what nothing random decides: the sizes when X is given, and the
        values of parts that are not asked. So a fully pinned exercise is not held to the rules."""
        drawn = set(super().drawn(options))
        if options["X"] is not None:
            drawn -= {"batch_size", "features"}
        parts = options["parts"]
        if "running" not in parts and "inference" not in parts:
            drawn -= {"running_mean", "running_var"}
        if "inference" not in parts:
            drawn.discard("x_test")
        if "backward" not in parts:
            drawn.discard("upstream")
        return frozenset(drawn)

    # -- sampling ------------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator, options: dict[str, Any]) -> BatchNormGiven:
        parts = tuple(p for p in PARTS if p in options["parts"])
        X = options["X"]
        G = options["upstream"]
        d = (X.shape[1] if X is not None else options["features"] or next(
            (len(options[k]) for k in ("gamma", "beta", "running_mean", "running_var", "x_test") if options[k] is not None),
            G.shape[1] if G is not None else 1))
        eps = options["epsilon"]
        if X is None:
            m = options["batch_size"] or (G.shape[0] if G is not None else int(rng.integers(4, 6)))
            columns = [self._column(rng, options, m, eps) for _ in range(d)]
            X = sp.Matrix(m, d, lambda i, j: columns[j][i])
        m = X.shape[0]

        def per_feature(key: str, grid: str, nonzero: bool = False) -> tuple[sp.Rational, ...]:
            if options[key] is not None:
                return tuple(options[key])
            draw = nonzero_grid_values if nonzero else grid_values
            return tuple(draw(rng, *options[grid], size=d))

        gamma = per_feature("gamma", "gamma_grid", nonzero=True)
        beta = per_feature("beta", "beta_grid")
        running_mean = running_var = x_test = upstream = None
        if "running" in parts or "inference" in parts:
            running_mean = per_feature("running_mean", "running_mean_grid")
            running_var = per_feature("running_var", "running_var_grid")
        if "inference" in parts:
            x_test = per_feature("x_test", "value_grid")
        if "backward" in parts:
            upstream = G if G is not None else self._upstream(rng, options["upstream_grid"], X)
        return BatchNormGiven(
            parts=parts, X=X, gamma=gamma, beta=beta, epsilon=eps, momentum=options["momentum"],
            running_variance=options["running_variance"], running_mean=running_mean,
            running_var=running_var, x_test=x_test, upstream=upstream)

    @staticmethod
    def _upstream(rng: np.random.Generator, grid: list[sp.Rational], X: sp.Matrix) -> sp.Matrix:
        """∂L/∂y on the grid, preferably (bounded redraws, in exact Fractions) with a column that
        varies and non-zero ∂L/∂β = Σ g_i and ∂L/∂γ ∝ Σ g_i (x_i - μ) in every feature; the
        constraints decide on the last draw if none does."""
        m, d = X.shape
        G = grid_values(rng, *grid, size=(m, d))
        for _ in range(PLEASANT_TRIES):
            good = True
            for j in range(d):
                g = [_fraction(G[i, j]) for i in range(m)]
                x = [_fraction(X[i, j]) for i in range(m)]
                mean = sum(x, Fraction(0)) / m
                if len(set(g)) == 1 or sum(g) == 0 or sum(a * (b - mean) for a, b in zip(g, x)) == 0:
                    good = False
                    break
            if good:
                return G
            G = grid_values(rng, *grid, size=(m, d))
        return G

    @staticmethod
    def _column(rng: np.random.Generator, options: dict[str, Any], m: int, eps: sp.Rational) -> list[sp.Rational]:
        """m grid values, not all equal; with ``pleasant``, preferably with a terminating
        √(σ² + ε). The search is bounded: after PLEASANT_TRIES the last varying draw is kept (a
        constant one is left to the constraint, which redraws the whole exercise)."""
        grid = options["value_grid"]
        column = grid_values(rng, *grid, size=m)
        if not options["pleasant"]:
            return column
        e = _fraction(eps)
        for _ in range(PLEASANT_TRIES):
            fr = [_fraction(v) for v in column]
            mean, var_eps = _column_stats(fr, e)
            if len(set(fr)) > 1 and mean != 0 and _pleasant_root(var_eps) and any(abs(v - mean) ** 2 != var_eps for v in fr):
                return column
            column = grid_values(rng, *grid, size=m)
        return column

    # -- solving -------------------------------------------------------------------------------
    def solve(self, given: BatchNormGiven) -> Solved:
        X, parts = given.X, given.parts
        m, d = X.shape
        eps, rho = given.epsilon, given.momentum
        unbiased = given.running_variance == "unbiased"
        features = []
        for j in range(d):
            x = tuple(X[:, j])
            mean = sum(x, sp.Integer(0)) / m
            dev = tuple(v - mean for v in x)
            sq = tuple(v**2 for v in dev)
            total = sum(sq, sp.Integer(0))
            var = total / m
            var_unbiased = total / (m - 1)
            var_eps = var + eps
            std = sp.sqrt(var_eps)
            if std == 0:
                raise WorksheetError(f"feature {j + 1} is constant and ε = 0: division by zero", field="X",
                                     allowed="a varying feature, or epsilon > 0")
            xhat = tuple(sp.radsimp(v / std) for v in dev)
            gamma, beta = given.gamma[j], given.beta[j]
            y = tuple(gamma * v + beta for v in xhat)
            f: dict[str, Any] = dict(j=j + 1, x=x, mean=mean, dev=dev, sq=sq, var=var, var_unbiased=var_unbiased,
                                     var_eps=var_eps, std=std, xhat=xhat, gamma=gamma, beta=beta, y=y)
            if given.running_mean is not None:
                rm_old, rv_old = given.running_mean[j], given.running_var[j]
                var_for_running = var_unbiased if unbiased else var
                rm_new = (1 - rho) * rm_old + rho * mean
                rv_new = (1 - rho) * rv_old + rho * var_for_running
                f.update(rm_old=rm_old, rv_old=rv_old, var_for_running=var_for_running, rm_new=rm_new, rv_new=rv_new)
                if given.x_test is not None:
                    inf_mean, inf_var = (rm_new, rv_new) if "running" in parts else (rm_old, rv_old)
                    inf_std = sp.sqrt(inf_var + eps)
                    xt = given.x_test[j]
                    xhat_inf = sp.radsimp((xt - inf_mean) / inf_std)
                    xhat_batch = sp.radsimp((xt - mean) / std)
                    f.update(inf_mean=inf_mean, inf_var=inf_var, inf_std=inf_std, x_test=xt, xhat_inf=xhat_inf,
                             y_inf=gamma * xhat_inf + beta, xhat_batch=xhat_batch, y_batch=gamma * xhat_batch + beta)
            if given.upstream is not None:
                g = tuple(given.upstream[:, j])
                dxhat = tuple(gamma * v for v in g)
                dvar_sum = sum((a * b for a, b in zip(dxhat, dev)), sp.Integer(0))
                dvar = -dvar_sum / (2 * std**3)
                # ∂μ/∂... : the σ² path contributes ∂L/∂σ² · (1/m) Σ -2(x_i - μ) = 0.
                dmu = -sum(dxhat, sp.Integer(0)) / std
                dx = tuple(sp.radsimp(a / std + dvar * 2 * b / m + dmu / m) for a, b in zip(dxhat, dev))
                gx = tuple(sp.radsimp(a * b) for a, b in zip(g, xhat))
                f.update(g=g, dbeta=sum(g, sp.Integer(0)), gx=gx, dgamma=sp.radsimp(sum(gx, sp.Integer(0))),
                         dxhat=dxhat, dvar_sum=dvar_sum, dvar=sp.radsimp(dvar), dmu=sp.radsimp(dmu), dx=dx,
                         sum_dxhat=sum(dxhat, sp.Integer(0)),
                         sum_dxhat_xhat=sp.radsimp(sum((a * b for a, b in zip(dxhat, xhat)), sp.Integer(0))))
                # The compact form of ∂L/∂x_i must equal the staged one (a broken invariant is a bug).
                for i in range(m):
                    compact = (m * dxhat[i] - f["sum_dxhat"] - xhat[i] * f["sum_dxhat_xhat"]) / (m * std)
                    if sp.expand(sp.radsimp(compact - dx[i])) != 0:
                        raise CheckError(f"batch_norm: the staged and compact ∂L/∂x_{i + 1} of feature {j + 1} "
                                         f"differ: {dx[i]} vs {compact}")
            features.append(BatchNormFeature(**f))

        data = BatchNormData(parts=parts, m=m, d=d, features=tuple(features), unbiased=unbiased,
                             updated="running" in parts,
                             exact_std=all(mathfmt.is_exact_decimal(f.std) for f in features))
        answers: list[Answer] = []
        col = lambda key: sp.Matrix(m, d, lambda i, j: features[j][key][i])  # noqa: E731
        if "forward" in parts:
            answers += [
                _vector_answer("mean", r"\mu_B", [f.mean for f in features]),
                _vector_answer("var", r"\sigma_B^2", [f.var for f in features]),
                MatrixAnswer("xhat", r"\hat{x}", col("xhat")),
                MatrixAnswer("y", r"y", col("y")),
            ]
        if "running" in parts:
            answers += [
                _vector_answer("running_mean", r"\mu_{\text{run}}", [f.rm_new for f in features]),
                _vector_answer("running_var", r"\sigma^2_{\text{run}}", [f.rv_new for f in features]),
            ]
        if "inference" in parts:
            answers += [
                _vector_answer("y_inference", r"y_{\text{inference}}", [f.y_inf for f in features]),
                _vector_answer("y_batch_stats", r"y_{\text{batch statistics}}", [f.y_batch for f in features]),
            ]
        if "backward" in parts:
            answers += [
                _vector_answer("dgamma", r"\frac{\partial L}{\partial \gamma}", [f.dgamma for f in features]),
                _vector_answer("dbeta", r"\frac{\partial L}{\partial \beta}", [f.dbeta for f in features]),
                MatrixAnswer("dx", r"\frac{\partial L}{\partial x}", col("dx")),
            ]
        return Solved(answers, data)

    # -- independent check ---------------------------------------------------------------------
    def check(self, given: BatchNormGiven) -> dict[str, Any]:
        """NumPy in double precision. The forward pass with NumPy's own mean and variance (ddof 0
        to normalize, ddof 1 for an unbiased running update); the backward pass not by a formula
        but by the complex step: for L = Σ ∂L/∂y ⊙ y(X), Im L(X + ih e_k) / h is ∂L/∂X_k to
        machine precision (no difference of nearly equal numbers), so it can be compared tightly.
        The forward function used there writes the variance as mean((x - μ)²), which is analytic
        (np.var takes |·|², which is not)."""
        parts = given.parts
        X = np.array(given.X.tolist(), dtype=float)
        m, d = X.shape
        gamma = np.array([float(v) for v in given.gamma])
        beta = np.array([float(v) for v in given.beta])
        eps, rho = float(given.epsilon), float(given.momentum)
        mean = X.mean(axis=0)
        var = X.var(axis=0, ddof=0)
        xhat = (X - mean) / np.sqrt(var + eps)
        y = gamma * xhat + beta
        out: dict[str, Any] = {}

        def vec(v: np.ndarray) -> Any:
            return float(v[0]) if d == 1 else v.reshape(1, d)

        if "forward" in parts:
            out.update(mean=vec(mean), var=vec(var), xhat=xhat, y=y)
        if given.running_mean is not None:
            rm = np.array([float(v) for v in given.running_mean])
            rv = np.array([float(v) for v in given.running_var])
            batch_var = X.var(axis=0, ddof=1 if given.running_variance == "unbiased" else 0)
            rm_new = (1 - rho) * rm + rho * mean
            rv_new = (1 - rho) * rv + rho * batch_var
            if "running" in parts:
                out.update(running_mean=vec(rm_new), running_var=vec(rv_new))
            if "inference" in parts:
                mu_i, var_i = (rm_new, rv_new) if "running" in parts else (rm, rv)
                xt = np.array([float(v) for v in given.x_test])
                out.update(y_inference=vec(gamma * (xt - mu_i) / np.sqrt(var_i + eps) + beta),
                           y_batch_stats=vec(gamma * (xt - mean) / np.sqrt(var + eps) + beta))
        if "backward" in parts:
            G = np.array(given.upstream.tolist(), dtype=float)
            h = 1e-30

            def loss(Xc: np.ndarray, gc: np.ndarray, bc: np.ndarray) -> complex:
                mu = Xc.mean(axis=0)
                v = ((Xc - mu) ** 2).mean(axis=0)
                return complex(np.sum(G * (gc * (Xc - mu) / np.sqrt(v + eps) + bc)))

            dx = np.zeros((m, d))
            for i in range(m):
                for j in range(d):
                    bump = X.astype(complex)
                    bump[i, j] += 1j * h
                    dx[i, j] = loss(bump, gamma, beta).imag / h
            dgamma = np.array([loss(X.astype(complex), gamma + 1j * h * np.eye(d)[j], beta).imag / h for j in range(d)])
            dbeta = np.array([loss(X.astype(complex), gamma, beta + 1j * h * np.eye(d)[j]).imag / h for j in range(d)])
            out.update(dgamma=vec(dgamma), dbeta=vec(dbeta), dx=dx)
        return out
