"""Softmax output with cross-entropy loss (seed 002 Q2): shapes in a two-layer classifier, the
softmax Jacobian and the cross-entropy gradient (derived by SymPy, not typed in), a numeric
instance on random logits, and the max-subtraction trick on logits that overflow float64.
"""

from __future__ import annotations

import sys
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any, Callable

import numpy as np
import sympy as sp

from worksheetgen import mathfmt
from worksheetgen.errors import WorksheetError
from worksheetgen.family import Answer, Family, Solved
from worksheetgen.params import Choice, Int, ListOf, Number, Param
from worksheetgen.sampling import require_grid, grid_param, grid_values

PARTS = ("shapes", "softmax_same", "softmax_other", "loss_grad", "numeric", "stable")
NUMERIC_PARTS = ("numeric", "stable")
MAX_NUMERIC_K = 6
FLOAT_MAX = sys.float_info.max
# ln of the largest float64: e^z overflows to inf above this (709.78...).
LN_FLOAT_MAX = sp.log(sp.Rational(FLOAT_MAX))

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
    derivative equals the simplified form in FORMS, for every pair (k, i). Raises if one does not.

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
                    raise AssertionError(f"softmax derivative {key} for k={k + 1}, i={i + 1} "
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


def _column(values: list[Any]) -> sp.Matrix:
    return sp.Matrix(len(values), 1, list(values))


class SoftmaxCE(Family):
    name = "softmax_ce"
    title = "Softmax and cross-entropy"
    summary = ("Two-layer K-class classifier with softmax and cross-entropy: shapes, softmax "
               "derivatives, dL/dz, a numeric instance and the max-subtraction trick.")
    params = (
        Param("parts", ListOf(Choice(PARTS), min_length=1, max_length=len(PARTS)), list(PARTS),
              "which parts to ask: shapes (a), softmax_same (b), softmax_other (c), loss_grad (d), "
              "numeric (e), stable (f)"),
        Param("D_x", Int(1, 100000), None, "input size D_x"),
        Param("D_a", Int(1, 100000), None, "hidden units D_a"),
        Param("K", Int(2, 100000), None, f"classes K (at most {MAX_NUMERIC_K} with numeric/stable)"),
        Param("m", Int(1, 1000000), None, "batch size m"),
        Param("alpha", Number(positive=True), sp.Rational(1, 100), "slope α of the LeakyReLU"),
        Param("logits", ListOf(Number(), min_length=2, max_length=MAX_NUMERIC_K), None,
              "logits z^{[2]} of the numeric part"),
        Param("label", Int(1, MAX_NUMERIC_K), None, "true class k of the numeric part (1-based)"),
        grid_param("logit_grid", (-2, 2, 0.5), "[lo, hi, step] for drawn logits"),
        Param("large_logits", ListOf(Number(), min_length=2, max_length=MAX_NUMERIC_K), None,
              "logits of the stability part (at least one above ln(max float64) = 709.78)"),
    )

    # -- validation ----------------------------------------------------------------------------
    def validate(self, options: dict[str, Any]) -> None:
        parts = options["parts"]
        if len(set(parts)) != len(parts):
            raise WorksheetError("a part is listed twice", field="parts", allowed=", ".join(PARTS))
        require_grid(options, "logit_grid")
        sizes = {key: len(options[key]) for key in ("logits", "large_logits")
                 if options[key] is not None and any(p in parts for p in NUMERIC_PARTS)}
        if options["K"] is not None:
            sizes = {"K": options["K"], **sizes}
        if len(set(sizes.values())) > 1:
            first, *rest = sizes
            raise WorksheetError(f"{rest[0]} has {sizes[rest[0]]} entries but {first} = {sizes[first]}",
                                 field=rest[0], allowed=f"{sizes[first]} entries, one per class")
        numeric = any(p in parts for p in NUMERIC_PARTS)
        if numeric and options["K"] is not None and options["K"] > MAX_NUMERIC_K:
            raise WorksheetError(f"K = {options['K']} classes is too many to compute by hand",
                                 field="K", allowed=f"K <= {MAX_NUMERIC_K} with the numeric or stable "
                                 "part, or leave those parts out")
        k_max = next(iter(sizes.values()), None)
        if options["label"] is not None and k_max is not None and options["label"] > k_max:
            raise WorksheetError(f"class {options['label']} does not exist", field="label",
                                 allowed=f"1 to {k_max}")
        large = options["large_logits"]
        if "stable" in parts and large is not None and max(large) <= LN_FLOAT_MAX:
            raise WorksheetError("with these logits the naive softmax does not overflow",
                                 field="large_logits",
                                 allowed="at least one logit above ln(1.8e308) = 709.78")
        if "numeric" in parts and options["logits"] is not None and len(set(options["logits"])) == 1:
            raise WorksheetError("all logits are equal (the softmax is uniform)", field="logits",
                                 allowed="at least two different logits")

    # -- sampling ------------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator, options: dict[str, Any]) -> dict[str, Any]:
        parts = [p for p in PARTS if p in options["parts"]]
        numeric = any(p in parts for p in NUMERIC_PARTS)
        given: dict[str, Any] = {"parts": parts, "alpha": options["alpha"]}
        K = options["K"]
        for key in ("logits", "large_logits"):
            if K is None and numeric and options[key] is not None:
                K = len(options[key])
        if K is None:
            K = int(rng.integers(3, 5)) if numeric else int(rng.integers(3, 11))
        given["K"] = K
        if "shapes" in parts:
            # Distinct sizes, so a shape names its dimensions unambiguously.
            pools = {"D_x": range(2, 9), "D_a": range(2, 13), "m": (16, 20, 32, 50, 64, 100, 128)}
            taken = {K} | {options[k] for k in pools if options[k] is not None}
            for key, pool in pools.items():
                if options[key] is not None:
                    given[key] = options[key]
                    continue
                free = [v for v in pool if v not in taken] or list(pool)
                given[key] = int(free[int(rng.integers(len(free)))])
                taken.add(given[key])
        if "numeric" in parts:
            logits = options["logits"]
            if logits is None:
                for _ in range(100):
                    logits = grid_values(rng, *options["logit_grid"], size=K)
                    if len(set(logits)) > 1:
                        break
            given["logits"] = list(logits)
            given["label"] = options["label"] or int(rng.integers(1, K + 1))
        if "stable" in parts:
            large = options["large_logits"]
            if large is None:
                base = 50 * int(rng.integers(15, 21))  # 750 ... 1000: every e^{z_i} overflows
                for _ in range(100):
                    large = [base + v for v in grid_values(rng, -3, 3, sp.Rational(1, 2), size=K)]
                    if len(set(large)) > 1:
                        break
            given["large_logits"] = list(large)
        return given

    # -- solving -------------------------------------------------------------------------------
    def solve(self, given: dict[str, Any]) -> Solved:
        parts, K = given["parts"], given["K"]
        answers: list[Answer] = []
        data: dict[str, Any] = {"parts": parts}
        if "shapes" in parts:
            d_a, m = given["D_a"], given["m"]
            exact = {"kind": "exact"}  # a shape is right or wrong
            answers += [
                Answer("W2_shape", r"\text{shape of } W^{[2]}", sp.Matrix([[K, d_a]]), "matrix", exact),
                Answer("b2_shape", r"\text{shape of } b^{[2]}", sp.Matrix([[K, 1]]), "matrix", exact),
                Answer("A1_shape", r"\text{shape of } A^{[1]}", sp.Matrix([[d_a, m]]), "matrix", exact),
            ]
        symbolic = [key for p in parts for key in PART_FORMS.get(p, ())]
        if symbolic:
            # The identities hold for any K; proving them for up to 6 logits keeps it quick.
            forms = derive_forms(min(K, MAX_NUMERIC_K))
            answers += [Answer(key, FORM_LABELS[key], forms[key], "text") for key in symbolic]
        if "numeric" in parts:
            z = given["logits"]
            k = given["label"]
            total = sum(sp.exp(v) for v in z)
            yhat = [sp.exp(v) / total for v in z]
            y = [sp.Integer(1 if i == k else 0) for i in range(1, K + 1)]
            loss = sp.log(total) - z[k - 1]  # -ln yhat_k
            grad = [a - b for a, b in zip(yhat, y)]
            data.update(
                exp_sum=" + ".join(f"e^{{{mathfmt.num(v)}}}" for v in z),
                total=total, yhat=yhat, y=y, loss=loss, grad=grad,
            )
            answers += [
                Answer("yhat", r"\hat{y}", _column(yhat), "matrix"),
                Answer("loss", "L", loss),
                Answer("dL_dz", r"\frac{\partial L}{\partial z^{[2]}}", _column(grad), "matrix"),
            ]
        if "stable" in parts:
            z = given["large_logits"]
            top = max(z)
            shifted = [v - top for v in z]
            total = sum(sp.exp(v) for v in shifted)
            stable = [sp.exp(v) / total for v in shifted]
            overflows = [v > LN_FLOAT_MAX for v in z]
            naive = ["\\mathrm{NaN}" if o else "0" for o in overflows] if any(overflows) else None
            data.update(
                large_exp=[{"z": v, "value": scientific(sp.exp(v)), "inf": o}
                           for v, o in zip(z, overflows)],
                naive=naive, top=top, shifted=shifted, shifted_total=total, stable=stable,
                shifted_sum=" + ".join(f"e^{{{mathfmt.num(v)}}}" for v in shifted),
            )
            answers += [
                Answer("naive_overflows", r"\text{naive softmax overflows in float64}", any(overflows),
                       "boolean"),
                Answer("max_logit", r"m = \max_i z_i^{[2]}", top),
                Answer("stable_yhat", r"\hat{y}", _column(stable), "matrix"),
            ]
        return Solved(answers, data)

    # -- independent check ---------------------------------------------------------------------
    def check(self, given: dict[str, Any]) -> dict[str, Any]:
        parts, K = given["parts"], given["K"]
        result: dict[str, Any] = {}
        if "shapes" in parts:
            d_x, d_a, m = given["D_x"], given["D_a"], given["m"]
            # Run the batched forward pass with arrays of the claimed shapes: NumPy refuses
            # any product or broadcast that does not fit.
            X = np.zeros((d_x, m))
            W1, b1 = np.zeros((d_a, d_x)), np.zeros((d_a, 1))
            Z1 = W1 @ X + b1
            A1 = np.where(Z1 > 0, Z1, float(given["alpha"]) * Z1)
            W2, b2 = np.zeros((K, A1.shape[0])), np.zeros((K, 1))
            Z2 = W2 @ A1 + b2
            assert Z2.shape == (K, m)
            result.update(W2_shape=[W2.shape], b2_shape=[b2.shape], A1_shape=[A1.shape])
        symbolic = [key for p in parts for key in PART_FORMS.get(p, ())]
        if symbolic:
            result.update(_numeric_forms(symbolic, K))
        if "numeric" in parts:
            z = np.array([float(v) for v in given["logits"]])
            e = np.exp(z - z.max())
            yhat = e / e.sum()
            y = np.eye(K)[given["label"] - 1]
            result.update(yhat=yhat, loss=-np.log(yhat[given["label"] - 1]), dL_dz=yhat - y)
        if "stable" in parts:
            z = np.array([float(v) for v in given["large_logits"]])
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


def _numeric_forms(keys: list[str], K: int) -> dict[str, str]:
    """Each claimed form, kept only if it matches central differences of a NumPy softmax."""
    numeric = {  # the same formulas read off the TeX, as NumPy
        r"\hat{y}_k (1 - \hat{y}_k)": lambda y, k, i: y[k] * (1 - y[k]),
        r"-\hat{y}_k \hat{y}_i": lambda y, k, i: -y[k] * y[i],
        r"\hat{y}_k - 1": lambda y, k, i: y[k] - 1,
        r"\hat{y}_i": lambda y, k, i: y[i],
    }
    rng = np.random.default_rng(2)
    size = max(K if K <= 8 else 8, 2)
    z = rng.normal(size=size)

    def softmax(v: np.ndarray) -> np.ndarray:
        e = np.exp(v - v.max())
        return e / e.sum()

    y = softmax(z)
    h = 1e-6
    out: dict[str, str] = {}
    for key in keys:
        tex = FORMS[key][0]
        ok = True
        for k in range(size):
            for i in range(size):
                if (i == k) != (key in ("dyk_dzk", "dL_dzk")):
                    continue
                step = np.eye(size)[i] * h
                if key.startswith("dyk"):
                    fd = (softmax(z + step)[k] - softmax(z - step)[k]) / (2 * h)
                else:
                    fd = (-np.log(softmax(z + step)[k]) + np.log(softmax(z - step)[k])) / (2 * h)
                ok &= abs(numeric[tex](y, k, i) - fd) < 1e-7
        out[key] = tex if ok else f"{tex} fails the finite-difference check"
    return out
