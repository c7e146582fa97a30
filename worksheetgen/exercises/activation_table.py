"""A table of activation values (and, optionally, derivatives) at a few inputs, then the
property questions of seed 003 Ex3 (seed 004 Ex4 gives the table).

The property answers are derived from the definitions in ``worksheetgen.activations`` with
SymPy (limits, one-sided difference quotients, exact witnesses); ``check`` decides the same
properties by sampling the NumPy functions on a grid. Each property question is a "select all
that apply" over the table's functions: its options are the functions' names as the sheet prints
them (``ActivationTableData.options``, the one tuple the template prints and the key stores).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from itertools import combinations
from typing import Any, Sequence

import numpy as np
import sympy as sp

from worksheetgen import activations, derivecache, sympyfast
from worksheetgen.activations import MP
from worksheetgen.answers import LETTERS, MatrixAnswer, MultiChoiceAnswer, TextAnswer
from worksheetgen.errors import CheckError, WorksheetError
from worksheetgen.family import Constraint, Family, Record, Solved
from worksheetgen.figures.figure import Figure
from worksheetgen.figures.plots import function_plot
from worksheetgen.mathfmt import is_exact_decimal, num
from worksheetgen.params import Bool, Choice, Int, ListOf, Number, Param
from worksheetgen.sampling import grid_param, require_grid

# Canonical order of the table's columns (the seed's order first).
ORDER = ("relu", "leaky_relu", "sigmoid", "tanh", "elu", "silu", "gelu", "identity")
NAMES = {
    "relu": "ReLU", "leaky_relu": "Leaky ReLU", "sigmoid": "sigmoid", "tanh": "tanh",
    "elu": "ELU", "silu": "SiLU", "gelu": "GELU", "identity": "identity",
}
# Which branch of the piecewise definition a point falls in: (right of kink, left of kink).
BRANCHES = {"relu": (">", r"\le"), "leaky_relu": (">", r"\le"), "elu": (r"\ge", "<")}
PROPERTIES = ("vanishing", "differentiable", "nonlinear", "zero_centered")
# Exact test pairs for additivity; the first one that fails is shown as the witness.
ADDITIVITY_PAIRS = ((1, -1), (1, 1), (2, -1), (-1, -1))
ODDNESS_POINTS = (1, 2, sp.Rational(1, 2))
# A kink whose slope jump is below this is invisible to the sampled check (see validate).
MIN_SLOPE_JUMP = sp.Rational(1, 10**4)

_p = sp.Symbol("p", positive=True)  # stands for a large |z| (z = p or z = -p)
_h = sp.Symbol("h", positive=True)  # one-sided step


def _tidy(expr: sp.Expr) -> sp.Expr:
    """The simpler of an expression and its simplification (for what the solution prints)."""
    simpler = sp.simplify(expr)
    # SymPy likes to fold exponentials back into tanh(2), which would print tanh(2) = tanh(2).
    new_functions = {type(f) for f in simpler.atoms(sp.Function)} - {type(f) for f in expr.atoms(sp.Function)}
    if new_functions or sp.count_ops(simpler) > sp.count_ops(expr):
        return expr
    return simpler


def _is_zero(expr: sp.Expr) -> bool:
    simplified = sp.simplify(expr)
    if simplified == 0:
        return True
    if simplified.free_symbols:
        return False
    return abs(sp.N(simplified, 60)) < sp.Float("1e-45")


@lru_cache(maxsize=None)
def derive_properties(name: str, alpha: sp.Rational) -> dict[str, Any]:
    """The four properties of one activation, derived exactly, with what the solution shows.
    Derived from the definitions alone (a spec's validation asks for every function of its
    pool, ~1 s in all), so kept between builds (:mod:`worksheetgen.derivecache`)."""
    if not isinstance(alpha, sp.Rational):  # named in the cache by its exact value
        return _derive_properties(name, alpha)
    return derivecache.remembered("activation-properties", PROPERTY_SOURCES, f"{name}-{alpha.p}_{alpha.q}",
                                  lambda: _derive_properties(name, alpha))


# What derive_properties reads: the definitions and this module's derivation.
PROPERTY_SOURCES = (activations.__file__, __file__)


def _derive_properties(name: str, alpha: sp.Rational) -> dict[str, Any]:
    g = activations.get(name)
    out: dict[str, Any] = {}

    # Vanishing gradients: g' tends to 0 on both sides (saturation). ReLU's flat left side alone
    # does not count, which is the seed's answer.
    lim_minus = sp.limit(g.grad_at(-_p, alpha), _p, sp.oo)
    lim_plus = sp.limit(g.grad_at(_p, alpha), _p, sp.oo)
    out["lim_minus"], out["lim_plus"] = lim_minus, lim_plus
    out["vanishing"] = bool(lim_minus == 0 and lim_plus == 0)

    # Differentiable everywhere: the pieces are smooth, so only the kinks can break it;
    # there the one-sided limits of the difference quotient must agree.
    sides = []
    for k in g.kinks:
        right = sp.limit((g.at(k + _h, alpha) - g.at(k, alpha)) / _h, _h, 0, "+")
        left = sp.limit((g.at(k, alpha) - g.at(k - _h, alpha)) / _h, _h, 0, "+")
        sides.append({"at": sp.Integer(k), "left": left, "right": right, "equal": _is_zero(right - left)})
    out["kink_sides"] = sides
    out["differentiable"] = all(s["equal"] for s in sides)

    # Linear: g(z) = g(1) z on both half-lines; otherwise an exact additivity witness.
    slope = g.at(1, alpha)
    linear = _is_zero(g.at(_p, alpha) - slope * _p) and _is_zero(g.at(-_p, alpha) + slope * _p)
    witness = None
    for a, b in ADDITIVITY_PAIRS:
        lhs, rhs = g.at(a + b, alpha), g.at(a, alpha) + g.at(b, alpha)
        if not _is_zero(lhs - rhs):
            witness = {"a": sp.Integer(a), "b": sp.Integer(b), "sum": sp.Integer(a + b),
                       "lhs": _tidy(lhs), "rhs": _tidy(rhs)}
            break
    if linear == (witness is not None):
        raise CheckError(f"activation_table: linearity of {name} (alpha={alpha}) is undecided: "
                         f"linear={linear}, additivity witness={witness}")
    out["slope"], out["nonlinear"], out["additivity_witness"] = slope, not linear, witness

    # Zero-centered: a symmetric zero-mean input gives a zero-mean output for every such input
    # distribution exactly when g is odd (E g(Z) = E[(g(Z) + g(-Z))/2]).
    odd = _is_zero(g.at(_p, alpha) + g.at(-_p, alpha))
    odd_witness = None
    if not odd:
        for z in ODDNESS_POINTS:
            total = g.at(z, alpha) + g.at(-z, alpha)
            if not _is_zero(total):
                odd_witness = {"z": sp.nsimplify(z), "total": _tidy(total)}
                break
        if odd_witness is None:
            raise CheckError(f"activation_table: {name} (alpha={alpha}) is not odd, yet "
                             f"g(z) + g(-z) = 0 at every z in {ODDNESS_POINTS}")
    out["zero_centered"], out["odd_witness"] = odd, odd_witness
    return out


def _both_signs(points: Sequence[sp.Rational]) -> bool:
    return any(z < 0 for z in points) and any(z > 0 for z in points)


def _branch(name: str, z: sp.Rational) -> str:
    """The condition of the piece of the definition that z falls in, e.g. 'z \\le 0'."""
    right, left = BRANCHES[name]
    on_right = z > 0 if right == ">" else z >= 0
    return f"z {right if on_right else left} 0"


def _alpha_for(name: str, given: Any) -> sp.Rational:
    """The α a function uses (0 for those without one); ``given`` is a Given or the options."""
    if name == "leaky_relu":
        return given["leaky_alpha"]
    if name == "elu":
        return given["elu_alpha"]
    return sp.Integer(0)


def option_text(name: str, alpha: sp.Rational) -> str:
    """A function as the sheet names it: in the list of definitions, in the choices, in the
    solution. α is printed exactly (it is a given, never rounded)."""
    if not activations.get(name).uses_alpha:
        return NAMES[name]
    shown = num(alpha) if is_exact_decimal(alpha) else sp.latex(alpha)
    return f"{NAMES[name]} with $\\alpha = {shown}$"


def covers(functions: Sequence[str], properties: Sequence[str], alpha_of: Any) -> bool:
    """Every property question has at least one right option among these functions."""
    return all(any(derive_properties(f, _alpha_for(f, alpha_of))[p] for f in functions)
               for p in properties)


def covering_sets(pool: Sequence[str], n: int, properties: Sequence[str], alpha_of: Any
                  ) -> list[tuple[str, ...]]:
    """The n-function subsets of the pool (in table order) that leave no question without a
    right option; at most C(8, 4) = 70 of them."""
    return list(_covering_sets(tuple(pool), n, tuple(properties),
                               _alpha_for("leaky_relu", alpha_of), _alpha_for("elu", alpha_of)))


@lru_cache(maxsize=256)  # the sampler asks it of the same options for every student
def _covering_sets(pool: tuple[str, ...], n: int, properties: tuple[str, ...], leaky_alpha: sp.Rational,
                   elu_alpha: sp.Rational) -> tuple[tuple[str, ...], ...]:
    alphas = {"leaky_alpha": leaky_alpha, "elu_alpha": elu_alpha}
    ordered = [f for f in ORDER if f in pool]
    return tuple(c for c in combinations(ordered, n) if covers(c, properties, alphas))


# Φ(z), the standard normal CDF, is printed for GELU with this many more decimals than the
# sheet's answers: z Φ(z) from the rounded Φ then errs by at most |z| · 0.5 · 10^(-digits-3).
PHI_EXTRA = 3


@lru_cache(maxsize=4096)  # the grid's points recur from student to student
def _phi_text(z: sp.Rational, digits: int = 4) -> str:
    """Φ(z) rounded half up to digits + PHI_EXTRA decimals, as from its 40-digit value (SymPy's
    evalf of the erf form costs ~1 ms a point). The rounding is decided on a 60-digit value
    unless that lies within 10^-30 of a tie, where the 40 digits could round the other way."""
    places = digits + PHI_EXTRA
    with MP.workdps(60):
        scaled = MP.ncdf(MP.mpf(int(z.p)) / int(z.q)) * MP.mpf(10) ** places
        below = MP.floor(scaled)
        if abs(scaled - below - MP.mpf(1) / 2) > MP.mpf(10) ** -30:
            units = int(below) + (1 if scaled - below > MP.mpf(1) / 2 else 0)
            return format(Decimal(units).scaleb(-places), "f")
    value = Decimal(str(sp.N((1 + sp.erf(z / sp.sqrt(2))) / 2, 40)))
    return format(value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP), "f")


def _grid(values: list[sp.Rational]) -> list[sp.Rational]:
    return list(_grid_points(*values))


@lru_cache(maxsize=64)  # drawn from for every student; each point costs SymPy arithmetic
def _grid_points(lo: sp.Rational, hi: sp.Rational, step: sp.Rational) -> tuple[sp.Rational, ...]:
    count = int(sp.floor((hi - lo) / step)) + 1
    return tuple(lo + step * k for k in range(count))


@dataclass(frozen=True)
class Row:
    """One function of the table (a column) and everything the solution says about it."""

    name: str
    letter: str  # its letter among the choices
    label: str  # e.g. "Leaky ReLU"
    option: str  # label with α, as printed everywhere (TeX)
    act: activations.Activation
    alpha: sp.Rational
    values: list[sp.Expr]  # g(z) at the points
    derivs: list[sp.Expr]  # g'(z) at the points
    branches: list[str]  # the piece of the definition each point falls in (piecewise only)
    props: dict[str, Any]  # derive_properties()
    kink_hit: bool  # a point lies on a kink


@dataclass(frozen=True)
class ActivationTableGiven(Record):
    functions: list[str]  # the table's columns, in order
    points: list[sp.Rational]
    leaky_alpha: sp.Rational
    elu_alpha: sp.Rational
    values: bool  # ask for the values
    derivatives: bool  # ask for the derivatives
    properties: list[str]  # property questions, in order
    sketch: bool = False  # ask to sketch the graphs
    compare: bool = False  # ask to compare the functions


@dataclass(frozen=True)
class ActivationTableData(Record):
    rows: list[Row]
    options: tuple[str, ...]  # the choices of every property question (row.option, in order)
    questions: list[str]  # property keys, in the order asked
    points: list[sp.Rational]
    tables: list[str]  # "values" and/or "derivatives", in the order asked
    parts: list[str]  # every part in printed order: tables, "sketch", "compare", then properties
    phi: list[str]  # Φ(z) at the points as TeX (GELU in a table), else empty
    sketch: list[str]  # the sketch part's model answer, one sentence per function
    compare: list[str]  # the comparison's model answer, one sentence per function and the uses


class ActivationTable(Family):
    name = "activation_table"
    title = "Activation functions"
    summary = ("Values (optionally derivatives) of chosen activations at a few inputs; which are "
               "prone to vanishing gradients, differentiable, non-linear, zero-centered.")
    params = (
        Param("functions", ListOf(Choice(ORDER), min_length=1, max_length=len(ORDER)), None,
              "activation functions in the table (drawn from function_pool when not given)"),
        Param("function_pool", ListOf(Choice(ORDER), min_length=1, max_length=len(ORDER)), list(ORDER),
              "functions the draw picks from (some n_functions of them must give every property "
              "question asked a right option)"),
        Param("n_functions", Int(1, len(ORDER)), 4, "how many functions are drawn"),
        Param("points", ListOf(Number(), min_length=2, max_length=8), None,
              "the inputs z (drawn from point_grid when not given)"),
        Param("n_points", Int(2, 8), 5, "how many inputs are drawn"),
        grid_param("point_grid", (-3, 3, 0.5), "[lo, hi, step] for drawn inputs"),
        Param("leaky_alpha", Number(positive=True, maximum=10), sp.Rational(1, 100), "α of leaky ReLU"),
        Param("elu_alpha", Number(positive=True, maximum=10), sp.Integer(1), "α of ELU"),
        Param("values", Bool(), True, "ask for the table of values g(z)"),
        Param("derivatives", Bool(), False, "ask for the table of derivatives g'(z)"),
        Param("properties", ListOf(Choice(PROPERTIES), max_length=len(PROPERTIES)), list(PROPERTIES),
              "property questions asked, in this order (empty: none)"),
        Param("sketch", Bool(), False, "ask to sketch the graphs (a model description, and a plot in the solution)"),
        Param("compare", Bool(), False,
              "ask to compare the functions: range, zero-centered, saturation, dead units (a model answer)"),
    )

    Given = ActivationTableGiven
    Data = ActivationTableData
    constraints = (
        # Read off the givens: a draw without both signs is not solved at all.
        Constraint("inputs of both signs", ("points",), lambda g, s: _both_signs(g.points),
                   plainly_broken=lambda g: not _both_signs(g.points)),
        # sample() draws only such sets; the rule stays declared so the key never asks a
        # drawn question whose answer is "none".
        Constraint("every property question has a right option", ("functions",),
                   lambda g, s: covers(g.functions, g.properties, g)),
    )

    def quality(self, given: ActivationTableGiven, solved: Solved) -> dict[str, bool]:
        return {
            "inputs of one sign only": not (any(z < 0 for z in given.points) and any(z > 0 for z in given.points)),
            "a property question without a right option": not covers(given.functions, given.properties, given),
        }

    def validate(self, options: dict[str, Any]) -> None:
        for key in ("functions", "function_pool", "properties", "points"):
            values = options[key]
            if values is not None and len(set(values)) != len(values):
                raise WorksheetError("an entry appears twice", field=key, allowed="distinct entries")
        if not (options["values"] or options["derivatives"] or options["properties"]
                or options["sketch"] or options["compare"]):
            raise WorksheetError("nothing is asked", field="properties",
                                 allowed="values, derivatives, sketch or compare = true, or a property question")
        require_grid(options, "point_grid")
        if options["points"] is None:
            grid = _grid(options["point_grid"])
            if len(grid) < options["n_points"]:
                raise WorksheetError(
                    f"the grid has {len(grid)} values, fewer than n_points = {options['n_points']}",
                    field="point_grid", allowed="a grid with at least n_points values")
            if not (any(v < 0 for v in grid) and any(v > 0 for v in grid)):
                raise WorksheetError("the grid needs negative and positive values",
                                     field="point_grid", allowed="lo < 0 < hi")
        if options["functions"] is None and len(options["function_pool"]) < options["n_functions"]:
            raise WorksheetError(
                f"function_pool has {len(options['function_pool'])} functions, fewer than "
                f"n_functions = {options['n_functions']}", field="n_functions",
                allowed=f"at most {len(options['function_pool'])}")
        for key in ("leaky_alpha", "elu_alpha"):
            alpha = options[key]
            if alpha != 1 and abs(alpha - 1) < MIN_SLOPE_JUMP:
                raise WorksheetError(
                    "α this close to 1 (but not 1) leaves a kink too small to check numerically",
                    field=key, allowed=f"1, or a value at least {MIN_SLOPE_JUMP} away from 1")
        if options["functions"] is None and not covering_sets(
                options["function_pool"], options["n_functions"], options["properties"], options):
            missing = [p for p in options["properties"]
                       if not covers(options["function_pool"], [p], options)]
            raise WorksheetError(
                f"no {options['n_functions']} functions of function_pool give every property "
                f"question a right option" + (f" (none is {', '.join(missing)})" if missing else ""),
                field="function_pool",
                allowed="a pool with, for each question asked, a function that has the property "
                        "(e.g. sigmoid or tanh for vanishing, tanh or identity for zero_centered)")

    def sample(self, rng: np.random.Generator, options: dict[str, Any]) -> ActivationTableGiven:
        if options["points"] is not None:
            points = list(options["points"])
        else:
            grid = _grid(options["point_grid"])
            picks = rng.choice(len(grid), size=options["n_points"], replace=False)
            points = [grid[k] for k in sorted(int(k) for k in picks)]  # the grid ascends: sorted by value
        if options["functions"] is not None:
            functions = list(options["functions"])
        else:
            # Only sets that give every question a right option (validate() made sure one exists).
            sets = covering_sets(options["function_pool"], options["n_functions"],
                                 options["properties"], options)
            functions = list(sets[int(rng.integers(0, len(sets)))])
        return ActivationTableGiven(
            functions=functions, points=points, leaky_alpha=options["leaky_alpha"],
            elu_alpha=options["elu_alpha"], values=options["values"],
            derivatives=options["derivatives"], properties=list(options["properties"]),
            sketch=options["sketch"], compare=options["compare"])

    def solve(self, given: ActivationTableGiven) -> Solved:
        points = given.points
        rows, answers = [], []
        for letter, name in zip(LETTERS, given.functions):
            g = activations.get(name)
            alpha = _alpha_for(name, given)
            rows.append(Row(
                name=name, letter=letter, label=NAMES[name], option=option_text(name, alpha),
                act=g, alpha=alpha, values=[g.at(z, alpha) for z in points],
                derivs=[g.grad_at(z, alpha) for z in points],
                branches=[_branch(name, z) for z in points] if name in BRANCHES else [],
                props=derive_properties(name, alpha), kink_hit=any(z in g.kinks for z in points)))
        tables = [t for t in ("values", "derivatives") if given[t]]
        parts = tables + [t for t in ("sketch", "compare") if given[t]] + list(given.properties)
        part_of = {name: i for i, name in enumerate(parts, start=1)}
        if given.values:
            answers += [MatrixAnswer(f"values_{row.name}", f"{row.act.tex}(z)", _row_matrix(row.values),
                                     part=part_of["values"]) for row in rows]
        if given.derivatives:
            answers += [MatrixAnswer(f"derivs_{row.name}", f"{row.act.tex}'(z)", _row_matrix(row.derivs),
                                     part=part_of["derivatives"]) for row in rows]
        figures = []
        sketch: list[str] = []
        compare: list[str] = []
        if given.sketch:
            sketch = sketch_lines([(row.option, shape_facts(row.name, row.alpha)) for row in rows])
            answers.append(TextAnswer("sketch", r"\text{graphs}", " ".join(sketch), part=part_of["sketch"]))
            figures.append(curves_figure(rows, points))
        if given.compare:
            compare = compare_lines([(row.option, row.name, shape_facts(row.name, row.alpha)) for row in rows])
            answers.append(TextAnswer("compare", r"\text{comparison}", " ".join(compare), part=part_of["compare"]))
        options = tuple(row.option for row in rows)
        answers += [MultiChoiceAnswer(prop, PROPERTY_LABELS[prop], options=options,
                                      correct=tuple(i for i, row in enumerate(rows) if row.props[prop]),
                                      part=part_of[prop])
                    for prop in given.properties]
        phi = []
        if "gelu" in given.functions and tables:
            phi = [f"\\Phi({num(z)}) " + ("= 0.5" if z == 0 else f"\\approx {_phi_text(z)}") for z in points]
        data = ActivationTableData(rows=rows, options=options, questions=list(given.properties),
                                   points=points, tables=tables, parts=parts, phi=phi,
                                   sketch=sketch, compare=compare)
        return Solved(answers, data, figures)

    def check(self, given: ActivationTableGiven) -> dict[str, Any]:
        points = np.array([float(z) for z in given.points])
        out: dict[str, Any] = {}
        flags: dict[str, dict[str, bool]] = {p: {} for p in PROPERTIES}
        for name in given.functions:
            g = activations.get(name)
            alpha = float(_alpha_for(name, given))
            if given.values:
                out[f"values_{name}"] = g.numeric(points, alpha)
            if given.derivatives:
                out[f"derivs_{name}"] = g.numeric_grad(points, alpha)
            for prop, flag in sampled_properties_of(name, alpha).items():
                flags[prop][name] = flag
        for prop in given.properties:
            out[prop] = [chr(ord("A") + i) for i, f in enumerate(given.functions) if flags[prop][f]]
        if given.sketch or given.compare:
            measured = [(option_text(name, _alpha_for(name, given)), name,
                         measured_facts(name, float(_alpha_for(name, given)))) for name in given.functions]
            if given.sketch:
                out["sketch"] = " ".join(sketch_lines([(o, f) for o, _, f in measured]))
            if given.compare:
                out["compare"] = " ".join(compare_lines(measured))
        return out


def _row_matrix(values: list[sp.Expr]) -> sp.Matrix:
    """``sp.Matrix([values])``: one row."""
    return sympyfast.matrix(1, len(values), values)


PROPERTY_LABELS = {
    "vanishing": r"\text{prone to vanishing gradients}",
    "differentiable": r"\text{differentiable everywhere}",
    "nonlinear": r"\text{non-linear}",
    "zero_centered": r"\text{zero-centered}",
}


@lru_cache(maxsize=256)  # a function's properties, sampled once per process (callers must not change them)
def sampled_properties_of(name: str, alpha: float) -> dict[str, bool]:
    """:func:`sampled_properties` of the NumPy function of an activation with this α."""
    g = activations.get(name)
    return sampled_properties(lambda z: g.numeric(z, alpha))


def sampled_properties(f: Any) -> dict[str, bool]:
    """The four properties of a NumPy function, decided by sampling it (no SymPy, no kinks list)."""
    grid = np.arange(-120, 121) / 20.0  # multiples of 0.05 in [-6, 6], 0 exactly included
    h = 1e-7
    value = f(grid)
    odd = bool(np.max(np.abs(f(grid) + f(-grid))) <= 1e-12 * (1 + np.max(np.abs(value))))
    jump = np.abs((f(grid + h) - value) / h - (value - f(grid - h)) / h)
    differentiable = bool(np.max(jump) < 1e-5)
    a, b = np.meshgrid(np.arange(-12, 13) / 4.0, np.arange(-12, 13) / 4.0)
    additive = bool(np.max(np.abs(f((a + b).ravel()) - f(a.ravel()) - f(b.ravel()))) <= 1e-12)
    far = np.array([-40.0, 40.0])
    slope_far = (f(far + 1e-3) - f(far - 1e-3)) / 2e-3
    vanishing = bool(np.all(np.abs(slope_far) < 1e-6))
    return {"vanishing": vanishing, "differentiable": differentiable, "nonlinear": not additive,
            "zero_centered": odd}


# -- the comparison and the sketch (seed 004 Ex4 steps 2 and 3) ---------------------------------
# Each function's shape is described from facts: the limits of g and g' at ±∞, the value at 0,
# the slopes at a kink, a minimum below the limits (SiLU, GELU), whether g' vanishes on a whole
# half-line (dead units), oddness. solve() derives them exactly (SymPy limits, mpmath roots);
# check() measures them on NumPy samples; both print them with the same functions below.

# How each is used (the source sheet's recommendations, per function).
USES = {
    "relu": "ReLU is the default for hidden layers (cheap, no saturation for $z > 0$)",
    "leaky_relu": "leaky ReLU replaces it where units die",
    "sigmoid": "the sigmoid suits a binary output (a probability)",
    "tanh": "tanh suits hidden layers that should be zero-centered",
    "elu": "ELU is a smooth ReLU whose negative outputs pull the mean towards $0$",
    "silu": "SiLU is a smooth, slightly non-monotone ReLU used in deep networks",
    "gelu": "GELU is the smooth ReLU of transformers",
    "identity": "the identity is for the output of a regression (stacked, it stays linear)",
}


def _short_decimal(x: Any) -> str:
    """A measured value to 2 decimals, half up (a minimum and where it lies)."""
    q = Decimal(str(x)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    text = format(q, "f")
    return "0.00" if text == "-0.00" else text


def _limit_text(x: Any) -> str:
    """A limit or a slope: ±\\infty, or an exact number (a float from the samples is read back
    as the nearest fraction with a small denominator: the limits here are 0, ±1, ±α, 1/2)."""
    if x in (sp.oo, float("inf")):
        return r"\infty"
    if x in (-sp.oo, float("-inf")):
        return r"-\infty"
    if not isinstance(x, sp.Basic):
        x = sp.Rational(str(round(float(x), 9))).limit_denominator(10**6)
    return num(x)


def describe(facts: dict[str, Any]) -> tuple[str, str]:
    """(range, shape) of one function as TeX text from its facts."""
    lo, hi, minimum = facts["lo"], facts["hi"], facts["minimum"]
    if minimum is not None:
        left = "[m"
    elif lo == r"-\infty":
        left = r"(-\infty"
    else:
        left = ("[" if facts["attained"] else "(") + lo
    rng = "$" + f"{left}, " + (r"\infty)" if hi == r"\infty" else hi + ")") + "$"
    if minimum is not None:
        rng += f" with $m \\approx {_short_decimal(minimum[1])}$ its minimum"
    if facts["dead"]:
        left_end = f"equal to ${lo}$ for $z \\le 0$, then increasing"
    elif lo == r"-\infty":
        left_end = "increasing from $-\\infty$ as $z \\to -\\infty$"
    else:
        left_end = f"levelling off at ${lo}$ as $z \\to -\\infty$"
        left_end += (f", dipping to its minimum $\\approx {_short_decimal(minimum[1])}$ at "
                     f"$z \\approx {_short_decimal(minimum[0])}$, then increasing" if minimum is not None
                     else ", increasing")
    right_end = ("growing without bound as $z \\to +\\infty$" if hi == r"\infty"
                 else f"levelling off at ${hi}$ as $z \\to +\\infty$")
    kink = (f"a kink at $z = 0$ (slope ${facts['kink'][0]}$ to the left, ${facts['kink'][1]}$ to the right)"
            if facts["kink"] is not None else "no kink")
    return rng, f"{left_end}, {right_end}; through $(0, {facts['g0']})$; {kink}"


def sketch_lines(rows: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [f"{option}: {describe(f)[1]}." for option, f in rows]


def compare_lines(rows: list[tuple[str, str, dict[str, Any]]]) -> list[str]:
    out = []
    for option, name, f in rows:
        rng, _ = describe(f)
        zc = "zero-centered" if f["odd"] else "not zero-centered"
        if f["grad_lo"] == "0" and f["grad_hi"] == "0":
            sat = "saturates on both sides ($g' \\to 0$ as $z \\to \\pm\\infty$), so gradients vanish for large $|z|$"
        elif f["grad_lo"] == "0":
            sat = (f"flat for large negative $z$ ($g' \\to 0$) but not for large positive $z$ ($g' \\to {f['grad_hi']}$)")
        else:
            sat = (f"does not saturate ($g' \\to {f['grad_lo']}$ as $z \\to -\\infty$ and $g' \\to {f['grad_hi']}$ "
                   "as $z \\to +\\infty$)")
        dead = ("dead units are possible: $g'(z) = 0$ for every $z < 0$, so a unit whose pre-activation "
                "stays negative stops learning" if f["dead"] else "no dead units ($g'$ is not $0$ on a whole half-line)")
        out.append(f"{option}: outputs in {rng}; {zc}; {sat}; {dead}.")
    out.append("In use: " + "; ".join(USES[name] for _, name, _ in rows) + ".")
    return out


_q = sp.Symbol("q", positive=True)


@lru_cache(maxsize=None)
def shape_facts(name: str, alpha: sp.Rational) -> dict[str, Any]:
    """The facts of one function, derived exactly (printed as text)."""
    g = activations.get(name)
    props = derive_properties(name, alpha)
    lo = sp.limit(g.at(-_q, alpha), _q, sp.oo)
    hi = sp.limit(g.at(_q, alpha), _q, sp.oo)
    dead = sp.simplify(g.grad_at(-_q, alpha)) == 0
    attained = lo.is_finite and any(g.at(z, alpha) == lo for z in (-1, -2))
    minimum = None
    if g.precise_grad is not None and lo.is_finite:
        # A sign change of g' on the negative side: a minimum below the limit (SiLU, GELU).
        grid = [MP.mpf(k) / 8 for k in range(-64, 1)]
        slopes = [g.precise_grad(z, MP.mpf(alpha)) for z in grid]
        for a, b, sa, sb in zip(grid, grid[1:], slopes, slopes[1:]):
            if sa < 0 <= sb:
                z_star = MP.findroot(lambda z: g.precise_grad(z, MP.mpf(alpha)), (a, b), solver="bisect")
                minimum = (z_star, g.precise(z_star, MP.mpf(alpha)))
                break
    kink = None
    if props["kink_sides"] and not props["kink_sides"][0]["equal"]:
        side = props["kink_sides"][0]
        kink = (_limit_text(side["left"]), _limit_text(side["right"]))
    return {
        "lo": _limit_text(lo), "hi": _limit_text(hi), "attained": bool(attained), "minimum": minimum,
        "kink": kink, "dead": bool(dead), "g0": _limit_text(g.at(0, alpha)), "odd": props["zero_centered"],
        "grad_lo": _limit_text(props["lim_minus"]), "grad_hi": _limit_text(props["lim_plus"]),
    }


def measured_facts(name: str, alpha: float) -> dict[str, Any]:
    """The same facts from NumPy samples of the function (no SymPy, no mpmath)."""
    g = activations.get(name)

    def f(z: Any) -> np.ndarray:
        return np.asarray(g.numeric(np.asarray(z, dtype=float), alpha), dtype=float)

    far = 1e6
    lo_v, hi_v = float(f([-far])[0]), float(f([far])[0])
    lo = -np.inf if lo_v < -1e3 else lo_v
    hi = np.inf if hi_v > 1e3 else hi_v
    grid = np.arange(-60000, 60001) / 10000.0  # [-6, 6] in steps of 1e-4, 0 included
    values = f(grid)
    k = int(np.argmin(values))
    minimum = None
    if np.isfinite(lo) and values[k] < min(lo, values[grid.size // 2]) - 1e-9:
        minimum = (grid[k], values[k])
    left_side = grid[grid < 0]
    dead = bool(np.all(np.asarray(g.numeric_grad(left_side[left_side <= -0.01], alpha)) == 0))
    attained = bool(np.isfinite(lo) and np.any(f(np.array([-1.0, -2.0])) == lo))
    kink = None
    if 0 in g.kinks:
        # One-sided difference quotients, Richardson-extrapolated (error O(h²), far below the
        # 9 decimals kept): ELU's (1 - e^{-h})α/h alone would read 1.999999 for α = 2.
        def slope(side: float) -> float:
            def quotient(h: float) -> float:
                return float((f([side * h])[0] - f([0.0])[0]) / (side * h))
            return 2 * quotient(5e-6) - quotient(1e-5)

        left, right = slope(-1.0), slope(1.0)
        if abs(left - right) > 1e-6:
            kink = (_limit_text(left), _limit_text(right))
    sampled = sampled_properties(f)
    slope_far = (f([-1e3 + 1e-3, 1e3 + 1e-3]) - f([-1e3 - 1e-3, 1e3 - 1e-3])) / 2e-3
    grad_lo, grad_hi = (0.0 if abs(v) < 1e-7 else v for v in slope_far)
    return {
        "lo": _limit_text(lo), "hi": _limit_text(hi), "attained": attained, "minimum": minimum,
        "kink": kink, "dead": dead, "g0": _limit_text(f([0.0])[0]), "odd": sampled["zero_centered"],
        "grad_lo": _limit_text(grad_lo), "grad_hi": _limit_text(grad_hi),
    }


def curves_figure(rows: list[Row], points: list[sp.Rational]) -> Figure:
    """The table's functions over the inputs' range (at least [-3, 3]), with the table's points."""
    lo = min(-3.0, float(min(points)) - 0.5)
    hi = max(3.0, float(max(points)) + 0.5)
    xs = np.linspace(lo, hi, 241)
    curves, marks = [], []
    styles = ("solid", "dashed", "dotted", "dashdotted")
    for i, row in enumerate(rows):
        ys = np.asarray(row.act.numeric(xs, float(row.alpha)), dtype=float)
        curves.append((f"\\text{{{row.label}}}", xs.tolist(), ys.tolist(), styles[i % len(styles)]))
        marks += [(float(z), float(v)) for z, v in zip(points, row.values)]
    values = [y for _, _, ys, _ in curves for y in ys]
    ylim = (max(min(values), -4.0) - 0.3, min(max(values), 4.0) + 0.3)
    return function_plot(curves, "z", "g(z)", xlim=(lo, hi), ylim=ylim, points=marks,
                         legend="north west", name="activations",
                         caption="The functions of the table; the dots are the table's values.")
