"""A few steps of SGD, momentum, Nesterov momentum, AdaGrad, RMSProp and Adam (with bias
correction) on a small quadratic f(θ) = ½ Σ_i a_i (θ_i - c_i)² or on given gradients, and a
comparison of where each method ends.

Conventions (stated on the sheet; all operations elementwise):

    SGD       θ_t = θ_{t-1} - η g_t
    momentum  v_t = β v_{t-1} - η g_t,                θ_t = θ_{t-1} + v_t
    Nesterov  v_t = β v_{t-1} - η ∇f(θ_{t-1} + β v_{t-1}),  θ_t = θ_{t-1} + v_t
    AdaGrad   G_t = G_{t-1} + g_t²,                   θ_t = θ_{t-1} - η g_t / (√G_t + ε)
    RMSProp   s_t = ρ s_{t-1} + (1 - ρ) g_t²,         θ_t = θ_{t-1} - η g_t / (√s_t + ε)
    Adam      m_t = β₁ m_{t-1} + (1 - β₁) g_t,  v_t = β₂ v_{t-1} + (1 - β₂) g_t²,
              m̂_t = m_t / (1 - β₁^t),  v̂_t = v_t / (1 - β₂^t),  θ_t = θ_{t-1} - η m̂_t / (√v̂_t + ε)

with every state starting at 0. The exact solution runs this recursion in SymPy: SGD and the
momentum methods stay rational; the adaptive methods on a quadratic produce radicals nested one
level deeper per step. SymPy builds those expressions at once but its evalf re-walks shared
subexpressions, exponentially in the number of steps, so each value handed to the sheet is either
its closed form (when small) or its value to 50 significant digits, computed from the exact
expression by a memoized walk at 60 and at 80 digits that must agree. The check re-implements
every method in float64 NumPy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import mpmath
import numpy as np
import sympy as sp

from worksheetgen.answers import LETTERS, MatrixAnswer, MultiChoiceAnswer
from worksheetgen.errors import CheckError, WorksheetError
from worksheetgen.family import Constraint, Family, Record, Solved
from worksheetgen.figures import Panel, plot_grid
from worksheetgen.params import Choice, Int, ListOf, Matrix, Number, Param
from worksheetgen.sampling import grid_param, grid_values, nonzero_grid_values, require_grid

METHODS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")
PARTS = (*METHODS, "compare")
ADAPTIVE = ("adagrad", "rmsprop", "adam")
# Names as printed in text (the compare part's options) and in math (labels, plot titles).
NAMES = {"sgd": "SGD", "momentum": "momentum", "nesterov": "Nesterov", "adagrad": "AdaGrad",
         "rmsprop": "RMSProp", "adam": "Adam"}
PROBLEMS = ("quadratic", "gradients")
# Limits, as the help texts state them. Ten steps of every method take a few milliseconds (the
# exact expressions are built at once and evaluated by a memoized walk).
MAX_STEPS = 10
VALUE_LIMIT = 100
LR_MAX = 10
# Drawn values: curvatures and learning rates that keep SGD stable (η a < 2) and off the
# minimum (η a ≠ 1).
CURVATURES = (sp.Rational(1, 2), sp.Integer(1), sp.Rational(3, 2), sp.Integer(2), sp.Integer(3), sp.Integer(4))
LEARNING_RATES = (sp.Rational(1, 20), sp.Rational(1, 10), sp.Rational(1, 5), sp.Rational(1, 4))
# A value whose expression has at most this many distinct nodes is kept in closed form.
CLOSED_FORM_NODES = 24
# The best method must beat the runner-up by this fraction of its loss (drawn instances).
MARGIN = sp.Rational(1, 20)
# Every method's final loss on a drawn quadratic is at least this: 4·10^-5 prints as 0 at four
# decimals (5 % of draws had one), and 0.0004 is one digit next to a classmate's 3.
MIN_LOSS = sp.Rational(1, 1000)
# ... and no iterate is within this of 0 without being 0 (θ → c = 0 over ten steps reaches 2·10^-5).
NEAR_ZERO = 0.001
SAMPLE_TRIES = 30


# -- exact values -----------------------------------------------------------------------------

class Exact:
    """An exact real number built from rationals with +, -, ×, ÷ and square roots, kept as a DAG.

    Operations on two rationals fold into a rational (SGD and the momentum methods never leave
    Q); anything involving an irrational square root becomes a node. Shared subexpressions are
    stored once and evaluated once per precision, so ten steps of RMSProp (radicals nested ten
    deep) cost milliseconds, where SymPy's own expressions take time exponential in the depth."""

    __slots__ = ("op", "args", "const", "_values")

    def __init__(self, op: str, args: tuple["Exact", ...] = (), const: sp.Rational | None = None):
        self.op, self.args, self.const = op, args, const
        self._values: dict[int, mpmath.mpf] = {}

    @staticmethod
    def of(x: Any) -> "Exact":
        return x if isinstance(x, Exact) else Exact("const", const=sp.Rational(x))

    @property
    def rational(self) -> bool:
        return self.op == "const"

    def _binary(self, other: Any, op: str, swap: bool = False) -> "Exact":
        a, b = (Exact.of(other), self) if swap else (self, Exact.of(other))
        if a.rational and b.rational:
            x, y = a.const, b.const
            return Exact.of({"+": x + y, "-": x - y, "*": x * y, "/": x / y}[op])
        if op == "*" and ((a.rational and a.const == 0) or (b.rational and b.const == 0)):
            return Exact.of(0)
        if op in "+-" and b.rational and b.const == 0:
            return a
        return Exact(op, (a, b))

    def __add__(self, o: Any) -> "Exact": return self._binary(o, "+")
    def __radd__(self, o: Any) -> "Exact": return self._binary(o, "+", True)
    def __sub__(self, o: Any) -> "Exact": return self._binary(o, "-")
    def __rsub__(self, o: Any) -> "Exact": return self._binary(o, "-", True)
    def __mul__(self, o: Any) -> "Exact": return self._binary(o, "*")
    def __rmul__(self, o: Any) -> "Exact": return self._binary(o, "*", True)
    def __truediv__(self, o: Any) -> "Exact": return self._binary(o, "/")
    def __rtruediv__(self, o: Any) -> "Exact": return self._binary(o, "/", True)
    def __neg__(self) -> "Exact": return Exact.of(0) - self

    def __pow__(self, n: int) -> "Exact":
        if n != 2:
            raise ValueError("only squares are needed")
        return self * self

    def sqrt(self) -> "Exact":
        if self.rational:
            root = sp.sqrt(self.const)
            if root.is_Rational:
                return Exact.of(root)
        return Exact("sqrt", (self,))

    def value(self, dps: int) -> mpmath.mpf:
        """The value at ``dps`` digits (each node once per precision)."""
        if dps not in self._values:
            with mpmath.workdps(dps):
                if self.rational:
                    v = mpmath.mpf(int(self.const.p)) / int(self.const.q)
                elif self.op == "sqrt":
                    v = mpmath.sqrt(self.args[0].value(dps))
                else:
                    a, b = (x.value(dps) for x in self.args)
                    v = {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "/": lambda: a / b}[self.op]()
            self._values[dps] = v
        return self._values[dps]

    def tree_size(self, limit: int) -> int:
        """Nodes of the expression written out as a tree, counting stops past ``limit``."""
        total, stack = 0, [self]
        while stack and total <= limit:
            e = stack.pop()
            total += 1
            stack.extend(e.args)
        return total

    def sympy(self) -> sp.Expr:
        """The SymPy expression (only for small trees: SymPy is exponential on deep ones)."""
        if self.rational:
            return self.const
        if self.op == "sqrt":
            return sp.sqrt(self.args[0].sympy())
        a, b = (x.sympy() for x in self.args)
        return {"+": a + b, "-": a - b, "*": a * b, "/": a / b}[self.op]

    def is_zero(self) -> bool:
        if self.rational:
            return self.const == 0
        return abs(self.value(60)) < mpmath.mpf(10) ** -40

    def to_float(self) -> float:
        return float(self.value(30))

    def _sympy_(self) -> sp.Expr:
        # Keeps SymPy from turning an Exact into a float when it meets one first (Rational * Exact):
        # the failure makes Python call Exact.__rmul__ instead.
        raise sp.SympifyError(self)


def _simple(expr: sp.Expr) -> bool:
    """A short closed form worth printing: square roots of small rationals only (a nested
    radical prints as a screenful)."""
    for e in sp.preorder_traversal(expr):
        if e.is_Pow and not e.exp.is_Integer:
            base = e.base
            if not (base.is_Rational and abs(base.p) < 10**4 and base.q < 10**4):
                return False
    return True


def settle(x: Exact) -> sp.Expr:
    """The value shown and stored for an exact number: a rational, a short closed form, or else
    its value to 50 significant digits (evaluations at 60 and 80 digits must agree)."""
    if x.rational:
        return x.const
    if x.tree_size(CLOSED_FORM_NODES) <= CLOSED_FORM_NODES:
        expr = x.sympy()
        if _simple(expr):
            return expr
    low, high = x.value(60), x.value(80)
    with mpmath.workdps(80):
        if abs(low - high) > mpmath.mpf(10) ** -52 * max(1, abs(high)):
            raise CheckError(f"optimizers: 60- and 80-digit values of an iterate disagree ({low} vs {high})")
        text = mpmath.nstr(high, 55, strip_zeros=False)
    return sp.Float(text, 50)


Vec = tuple[sp.Expr, ...]


@dataclass(frozen=True)
class OptimizersGiven(Record):
    parts: tuple[str, ...]
    problem: str
    dim: int
    steps: int
    lr: sp.Rational
    momentum: sp.Rational
    rho: sp.Rational
    beta1: sp.Rational
    beta2: sp.Rational
    epsilon: sp.Rational
    theta0: tuple[sp.Rational, ...]
    curvature: tuple[sp.Rational, ...] | None  # quadratic
    minimum: tuple[sp.Rational, ...] | None
    gradients: sp.ImmutableMatrix | None  # gradients problem: row t is g_t


@dataclass(frozen=True)
class OptStep(Record):
    """One step of one method; vectors are tuples (one entry per coordinate), None if unused."""

    t: int
    prev: Vec  # θ_{t-1}
    point: Vec  # where the gradient is taken (θ_{t-1}, or the look-ahead point for Nesterov)
    g: Vec
    a_prev: Vec | None  # v_{t-1}, G_{t-1}, s_{t-1} or m_{t-1}
    a: Vec | None
    b_prev: Vec | None  # Adam's v_{t-1}
    b: Vec | None
    mhat: Vec | None
    vhat: Vec | None
    root: Vec | None  # √G_t, √s_t or √v̂_t
    theta: Vec


@dataclass(frozen=True)
class OptRun(Record):
    key: str
    name: str  # TeX
    steps: tuple[OptStep, ...]
    final: Vec
    loss: sp.Expr | None  # f(θ_T) on a quadratic
    value: float | None  # the same as a float (for the teaching rules)
    crosses: bool  # some coordinate jumped over its minimum
    approach: bool  # f(θ_t) decreased at every step
    zero_gradient: bool  # some step had a gradient coordinate of exactly 0
    offset: float  # the largest |θ_t - c| over steps and coordinates (quadratic)


@dataclass(frozen=True)
class OptimizersData(Record):
    parts: tuple[str, ...]
    quadratic: bool
    runs: tuple[OptRun, ...]
    compare: bool
    best: tuple[str, ...]  # names of the methods with the lowest final loss
    options: tuple[str, ...]  # the compare part's options, in printed order


class _Run:
    """The exact recursion of one method (expressions kept unsettled for the next step)."""

    def __init__(self, method: str, g: OptimizersGiven, grad: Callable[[int, list[sp.Expr]], list[sp.Expr]]):
        self.method, self.given, self.grad = method, g, grad

    def run(self) -> tuple[list[dict[str, Any]], list[list[sp.Expr]]]:
        g, n = self.given, self.given.dim
        zero = [Exact.of(0)] * n
        theta = [Exact.of(v) for v in g.theta0]
        a, b = list(zero), list(zero)
        rows, path = [], [theta]
        eta, eps = Exact.of(g.lr), Exact.of(g.epsilon)
        beta, rho, beta1, beta2 = (Exact.of(v) for v in (g.momentum, g.rho, g.beta1, g.beta2))
        for t in range(1, g.steps + 1):
            row: dict[str, Any] = {"t": t, "prev": theta, "a_prev": a, "b_prev": b}
            point = theta
            if self.method == "nesterov":
                point = [th + beta * v for th, v in zip(theta, a)]
            grad = self.grad(t, point)
            row.update(point=point, g=grad)
            if self.method == "sgd":
                new = [th - eta * gi for th, gi in zip(theta, grad)]
            elif self.method in ("momentum", "nesterov"):
                a = [beta * v - eta * gi for v, gi in zip(a, grad)]
                new = [th + v for th, v in zip(theta, a)]
            elif self.method in ("adagrad", "rmsprop"):
                if self.method == "adagrad":
                    a = [acc + gi**2 for acc, gi in zip(a, grad)]
                else:
                    a = [rho * acc + (1 - rho) * gi**2 for acc, gi in zip(a, grad)]
                root = [acc.sqrt() for acc in a]
                row["root"] = root
                new = [th - eta * gi / (r + eps) for th, gi, r in zip(theta, grad, root)]
            else:  # adam
                a = [beta1 * m + (1 - beta1) * gi for m, gi in zip(a, grad)]
                b = [beta2 * v + (1 - beta2) * gi**2 for v, gi in zip(b, grad)]
                mhat = [m / (1 - g.beta1**t) for m in a]
                vhat = [v / (1 - g.beta2**t) for v in b]
                root = [v.sqrt() for v in vhat]
                row.update(mhat=mhat, vhat=vhat, root=root, b=b)
                new = [th - eta * m / (r + eps) for th, m, r in zip(theta, mhat, root)]
            row.update(a=a if self.method != "sgd" else None, theta=new)
            rows.append(row)
            theta = new
            path.append(theta)
        return rows, path


def _tuple(values: list[Exact] | None) -> Vec | None:
    return None if values is None else tuple(settle(v) for v in values)


class Optimizers(Family):
    name = "optimizers"
    title = "Gradient-based optimizers"
    summary = ("A few steps of SGD, momentum, Nesterov, AdaGrad, RMSProp and Adam (with bias "
               "correction) on a small quadratic or on given gradients; which ends lowest.")
    Given = OptimizersGiven
    Data = OptimizersData
    params = (
        Param("parts", ListOf(Choice(PARTS), min_length=1, max_length=len(PARTS)), list(PARTS),
              "which parts to ask, in this order: sgd, momentum, nesterov, adagrad, rmsprop, adam "
              "(a few steps of each), compare (which method ends with the lowest loss; quadratic only, "
              "at least two methods)"),
        Param("problem", Choice(PROBLEMS), "quadratic",
              "quadratic: f(θ) = ½ Σ a_i (θ_i − c_i)²; gradients: the gradient of every step is given "
              "(no Nesterov, no compare)"),
        Param("dim", Int(1, 2), 1, "number of parameters θ_i, 1 or 2"),
        Param("steps", Int(1, MAX_STEPS), 3, f"steps T of every method, 1 to {MAX_STEPS}"),
        Param("lr", Number(positive=True, maximum=LR_MAX), None,
              f"learning rate η of every method, above 0 and at most {LR_MAX} (drawn from 0.05, 0.1, 0.2, 0.25)"),
        Param("momentum", Number(0, sp.Rational(99, 100)), sp.Rational(9, 10), "momentum β, 0 to 0.99"),
        Param("rho", Number(sp.Rational(1, 100), sp.Rational(999, 1000)), sp.Rational(9, 10),
              "RMSProp decay ρ, 0.01 to 0.999"),
        Param("beta1", Number(0, sp.Rational(99, 100)), sp.Rational(9, 10), "Adam β₁, 0 to 0.99"),
        Param("beta2", Number(sp.Rational(1, 100), sp.Rational(9999, 10000)), sp.Rational(999, 1000),
              "Adam β₂, 0.01 to 0.9999"),
        Param("epsilon", Number(0, 1), sp.Integer(0),
              "ε of AdaGrad, RMSProp and Adam, 0 to 1 (0 keeps hand computation clean; it then needs "
              "a non-zero first gradient in every coordinate)"),
        Param("curvature", ListOf(Number(positive=True, maximum=VALUE_LIMIT), 1, 2), None,
              f"curvatures a_i of the quadratic, above 0 and at most {VALUE_LIMIT} (drawn from 0.5, 1, 1.5, 2, 3, 4)"),
        Param("minimum", ListOf(Number(-VALUE_LIMIT, VALUE_LIMIT), 1, 2), None,
              f"minimum c of the quadratic, each from {-VALUE_LIMIT} to {VALUE_LIMIT}"),
        Param("theta0", ListOf(Number(-VALUE_LIMIT, VALUE_LIMIT), 1, 2), None,
              f"starting point θ_0, each from {-VALUE_LIMIT} to {VALUE_LIMIT}"),
        Param("gradients", Matrix(), None,
              f"problem gradients: one row g_t per step (T rows, dim columns), entries from "
              f"{-VALUE_LIMIT} to {VALUE_LIMIT}"),
        grid_param("theta_grid", (-4, 4, sp.Rational(1, 2)), f"[lo, hi, step] for a drawn θ_0, within ±{VALUE_LIMIT}"),
        grid_param("minimum_grid", (-2, 2, sp.Rational(1, 2)), f"[lo, hi, step] for a drawn minimum c, within ±{VALUE_LIMIT}"),
        grid_param("gradient_grid", (-2, 2, sp.Rational(1, 2)),
                   f"[lo, hi, step] for drawn gradients (never 0), within ±{VALUE_LIMIT}"),
    )
    DRAWN_READS = ("lr", "curvature", "minimum", "theta0", "gradients")
    constraints = (
        Constraint("a non-zero gradient in every coordinate at every step", DRAWN_READS,
                   lambda g, s: not any(run.zero_gradient for run in s.data.runs)),
        Constraint("no method runs away from the minimum", ("lr", "curvature", "minimum", "theta0"),
                   lambda g, s: g.problem != "quadratic" or all(
                       run.offset <= 2 * max(abs(float(t0 - c0)) for t0, c0 in zip(g.theta0, g.minimum))
                       for run in s.data.runs)),
        Constraint("one method ends clearly lowest", ("lr", "curvature", "minimum", "theta0"),
                   lambda g, s: not s.data.compare or _clear_winner(s.data.runs)),
        Constraint(f"every method ends with f(θ_T) of at least {float(MIN_LOSS):g}", ("lr", "curvature", "minimum", "theta0"),
                   lambda g, s: g.problem != "quadratic" or all(run.value >= MIN_LOSS for run in s.data.runs)),
        Constraint(f"no iterate within {NEAR_ZERO:g} of 0 but not 0", DRAWN_READS, lambda g, s: not _near_zero(s.data.runs)),
    )

    def quality(self, given: OptimizersGiven, solved: Solved) -> dict[str, bool]:
        runs = solved.data.runs
        out = {"zero gradient at some step": any(run.zero_gradient for run in runs),
               f"iterate within {NEAR_ZERO:g} of 0 but not 0": _near_zero(runs)}
        if given.problem == "quadratic":
            start = 2 * max(abs(float(t0 - c0)) for t0, c0 in zip(given.theta0, given.minimum))
            out.update({
                f"a method ends below f = {float(MIN_LOSS):g}": any(run.value < MIN_LOSS for run in runs),
                "a method runs away from the minimum": any(run.offset > start for run in runs),
            })
            if solved.data.compare:
                out["no clear winner"] = not _clear_winner(runs)
        return out

    def drawn(self, options: dict[str, Any]) -> frozenset[str]:
        """The values the chosen problem does not use are not drawn."""
        unused = {"gradients"} if options["problem"] == "quadratic" else {"curvature", "minimum"}
        return super().drawn(options) - unused

    # -- validation ------------------------------------------------------------------------------
    def validate(self, options: dict[str, Any]) -> None:
        parts = options["parts"]
        if len(set(parts)) != len(parts):
            raise WorksheetError("a part is listed twice", field="parts", allowed=", ".join(PARTS))
        methods = [p for p in parts if p in METHODS]
        if not methods:
            raise WorksheetError("no method is asked", field="parts", allowed=", ".join(METHODS))
        quadratic = options["problem"] == "quadratic"
        if "compare" in parts and (len(methods) < 2 or not quadratic):
            raise WorksheetError("compare needs at least two methods on the quadratic", field="parts",
                                 allowed="compare with two or more methods and problem = \"quadratic\"")
        if "nesterov" in parts and not quadratic:
            raise WorksheetError("Nesterov takes the gradient at a look-ahead point, which given gradients "
                                 "do not provide", field="parts", allowed="nesterov with problem = \"quadratic\"")
        unused = ("gradients",) if quadratic else ("curvature", "minimum")
        for key in unused:
            if options[key] is not None:
                raise WorksheetError(f"{key} is not used with problem {options['problem']!r}", field=key,
                                     allowed="leave it out, or change problem")
        n = options["dim"]
        for key in ("curvature", "minimum", "theta0"):
            if options[key] is not None and len(options[key]) != n:
                raise WorksheetError(f"{key} has {len(options[key])} entries but dim = {n}", field=key,
                                     allowed=f"{n} entr{'y' if n == 1 else 'ies'}, one per parameter")
        G = options["gradients"]
        if G is not None:
            if G.shape != (options["steps"], n):
                raise WorksheetError(f"gradients is {G.rows} × {G.cols}", field="gradients",
                                     allowed=f"{options['steps']} × {n}: one row per step (steps = "
                                     f"{options['steps']}), one column per parameter (dim = {n})")
            if any(abs(v) > VALUE_LIMIT for v in G):
                raise WorksheetError("an entry is outside the allowed range", field="gradients",
                                     allowed=f"entries from {-VALUE_LIMIT} to {VALUE_LIMIT}")
        for key in ("theta_grid", "minimum_grid", "gradient_grid"):
            require_grid(options, key, nonzero=key == "gradient_grid")
            lo, hi, _ = options[key]
            if lo < -VALUE_LIMIT or hi > VALUE_LIMIT:
                raise WorksheetError("grid outside the allowed range", field=key,
                                     allowed=f"values from {-VALUE_LIMIT} to {VALUE_LIMIT}")
        adaptive = any(m in ADAPTIVE for m in methods)
        if adaptive and options["epsilon"] == 0:
            # √G_1 = |g_1|: with ε = 0 a first gradient of 0 divides 0 by 0.
            why = "with ε = 0 a first gradient of 0 in a coordinate divides 0 by 0"
            if quadratic and options["theta0"] is not None and options["minimum"] is not None and \
                    any(t == c for t, c in zip(options["theta0"], options["minimum"])):
                raise WorksheetError(f"θ_0 lies on the minimum in a coordinate: {why}", field="theta0",
                                     allowed="θ_0 ≠ c in every coordinate, or epsilon > 0")
            if G is not None and any(v == 0 for v in G.row(0)):
                raise WorksheetError(f"the first gradient has a 0: {why}", field="gradients",
                                     allowed="a non-zero first row, or epsilon > 0")
        if quadratic and options["theta0"] is None:
            lo, hi, step = options["theta_grid"]
            if lo == hi and options["minimum"] is not None and lo in options["minimum"]:
                raise WorksheetError("the grid's only point is the minimum", field="theta_grid",
                                     allowed="a grid with a point other than the minimum")

    # -- sampling --------------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator, options: dict[str, Any]) -> OptimizersGiven:
        """A problem drawn again (at most SAMPLE_TRIES times) until a float run of every method
        (the independent check's) meets the teaching rules of a quadratic; the constraints decide
        on the exact values of the draw that is kept."""
        given = self._draw(rng, options)
        random = any(options[k] is None for k in ("lr", "curvature", "minimum", "theta0"))
        for _ in range(SAMPLE_TRIES - 1):
            if given.problem != "quadratic" or not random or self._quick_ok(given):
                break
            given = self._draw(rng, options)
        return given

    def _quick_ok(self, g: OptimizersGiven) -> bool:
        runs = self.check(g)
        A, C = (np.array([float(v) for v in values]) for values in (g.curvature, g.minimum))
        start = 2 * float(np.max(np.abs(np.array([float(v) for v in g.theta0]) - C)))
        finals = []
        for method in (p for p in g.parts if p in METHODS):
            path = np.array(runs[f"theta_{method}"], dtype=float)
            path = path.T if g.dim == 1 else path  # one row per step
            if np.abs(path - C).max() > start or np.abs(path[:-1] - C).min() < 1e-9:
                return False  # runs away, or the next gradient is 0 (Nesterov's look-ahead is left to the rule)
            if np.any((np.abs(path) < NEAR_ZERO) & (np.abs(path) > 1e-12)):
                return False
            finals.append(0.5 * float(np.sum(A * (path[-1] - C) ** 2)))
        if min(finals) < float(MIN_LOSS):
            return False
        if "compare" in g.parts:
            top = sorted(finals)
            return top[1] - top[0] >= float(MARGIN) * max(top[1], 1e-12)
        return True

    def _draw(self, rng: np.random.Generator, options: dict[str, Any]) -> OptimizersGiven:
        parts = tuple(p for p in PARTS if p in options["parts"])
        n, quadratic = options["dim"], options["problem"] == "quadratic"
        curvature = minimum = gradients = None
        lr = options["lr"]
        if quadratic:
            curvature = options["curvature"]
            if curvature is None:
                picks = rng.choice(len(CURVATURES), size=n, replace=False)
                curvature = [CURVATURES[int(i)] for i in sorted(picks)]
            if lr is None:
                # SGD stable (η a < 2) and not landing on the minimum in one step (η a ≠ 1).
                rates = [r for r in LEARNING_RATES if all(r * a < 2 and r * a != 1 for a in curvature)]
                rates = rates or list(LEARNING_RATES)
                lr = rates[int(rng.integers(len(rates)))]
            minimum = options["minimum"] or grid_values(rng, *options["minimum_grid"], size=n)
        else:
            lr = lr if lr is not None else LEARNING_RATES[int(rng.integers(len(LEARNING_RATES)))]
            gradients = options["gradients"]
            if gradients is None:
                gradients = nonzero_grid_values(rng, *options["gradient_grid"], size=(options["steps"], n))
            gradients = sp.ImmutableMatrix(gradients)
        theta0 = options["theta0"]
        if theta0 is None:
            lo, hi, step = options["theta_grid"]
            points = [lo + step * i for i in range(int((hi - lo) / step) + 1)]
            theta0 = []
            for i in range(n):
                # Away from the minimum in every coordinate (a zero first gradient teaches nothing).
                pool = [v for v in points if minimum is None or v != minimum[i]] or points
                theta0.append(pool[int(rng.integers(len(pool)))])
        return OptimizersGiven(
            parts=parts, problem=options["problem"], dim=n, steps=options["steps"], lr=lr,
            momentum=options["momentum"], rho=options["rho"], beta1=options["beta1"], beta2=options["beta2"],
            epsilon=options["epsilon"], theta0=tuple(theta0),
            curvature=tuple(curvature) if curvature is not None else None,
            minimum=tuple(minimum) if minimum is not None else None, gradients=gradients)

    # -- solving ---------------------------------------------------------------------------------
    def solve(self, given: OptimizersGiven) -> Solved:
        g = given
        quadratic = g.problem == "quadratic"

        def grad(t: int, point: list[Exact]) -> list[Exact]:
            if quadratic:
                return [Exact.of(a) * (p - c) for a, p, c in zip(g.curvature, point, g.minimum)]
            return [Exact.of(v) for v in g.gradients.row(t - 1)]

        def loss(point: list[Exact]) -> Exact:
            total = Exact.of(0)
            for a, p, c in zip(g.curvature, point, g.minimum):
                total = total + Exact.of(a) * (p - c) ** 2
            return total / 2

        runs, answers, paths, finals_exact = [], [], [], []
        for method in (p for p in g.parts if p in METHODS):
            rows, path = _Run(method, g, grad).run()
            for row in rows:
                if any((r + g.epsilon).is_zero() for r in row.get("root", ())):
                    raise WorksheetError(
                        f"{method}: at step {row['t']} every gradient so far is 0 in a coordinate, and "
                        "with ε = 0 the update divides 0 by 0", field="epsilon",
                        allowed="epsilon > 0, or a start away from the minimum")
            steps = tuple(OptStep(
                t=row["t"], prev=_tuple(row["prev"]), point=_tuple(row["point"]), g=_tuple(row["g"]),
                a_prev=_tuple(row["a_prev"]) if method != "sgd" else None, a=_tuple(row["a"]),
                b_prev=_tuple(row["b_prev"]) if method == "adam" else None, b=_tuple(row.get("b")),
                mhat=_tuple(row.get("mhat")), vhat=_tuple(row.get("vhat")), root=_tuple(row.get("root")),
                theta=_tuple(row["theta"])) for row in rows)
            zero_gradient = any(v.is_zero() for row in rows for v in row["g"])
            final_loss = final_value = None
            crosses = approach = False
            offset = 0.0
            if quadratic:
                final = loss(path[-1])
                final_loss, final_value = settle(final), final.to_float()
                finals_exact.append(final)
                offsets = [[(p - c).to_float() for p, c in zip(point, g.minimum)] for point in path]
                crosses = any(a * b < 0 for i in range(g.dim) for a, b in
                              zip((o[i] for o in offsets), (o[i] for o in offsets[1:])))
                losses = [loss(point).to_float() for point in path]
                approach = all(b < a for a, b in zip(losses, losses[1:]))
                offset = max(abs(v) for o in offsets for v in o)
                paths.append([p[0].to_float() for p in path] if g.dim == 1 else losses)
            runs.append(OptRun(key=method, name=NAMES[method], steps=steps, final=steps[-1].theta,
                               loss=final_loss, value=final_value, crosses=crosses, approach=approach,
                               zero_gradient=zero_gradient, offset=offset))
            trajectory = sp.ImmutableMatrix([list(step.theta) for step in steps])
            if g.dim == 1:
                trajectory = trajectory.T  # one row θ_1 … θ_T
            answers.append(MatrixAnswer(f"theta_{method}", rf"\theta_1, \dots, \theta_{{{g.steps}}} \ (\text{{{NAMES[method]}}})",
                                        trajectory))
        compare = "compare" in g.parts
        best: tuple[str, ...] = ()
        options = tuple(run.name for run in runs)
        figures = []
        if compare:
            finals = [f.value(60) for f in finals_exact]
            low = min(finals)
            winners = [i for i, v in enumerate(finals) if abs(v - low) <= mpmath.mpf(10) ** -40 * max(1, abs(low))]
            best = tuple(runs[i].name for i in winners)
            answers += [
                MatrixAnswer("final_loss", rf"f(\theta_{{{g.steps}}}) \text{{ per method}}",
                             sp.ImmutableMatrix([[run.loss for run in runs]])),
                MultiChoiceAnswer("best", r"\text{lowest } f(\theta_T)", options=options,
                                  correct=tuple(winners)),
            ]
            figures.append(self._figure(g, runs, paths))
        data = OptimizersData(parts=g.parts, quadratic=quadratic, runs=tuple(runs), compare=compare,
                              best=best, options=options)
        return Solved(answers, data, figures)

    def _figure(self, g: OptimizersGiven, runs: list[OptRun], paths: list[list[float]]) -> Any:
        """One small plot per method: θ_t against t (one parameter; the minimum as a gray line)
        or f(θ_t) against t (two parameters)."""
        ts = list(range(g.steps + 1))
        values = [y for ys in paths for y in ys] + ([float(g.minimum[0])] if g.dim == 1 else [0.0])
        lo, hi = min(values), max(values)
        margin = 0.08 * (hi - lo) if hi > lo else 1.0
        ylim = (lo - margin, hi + margin)
        panels = []
        for run, ys in zip(runs, paths):
            if g.dim == 1:
                c = float(g.minimum[0])
                curves = [("", ts, ys, "solid"), ("", [0, g.steps], [c, c], "gray")]
                ylabel = r"\theta_t"
            else:
                curves = [("", ts, ys, "solid")]
                ylabel = r"f(\theta_t)"
            # The same vertical range in every panel (and the minimum inside it): the methods compare at a glance.
            panels.append(Panel(curves, title=rf"\text{{{run.name}}}", xlabel="t", ylabel=ylabel,
                                points=tuple(zip(ts, ys)), legend="none", ylim=ylim))
        caption = (r"$\theta_t$ of each method; the gray line is the minimum $c$." if g.dim == 1
                   else r"$f(\theta_t)$ of each method.")
        return plot_grid(panels, columns=3, name="trajectories", caption=caption, width=3.0, height=2.2)

    # -- independent check -----------------------------------------------------------------------
    def check(self, given: OptimizersGiven) -> dict[str, Any]:
        g = given
        n, T = g.dim, g.steps
        eta, eps = float(g.lr), float(g.epsilon)
        beta, rho, b1, b2 = (float(v) for v in (g.momentum, g.rho, g.beta1, g.beta2))
        quadratic = g.problem == "quadratic"
        if quadratic:
            A = np.array([float(v) for v in g.curvature])
            C = np.array([float(v) for v in g.minimum])
        else:
            Gs = np.array(g.gradients.tolist(), dtype=float)

        def gradient(t: int, x: np.ndarray) -> np.ndarray:
            return A * (x - C) if quadratic else Gs[t - 1]

        out: dict[str, Any] = {}
        finals = []
        names = []
        for method in (p for p in g.parts if p in METHODS):
            x = np.array([float(v) for v in g.theta0])
            s1, s2 = np.zeros(n), np.zeros(n)
            path = []
            for t in range(1, T + 1):
                if method == "sgd":
                    x = x - eta * gradient(t, x)
                elif method == "momentum":
                    s1 = beta * s1 - eta * gradient(t, x)
                    x = x + s1
                elif method == "nesterov":
                    s1 = beta * s1 - eta * gradient(t, x + beta * s1)
                    x = x + s1
                elif method == "adagrad":
                    d = gradient(t, x)
                    s1 = s1 + d * d
                    x = x - eta * d / (np.sqrt(s1) + eps)
                elif method == "rmsprop":
                    d = gradient(t, x)
                    s1 = rho * s1 + (1 - rho) * d * d
                    x = x - eta * d / (np.sqrt(s1) + eps)
                else:
                    d = gradient(t, x)
                    s1 = b1 * s1 + (1 - b1) * d
                    s2 = b2 * s2 + (1 - b2) * d * d
                    x = x - eta * (s1 / (1 - b1**t)) / (np.sqrt(s2 / (1 - b2**t)) + eps)
                path.append(x.copy())
            trajectory = np.array(path)
            out[f"theta_{method}"] = trajectory.T if n == 1 else trajectory
            if quadratic:
                finals.append(0.5 * float(np.sum(A * (x - C) ** 2)))
                names.append(method)
        if "compare" in g.parts:
            low = min(finals)
            out["final_loss"] = np.array([finals])
            out["best"] = [LETTERS[i] for i, v in enumerate(finals) if v - low <= 1e-9 * max(1.0, abs(low))]
        return out


def _near_zero(runs: tuple[OptRun, ...]) -> bool:
    return any(v != 0 and abs(float(v)) < NEAR_ZERO for run in runs for step in run.steps for v in step.theta)


def _clear_winner(runs: tuple[OptRun, ...]) -> bool:
    finals = sorted(run.value for run in runs)
    return finals[1] - finals[0] >= float(MARGIN) * max(finals[1], 1e-12)
