"""Softmax output with cross-entropy loss (seed 002 Q2): shapes in a two-layer classifier, the
softmax Jacobian and the cross-entropy gradient (derived by SymPy, not typed in), a numeric
instance on random logits, and the max-subtraction trick on logits that overflow float64.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any, Callable

import numpy as np
import sympy as sp

from worksheetgen import mathfmt
from worksheetgen.answers import Answer, BooleanAnswer, ExpressionAnswer, MatrixAnswer, NumberAnswer
from worksheetgen.errors import CheckError, WorksheetError
from worksheetgen.family import Constraint, Family, Record, Solved
from worksheetgen.params import Choice, Int, ListOf, Number, Param
from worksheetgen.sampling import grid_param, grid_values, require_grid

PARTS = ("shapes", "softmax_same", "softmax_other", "loss_grad", "numeric", "stable")
NUMERIC_PARTS = ("numeric", "stable")
# Limits, as the help texts state them. Sizes only label shapes (nothing is allocated, the
# check counts), so they may be large; the numeric parts are worked by hand: at most 6 classes,
# logits within ±100 (e^100 is still a printable number), large logits within ±10000
# (e^10000 ≈ 10^4343 is the largest power the solution writes out).
MAX_SIZE = 100_000
MAX_BATCH = 1_000_000
MAX_NUMERIC_K = 6
LOGIT_LIMIT = 100
LARGE_LOGIT_LIMIT = 10_000
FLOAT_MAX = sys.float_info.max
# ln of the largest float64: e^z overflows to inf above this (709.78...).
LN_FLOAT_MAX = sp.log(sp.Rational(FLOAT_MAX))
# No large logit this close to ln(max float64): whether float64 rounds e^z to inf there depends
# on the last bit, and the solution says which terms overflow.
OVERFLOW_MARGIN = sp.Rational(1, 100)

# The simplified forms the seed asks for, in terms of y-hat. Each is proven equal to SymPy's
# derivative of the softmax definition in solve(); check() tests the same text numerically.
FORMS: dict[str, tuple[str, Callable[[list[sp.Expr], int, int], sp.Expr]]] = {
    "dyk_dzk": (r"\hat{y}_k (1 - \hat{y}_k)", lambda y, k, i: y[k] * (1 - y[k])),
    "dyk_dzi": (r"-\hat{y}_k \hat{y}_i", lambda y, k, i: -y[k] * y[i]),
    "dL_dzk": (r"\hat{y}_k - 1", lambda y, k, i: y[k] - 1),
    "dL_dzi": (r"\hat{y}_i", lambda y, k, i: y[i]),
}
FORM_LABELS = {
    "dyk_dzk": r"\frac{\partial \hat{y}_k}{\partial z_k^{[2]}}",
    "dyk_dzi": r"\frac{\partial \hat{y}_k}{\partial z_i^{[2]}},\ i \neq k",
    "dL_dzk": r"\frac{\partial L}{\partial z_k^{[2]}}",
    "dL_dzi": r"\frac{\partial L}{\partial z_i^{[2]}},\ i \neq k",
}
PART_FORMS = {"softmax_same": ("dyk_dzk",), "softmax_other": ("dyk_dzi",),
              "loss_grad": ("dL_dzk", "dL_dzi")}


@lru_cache(maxsize=None)
def derive_forms(size: int) -> dict[str, str]:
    """Differentiate softmax and -log softmax_k over ``size`` symbolic logits and prove that every
    derivative equals the simplified form in FORMS, for every pair (k, i). CheckError if one
    does not.

    Writing e^{z_j} = t_j turns each identity into one between rational functions, which
    ``cancel`` decides exactly.
    """
    z = sp.symbols(f"z1:{size + 1}", real=True)
    t = sp.symbols(f"t1:{size + 1}", positive=True)
    total = sum(sp.exp(v) for v in z)
    yhat = [sp.exp(v) / total for v in z]
    to_t = {sp.exp(z[j]): t[j] for j in range(size)}
    for k in range(size):
        loss = -sp.log(yhat[k])  # L = -sum y_i log yhat_i with y one-hot at k
        for i in range(size):
            cases = [("dyk_dzk" if i == k else "dyk_dzi", sp.diff(yhat[k], z[i])),
                     ("dL_dzk" if i == k else "dL_dzi", sp.diff(loss, z[i]))]
            for key, derivative in cases:
                claimed = FORMS[key][1](yhat, k, i)
                if sp.cancel(sp.expand((derivative - claimed).subs(to_t))) != 0:
                    raise CheckError(f"softmax_ce: derivative {key} for k={k + 1}, i={i + 1} "
                                     f"is not {FORMS[key][0]}: SymPy gives {derivative}")
    return {key: tex for key, (tex, _) in FORMS.items()}


def scientific(x: Any, digits: int = 3) -> str:
    """A huge positive value as TeX 'm \\times 10^{e}' (mathfmt.num is for moderate values)."""
    d = Decimal(str(sp.N(x, 40)).replace("*^", "E"))
    exponent = d.adjusted()
    mantissa = d.scaleb(-exponent).quantize(Decimal(1).scaleb(-(digits - 1)), rounding=ROUND_HALF_UP)
    if mantissa >= 10:
        mantissa, exponent = (mantissa / 10).quantize(mantissa), exponent + 1
    return f"{mantissa} \\times 10^{{{exponent}}}"


def _column(values: Any) -> sp.Matrix:
    return sp.Matrix(len(values), 1, list(values))


@dataclass(frozen=True)
class SoftmaxCEGiven(Record):
    parts: tuple[str, ...]  # in the printed order of PARTS
    alpha: sp.Rational
    K: int
    D_x: int | None = None  # shapes part
    D_a: int | None = None
    m: int | None = None
    logits: tuple[sp.Rational, ...] | None = None  # numeric part
    label: int | None = None
    large_logits: tuple[sp.Rational, ...] | None = None  # stable part


@dataclass(frozen=True)
class LargeExp(Record):
    """One e^{z_i} of the stability part: its size and whether float64 overflows."""

    z: sp.Rational
    value: str  # TeX, m × 10^e
    inf: bool


@dataclass(frozen=True)
class SoftmaxCEData(Record):
    parts: tuple[str, ...]
    # numeric part
    exp_sum: str | None = None
    total: sp.Expr | None = None
    yhat: tuple[sp.Expr, ...] | None = None
    y: tuple[sp.Integer, ...] | None = None
    loss: sp.Expr | None = None
    grad: tuple[sp.Expr, ...] | None = None
    # stable part
    large_exp: tuple[LargeExp, ...] | None = None
    naive: tuple[str, ...] | None = None  # what the naive formula gives, as TeX
    top: sp.Rational | None = None
    shifted: tuple[sp.Rational, ...] | None = None
    shifted_total: sp.Expr | None = None
    stable: tuple[sp.Expr, ...] | None = None
    shifted_sum: str | None = None


def _distinct(values: Any) -> bool:
    return values is None or len(set(values)) > 1


class SoftmaxCE(Family):
    name = "softmax_ce"
    title = "Softmax and cross-entropy"
    summary = ("Two-layer K-class classifier with softmax and cross-entropy: shapes, softmax "
               "derivatives, dL/dz, a numeric instance and the max-subtraction trick.")
    Given = SoftmaxCEGiven
    Data = SoftmaxCEData
    params = (
        Param("parts", ListOf(Choice(PARTS), min_length=1, max_length=len(PARTS)), list(PARTS),
              "which parts to ask: shapes (a), softmax_same (b), softmax_other (c), loss_grad (d), "
              "numeric (e), stable (f)"),
        Param("D_x", Int(1, MAX_SIZE), None, "input size D_x (sizes are only counted: any allowed size is cheap)"),
        Param("D_a", Int(1, MAX_SIZE), None, "hidden units D_a"),
        Param("K", Int(2, MAX_SIZE), None,
              f"classes K (at most {MAX_NUMERIC_K} with numeric/stable)"),
        Param("m", Int(1, MAX_BATCH), None, "batch size m"),
        Param("alpha", Number(positive=True), sp.Rational(1, 100), "slope α of the LeakyReLU"),
        Param("logits", ListOf(Number(), min_length=2, max_length=MAX_NUMERIC_K), None,
              f"logits z^{{[2]}} of the numeric part, each from {-LOGIT_LIMIT} to {LOGIT_LIMIT}, not all equal"),
        Param("label", Int(1, MAX_NUMERIC_K), None, "true class k of the numeric part (1-based)"),
        grid_param("logit_grid", (-2, 2, 0.5),
                   f"[lo, hi, step] for drawn logits, from {-LOGIT_LIMIT} to {LOGIT_LIMIT}, at least two points"),
        Param("large_logits", ListOf(Number(), min_length=2, max_length=MAX_NUMERIC_K), None,
              f"logits of the stability part, each from {-LARGE_LOGIT_LIMIT} to {LARGE_LOGIT_LIMIT}, "
              "not all equal, at least one above ln(max float64) = 709.78, none within 0.01 of it"),
    )
    constraints = (
        Constraint("logits that are not all equal", ("logits",),
                   lambda g, s: "numeric" not in g.parts or _distinct(g.logits)),
        Constraint("large logits that are not all equal", ("large_logits",),
                   lambda g, s: "stable" not in g.parts or _distinct(g.large_logits)),
    )

    # -- validation ----------------------------------------------------------------------------
    def validate(self, options: dict[str, Any]) -> None:
        parts = options["parts"]
        if len(set(parts)) != len(parts):
            raise WorksheetError("a part is listed twice", field="parts", allowed=", ".join(PARTS))
        require_grid(options, "logit_grid")
        lo, hi, step = options["logit_grid"]
        if lo < -LOGIT_LIMIT or hi > LOGIT_LIMIT:
            raise WorksheetError("grid outside the allowed range", field="logit_grid",
                                 allowed=f"values from {-LOGIT_LIMIT} to {LOGIT_LIMIT}")
        if "numeric" in parts and options["logits"] is None and hi - lo < step:
            raise WorksheetError("the grid has one point, so every logit would be equal", field="logit_grid",
                                 allowed="a grid with at least two points")
        numeric = any(p in parts for p in NUMERIC_PARTS)
        sizes = {key: len(options[key]) for key in ("logits", "large_logits")
                 if options[key] is not None and numeric}
        if options["K"] is not None:
            sizes = {"K": options["K"], **sizes}
        if len(set(sizes.values())) > 1:
            first, *rest = sizes
            raise WorksheetError(f"{rest[0]} has {sizes[rest[0]]} entries but {first} = {sizes[first]}",
                                 field=rest[0], allowed=f"{sizes[first]} entries, one per class")
        if numeric and options["K"] is not None and options["K"] > MAX_NUMERIC_K:
            raise WorksheetError(f"K = {options['K']} classes is too many to compute by hand",
                                 field="K", allowed=f"K <= {MAX_NUMERIC_K} with the numeric or stable "
                                 "part, or leave those parts out")
        k_max = next(iter(sizes.values()), None)
        if options["label"] is not None and k_max is not None and options["label"] > k_max:
            raise WorksheetError(f"class {options['label']} does not exist", field="label",
                                 allowed=f"1 to {k_max}")
        for key, limit in (("logits", LOGIT_LIMIT), ("large_logits", LARGE_LOGIT_LIMIT)):
            for i, v in enumerate(options[key] or (), start=1):
                if abs(v) > limit:
                    raise WorksheetError(f"entry {i} ({mathfmt.num(v)}) is outside the allowed range",
                                         field=key, allowed=f"values from {-limit} to {limit}")
        large = options["large_logits"]
        if "stable" in parts and large is not None:
            if max(large) <= LN_FLOAT_MAX:
                raise WorksheetError("with these logits the naive softmax does not overflow",
                                     field="large_logits",
                                     allowed="at least one logit above ln(1.8e308) = 709.78")
            if any(abs(v - LN_FLOAT_MAX) < OVERFLOW_MARGIN for v in large):
                raise WorksheetError("a logit lies within 0.01 of ln(max float64) = 709.7827, where "
                                     "overflow depends on the last bit", field="large_logits",
                                     allowed="logits at least 0.01 away from 709.78")
            if len(set(large)) == 1:
                raise WorksheetError("all large logits are equal", field="large_logits",
                                     allowed="at least two different logits")
        if "numeric" in parts and options["logits"] is not None and len(set(options["logits"])) == 1:
            raise WorksheetError("all logits are equal (the softmax is uniform)", field="logits",
                                 allowed="at least two different logits")

    # -- sampling ------------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator, options: dict[str, Any]) -> SoftmaxCEGiven:
        parts = tuple(p for p in PARTS if p in options["parts"])
        numeric = any(p in parts for p in NUMERIC_PARTS)
        K = options["K"]
        for key in ("logits", "large_logits"):
            if K is None and numeric and options[key] is not None:
                K = len(options[key])
        if K is None:
            K = int(rng.integers(3, 5)) if numeric else int(rng.integers(3, 11))
        sizes: dict[str, int] = {}
        if "shapes" in parts:
            # Distinct sizes, so a shape names its dimensions unambiguously.
            pools = {"D_x": range(2, 9), "D_a": range(2, 13), "m": (16, 20, 32, 50, 64, 100, 128)}
            taken = {K} | {options[k] for k in pools if options[k] is not None}
            for key, pool in pools.items():
                if options[key] is not None:
                    sizes[key] = options[key]
                    continue
                free = [v for v in pool if v not in taken] or list(pool)
                sizes[key] = int(free[int(rng.integers(len(free)))])
                taken.add(sizes[key])
        logits = label = large = None
        if "numeric" in parts:
            # Equal logits are redrawn by the constraint (each attempt a fresh stream).
            logits = options["logits"] or grid_values(rng, *options["logit_grid"], size=K)
            label = options["label"] or int(rng.integers(1, K + 1))
        if "stable" in parts:
            large = options["large_logits"]
            if large is None:
                base = 50 * int(rng.integers(15, 21))  # 750 ... 1000: every e^{z_i} overflows
                large = [base + v for v in grid_values(rng, -3, 3, sp.Rational(1, 2), size=K)]
        return SoftmaxCEGiven(
            parts=parts, alpha=options["alpha"], K=K, **sizes, label=label,
            logits=tuple(logits) if logits is not None else None,
            large_logits=tuple(large) if large is not None else None)

    # -- solving -------------------------------------------------------------------------------
    def solve(self, given: SoftmaxCEGiven) -> Solved:
        parts, K = given.parts, given.K
        answers: list[Answer] = []
        data: dict[str, Any] = {"parts": parts}
        if "shapes" in parts:
            d_a, m = given.D_a, given.m
            exact = {"kind": "exact"}  # a shape is right or wrong
            answers += [
                MatrixAnswer("W2_shape", r"\text{shape of } W^{[2]}", sp.Matrix([[K, d_a]]), tolerance=exact),
                MatrixAnswer("b2_shape", r"\text{shape of } b^{[2]}", sp.Matrix([[K, 1]]), tolerance=exact),
                MatrixAnswer("A1_shape", r"\text{shape of } A^{[1]}", sp.Matrix([[d_a, m]]), tolerance=exact),
            ]
        symbolic = [key for p in parts for key in PART_FORMS.get(p, ())]
        if symbolic:
            # The identities hold for any K; proving them for up to 6 logits keeps it quick.
            forms = derive_forms(min(K, MAX_NUMERIC_K))
            answers += [ExpressionAnswer(key, FORM_LABELS[key], forms[key]) for key in symbolic]
        if "numeric" in parts:
            z = given.logits
            k = given.label
            total = sum(sp.exp(v) for v in z)
            yhat = tuple(sp.exp(v) / total for v in z)
            y = tuple(sp.Integer(1 if i == k else 0) for i in range(1, K + 1))
            loss = sp.log(total) - z[k - 1]  # -ln yhat_k
            grad = tuple(a - b for a, b in zip(yhat, y))
            data.update(
                exp_sum=" + ".join(f"e^{{{mathfmt.num(v)}}}" for v in z),
                total=total, yhat=yhat, y=y, loss=loss, grad=grad,
            )
            answers += [
                MatrixAnswer("yhat", r"\hat{y}", _column(yhat)),
                NumberAnswer("loss", "L", loss),
                MatrixAnswer("dL_dz", r"\frac{\partial L}{\partial z^{[2]}}", _column(grad)),
            ]
        if "stable" in parts:
            z = given.large_logits
            top = max(z)
            shifted = tuple(v - top for v in z)
            total = sum(sp.exp(v) for v in shifted)
            stable = tuple(sp.exp(v) / total for v in shifted)
            overflows = [bool(v > LN_FLOAT_MAX) for v in z]
            naive = tuple("\\mathrm{NaN}" if o else "0" for o in overflows) if any(overflows) else None
            data.update(
                large_exp=tuple(LargeExp(z=v, value=scientific(sp.exp(v)), inf=o) for v, o in zip(z, overflows)),
                naive=naive, top=top, shifted=shifted, shifted_total=total, stable=stable,
                shifted_sum=" + ".join(f"e^{{{mathfmt.num(v)}}}" for v in shifted),
            )
            answers += [
                BooleanAnswer("naive_overflows", r"\text{naive softmax overflows in float64}", any(overflows)),
                NumberAnswer("max_logit", r"m = \max_i z_i^{[2]}", top),
                MatrixAnswer("stable_yhat", r"\hat{y}", _column(stable)),
            ]
        return Solved(answers, SoftmaxCEData(**data))

    # -- independent check ---------------------------------------------------------------------
    def check(self, given: SoftmaxCEGiven) -> dict[str, Any]:
        parts, K = given.parts, given.K
        result: dict[str, Any] = {}
        if "shapes" in parts:
            result.update(_forward_shapes(given.D_x, given.D_a, K, given.m))
        symbolic = [key for p in parts for key in PART_FORMS.get(p, ())]
        if symbolic:
            result.update(_numeric_forms(symbolic, K))
        if "numeric" in parts:
            z = np.array([float(v) for v in given.logits])
            k = given.label - 1
            shift = z.max()
            e = np.exp(z - shift)
            yhat = e / e.sum()
            # -ln ŷ_k = logsumexp(z) - z_k: finite even when ŷ_k underflows to 0.
            loss = np.log(e.sum()) + shift - z[k]
            result.update(yhat=yhat, loss=loss, dL_dz=yhat - np.eye(K)[k])
        if "stable" in parts:
            z = np.array([float(v) for v in given.large_logits])
            with np.errstate(over="ignore", invalid="ignore"):
                e = np.exp(z)
                naive = e / e.sum()
            stable = np.exp(z - z.max())
            stable /= stable.sum()
            result.update(
                naive_overflows=bool(np.isinf(e).any() and not np.isfinite(naive).all()),
                max_logit=float(z.max()),
                stable_yhat=stable if np.isfinite(stable).all() else np.full(K, np.nan),
            )
        return result


def _matmul_shape(a: tuple[int, int], b: tuple[int, int], what: str) -> tuple[int, int]:
    if a[1] != b[0]:
        raise CheckError(f"softmax_ce: {what}: a {a[0]}×{a[1]} matrix cannot multiply a {b[0]}×{b[1]} one")
    return (a[0], b[1])


def _forward_shapes(d_x: int, d_a: int, K: int, m: int) -> dict[str, Any]:
    """The batched forward pass on shapes alone: the products and broadcasts NumPy would do,
    refused where they would not fit, without allocating a single matrix (D_x and D_a may be
    100000 each; the arrays would take tens of GiB). Broadcasting follows NumPy's own rule."""
    X, W1, b1 = (d_x, m), (d_a, d_x), (d_a, 1)
    Z1 = tuple(np.broadcast_shapes(_matmul_shape(W1, X, "W1 X"), b1))
    A1 = Z1  # LeakyReLU acts elementwise
    W2, b2 = (K, A1[0]), (K, 1)
    Z2 = tuple(np.broadcast_shapes(_matmul_shape(W2, A1, "W2 A1"), b2))
    if Z2 != (K, m):
        raise CheckError(f"softmax_ce: the logits of a batch are {Z2[0]}×{Z2[1]}, not K×m = {K}×{m}")
    return {"W2_shape": [W2], "b2_shape": [b2], "A1_shape": [A1]}


def _numeric_forms(keys: list[str], K: int) -> dict[str, str]:
    """Each claimed form, kept only if it matches the derivative of a NumPy softmax taken by the
    complex step: Im f(z + ih)/h with h = 1e-30 is f'(z) to machine precision (no difference of
    nearly equal values is formed), so the comparison can be tight."""
    numeric = {  # the same formulas read off the TeX, as NumPy
        r"\hat{y}_k (1 - \hat{y}_k)": lambda y, k, i: y[k] * (1 - y[k]),
        r"-\hat{y}_k \hat{y}_i": lambda y, k, i: -y[k] * y[i],
        r"\hat{y}_k - 1": lambda y, k, i: y[k] - 1,
        r"\hat{y}_i": lambda y, k, i: y[i],
    }
    rng = np.random.default_rng(2)
    size = max(min(K, 8), 2)
    z = rng.normal(size=size)

    def softmax(v: np.ndarray) -> np.ndarray:
        e = np.exp(v)  # |z| < 5: no shift needed, and a shift by max() would not be complex-safe
        return e / e.sum()

    y = softmax(z)
    h = 1e-30
    out: dict[str, str] = {}
    for key in keys:
        tex = FORMS[key][0]
        ok = True
        for k in range(size):
            for i in range(size):
                if (i == k) != (key in ("dyk_dzk", "dL_dzk")):
                    continue
                bumped = softmax(z + 1j * h * np.eye(size)[i])
                f = bumped[k] if key.startswith("dyk") else -np.log(bumped[k])
                derivative = f.imag / h
                ok &= abs(numeric[tex](y, k, i) - derivative) <= 1e-13
        out[key] = tex if ok else f"{tex} fails the complex-step check"
    return out
