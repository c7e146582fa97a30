"""Why deep networks need non-linear activations (seed 001 Q2, also seed 000 Q2).

Without activations, ŷ = W^{[L]T} ⋯ W^{[1]T} x collapses to one matrix Mᵀ. With a non-linear g
between the layers it does not: the solution computes ŷ for x₁ and x₂ = c·x₁ and shows
ŷ₂ ≠ c·ŷ₁, which any single matrix would have to satisfy.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Callable

import mpmath
import numpy as np
import sympy as sp

from worksheetgen import activations, mathfmt
from worksheetgen.errors import WorksheetError
from worksheetgen.family import Answer, Family, Solved
from worksheetgen.params import Choice, Int, ListOf, Matrix, Number, Param
from worksheetgen.sampling import require_grid, grid_param, grid_values, nonzero_grid_values

NONLINEAR = tuple(n for n in activations.NAMES if n != "identity")
# ReLU and leaky ReLU are positively homogeneous: g(c z) = c g(z) for c > 0, so a positive
# scale cannot expose their non-linearity.
HOMOGENEOUS = ("relu", "leaky_relu")
SCALES = (2, 3, -1, -2, sp.Rational(1, 2))
# Beyond this many characters a nested closed form is useless on paper and slow to evaluate,
# so the layer's values continue as 40-digit decimals.
CLOSED_FORM_LIMIT = 300
PRECISION = 40
VISIBLE = sp.Rational(5, 100)
LARGEST = 1000


def _default_alpha(activation: str) -> sp.Rational:
    return sp.Rational(1, 10) if activation == "leaky_relu" else sp.Integer(1)


def _relation(values: sp.Matrix) -> str:
    """'=' when every entry prints exactly, else '\\approx'."""
    return "=" if all(mathfmt.is_exact_decimal(v) for v in values) else r"\approx"


def _w(l: int) -> str:
    return rf"\mathbf{{W}}^{{[{l}]T}}"


def _formula(layers: int) -> str:
    """ŷ = W^{[L]T} g(⋯ g(W^{[1]T} x)) written out for this L (no g after the last layer)."""
    inner = _w(1) + r" \mathbf{x}"
    for l in range(2, layers + 1):
        inner = rf"{_w(l)}\, g({inner})"
    return r"\hat{\mathbf{y}} = " + inner


def _product_labels(layers: int) -> list[str]:
    """Names of the running products W^{[l]T} ⋯ W^{[1]T}, l = 2..L (the last is Mᵀ)."""
    labels = []
    for l in range(2, layers + 1):
        if l == layers:
            labels.append(r"\mathbf{M}^T")
        elif l == 2:
            labels.append(_w(2) + _w(1))
        else:
            labels.append(_w(l) + r" \cdots " + _w(1))
    return labels


def _coefficient(c: sp.Rational) -> tuple[str, str]:
    """TeX for 'c·v' and for '− c·v' in a sum: ('2 \\,', '- 2 \\,'), ('-', '+'), ('-2 \\,', '+ 2 \\,')."""
    def times(value: sp.Rational) -> str:
        return "" if value == 1 else mathfmt.exact(value) + r" \,"
    scale = "-" if c == -1 else times(c)
    minus = ("- " + times(c)) if c > 0 else ("+ " + times(-c))
    return scale, minus.rstrip()


class LinearCollapse(Family):
    name = "linear_collapse"
    title = "Let's activate!"
    summary = ("L square layers ŷ = W^{[L]T} g(⋯ g(W^{[1]T} x)): without g one matrix Mᵀ; "
               "with g, ŷ(c·x₁) ≠ c·ŷ(x₁) shows that no such matrix exists.")
    params = (
        Param("activation", Choice(NONLINEAR), "silu", "non-linear activation g between the layers"),
        Param("alpha", Number(positive=True), None,
              "α of ELU / leaky ReLU (when not given: 1 for ELU, 0.1 for leaky ReLU)"),
        Param("layers", Int(2, 5), 3, "number of layers L (taken from weights when they are given)"),
        Param("size", Int(2, 4), 2, "each weight matrix is size × size (taken from weights when given)"),
        Param("weights", ListOf(Matrix(), min_length=2, max_length=5), None,
              "the weight matrices [W1, W2, ..., WL] (square, all the same size)"),
        Param("inputs", Choice(("seed", "drawn")), "seed",
              "seed: x₁ = e₁ and c = 2 (c = -1 for ReLU-like g) unless given; drawn: both are drawn"),
        Param("x1", Matrix(), None, "the first input x₁ (a column)"),
        Param("c", Number(), None, "the scale of the second input x₂ = c·x₁"),
        grid_param("weight_grid", (-2.5, 2.5, 0.1), "[lo, hi, step] for drawn weights"),
        grid_param("input_grid", (-2, 2, 1), "[lo, hi, step] for a drawn input x₁"),
    )

    def validate(self, options: dict[str, Any]) -> None:
        for key in ("weight_grid", "input_grid"):
            require_grid(options, key)
        size = options["size"]
        weights = options["weights"]
        if weights is not None:
            size = weights[0].rows
            for i, w in enumerate(weights, start=1):
                if w.rows != w.cols or w.rows != size:
                    raise WorksheetError(
                        f"W{i} is {w.rows}×{w.cols} but every weight matrix must be "
                        f"{size}×{size} (square, like W1)", field="weights",
                        allowed="square matrices of one size from 2×2 to 4×4")
            if not 2 <= size <= 4:
                raise WorksheetError(f"the weights are {size}×{size}", field="weights",
                                     allowed="square matrices from 2×2 to 4×4")
        # Givens are printed as decimals in '=' chains, so they must terminate.
        for key in ("weights", "x1", "c"):
            value = options[key]
            entries = [] if value is None else (
                [v for w in value for v in w] if key == "weights" else list(value) if key == "x1" else [value])
            if not all(mathfmt.is_exact_decimal(v) for v in entries):
                raise WorksheetError(f"{key} has a number without a finite decimal expansion", field=key,
                                     allowed="terminating decimals such as 0.25 or -1.5")
        x1 = options["x1"]
        if x1 is not None:
            if x1.cols != 1 or x1.rows != size:
                raise WorksheetError(f"x1 has shape {x1.rows}×{x1.cols}", field="x1",
                                     allowed=f"a column of {size} numbers (the weights are {size}×{size})")
            if all(v == 0 for v in x1):
                raise WorksheetError("x1 is zero: every network maps 0 to 0", field="x1",
                                     allowed="a non-zero column")
        c = options["c"]
        if c is not None:
            if c in (0, 1):
                raise WorksheetError(f"c = {c} makes x₂ = {c}·x₁ teach nothing", field="c",
                                     allowed="a number other than 0 and 1")
            if options["activation"] in HOMOGENEOUS and c > 0:
                raise WorksheetError(
                    f"{options['activation']}(c z) = c {options['activation']}(z) for c > 0, so "
                    "x₂ = c·x₁ cannot show the non-linearity", field="c", allowed="a negative number")
        alpha = options["alpha"]
        if options["activation"] == "leaky_relu" and alpha is not None and alpha == 1:
            raise WorksheetError("leaky ReLU with α = 1 is the identity", field="alpha",
                                 allowed="a positive number other than 1")
        if options["activation"] == "tanh" and c == -1:
            raise WorksheetError("tanh is odd, tanh(-z) = -tanh(z), so x₂ = -x₁ gives ŷ₂ = -ŷ₁",
                                 field="c", allowed="a number other than -1, 0 and 1")
        self._refuse_linear_pair(options)

    def _refuse_linear_pair(self, options: dict[str, Any]) -> None:
        """When weights, x₁ and c are all fixed, make sure that this pair shows something:
        if every pre-activation stays where g is linear, ŷ₂ = c·ŷ₁ and the exercise proves nothing."""
        if options["weights"] is None or (options["inputs"] == "drawn" and
                                          (options["x1"] is None or options["c"] is None)):
            return
        given = self.sample(np.random.default_rng(0), options)
        act = activations.get(given["activation"])
        alpha = float(given["alpha"])
        ws = [np.array(w.tolist(), dtype=float) for w in given["weights"]]

        def run(x: np.ndarray) -> np.ndarray:
            for l, w in enumerate(ws):
                x = w.T @ x
                if l < len(ws) - 1:
                    x = act.numeric(x, alpha)
            return x

        x1 = np.array(given["x1"].tolist(), dtype=float).ravel()
        c = float(given["c"])
        y1, y2 = run(x1), run(c * x1)
        if np.max(np.abs(y2 - c * y1)) <= 1e-9 * (1 + np.max(np.abs(y2))):
            raise WorksheetError(
                "with these weights, x1 and c every pre-activation stays where g is linear, so "
                "ŷ₂ = c·ŷ₁ and the exercise cannot show that no matrix exists", field="c",
                allowed="another c (for instance a negative one) or another x1")

    def sample(self, rng: np.random.Generator, options: dict[str, Any]) -> dict[str, Any]:
        activation = options["activation"]
        alpha = options["alpha"] if options["alpha"] is not None else _default_alpha(activation)
        weights = options["weights"]
        if weights is None:
            weights = [nonzero_grid_values(rng, *options["weight_grid"], (options["size"],) * 2)
                       for _ in range(options["layers"])]
        size = weights[0].rows
        drawn = options["inputs"] == "drawn"
        x1 = options["x1"]
        if x1 is None and drawn:
            while x1 is None or all(v == 0 for v in x1):
                x1 = sp.Matrix(grid_values(rng, *options["input_grid"], size))
        elif x1 is None:
            x1 = sp.Matrix([1] + [0] * (size - 1))
        c = options["c"]
        if c is None:
            scales = [s for s in SCALES if s < 0] if activation in HOMOGENEOUS else list(SCALES)
            c = sp.Rational(scales[int(rng.integers(len(scales)))]) if drawn else (
                sp.Integer(-1) if activation in HOMOGENEOUS else sp.Integer(2))
        return {"activation": activation, "alpha": alpha, "weights": [sp.Matrix(w) for w in weights],
                "x1": sp.Matrix(x1), "c": sp.Rational(c)}

    def solve(self, given: dict[str, Any]) -> Solved:
        act = activations.get(given["activation"])
        alpha, weights, x1, c = given["alpha"], given["weights"], given["x1"], given["c"]
        transposed = [w.T for w in weights]

        # Without g: the running products W^{[l]T} ⋯ W^{[1]T}, last one is Mᵀ.
        products = [transposed[0]]
        for wt in transposed[1:]:
            products.append(wt * products[-1])
        mt = products[-1]

        def forward(x: sp.Matrix) -> list[dict[str, Any]]:
            steps = []
            a = x
            for l, wt in enumerate(transposed, start=1):
                z = wt * a
                step: dict[str, Any] = {"l": l, "wt": wt, "prev": a, "z": z, "z_rel": _relation(z)}
                if l < len(transposed):
                    a = z.applyfunc(lambda v: act.at(v, alpha))
                    if any(len(str(v)) > CLOSED_FORM_LIMIT for v in a):
                        a = a.applyfunc(lambda v: sp.Float(sp.N(v, PRECISION), PRECISION))
                    step.update(a=a, a_rel=_relation(a))
                steps.append(step)
            return steps

        x2 = c * x1
        path1, path2 = forward(x1), forward(x2)
        y1, y2 = path1[-1]["z"], path2[-1]["z"]
        scaled = c * y1
        diff = y2 - scaled
        c_times, minus_c_times = _coefficient(c)
        data = dict(c_times=c_times, minus_c_times=minus_c_times, act=act, alpha=alpha, L=len(weights), formula=_formula(len(weights)),
                    product_labels=_product_labels(len(weights)), n=weights[0].rows, transposed=transposed,
                    products=products, x2=x2, path1=path1, path2=path2, scaled=scaled,
                    y1_rel=_relation(y1), y2_rel=_relation(y2), scaled_rel=_relation(scaled),
                    diff_rel=_relation(diff), mt_rel=_relation(mt),
                    homogeneous=given["activation"] in HOMOGENEOUS)
        answers = [
            Answer("MT", r"\mathbf{M}^T", mt, "matrix"),
            Answer("y1", r"\hat{\mathbf{y}}_1", y1, "matrix"),
            Answer("y2", r"\hat{\mathbf{y}}_2", y2, "matrix"),
            Answer("diff", r"\hat{\mathbf{y}}_2 - c\,\hat{\mathbf{y}}_1", diff, "matrix"),
            Answer("one_matrix_with_g", r"\text{one matrix replaces the network with } g",
                   False, "boolean"),
        ]
        return Solved(answers, data)

    def rejection(self, given: dict[str, Any], solved: Solved) -> str | None:
        diff = solved.answer("diff").value
        if max(abs(float(v)) for v in diff) < VISIBLE:
            return f"ŷ₂ differs visibly from c·ŷ₁ (some entry by at least {VISIBLE})"
        for key in ("MT", "y1", "y2"):
            if max(abs(float(v)) for v in solved.answer(key).value) > LARGEST:
                return f"every entry of Mᵀ, ŷ₁ and ŷ₂ at most {LARGEST} in size"
        return None

    def check(self, given: dict[str, Any]) -> dict[str, Any]:
        """Recomputed without SymPy: Fractions for the piecewise-linear g (so exact zeros stay
        zero), 50-digit mpmath with its own activation formulas otherwise."""
        with mpmath.workdps(50):
            return self._check(given)

    def _check(self, given: dict[str, Any]) -> dict[str, Any]:
        name = given["activation"]
        if name in HOMOGENEOUS:
            alpha_q = Fraction(str(given["alpha"])) if name == "leaky_relu" else Fraction(0)
            convert: Callable[[Any], Any] = lambda v: Fraction(str(v))
            g: Callable[[Any], Any] = lambda z: z if z > 0 else alpha_q * z
        else:
            convert = lambda v: mpmath.mpf(int(sp.Rational(v).p)) / int(sp.Rational(v).q)
            alpha_m = convert(given["alpha"])
            g = {
                "sigmoid": lambda z: 1 / (1 + mpmath.exp(-z)),
                "tanh": mpmath.tanh,
                "silu": lambda z: z / (1 + mpmath.exp(-z)),
                "gelu": lambda z: z / 2 * (1 + mpmath.erf(z / mpmath.sqrt(2))),
                "elu": lambda z: z if z >= 0 else alpha_m * (mpmath.exp(z) - 1),
            }[name]
        ws = [[[convert(v) for v in row] for row in w.tolist()] for w in given["weights"]]
        n = len(ws[0])

        def times_transpose(w: list[list[Any]], a: list[Any]) -> list[Any]:
            # (Wᵀa)_j = Σ_i W_ij a_i, summed by hand rather than by a matrix library.
            return [sum((w[i][j] * a[i] for i in range(n)), convert(0)) for j in range(n)]

        def network(x: list[Any], nonlinear: bool) -> list[Any]:
            a = x
            for l, w in enumerate(ws):
                a = times_transpose(w, a)
                if nonlinear and l < len(ws) - 1:
                    a = [g(v) for v in a]
            return a

        c = convert(given["c"])
        x1 = [convert(v) for v in given["x1"]]
        # Mᵀ column by column: the linear network applied to the unit vectors.
        columns = [network([convert(int(i == j)) for i in range(n)], False) for j in range(n)]
        mt = [[float(columns[j][i]) for j in range(n)] for i in range(n)]
        y1 = network(x1, True)
        y2 = network([c * v for v in x1], True)
        diff = [b - c * a for a, b in zip(y1, y2)]
        return {
            "MT": mt,
            "y1": [float(v) for v in y1],
            "y2": [float(v) for v in y2],
            "diff": [float(v) for v in diff],
            # One matrix would force ŷ₂ = c·ŷ₁ exactly.
            "one_matrix_with_g": all(abs(float(v)) < 1e-30 for v in diff),
        }
