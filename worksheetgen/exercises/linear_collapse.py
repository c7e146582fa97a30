"""Why deep networks need non-linear activations (seed 001 Q2, also seed 000 Q2).

Without activations, ŷ = W^{[L]T} ⋯ W^{[1]T} x collapses to one matrix Mᵀ. With a non-linear g
between the layers it does not: the solution computes ŷ for x₁ and x₂ = c·x₁ and shows
ŷ₂ ≠ c·ŷ₁, which any single matrix would have to satisfy.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable

import mpmath
import numpy as np
import sympy as sp

from worksheetgen import activations, drawrules, mathfmt
from worksheetgen.answers import BooleanAnswer, MatrixAnswer
from worksheetgen.errors import WorksheetError
from worksheetgen.family import Constraint, Family, Record, Solved
from worksheetgen.params import Choice, Int, ListOf, Matrix, Number, Param
from worksheetgen.sampling import grid_param, grid_values, nonzero_grid_values, require_grid

NONLINEAR = tuple(n for n in activations.NAMES if n != "identity")
# ReLU and leaky ReLU are positively homogeneous: g(c z) = c g(z) for c > 0, so a positive
# scale cannot expose their non-linearity.
HOMOGENEOUS = ("relu", "leaky_relu")
SCALES = (2, 3, -1, -2, sp.Rational(1, 2))
PRECISION = 40  # digits of a value past the first closed forms (see LinearCollapse.solve)
WORK_DIGITS = 60  # digits of the twin those values are rounded from
VISIBLE = sp.Rational(5, 100)
LARGEST = 1000  # drawn instances: |entries| of Mᵀ, ŷ₁, ŷ₂; given numbers: |weights|, |x₁|, |c|
INPUT_DRAWS = 64  # redraws of an all-zero x₁ before one entry is set to a non-zero grid value
SCREEN_DRAWS = 200  # candidates screened in float64 before a grid is declared hopeless
MT_RULE = f"every entry of Mᵀ at most {LARGEST} in size"
VISIBLE_RULE = f"ŷ₂ differs visibly from c·ŷ₁ (some entry by at least {float(VISIBLE)})"
OUTPUT_RULE = f"every entry of ŷ₁ and ŷ₂ at most {LARGEST} in size"
ALIVE_RULE = (f"ŷ₁ and ŷ₂ each with an entry at least {float(VISIBLE)} in size (a network that maps an input "
              "to (almost) 0 shows only that the units can die)")
MT_FLOOR_RULE = f"every entry of Mᵀ 0 or at least {drawrules.FLOOR} in size"
FLOOR_RULE = f"every entry of ŷ₁, ŷ₂ and ŷ₂ - c·ŷ₁ 0 or at least {drawrules.FLOOR} in size"


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


@dataclass(frozen=True)
class LinearCollapseGiven(Record):
    activation: str
    alpha: sp.Rational
    weights: tuple[sp.Matrix, ...]  # W1 … WL, square
    x1: sp.Matrix  # a column
    c: sp.Rational


@dataclass(frozen=True)
class LinearCollapseData(Record):
    c_times: str  # TeX of 'c·' (e.g. '2 \\,', '-')
    minus_c_times: str  # TeX of '− c·' in a sum
    act: activations.Activation
    alpha: sp.Rational
    L: int
    formula: str
    product_labels: tuple[str, ...]
    n: int
    transposed: tuple[sp.Matrix, ...]
    products: tuple[sp.Matrix, ...]  # W2ᵀW1ᵀ, …, Mᵀ
    x2: sp.Matrix
    path1: tuple[dict[str, Any], ...]  # per layer: l, wt, prev, z, z_rel (a, a_rel but the last)
    path2: tuple[dict[str, Any], ...]
    scaled: sp.Matrix  # c·ŷ₁
    y1_rel: str
    y2_rel: str
    scaled_rel: str
    diff_rel: str
    mt_rel: str
    homogeneous: bool


def _largest(m: sp.Matrix) -> float:
    return max(abs(float(v)) for v in m)


def _screen(activation: str, alpha: Any, weights: list[sp.Matrix], x1: sp.Matrix, c: Any,
            weights_drawn: bool) -> str | None:
    """The teaching rule a candidate plainly breaks, judged in float64 with a little slack (the
    exact constraints decide the borderline cases), or None. The rule on Mᵀ alone is judged
    only when the weights are drawn, as the engine would."""
    act = activations.get(activation)
    ws = [np.array(w.tolist(), dtype=float) for w in weights]
    slack = 1 + 1e-6
    if weights_drawn:
        mt = ws[0].T
        for w in ws[1:]:
            mt = w.T @ mt
        if np.abs(mt).max() > LARGEST * slack:
            return MT_RULE

    def run(x: np.ndarray) -> np.ndarray:
        for l, w in enumerate(ws):
            x = w.T @ x
            if l < len(ws) - 1:
                x = act.numeric(x, float(alpha))
        return x

    x = np.array(sp.Matrix(x1).tolist(), dtype=float).ravel()
    y1, y2 = run(x), run(float(c) * x)
    if max(np.abs(y1).max(), np.abs(y2).max()) > LARGEST * slack:
        return OUTPUT_RULE
    if np.abs(y2 - float(c) * y1).max() < float(VISIBLE) / slack:
        return VISIBLE_RULE
    if min(np.abs(y1).max(), np.abs(y2).max()) < float(VISIBLE) / slack:
        return ALIVE_RULE
    if weights_drawn and _below_floor(mt, drawrules.FLOOR * slack):
        return MT_FLOOR_RULE
    if any(_below_floor(v, drawrules.FLOOR * slack) for v in (y1, y2, y2 - float(c) * y1)):
        return FLOOR_RULE
    return None


def _below_floor(values: np.ndarray, floor: float) -> bool:
    """Some entry clearly not 0 (floats of exact zeros stay near 0) but below ``floor``."""
    sizes = np.abs(values)
    return bool(((sizes > 1e-9) & (sizes < floor)).any())


def _floor_broken(solved: Solved, keys: tuple[str, ...]) -> bool:
    return drawrules.below_floor([solved.answer(k) for k in keys])


class LinearCollapse(Family):
    """Sizes are capped at 5 layers of 4 × 4 and given numbers at 1000 in size, and closed forms
    are never nested (see solve), so the largest allowed network solves in a fraction of a
    second: nothing needs refusing for its cost."""

    name = "linear_collapse"
    title = "Let's activate!"
    summary = ("L square layers ŷ = W^{[L]T} g(⋯ g(W^{[1]T} x)): without g one matrix Mᵀ; "
               "with g, ŷ(c·x₁) ≠ c·ŷ(x₁) shows that no such matrix exists.")
    Given = LinearCollapseGiven
    Data = LinearCollapseData
    params = (
        Param("activation", Choice(NONLINEAR), "silu",
              "non-linear activation g between the layers" + drawrules.GELU_NOTE),
        Param("alpha", Number(positive=True), None,
              "α of ELU / leaky ReLU (when not given: 1 for ELU, 0.1 for leaky ReLU)"),
        Param("layers", Int(2, 5), 3, "number of layers L, 2 to 5 (taken from weights when they are given)"),
        Param("size", Int(2, 4), 2, "each weight matrix is size × size, 2 to 4 (taken from weights when given)"),
        Param("weights", ListOf(Matrix(), min_length=2, max_length=5), None,
              "the 2 to 5 weight matrices [W1, W2, ..., WL] (square, all the same size, 2×2 to 4×4; "
              f"terminating decimals at most {LARGEST} in size)"),
        Param("inputs", Choice(("seed", "drawn")), "seed",
              "seed: x₁ = e₁ and c = 2 (c = -1 for ReLU-like g) unless given; drawn: both are drawn"),
        Param("x1", Matrix(), None,
              f"the first input x₁ (a column; terminating decimals at most {LARGEST} in size)"),
        Param("c", Number(), None,
              f"the scale of the second input x₂ = c·x₁ (a terminating decimal at most {LARGEST} in size)"),
        grid_param("weight_grid", (-2.5, 2.5, 0.1),
                   f"[lo, hi, step] for drawn weights (never 0; at most {LARGEST} in size)"),
        grid_param("input_grid", (-2, 2, 1),
                   f"[lo, hi, step] for a drawn input x₁ (with a non-zero value; at most {LARGEST} in size)"),
    )
    constraints = (
        Constraint(MT_RULE, ("weights",), lambda g, s: _largest(s.answer("MT").value) <= LARGEST),
        Constraint(OUTPUT_RULE, ("weights", "x1", "c"),
                   lambda g, s: max(_largest(s.answer("y1").value), _largest(s.answer("y2").value)) <= LARGEST),
        Constraint(VISIBLE_RULE, ("weights", "x1", "c"),
                   lambda g, s: _largest(s.answer("diff").value) >= VISIBLE),
        Constraint(ALIVE_RULE, ("weights", "x1", "c"),
                   lambda g, s: min(_largest(s.answer("y1").value), _largest(s.answer("y2").value)) >= VISIBLE),
        Constraint(MT_FLOOR_RULE, ("weights",), lambda g, s: not _floor_broken(s, ("MT",))),
        Constraint(FLOOR_RULE, ("weights", "x1", "c"), lambda g, s: not _floor_broken(s, ("y1", "y2", "diff"))),
    )

    def quality(self, given: LinearCollapseGiven, solved: Solved) -> dict[str, bool]:
        return {f"asked value below {drawrules.FLOOR}": _floor_broken(solved, ("MT", "y1", "y2", "diff"))}

    def validate(self, options: dict[str, Any]) -> None:
        require_grid(options, "weight_grid", nonzero=True)
        require_grid(options, "input_grid", nonzero=options["inputs"] == "drawn")
        for key in ("weight_grid", "input_grid"):
            if max(abs(options[key][0]), abs(options[key][1])) > LARGEST:
                raise WorksheetError(f"the grid reaches beyond {LARGEST}", field=key,
                                     allowed=f"[lo, hi, step] with values at most {LARGEST} in size")
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
            if any(abs(v) > LARGEST for v in entries):
                raise WorksheetError(f"{key} has a number beyond {LARGEST} in size", field=key,
                                     allowed=f"numbers at most {LARGEST} in size")
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

    @staticmethod
    def _fixed_inputs(options: dict[str, Any], size: int) -> tuple[sp.Matrix, sp.Rational] | None:
        """x₁ and c when the options decide them (given, or the seed's choice), else None."""
        x1, c = options["x1"], options["c"]
        if options["inputs"] == "drawn":
            return (x1, c) if x1 is not None and c is not None else None
        if x1 is None:
            x1 = sp.Matrix([1] + [0] * (size - 1))
        if c is None:
            c = sp.Integer(-1) if options["activation"] in HOMOGENEOUS else sp.Integer(2)
        return x1, sp.Rational(c)

    def _refuse_linear_pair(self, options: dict[str, Any]) -> None:
        """When weights, x₁ and c are all fixed, make sure that this pair shows something:
        if every pre-activation stays where g is linear, ŷ₂ = c·ŷ₁ and the exercise proves nothing."""
        if options["weights"] is None:
            return
        fixed = self._fixed_inputs(options, options["weights"][0].rows)
        if fixed is None:
            return
        act = activations.get(options["activation"])
        alpha = float(options["alpha"] if options["alpha"] is not None else _default_alpha(options["activation"]))
        ws = [np.array(w.tolist(), dtype=float) for w in options["weights"]]

        def run(x: np.ndarray) -> np.ndarray:
            for l, w in enumerate(ws):
                x = w.T @ x
                if l < len(ws) - 1:
                    x = act.numeric(x, alpha)
            return x

        x1 = np.array(fixed[0].tolist(), dtype=float).ravel()
        c = float(fixed[1])
        y1, y2 = run(x1), run(c * x1)
        if np.max(np.abs(y2 - c * y1)) <= 1e-9 * (1 + np.max(np.abs(y2))):
            raise WorksheetError(
                "with these weights, x1 and c every pre-activation stays where g is linear, so "
                "ŷ₂ = c·ŷ₁ and the exercise cannot show that no matrix exists", field="c",
                allowed="another c (for instance a negative one) or another x1")

    def drawn(self, options: dict[str, Any]) -> frozenset[str]:
        """As the base class, less what an unset option takes without a draw: α (the
        activation's default) and, with inputs = "seed", x₁ = e₁ and the seed's c."""
        drawn = set(super().drawn(options)) - {"alpha"}
        if options["inputs"] == "seed":
            drawn -= {"x1", "c"}
        return frozenset(drawn)

    def sample(self, rng: np.random.Generator, options: dict[str, Any]) -> LinearCollapseGiven:
        """Weights and inputs on their grids. Candidates are first screened against the teaching
        rules in float64 (microseconds), so that the exact solve (up to 0.1 s at 5 layers of
        4 × 4) runs about once per instance however narrow the rules are for the grids; the
        constraints then confirm exactly. A grid the rules practically never accept is refused
        after SCREEN_DRAWS candidates, naming it, instead of 200 exact solves."""
        activation = options["activation"]
        alpha = options["alpha"] if options["alpha"] is not None else _default_alpha(activation)
        draw_weights = options["weights"] is None
        size = options["size"] if draw_weights else options["weights"][0].rows
        fixed = self._fixed_inputs(options, size)
        broken = None
        for _ in range(SCREEN_DRAWS):
            weights = options["weights"]
            if draw_weights:
                weights = [nonzero_grid_values(rng, *options["weight_grid"], (size, size))
                           for _ in range(options["layers"])]
            if fixed is not None:
                x1, c = fixed
            else:
                x1 = options["x1"] if options["x1"] is not None else self._draw_input(rng, options["input_grid"], size)
                c = options["c"]
                if c is None:
                    scales = [s for s in SCALES if s < 0] if activation in HOMOGENEOUS else list(SCALES)
                    c = scales[int(rng.integers(len(scales)))]
            if not draw_weights and fixed is not None:
                break  # nothing drawn: the spec's own numbers, which validate() looked at
            broken = _screen(activation, alpha, weights, x1, c, draw_weights)
            if broken is None:
                break
        else:
            raise WorksheetError(
                f"no draw of {SCREEN_DRAWS} met the constraint {broken!r}",
                field="weight_grid" if draw_weights else "weights",
                allowed="smaller weights or inputs (a narrower grid), or fewer or smaller layers")
        return LinearCollapseGiven(activation=activation, alpha=alpha,
                                   weights=tuple(sp.Matrix(w) for w in weights),
                                   x1=sp.Matrix(x1), c=sp.Rational(c))

    @staticmethod
    def _draw_input(rng: np.random.Generator, grid: list[sp.Rational], size: int) -> sp.Matrix:
        """x₁ on the grid, not all zero (validate() made sure the grid has a non-zero value)."""
        for _ in range(INPUT_DRAWS):
            x1 = sp.Matrix(grid_values(rng, *grid, size))
            if any(v != 0 for v in x1):
                return x1
        x1[int(rng.integers(size))] = nonzero_grid_values(rng, *grid)
        return x1

    def solve(self, given: LinearCollapseGiven) -> Solved:
        act = activations.get(given.activation)
        alpha, weights, x1, c = given.alpha, given.weights, given.x1, given.c
        transposed = tuple(w.T for w in weights)

        # Without g: the running products W^{[l]T} ⋯ W^{[1]T}, last one is Mᵀ.
        products = [transposed[0]]
        for wt in transposed[1:]:
            products.append(wt * products[-1])
        mt = products[-1]

        def forward(x: sp.Matrix) -> tuple[dict[str, Any], ...]:
            # Closed forms are kept for g of a rational pre-activation (the first layer; every
            # layer of a piecewise-linear g). g of a sum of closed forms would nest them once per
            # layer, unreadable and seconds to evaluate at 5 layers of 4 × 4, so from there on the
            # values are PRECISION-digit decimals from a twin carried along in SymPy Floats
            # (g of one Float evaluates in microseconds, evalf of a nested form in seconds).
            steps = []
            a, a_num = x, x.applyfunc(lambda v: sp.Float(v, WORK_DIGITS))
            for l, wt in enumerate(transposed, start=1):
                z, z_num = wt * a, wt * a_num
                step: dict[str, Any] = {"l": l, "wt": wt, "prev": a, "z": z, "z_rel": _relation(z)}
                if l < len(transposed):
                    a_num = z_num.applyfunc(lambda v: sp.N(act.at(v, alpha), WORK_DIGITS))
                    if all(v.is_Rational for v in z):
                        a = z.applyfunc(lambda v: act.at(v, alpha))
                    else:
                        a = a_num.applyfunc(lambda v: sp.Float(v, PRECISION))
                    step.update(a=a, a_rel=_relation(a))
                steps.append(step)
            return tuple(steps)

        x2 = c * x1
        path1, path2 = forward(x1), forward(x2)
        y1, y2 = path1[-1]["z"], path2[-1]["z"]
        scaled = c * y1
        diff = y2 - scaled
        c_times, minus_c_times = _coefficient(c)
        L = len(weights)
        data = LinearCollapseData(
            c_times=c_times, minus_c_times=minus_c_times, act=act, alpha=alpha, L=L,
            formula=_formula(L), product_labels=tuple(_product_labels(L)), n=weights[0].rows,
            transposed=transposed, products=tuple(products), x2=x2, path1=path1, path2=path2,
            scaled=scaled, y1_rel=_relation(y1), y2_rel=_relation(y2), scaled_rel=_relation(scaled),
            diff_rel=_relation(diff), mt_rel=_relation(mt), homogeneous=given.activation in HOMOGENEOUS)
        answers = [
            MatrixAnswer("MT", r"\mathbf{M}^T", mt),
            MatrixAnswer("y1", r"\hat{\mathbf{y}}_1", y1),
            MatrixAnswer("y2", r"\hat{\mathbf{y}}_2", y2),
            MatrixAnswer("diff", r"\hat{\mathbf{y}}_2 - c\,\hat{\mathbf{y}}_1", diff),
            BooleanAnswer("one_matrix_with_g", r"\text{one matrix replaces the network with } g", False),
        ]
        return Solved(answers, data)

    def check(self, given: LinearCollapseGiven) -> dict[str, Any]:
        """Recomputed without SymPy: Fractions for the piecewise-linear g (so exact zeros stay
        zero), 50-digit mpmath with its own activation formulas otherwise."""
        with mpmath.workdps(50):
            return self._check(given)

    def _check(self, given: LinearCollapseGiven) -> dict[str, Any]:
        name = given.activation
        if name in HOMOGENEOUS:
            alpha_q = Fraction(str(given.alpha)) if name == "leaky_relu" else Fraction(0)
            convert: Callable[[Any], Any] = lambda v: Fraction(str(v))
            g: Callable[[Any], Any] = lambda z: z if z > 0 else alpha_q * z
        else:
            convert = lambda v: mpmath.mpf(int(sp.Rational(v).p)) / int(sp.Rational(v).q)
            alpha_m = convert(given.alpha)
            g = {
                "sigmoid": lambda z: 1 / (1 + mpmath.exp(-z)),
                "tanh": mpmath.tanh,
                "silu": lambda z: z / (1 + mpmath.exp(-z)),
                "gelu": lambda z: z / 2 * mpmath.erfc(-z / mpmath.sqrt(2)),
                "elu": lambda z: z if z >= 0 else alpha_m * mpmath.expm1(z),
            }[name]
        ws = [[[convert(v) for v in row] for row in w.tolist()] for w in given.weights]
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

        c = convert(given.c)
        x1 = [convert(v) for v in given.x1]
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
