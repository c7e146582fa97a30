"""Softmax output with cross-entropy loss (seed 002 Q2): shapes in a two-layer classifier, the
softmax Jacobian and the cross-entropy gradient, the backward step into the hidden layer
(∂z^{[2]}/∂a^{[1]} = W^{[2]}, the LeakyReLU derivative, ∂L/∂W^{[1]} and ∂L/∂b^{[1]}) — every form
derived by SymPy, not typed in — a numeric instance on random logits or on a small network
(whose backward step then runs on numbers), and the max-subtraction trick on logits that
overflow float64.
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
from worksheetgen.answers import (Answer, BooleanAnswer, ExpressionAnswer, MatrixAnswer, NumberAnswer,
                                  to_float)
from worksheetgen.errors import CheckError, WorksheetError
from worksheetgen.family import Constraint, Family, Record, Solved
from worksheetgen.params import Choice, Int, ListOf, Matrix, Number, Param
from worksheetgen.sampling import grid_param, grid_values, nonzero_grid_values, require_grid

PARTS = ("shapes", "softmax_same", "softmax_other", "loss_grad", "jacobian", "leaky_grad",
         "hidden_grad", "numeric", "hidden_numeric", "stable")
# The source sheet's eight questions and the numeric instance; the numeric backward step through
# a drawn network is asked on request.
DEFAULT_PARTS = tuple(p for p in PARTS if p != "hidden_numeric")
NUMERIC_PARTS = ("numeric", "hidden_numeric", "stable")
NET_PARAMS = ("x", "W1", "b1", "W2", "b2")
# The numeric network is worked by hand: at most 4 inputs and 4 hidden units, entries within ±10.
MAX_NET = 4
NET_LIMIT = 10
# A draw teaches when no softmax output is (nearly) one-hot and no asked value prints as zero.
SATURATED = sp.Rational(95, 100)
FLOOR = sp.Rational(1, 1000)
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

# The backward step into the hidden layer, in the source sheet's notation: δ₀ = ∂L/∂z^{[2]},
# δ₁ = ∂z^{[2]}/∂a^{[1]}, and δ₂ the diagonal of ∂a^{[1]}/∂z^{[1]} as a vector (so that ∘ δ₂
# is the elementwise product). Proven against SymPy's derivatives in derive_hidden_forms().
HIDDEN_FORMS = {
    "dz2_da1": r"W^{[2]}",
    "dL_dW1_form": r"\left(\delta_1^\top \delta_0 \circ \delta_2\right) x^\top "
                   r"= \left(\left(W^{[2]}\right)^\top (\hat{y} - y) \circ \delta_2\right) x^\top",
    "dL_db1_form": r"\delta_1^\top \delta_0 \circ \delta_2 "
                   r"= \left(W^{[2]}\right)^\top (\hat{y} - y) \circ \delta_2",
}
HIDDEN_LABELS = {
    "dz2_da1": r"\delta_1 = \frac{\partial z^{[2]}}{\partial a^{[1]}}",
    "da1_dz1": r"\delta_2 = \frac{\partial a^{[1]}}{\partial z^{[1]}}",
    "dL_dW1_form": r"\frac{\partial L}{\partial W^{[1]}}",
    "dL_db1_form": r"\frac{\partial L}{\partial b^{[1]}}",
}
PART_HIDDEN = {"jacobian": ("dz2_da1",), "leaky_grad": ("da1_dz1",),
               "hidden_grad": ("dL_dW1_form", "dL_db1_form")}


def leaky_form(alpha: sp.Rational) -> str:
    """The answer to 'what is ∂a^{[1]}/∂z^{[1]}': diagonal, with the LeakyReLU slopes. At z = 0
    the derivative does not exist; the sheet uses LeakyReLU'(0) = α, as everywhere else."""
    return (r"\frac{\partial a^{[1]}}{\partial z^{[1]}} = \operatorname{diag}(\delta_2),\ "
            r"(\delta_2)_i = \begin{cases} 1 & z_i^{[1]} > 0 \\ "
            + mathfmt.num(alpha) + r" & z_i^{[1]} \le 0 \end{cases}")


@lru_cache(maxsize=None)
def derive_hidden_forms(alpha: sp.Rational) -> dict[str, str]:
    """Prove the hidden-layer forms with SymPy on a symbolic network (2 inputs, 2 hidden units,
    3 classes, every label k): ∂z^{[2]}/∂a^{[1]} is the Jacobian of W^{[2]}a + b^{[2]}; the
    LeakyReLU derivative is taken piece by piece; and ∂L/∂W^{[1]}, ∂L/∂b^{[1]} of
    L = -log softmax(z^{[2]})_k are differentiated directly (SymPy's chain rule, not ours) and
    compared with the claimed products, hidden slope s_i standing for 1 or α on each side of the
    kink. CheckError if anything differs."""
    d_x, d_a, k_classes = 2, 2, 3
    x = sp.Matrix(sp.symbols(f"x1:{d_x + 1}", real=True))
    W1 = sp.Matrix(d_a, d_x, lambda i, j: sp.Symbol(f"v{i + 1}{j + 1}", real=True))
    b1 = sp.Matrix(sp.symbols(f"c1:{d_a + 1}", real=True))
    W2 = sp.Matrix(k_classes, d_a, lambda i, j: sp.Symbol(f"w{i + 1}{j + 1}", real=True))
    b2 = sp.Matrix(sp.symbols(f"d1:{k_classes + 1}", real=True))
    a = sp.Matrix(sp.symbols(f"a1:{d_a + 1}", real=True))
    if (W2 * a + b2).jacobian(a) != W2:
        raise CheckError("softmax_ce: the Jacobian of W^{[2]}a + b^{[2]} is not W^{[2]}")
    z = sp.Symbol("z", real=True)
    leaky = sp.Piecewise((z, z > 0), (alpha * z, True))
    for point, slope in ((1, 1), (-1, alpha)):
        if sp.diff(leaky, z).subs(z, point) != slope:
            raise CheckError(f"softmax_ce: LeakyReLU'({point}) is not {slope}")
    s = sp.symbols(f"s1:{d_a + 1}", positive=True)
    z1 = W1 * x + b1
    u = W2 * sp.Matrix([s[i] * z1[i] for i in range(d_a)]) + b2
    e = [sp.exp(u[j]) for j in range(k_classes)]
    t = sp.symbols(f"t1:{k_classes + 1}", positive=True)
    to_t = {e[j]: t[j] for j in range(k_classes)}
    total = sum(e)
    for k in range(k_classes):
        loss = sp.log(total) - u[k]
        delta0 = sp.Matrix([e[j] / total - (1 if j == k else 0) for j in range(k_classes)])
        back = W2.T * delta0
        db1 = sp.Matrix([back[i] * s[i] for i in range(d_a)])
        dW1 = db1 * x.T
        for (i, j), claimed in [((i, j), dW1[i, j]) for i in range(d_a) for j in range(d_x)]:
            if sp.cancel(sp.expand((sp.diff(loss, W1[i, j]) - claimed).subs(to_t))) != 0:
                raise CheckError(f"softmax_ce: dL/dW1[{i + 1},{j + 1}] (k={k + 1}) differs from the claimed form")
        for i in range(d_a):
            if sp.cancel(sp.expand((sp.diff(loss, b1[i]) - db1[i]).subs(to_t))) != 0:
                raise CheckError(f"softmax_ce: dL/db1[{i + 1}] (k={k + 1}) differs from the claimed form")
    return {**HIDDEN_FORMS, "da1_dz1": leaky_form(alpha)}


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


def _approx(values: Any) -> str:
    """'=' when every value prints exactly, else '\\approx' (for a vector or matrix shown whole)."""
    return "=" if all(mathfmt.is_exact_decimal(v) for v in values) else r"\approx"


def _leaky(z: sp.Rational, alpha: sp.Rational) -> sp.Rational:
    return z if z > 0 else alpha * z


@dataclass(frozen=True)
class SoftmaxCEGiven(Record):
    parts: tuple[str, ...]  # in the printed order of PARTS
    alpha: sp.Rational
    K: int
    D_x: int | None = None  # shapes part, and the network's sizes
    D_a: int | None = None
    m: int | None = None
    logits: tuple[sp.Rational, ...] | None = None  # numeric part (without a network)
    label: int | None = None
    large_logits: tuple[sp.Rational, ...] | None = None  # stable part
    # the network of the numeric parts when hidden_numeric is asked
    x: tuple[sp.Rational, ...] | None = None
    W1: sp.ImmutableMatrix | None = None
    b1: tuple[sp.Rational, ...] | None = None
    W2: sp.ImmutableMatrix | None = None
    b2: tuple[sp.Rational, ...] | None = None


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
    # the network (hidden_numeric): forward values, then the backward step
    network: bool = False
    forward_part: str | None = None  # the part that asks the forward pass
    z1: tuple[sp.Rational, ...] | None = None
    a1: tuple[sp.Rational, ...] | None = None
    z2: tuple[sp.Rational, ...] | None = None
    W1x: tuple[sp.Rational, ...] | None = None  # W^{[1]}x before the bias
    W2a: tuple[sp.Rational, ...] | None = None
    W2T: sp.ImmutableMatrix | None = None
    delta2: tuple[sp.Rational, ...] | None = None
    dL_da1: tuple[sp.Expr, ...] | None = None
    dL_db1: tuple[sp.Expr, ...] | None = None
    dL_dW1: sp.ImmutableMatrix | None = None
    rel: dict[str, str] | None = None  # '=' or '\approx' per vector shown whole
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


def _float(v: Any) -> float:
    return float(to_float(v))


def _saturated(values: Any) -> bool:
    return values is not None and max(_float(v) for v in values) >= SATURATED


STABLE_KEYS = ("stable_yhat",)


def _asked_floats(solved: Solved, stable: bool | None = None) -> list[float]:
    """Every asked number and matrix entry of the numeric answers (shapes, the stability part's
    m and δ₂ are exact, not rounded: left out); ``stable`` picks the stability part's (True),
    the others' (False) or all (None)."""
    out: list[float] = []
    for a in solved.answers:
        if a.key in ("W2_shape", "b2_shape", "A1_shape", "max_logit", "delta2"):
            continue
        if stable is not None and (a.key in STABLE_KEYS) != stable:
            continue
        if isinstance(a, MatrixAnswer):
            out += [_float(v) for v in a.value]
        elif isinstance(a, NumberAnswer):
            out.append(_float(a.value))
    return out


def _legible(solved: Solved, stable: bool | None = None) -> bool:
    return all(abs(v) >= FLOOR for v in _asked_floats(solved, stable))


def _kink_free(g: "SoftmaxCEGiven", s: Solved) -> bool:
    return s.data.z1 is None or all(v != 0 for v in s.data.z1)


def _both_branches(g: "SoftmaxCEGiven", s: Solved) -> bool:
    z1 = s.data.z1
    return z1 is None or len(z1) < 2 or (any(v > 0 for v in z1) and any(v < 0 for v in z1))


class SoftmaxCE(Family):
    name = "softmax_ce"
    title = "Softmax and cross-entropy"
    summary = ("Two-layer K-class classifier with softmax and cross-entropy: shapes, softmax "
               "derivatives, dL/dz, the backward step into the LeakyReLU layer, a numeric instance "
               "(optionally through a small network) and the max-subtraction trick.")
    Given = SoftmaxCEGiven
    Data = SoftmaxCEData
    params = (
        Param("parts", ListOf(Choice(PARTS), min_length=1, max_length=len(PARTS)), list(DEFAULT_PARTS),
              "which parts to ask, printed in this order: shapes, softmax_same, softmax_other, "
              "loss_grad, jacobian (dz2/da1), leaky_grad (da1/dz1), hidden_grad (dL/dW1, dL/db1), "
              "numeric, hidden_numeric (the backward step on the numbers of a small network; "
              "not in the default), stable"),
        Param("D_x", Int(1, MAX_SIZE), None,
              f"input size D_x (sizes are only counted: any allowed size is cheap; at most {MAX_NET} "
              "with hidden_numeric)"),
        Param("D_a", Int(1, MAX_SIZE), None, f"hidden units D_a (at most {MAX_NET} with hidden_numeric)"),
        Param("K", Int(2, MAX_SIZE), None,
              f"classes K (at most {MAX_NUMERIC_K} with numeric/hidden_numeric/stable)"),
        Param("m", Int(1, MAX_BATCH), None, "batch size m"),
        Param("alpha", Number(positive=True, maximum=1), sp.Rational(1, 100), "slope α of the LeakyReLU"),
        Param("logits", ListOf(Number(), min_length=2, max_length=MAX_NUMERIC_K), None,
              f"logits z^{{[2]}} of the numeric part, each from {-LOGIT_LIMIT} to {LOGIT_LIMIT}, not all "
              "equal (with hidden_numeric they are the network's output instead)"),
        Param("label", Int(1, MAX_NUMERIC_K), None, "true class k of the numeric parts (1-based)"),
        grid_param("logit_grid", (-2, 2, 0.5),
                   f"[lo, hi, step] for drawn logits, from {-LOGIT_LIMIT} to {LOGIT_LIMIT}, at least two points"),
        Param("large_logits", ListOf(Number(), min_length=2, max_length=MAX_NUMERIC_K), None,
              f"logits of the stability part, each from {-LARGE_LOGIT_LIMIT} to {LARGE_LOGIT_LIMIT}, "
              "not all equal, at least one above ln(max float64) = 709.78, none within 0.01 of it"),
        Param("x", ListOf(Number(), min_length=1, max_length=MAX_NET), None,
              f"input x of the network (hidden_numeric), entries within ±{NET_LIMIT}"),
        Param("W1", Matrix(), None, f"W^{{[1]}} of the network, D_a × D_x, entries within ±{NET_LIMIT}"),
        Param("b1", ListOf(Number(), min_length=1, max_length=MAX_NET), None, "b^{[1]} of the network (D_a entries)"),
        Param("W2", Matrix(), None, "W^{[2]} of the network, K × D_a"),
        Param("b2", ListOf(Number(), min_length=2, max_length=MAX_NUMERIC_K), None, "b^{[2]} of the network (K entries)"),
        grid_param("input_grid", (-2, 2, 1), "[lo, hi, step] for a drawn x (non-zero points)"),
        grid_param("weight_grid", (-1, 1, 0.5),
                   "[lo, hi, step] for drawn weights (non-zero points) and biases of the network"),
    )
    constraints = (
        Constraint("logits that are not all equal", ("logits",),
                   lambda g, s: "numeric" not in g.parts or _distinct(g.logits)),
        Constraint("large logits that are not all equal", ("large_logits",),
                   lambda g, s: "stable" not in g.parts or _distinct(g.large_logits)),
        Constraint("no pre-activation z^{[1]} at the LeakyReLU's kink", NET_PARAMS, _kink_free),
        Constraint("hidden units on both sides of the kink (both slopes of LeakyReLU used)", NET_PARAMS,
                   _both_branches),
        Constraint("logits of the network within ±100", NET_PARAMS,
                   lambda g, s: s.data.z2 is None or all(abs(v) <= LOGIT_LIMIT for v in s.data.z2)),
        Constraint("no softmax output above 0.95 (not nearly one-hot)", ("logits", *NET_PARAMS),
                   lambda g, s: not _saturated(s.data.yhat)),
        Constraint("no shifted softmax output above 0.95 (not nearly one-hot)", ("large_logits",),
                   lambda g, s: not _saturated(s.data.stable)),
        Constraint("every asked value at least 0.001 in size", ("logits", *NET_PARAMS),
                   lambda g, s: _legible(s, stable=False)),
        Constraint("every asked value of the stability part at least 0.001 in size", ("large_logits",),
                   lambda g, s: _legible(s, stable=True)),
    )

    def drawn(self, options: dict[str, Any]) -> frozenset[str]:
        """As the base class, less the values no asked part uses (a part that is not asked draws
        nothing, so its rules must not apply to the instructor's pinned values of another)."""
        parts = options["parts"]
        unused = set()
        if "hidden_numeric" not in parts:
            unused |= set(NET_PARAMS)
        if "numeric" not in parts or "hidden_numeric" in parts:
            unused.add("logits")
        if "stable" not in parts:
            unused.add("large_logits")
        return super().drawn(options) - unused

    def quality(self, given: SoftmaxCEGiven, solved: Solved) -> dict[str, bool]:
        d = solved.data
        return {
            "saturated softmax": _saturated(d.yhat) or _saturated(d.stable),
            "pre-activation at the kink": not _kink_free(given, solved),
            "one LeakyReLU slope only": not _both_branches(given, solved),
            "asked value below 0.001": not _legible(solved),
        }

    # -- validation ----------------------------------------------------------------------------
    def validate(self, options: dict[str, Any]) -> None:
        parts = options["parts"]
        if len(set(parts)) != len(parts):
            raise WorksheetError("a part is listed twice", field="parts", allowed=", ".join(PARTS))
        for key in ("logit_grid", "input_grid", "weight_grid"):
            require_grid(options, key, nonzero=key != "logit_grid")
        lo, hi, step = options["logit_grid"]
        if lo < -LOGIT_LIMIT or hi > LOGIT_LIMIT:
            raise WorksheetError("grid outside the allowed range", field="logit_grid",
                                 allowed=f"values from {-LOGIT_LIMIT} to {LOGIT_LIMIT}")
        for key in ("input_grid", "weight_grid"):
            glo, ghi, _ = options[key]
            if glo < -NET_LIMIT or ghi > NET_LIMIT:
                raise WorksheetError("grid outside the allowed range", field=key,
                                     allowed=f"values from {-NET_LIMIT} to {NET_LIMIT}")
        hidden = "hidden_numeric" in parts
        if not hidden:
            for key in NET_PARAMS:
                if options[key] is not None:
                    raise WorksheetError(f"{key} is given but no part uses a network", field=key,
                                         allowed="add hidden_numeric to parts, or leave it out")
        elif options["logits"] is not None:
            raise WorksheetError("with hidden_numeric the logits are the network's output z^{[2]}",
                                 field="logits", allowed="leave logits out (give W2, b2 instead)")
        if "numeric" in parts and not hidden and options["logits"] is None and hi - lo < step:
            raise WorksheetError("the grid has one point, so every logit would be equal", field="logit_grid",
                                 allowed="a grid with at least two points")
        numeric = any(p in parts for p in NUMERIC_PARTS)
        sizes = {key: len(options[key]) for key in ("logits", "large_logits", "b2")
                 if options[key] is not None and numeric}
        if hidden and options["W2"] is not None:
            sizes["W2"] = options["W2"].shape[0]
        if options["K"] is not None:
            sizes = {"K": options["K"], **sizes}
        if len(set(sizes.values())) > 1:
            first, *rest = sizes
            raise WorksheetError(f"{rest[0]} has {sizes[rest[0]]} {'rows' if rest[0] == 'W2' else 'entries'} "
                                 f"but {first} = {sizes[first]}",
                                 field=rest[0], allowed=f"{sizes[first]}, one per class")
        if numeric and options["K"] is not None and options["K"] > MAX_NUMERIC_K:
            raise WorksheetError(f"K = {options['K']} classes is too many to compute by hand",
                                 field="K", allowed=f"K <= {MAX_NUMERIC_K} with the numeric, hidden_numeric "
                                 "or stable part, or leave those parts out")
        k_max = next(iter(sizes.values()), None)
        if options["label"] is not None and k_max is not None and options["label"] > k_max:
            raise WorksheetError(f"class {options['label']} does not exist", field="label",
                                 allowed=f"1 to {k_max}")
        for key, limit in (("logits", LOGIT_LIMIT), ("large_logits", LARGE_LOGIT_LIMIT)):
            for i, v in enumerate(options[key] or (), start=1):
                if abs(v) > limit:
                    raise WorksheetError(f"entry {i} ({mathfmt.num(v)}) is outside the allowed range",
                                         field=key, allowed=f"values from {-limit} to {limit}")
        if hidden:
            self._validate_network(options)
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

    @staticmethod
    def _validate_network(options: dict[str, Any]) -> None:
        """Sizes of the given network parts agree with each other and with D_x, D_a (at most
        MAX_NET each); entries within ±NET_LIMIT; a fully given network has logits within ±100."""
        x, W1, b1, W2, b2 = (options[k] for k in NET_PARAMS)
        claims: dict[str, list[tuple[str, int]]] = {"D_x": [], "D_a": []}
        for key, size in (("D_x", options["D_x"]), ("D_a", options["D_a"])):
            if size is not None:
                if size > MAX_NET:
                    raise WorksheetError(f"{key} = {size} is too large for a network worked by hand",
                                         field=key, allowed=f"at most {MAX_NET} with hidden_numeric")
                claims[key].append((key, size))
        if x is not None:
            claims["D_x"].append(("x", len(x)))
        if W1 is not None:
            claims["D_a"].append(("W1", W1.shape[0]))
            claims["D_x"].append(("W1", W1.shape[1]))
        if b1 is not None:
            claims["D_a"].append(("b1", len(b1)))
        if W2 is not None:
            claims["D_a"].append(("W2", W2.shape[1]))
        for dim, said in claims.items():
            for key, size in said:
                if size > MAX_NET:
                    raise WorksheetError(f"{key} makes {dim} = {size}, too large to work by hand",
                                         field=key, allowed=f"{dim} at most {MAX_NET}")
            if len({size for _, size in said}) > 1:
                (k0, s0), (k1, s1) = said[0], next(c for c in said if c[1] != said[0][1])
                raise WorksheetError(f"{k1} gives {dim} = {s1} but {k0} gives {s0}", field=k1,
                                     allowed=f"{dim} = {s0}")
        for key in NET_PARAMS:
            values = options[key]
            if values is not None and any(abs(v) > NET_LIMIT for v in values):
                raise WorksheetError("an entry is outside the allowed range", field=key,
                                     allowed=f"values from {-NET_LIMIT} to {NET_LIMIT}")
        if None not in (x, W1, b1, W2, b2):
            z1 = W1 * sp.Matrix(x) + sp.Matrix(b1)
            a1 = sp.Matrix([_leaky(v, options["alpha"]) for v in z1])
            z2 = W2 * a1 + sp.Matrix(b2)
            if any(abs(v) > LOGIT_LIMIT for v in z2):
                raise WorksheetError("the network's logits z^{[2]} reach beyond ±100", field="W2",
                                     allowed="smaller weights or inputs")

    # -- sampling ------------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator, options: dict[str, Any]) -> SoftmaxCEGiven:
        parts = tuple(p for p in PARTS if p in options["parts"])
        numeric = any(p in parts for p in NUMERIC_PARTS)
        hidden = "hidden_numeric" in parts
        K = options["K"]
        for key in ("logits", "large_logits", "b2"):
            if K is None and numeric and options[key] is not None:
                K = len(options[key])
        if K is None and hidden and options["W2"] is not None:
            K = options["W2"].shape[0]
        if K is None:
            K = int(rng.integers(3, 5)) if numeric else int(rng.integers(3, 11))
        sizes: dict[str, int] = {}
        if hidden:
            known = {"D_x": options["D_x"], "D_a": options["D_a"]}
            if options["x"] is not None:
                known["D_x"] = len(options["x"])
            for key, W, axis in (("D_a", options["W1"], 0), ("D_x", options["W1"], 1), ("D_a", options["W2"], 1)):
                if W is not None:
                    known[key] = W.shape[axis]
            if options["b1"] is not None:
                known["D_a"] = len(options["b1"])
            pools = {"D_x": range(2, 4), "D_a": range(2, 5), "m": (16, 20, 32, 50, 64, 100, 128)}
        else:
            known = {"D_x": options["D_x"], "D_a": options["D_a"]}
            pools = {"D_x": range(2, 9), "D_a": range(2, 13), "m": (16, 20, 32, 50, 64, 100, 128)}
        known["m"] = options["m"]
        wanted = [k for k in ("D_x", "D_a", "m") if "shapes" in parts or (hidden and k != "m")]
        # Distinct sizes where the shapes part names them, so a shape says which is which.
        taken = {K} | {v for v in known.values() if v is not None}
        for key in wanted:
            if known[key] is not None:
                sizes[key] = known[key]
                continue
            pool = pools[key]
            free = [v for v in pool if v not in taken] if "shapes" in parts else list(pool)
            free = free or list(pool)
            sizes[key] = int(free[int(rng.integers(len(free)))])
            taken.add(sizes[key])
        logits = label = large = None
        net: dict[str, Any] = {}
        if "numeric" in parts or hidden:
            label = options["label"] or int(rng.integers(1, K + 1))
        if "numeric" in parts and not hidden:
            # Equal logits are redrawn by the constraint (each attempt a fresh stream).
            logits = options["logits"] or grid_values(rng, *options["logit_grid"], size=K)
        if hidden:
            d_x, d_a = sizes["D_x"], sizes["D_a"]
            wg, ig = options["weight_grid"], options["input_grid"]

            def given_or(key: str, draw: Any) -> Any:
                return options[key] if options[key] is not None else draw()

            net = dict(
                x=tuple(given_or("x", lambda: nonzero_grid_values(rng, *ig, size=d_x))),
                W1=sp.ImmutableMatrix(given_or("W1", lambda: nonzero_grid_values(rng, *wg, size=(d_a, d_x)))),
                b1=tuple(given_or("b1", lambda: grid_values(rng, *wg, size=d_a))),
                W2=sp.ImmutableMatrix(given_or("W2", lambda: nonzero_grid_values(rng, *wg, size=(K, d_a)))),
                b2=tuple(given_or("b2", lambda: grid_values(rng, *wg, size=K))),
            )
        if "stable" in parts:
            large = options["large_logits"]
            if large is None:
                base = 50 * int(rng.integers(15, 21))  # 750 ... 1000: every e^{z_i} overflows
                large = [base + v for v in grid_values(rng, -3, 3, sp.Rational(1, 2), size=K)]
        return SoftmaxCEGiven(
            parts=parts, alpha=options["alpha"], K=K, **sizes, label=label,
            logits=tuple(logits) if logits is not None else None,
            large_logits=tuple(large) if large is not None else None, **net)

    # -- solving -------------------------------------------------------------------------------
    def solve(self, given: SoftmaxCEGiven) -> Solved:
        parts, K = given.parts, given.K
        answers: list[Answer] = []
        data: dict[str, Any] = {"parts": parts}
        part_of = {p: i for i, p in enumerate(parts, start=1)}
        hidden = "hidden_numeric" in parts
        if "shapes" in parts:
            d_a, m = given.D_a, given.m
            exact = {"kind": "exact"}  # a shape is right or wrong
            n = part_of["shapes"]
            answers += [
                MatrixAnswer("W2_shape", r"\text{shape of } W^{[2]}", sp.Matrix([[K, d_a]]), tolerance=exact, part=n),
                MatrixAnswer("b2_shape", r"\text{shape of } b^{[2]}", sp.Matrix([[K, 1]]), tolerance=exact, part=n),
                MatrixAnswer("A1_shape", r"\text{shape of } A^{[1]}", sp.Matrix([[d_a, m]]), tolerance=exact, part=n),
            ]
        symbolic = [(p, key) for p in parts for key in PART_FORMS.get(p, ())]
        if symbolic:
            # The identities hold for any K; proving them for up to 6 logits keeps it quick.
            forms = derive_forms(min(K, MAX_NUMERIC_K))
            answers += [ExpressionAnswer(key, FORM_LABELS[key], forms[key], part=part_of[p]) for p, key in symbolic]
        hidden_forms = [(p, key) for p in parts for key in PART_HIDDEN.get(p, ())]
        if hidden_forms:
            forms = derive_hidden_forms(given.alpha)
            answers += [ExpressionAnswer(key, HIDDEN_LABELS[key], forms[key], part=part_of[p])
                        for p, key in hidden_forms]
        logits = given.logits
        if hidden:
            forward = "numeric" if "numeric" in parts else "hidden_numeric"
            x, W1, W2 = sp.Matrix(given.x), given.W1, given.W2
            W1x = tuple(W1 * x)
            z1 = tuple(a + b for a, b in zip(W1x, given.b1))
            a1 = tuple(_leaky(v, given.alpha) for v in z1)
            W2a = tuple(W2 * sp.Matrix(a1))
            z2 = tuple(a + b for a, b in zip(W2a, given.b2))
            logits = z2
            data.update(network=True, forward_part=forward, z1=z1, a1=a1, z2=z2, W1x=W1x, W2a=W2a,
                        W2T=sp.ImmutableMatrix(W2.T))
            n = part_of[forward]
            answers += [MatrixAnswer("a1", "a^{[1]}", _column(a1), part=n),
                        MatrixAnswer("z2", "z^{[2]}", _column(z2), part=n)]
        if "numeric" in parts or hidden:
            z = logits
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
            n = part_of["numeric" if "numeric" in parts else "hidden_numeric"]
            answers.append(MatrixAnswer("yhat", r"\hat{y}", _column(yhat), part=n))
            if "numeric" in parts:
                answers += [
                    NumberAnswer("loss", "L", loss, part=n),
                    MatrixAnswer("dL_dz", r"\frac{\partial L}{\partial z^{[2]}}", _column(grad), part=n),
                ]
        if hidden:
            delta2 = tuple(sp.Integer(1) if v > 0 else given.alpha for v in data["z1"])
            dL_da1 = tuple(given.W2.T * _column(grad))
            dL_db1 = tuple(a * b for a, b in zip(dL_da1, delta2))
            dL_dW1 = sp.ImmutableMatrix(_column(dL_db1) * sp.Matrix([list(given.x)]))
            data.update(delta2=delta2, dL_da1=dL_da1, dL_db1=dL_db1, dL_dW1=dL_dW1,
                        rel={"z1": _approx(data["z1"]), "a1": _approx(data["a1"]), "z2": _approx(data["z2"]),
                             "grad": _approx(grad), "dL_da1": _approx(dL_da1), "dL_db1": _approx(dL_db1),
                             "dL_dW1": _approx(dL_dW1)})
            n = part_of["hidden_numeric"]
            answers += [
                MatrixAnswer("delta2", r"\delta_2", _column(delta2), part=n),
                MatrixAnswer("dL_da1", r"\frac{\partial L}{\partial a^{[1]}}", _column(dL_da1), part=n),
                MatrixAnswer("dL_db1", r"\frac{\partial L}{\partial b^{[1]}}", _column(dL_db1), part=n),
                MatrixAnswer("dL_dW1", r"\frac{\partial L}{\partial W^{[1]}}", sp.Matrix(dL_dW1), part=n),
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
            n = part_of["stable"]
            answers += [
                BooleanAnswer("naive_overflows", r"\text{naive softmax overflows in float64}", any(overflows), part=n),
                NumberAnswer("max_logit", r"m = \max_i z_i^{[2]}", top, part=n),
                MatrixAnswer("stable_yhat", r"\hat{y}", _column(stable), part=n),
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
        hidden_keys = [key for p in parts for key in PART_HIDDEN.get(p, ())]
        if hidden_keys:
            result.update(_numeric_hidden_forms(hidden_keys, float(given.alpha), given.alpha))
        hidden = "hidden_numeric" in parts
        if "numeric" in parts or hidden:
            if hidden:
                x = np.array([float(v) for v in given.x])
                W1 = np.array(given.W1.tolist(), dtype=float)
                W2 = np.array(given.W2.tolist(), dtype=float)
                z1 = W1 @ x + np.array([float(v) for v in given.b1])
                alpha = float(given.alpha)
                a1 = np.where(z1 > 0, z1, alpha * z1)
                z = W2 @ a1 + np.array([float(v) for v in given.b2])
                result.update(a1=a1, z2=z)
            else:
                z = np.array([float(v) for v in given.logits])
            k = given.label - 1
            shift = z.max()
            e = np.exp(z - shift)
            yhat = e / e.sum()
            result["yhat"] = yhat
            if "numeric" in parts:
                # -ln ŷ_k = logsumexp(z) - z_k: finite even when ŷ_k underflows to 0.
                loss = np.log(e.sum()) + shift - z[k]
                result.update(loss=loss, dL_dz=yhat - np.eye(K)[k])
            if hidden:
                back = W2.T @ (yhat - np.eye(K)[k])
                slope = np.where(z1 > 0, 1.0, alpha)
                result.update(delta2=slope, dL_da1=back, dL_db1=back * slope,
                              dL_dW1=np.outer(back * slope, x))
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


def _numeric_hidden_forms(keys: list[str], alpha: float, exact_alpha: sp.Rational) -> dict[str, str]:
    """The hidden-layer forms, kept only if they match derivatives of a NumPy network taken by
    the complex step (2 inputs, 3 hidden units with pre-activations of both signs, 4 classes,
    every label): Im L(W + ih E_ij)/h is ∂L/∂W_ij to machine precision."""
    rng = np.random.default_rng(5)
    d_x, d_a, k_classes = 2, 3, 4
    x = rng.normal(size=d_x)
    W1, b1 = rng.normal(size=(d_a, d_x)), rng.normal(size=d_a)
    W2, b2 = rng.normal(size=(k_classes, d_a)), rng.normal(size=k_classes)
    z1 = W1 @ x + b1
    if not (np.any(z1 > 0.1) and np.any(z1 < -0.1)):  # the fixed stream's draw; both slopes tested
        z1[0], b1[0] = abs(z1[0]) + 1, b1[0] + abs(z1[0]) + 1 - z1[0]
        z1[1], b1[1] = -abs(z1[1]) - 1, b1[1] - abs(z1[1]) - 1 - z1[1]
    h = 1e-30

    def leaky(v: np.ndarray) -> np.ndarray:
        return np.where(v.real > 0, v, alpha * v)  # the side is fixed by the real part

    def loss(W1_: np.ndarray, b1_: np.ndarray, a_: np.ndarray | None, k: int) -> Any:
        a = leaky(W1_ @ x + b1_) if a_ is None else a_
        z2 = W2 @ a + b2
        return np.log(np.exp(z2).sum()) - z2[k]  # |z2| is small: no shift needed (complex-safe)

    ok = {key: True for key in keys}
    slope = np.where(z1 > 0, 1.0, alpha)
    a1 = np.where(z1 > 0, z1, alpha * z1)
    for k in range(k_classes):
        e = np.exp(W2 @ a1 + b2)
        delta0 = e / e.sum() - np.eye(k_classes)[k]
        db1 = (W2.T @ delta0) * slope
        dW1 = np.outer(db1, x)
        for i in range(d_a):
            bumped = b1.astype(complex)
            bumped[i] += 1j * h
            if "dL_db1_form" in ok:
                ok["dL_db1_form"] &= abs(loss(W1, bumped, None, k).imag / h - db1[i]) <= 1e-12
            for j in range(d_x):
                bumped_w = W1.astype(complex)
                bumped_w[i, j] += 1j * h
                if "dL_dW1_form" in ok:
                    ok["dL_dW1_form"] &= abs(loss(bumped_w, b1, None, k).imag / h - dW1[i, j]) <= 1e-12
    if "dz2_da1" in ok:
        for i in range(d_a):
            a = a1.astype(complex)
            a[i] += 1j * h
            column = (W2 @ a + b2).imag / h  # ∂z^{[2]}/∂a_i: column i of the Jacobian
            ok["dz2_da1"] &= bool(np.allclose(column, W2[:, i], rtol=0, atol=1e-13))
    if "da1_dz1" in ok:
        grid = np.array([-2.0, -0.5, 0.25, 3.0])
        bumped_z = grid.astype(complex) + 1j * h
        ok["da1_dz1"] &= bool(np.allclose(leaky(bumped_z).imag / h, np.where(grid > 0, 1.0, alpha), rtol=0, atol=1e-15))
    texts = {**HIDDEN_FORMS, "da1_dz1": leaky_form(exact_alpha)}
    return {key: texts[key] if ok[key] else f"{texts[key]} fails the complex-step check" for key in keys}
