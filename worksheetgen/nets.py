"""Small dense networks, exactly (SymPy), precisely (mpmath twins) and independently (NumPy).

Weights are kept canonically as ``A`` with ``z = A a + b`` (``A`` is n_out × n_in). What the
student sees depends on the convention: ``"WT"`` shows ``W = Aᵀ`` and writes ``z = Wᵀa`` (seeds
000/001/002 Q3), optionally with the bias as row 0 of ``W`` and ``x₀ = 1``; ``"W"`` shows ``W = A``
and writes ``z = Wa + b`` (seed 004). Both families that use networks (forward_pass, backprop)
share the declarations, the sampler, the solver and the teaching rules here.

Cost is bounded by construction. Every value is computed twice on the solving side: as a
closed form (SymPy) and as a 60-digit mpmath twin written in forms that stay accurate far out
(loss from the logits, GELU with erfc, ...). A closed form is kept only while it is short
(:data:`MAX_CLOSED_FORM_OPS` operations) and loses few digits to cancellation (:func:`settle`);
otherwise the value is the twin as a 50-digit Float, and nothing downstream builds on the long form. So a unit costs a bounded amount
of work whatever the depth, width or size of the numbers, and the largest network the
parameters allow (5 layers of 6 units) solves in a fraction of a second.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Iterable, Sequence

import mpmath.libmp as mlib
import numpy as np
import sympy as sp
from sympy.core.function import _coeff_isneg
from sympy.simplify.radsimp import fraction as _fraction

from worksheetgen import activations, drawrules, mathfmt, sympyfast
from worksheetgen.activations import MP, add, mul, power
from worksheetgen.errors import CheckError, WorksheetError
from worksheetgen.family import Record
from worksheetgen.params import Choice, Int, ListOf, Matrix, Number, Param
from worksheetgen.sampling import grid_param, grid_values, nonzero_grid_values, require_grid

OUTPUT_ACTIVATIONS = activations.NAMES + ("softmax", "same")
LOSSES = ("mse_half", "mse_mean", "mse_sum", "bce", "ce", "none")
LOSS_TEXT = {
    "mse_half": r"L = \frac{1}{2} \sum_{k} (\hat{y}_k - y_k)^2",
    "mse_mean": r"L = \frac{1}{K} \sum_{k=1}^{K} (\hat{y}_k - y_k)^2",
    "mse_sum": r"L = \sum_{k} (\hat{y}_k - y_k)^2",
    "bce": r"L = -\sum_{k} \left[ y_k \ln \hat{y}_k + (1 - y_k) \ln(1 - \hat{y}_k) \right]",
    "ce": r"L = -\sum_{k} y_k \ln \hat{y}_k",
}
LOSS_NAME = {
    "mse_half": "the squared error with a factor one half",
    "mse_mean": "the mean squared error",
    "mse_sum": "the sum of squared errors",
    "bce": "the binary cross-entropy (natural logarithm)",
    "ce": "the cross-entropy (natural logarithm)",
}
DEFAULT_ALPHA = {"leaky_relu": sp.Rational(1, 100), "elu": sp.Integer(1)}

PRECISION = 50  # digits of a value whose closed form is not kept
MAX_CLOSED_FORM_OPS = 24  # longer closed forms are not shown (nobody reads them) nor kept
MAX_LARGE_PRE_ACTIVATION = 50  # |z| above this on a random draw is refused (hand computation)

NET_PARAMS: tuple[Param, ...] = (
    Param("layers", ListOf(Int(1, 6), min_length=2, max_length=5), [2, 2, 2],
          "units per layer, input first (2 to 5 layers of 1 to 6 units); every size is cheap: closed "
          f"forms are kept up to {MAX_CLOSED_FORM_OPS} operations, longer values are exact to {PRECISION} "
          "digits, and one draw of the largest network solves in well under a second"),
    Param("convention", Choice(("WT", "W")), "WT",
          "WT: z = Wᵀa with W ∈ ℝ^{in×out} (seeds 000-002); W: z = Wa + b with W ∈ ℝ^{out×in} (seed 004)"),
    Param("bias", Choice(("row", "vector", "none")), "row",
          "row: bias weights as row 0 of W with x₀ = 1 (needs convention WT); vector: separate b; none"),
    Param("activation", Choice(activations.NAMES), "relu", "activation of the hidden layers" + drawrules.GELU_NOTE),
    Param("output_activation", Choice(OUTPUT_ACTIVATIONS), "same",
          "activation of the output layer ('same' as the hidden layers)" + drawrules.GELU_NOTE),
    Param("alpha", Number(positive=True), None, "α of leaky ReLU (default 0.01) / ELU (default 1)"),
    Param("loss", Choice(LOSSES), "mse_half", "loss; 'none' asks for the forward values only"),
    Param("weights", ListOf(Matrix(), min_length=1, max_length=4), None,
          "weight matrices as shown to students (in the chosen convention, bias row first for bias = row); "
          "drawn from weight_grid (never 0) if omitted"),
    Param("biases", ListOf(Matrix(), min_length=1, max_length=4), None,
          "bias vectors (bias = vector); drawn from weight_grid if omitted"),
    Param("x", ListOf(Number(), min_length=1, max_length=6), None,
          "input vector; drawn from input_grid (never 0) if omitted"),
    Param("y", ListOf(Number(), min_length=1, max_length=6), None,
          "target vector; drawn (from target_grid for squared errors, one-hot for ce, 0/1 for bce) if omitted"),
    Param("diagram", Choice(("plain", "weights", "none")), "plain",
          "network figure beside the question: plain, with weights on the edges, or none"),
    grid_param("weight_grid", (-1, 1, 0.1), "[lo, hi, step] for drawn weights (never 0) and biases"),
    grid_param("input_grid", (-3, 3, 1), "[lo, hi, step] for a drawn input (never 0)"),
    grid_param("target_grid", (0, 1, 0.1), "[lo, hi, step] for drawn regression targets"),
)

# The parameters whose values the network itself depends on: what the teaching rules read.
NETWORK_VALUES = ("weights", "biases", "x", "alpha")


@dataclass(frozen=True)
class NetGiven(Record):
    """The givens of a dense-network exercise (as the student reads them)."""

    layers: list[int]
    convention: str
    bias: str
    activation: str
    output_activation: str  # resolved: never 'same'
    alpha: sp.Rational
    loss: str
    weights: list[sp.Matrix]  # as shown, in the chosen convention
    biases: list[sp.Matrix] | None
    x: sp.Matrix
    y: sp.Matrix | None
    diagram: str


def validate_net(options: dict[str, Any]) -> None:
    sizes = options["layers"]
    n_layers = len(sizes) - 1
    out_act = output_activation(options)
    # Weights and inputs are drawn without 0, so their grids need a non-zero point.
    require_grid(options, "weight_grid", nonzero=options["weights"] is None)
    require_grid(options, "input_grid", nonzero=options["x"] is None)
    require_grid(options, "target_grid")
    if options["bias"] == "row" and options["convention"] != "WT":
        raise WorksheetError("bias = 'row' needs convention = 'WT'", field="bias",
                             allowed="'vector' or 'none' with convention 'W'")
    if out_act == "softmax" and sizes[-1] < 2:
        raise WorksheetError("softmax needs at least 2 output units", field="layers",
                             allowed="an output layer of 2 or more units with softmax")
    loss = options["loss"]
    if loss == "ce" and out_act != "softmax":
        raise WorksheetError("cross-entropy needs a softmax output", field="loss",
                             allowed="loss 'ce' with output_activation 'softmax'")
    if loss == "bce" and out_act != "sigmoid":
        raise WorksheetError("binary cross-entropy needs a sigmoid output", field="loss",
                             allowed="loss 'bce' with output_activation 'sigmoid'")
    if out_act == "softmax" and loss not in ("ce", "none"):
        raise WorksheetError("a softmax output is taught with cross-entropy here", field="loss",
                             allowed="'ce' or 'none' with a softmax output")
    weights = options["weights"]
    if weights is not None:
        if len(weights) != n_layers:
            raise WorksheetError(f"{len(weights)} weight matrices for {n_layers} layers",
                                 field="weights", allowed=f"exactly {n_layers} matrices")
        for l, w in enumerate(weights, start=1):
            expected = display_shape(sizes[l - 1], sizes[l], options)
            if tuple(w.shape) != expected:
                raise WorksheetError(f"matrix {l} is {w.shape[0]}×{w.shape[1]}", field=f"weights[{l}]",
                                     allowed=f"{expected[0]}×{expected[1]} for layers {sizes}")
    biases = options["biases"]
    if biases is not None:
        if options["bias"] != "vector":
            raise WorksheetError("biases are given but bias is not 'vector'", field="biases",
                                 allowed="biases only with bias = 'vector'")
        if len(biases) != n_layers:
            raise WorksheetError(f"{len(biases)} bias vectors for {n_layers} layers", field="biases",
                                 allowed=f"exactly {n_layers} vectors")
        for l, b in enumerate(biases, start=1):
            if len(b) != sizes[l]:
                raise WorksheetError(f"bias {l} has {len(b)} entries", field=f"biases[{l}]",
                                     allowed=f"{sizes[l]} entries")
    if options["x"] is not None and len(options["x"]) != sizes[0]:
        raise WorksheetError(f"x has {len(options['x'])} entries", field="x", allowed=f"{sizes[0]} entries")
    y = options["y"]
    if y is not None:
        if len(y) != sizes[-1]:
            raise WorksheetError(f"y has {len(y)} entries", field="y", allowed=f"{sizes[-1]} entries")
        if loss == "ce" and (sorted(y) != [0] * (len(y) - 1) + [1]):
            raise WorksheetError("y is not one-hot", field="y", allowed="one 1 and 0 elsewhere for cross-entropy")
        if loss == "bce" and any(v not in (0, 1) for v in y):
            raise WorksheetError("y is not binary", field="y", allowed="0 or 1 entries for binary cross-entropy")


def drawn_values(options: dict[str, Any]) -> set[str]:
    """The network parameters the sampler really draws at random for these options.

    ``alpha`` left unset takes a fixed default (not a draw), ``biases`` are drawn only for
    bias = 'vector' and ``y`` only when there is a loss: counting those as drawn would hold an
    exercise whose every number is pinned (seed 004 Ex2) to rules about random draws."""
    drawn = {name for name in ("weights", "x") if options[name] is None}
    if options["bias"] == "vector" and options["biases"] is None:
        drawn.add("biases")
    if options["loss"] != "none" and options["y"] is None:
        drawn.add("y")
    return drawn


def output_activation(options: dict[str, Any]) -> str:
    out = options["output_activation"]
    return options["activation"] if out == "same" else out


def display_shape(n_in: int, n_out: int, options: Any) -> tuple[int, int]:
    if options["convention"] == "W":
        return (n_out, n_in)
    return (n_in + (1 if options["bias"] == "row" else 0), n_out)


def sample_net(rng: np.random.Generator, options: dict[str, Any]) -> dict[str, Any]:
    """The fields of a :class:`NetGiven` (pinned values kept, the rest drawn on grids)."""
    sizes = list(options["layers"])
    act = options["activation"]
    out_act = output_activation(options)
    alpha = options["alpha"]
    if alpha is None:
        alpha = DEFAULT_ALPHA.get(act, DEFAULT_ALPHA.get(out_act, sp.Rational(1, 100)))
    wgrid = options["weight_grid"]
    drawn_weights = options["weights"] is None  # fresh matrices; given ones are copied
    draw_biases = options["bias"] == "vector" and options["biases"] is None
    drawn_any = drawn_weights or draw_biases or options["x"] is None
    broken = None
    # Candidates are screened against the network's teaching rules in float64 (microseconds), so
    # the exact solve runs about once per instance; the exact constraints then decide.
    for _ in range(SCREEN_DRAWS if drawn_any else 1):
        weights = options["weights"]
        if drawn_weights:
            weights = [nonzero_grid_values(rng, *wgrid, size=display_shape(sizes[l - 1], sizes[l], options))
                       for l in range(1, len(sizes))]
        biases = options["biases"]
        if draw_biases:
            biases = [sp.Matrix(grid_values(rng, *wgrid, size=(sizes[l], 1))) for l in range(1, len(sizes))]
        x = options["x"]
        if x is None:
            x = nonzero_grid_values(rng, *options["input_grid"], size=sizes[0])
        column = vector(list(x))
        if not drawn_any:
            break
        if drawn_weights and out_act == "relu" and wgrid[0] == -wgrid[1]:
            weights, biases = _revive_outputs(weights, biases, column, options, alpha, draw_biases)
        broken = screen_network(dict(options, weights=weights, biases=biases, x=column, alpha=alpha,
                                     output_activation=out_act, loss="none"))
        if broken is None:
            break
    else:
        field = "weight_grid" if drawn_weights else "input_grid" if options["x"] is None else "weight_grid"
        raise WorksheetError(f"no draw met the constraint {broken!r} in {SCREEN_DRAWS} draws", field=field,
                             allowed="smaller weights or inputs (narrower grids), or fewer or smaller layers")
    y = options["y"]
    loss = options["loss"]
    if y is None and loss != "none":
        if loss == "ce":
            hot = int(rng.integers(0, sizes[-1]))
            y = [sp.Integer(1 if k == hot else 0) for k in range(sizes[-1])]
        elif loss == "bce":
            y = [sp.Integer(int(v)) for v in rng.integers(0, 2, size=sizes[-1])]
        else:
            y = grid_values(rng, *options["target_grid"], size=sizes[-1])
    return dict(
        layers=sizes, convention=options["convention"], bias=options["bias"],
        activation=act, output_activation=out_act, alpha=alpha, loss=loss,
        weights=[w if drawn_weights else sp.Matrix(w) for w in weights],
        biases=[sp.Matrix(b) for b in biases] if biases is not None and options["bias"] == "vector" else None,
        x=column, y=vector(list(y)) if y is not None else None,
    )


SCREEN_DRAWS = 200  # network candidates screened in float64 before the grids are declared hopeless


def screen_network(probe: dict[str, Any]) -> str | None:
    """The network rule a candidate plainly breaks, judged in float64 with a little slack (the
    exact constraints decide the borderline cases), or None."""
    result = numpy_forward_backward(probe)
    alpha = float(probe["alpha"])
    n = len(result["z"])
    for l, (z, a) in enumerate(zip(result["z"], result["a"])):
        name = probe["output_activation"] if l == n - 1 else probe["activation"]
        if np.abs(z).max() > MAX_LARGE_PRE_ACTIVATION * (1 + 1e-9):
            return "pre-activations of moderate size"
        if name == "relu" and (z < -1e-12).all() and l < n - 1:
            return "not every ReLU unit of a hidden layer dead"
        if name == "relu" and (z < -1e-12).any() and l == n - 1:
            return "every output ReLU unit alive"
        if name == "softmax":
            if a.max() > SOFTMAX_MAX * (1 + 1e-9):
                return "no saturated unit"
        elif name in drawrules.SATURATING:
            grads = activations.get(name).numeric_grad(z, alpha)
            if any(drawrules.saturated(name, v, d / (1 - 1e-9)) for v, d in zip(z, grads)):
                return "no saturated unit"
    return None


def _revive_outputs(weights: list[sp.Matrix], biases: list[sp.Matrix] | None, x: Sequence[Any],
                    options: dict[str, Any], alpha: Any, biases_drawn: bool
                    ) -> tuple[list[sp.Matrix], list[sp.Matrix] | None]:
    """Drawn weights with every dead output ReLU unit (z_k < 0) revived by negating the weights
    into it (and its bias, when drawn): on a grid symmetric about 0 this maps the draws with a
    dead output one to one onto draws without, so the draw stays uniform over the networks the
    rule "every output ReLU unit alive" accepts, at no redraw (six outputs would all be alive in
    one draw of 64). A pinned bias may keep the unit dead: the rule then redraws."""
    column = x if isinstance(x, sp.MatrixBase) else vector(list(x))
    probe = dict(options, weights=weights, biases=biases, x=column, alpha=alpha,
                 output_activation="relu", loss="none")
    z = numpy_forward_backward(probe)["z"][-1]
    dead = [k for k, v in enumerate(z) if v < 0]
    if not dead:
        return weights, biases
    # Flipped as lists of entries, then made matrices again (SymPy's item assignment is slow).
    last = weights[-1].tolist()
    bias = list(biases[-1]) if biases is not None else None
    for k in dead:
        if bias is not None and not biases_drawn and 2 * float(bias[k]) <= float(z[k]):
            continue  # -A_k a + b_k = 2 b_k - z_k would stay <= 0
        if options["convention"] == "W":
            last[k] = [-v for v in last[k]]
        else:
            for row in last:  # the bias row (bias = row) is flipped with the column
                row[k] = -row[k]
        if bias is not None and biases_drawn:
            bias[k] = -bias[k]
    weights = list(weights[:-1]) + [sympyfast.matrix(len(last), len(last[0]), [v for row in last for v in row])]
    if biases is not None:
        shape = biases[-1].shape
        biases = list(biases[:-1]) + [sympyfast.matrix(shape[0], shape[1], bias)]
    return weights, biases


def canonical(given: Any) -> tuple[list[sp.Matrix], list[sp.Matrix]]:
    """(A, b) per layer with z = A a + b, from the weights as shown."""
    return ([sympyfast.matrix(len(rows), len(rows[0]), [v for row in rows for v in row])
             for rows, _ in canonical_rows(given)],
            [vector(bias) for _, bias in canonical_rows(given)])


def canonical_rows(given: Any) -> list[tuple[list[list[Any]], list[Any]]]:
    """Per layer (rows of A, b) as lists, z_j = Σ_i A[j][i] a_i + b_j: :func:`canonical` without
    building matrices (a weight matrix is read once)."""
    out = []
    for l, w in enumerate(given["weights"]):
        n_out = given["layers"][l + 1]
        W = w.tolist()
        zeros = [sp.S.Zero] * n_out
        if given["convention"] == "W":
            rows = W
            bias = list(given["biases"][l]) if given["bias"] == "vector" else zeros
        elif given["bias"] == "row":
            rows = [[W[i][j] for i in range(1, len(W))] for j in range(n_out)]  # A = W[1:, :]^T
            bias = [W[0][j] for j in range(n_out)]
        else:
            rows = [[W[i][j] for i in range(len(W))] for j in range(n_out)]  # A = W^T
            bias = list(given["biases"][l]) if given["bias"] == "vector" else zeros
        out.append((rows, bias))
    return out


def total_of(terms: Iterable[Any], start: Any = sp.S.Zero) -> Any:
    """``sum(terms, start)``: the same left-to-right sums, built by activations.add."""
    total = start
    for term in terms:
        total = add(total, term)
    return total


def vector(values: Sequence[Any]) -> sp.Matrix:
    """``sp.Matrix(values)`` for a flat list: a column (built without SymPy's general input
    parsing, which costs more than the column)."""
    flat = [v if isinstance(v, sp.Basic) else sp.sympify(v) for v in values]
    return sympyfast.matrix(len(flat), 1, flat)


# -- exact values and their precise twins ---------------------------------------------------------
def to_mp(v: Any) -> Any:
    """The twin of a given (an exact rational) in the precise context."""
    key = (v, MP.prec)
    twin = _TWINS.get(key)
    if twin is None:
        r = sp.Rational(v)
        twin = MP.mpf(int(r.p)) / int(r.q)
        if len(_TWINS) >= _MEMO_MAX:
            _TWINS.clear()
        _TWINS[key] = twin
    return twin


_TWINS: dict[tuple[Any, int], Any] = {}  # grid values recur: their twins are computed once


def is_closed(v: Any) -> bool:
    """True for an exact value (rational or closed form), False for a value kept as digits."""
    if isinstance(v, sp.Rational):
        return True
    if isinstance(v, sp.Float):
        return False
    if isinstance(v, sp.Basic) and activations.is_plain(v):  # remembered; no Float inside
        return True
    return not (isinstance(v, sp.Basic) and v.has(sp.Float))


# Memos of pure functions of an expression (closed forms share subtrees: the σ(z) of a hidden
# unit reappears in every later value built on it, and grid points recur student after
# student). Bounded: cleared when full.
_MEMO_MAX = 1 << 17
_OPS: dict[sp.Basic, int] = {}
_FIXED: dict[sp.Basic, Any] = {}


def count_ops(expr: sp.Expr) -> int:
    """``sympy.count_ops(expr)`` (the same walk and the same SymPy helpers, so the same count),
    memoized per subtree."""
    try:
        return _OPS[expr]
    except KeyError:
        pass
    n = _count(expr)
    if len(_OPS) >= _MEMO_MAX:
        _OPS.clear()
    _OPS[expr] = n
    return n


def _count(a: sp.Basic) -> int:
    # sympy.core.function.count_ops walks a stack and tallies NEG, DIV, SUB, ADD, MUL, POW, EXP
    # and function names; the total it returns is the number of those marks (its SUB - ADD
    # correction cancels out). Each node adds its own marks and pushes sub-expressions that
    # depend on the node alone, so the walk is a sum over a recursion, which can be memoized.
    one = sp.S.One
    if a.is_Rational:
        if a is not one:
            return (1 if a.p < 0 else 0) + (1 if a.q != 1 else 0)
        return 0
    if a.is_Mul:
        ops = 0
        if _leading_negative(a):
            ops += 1
            counted = _negated_fraction_count(a)
            if counted is not None:
                return ops + counted
            a = a.as_two_terms()[1] if a.args[0] is sp.S.NegativeOne else -a
        else:
            counted = _fraction_count(a)
            if counted is not None:
                return ops + counted
        n, d = _fraction_plain(a)
        if n.is_Integer:
            return ops + 1 + (1 if n < 0 else 0) + count_ops(d)
        if d is not one:
            return ops + 1 + (0 if d.is_Integer else count_ops(d)) + count_ops(n)
        return ops + _count_generic(a)
    if a.is_Add:
        args = a.args
        ops = len(args) - 1  # one ADD or SUB between terms
        negs = 0
        for ai in args:
            if _leading_negative(ai):
                negs += 1
                ops += _negated_count(ai)
            else:
                ops += count_ops(ai)
        return ops + (1 if negs == len(args) else 0)
    return _count_generic(a)


def _negated_count(a: sp.Expr) -> int:
    """``count_ops(-a)``, without building -a for a negative rational or a product with a
    negative coefficient: -a is then its other factor (-1 times one factor), or a product whose
    count is count_ops(a) less the NEG that count_ops(a) counted for it (the rule above counts
    the rest of a as -a)."""
    if isinstance(a, sp.Rational) and a.p < 0:
        return 1 if a.q != 1 else 0  # -a > 0: a DIV if not an integer
    if a.is_Mul and _leading_negative(a):
        if a.args[0] is sp.S.NegativeOne and len(a.args) == 2:
            return count_ops(a.args[1])
        return count_ops(a) - 1
    return count_ops(-a)


# -- count_ops of a fraction, read off its factors --------------------------------------------
# The rule for a product a (with no negative coefficient) counts fraction(a) = n / d. Building n
# and d (and the exponentials moved below the line, exp(-x) with -x a new sum) is most of the
# cost of counting, yet for a plain product their counts follow from the counts of a's own
# factors: the products activations.mul builds from factors with distinct bases are flat
# products of those factors (count: one MUL fewer than factors, plus theirs), a number times a
# sum is the sum of the terms scaled (each a product counted the same way), and exp(-x) counts
# one EXP and the count of -x, itself read off x (negating a sum negates each term, which moves
# a NEG between -x and x term by term). Whatever falls outside that (two powers of one base,
# an exponent too close to 0 to sign, a factor mul hands to SymPy) is built as before.
class _Factor:
    """A factor of n or d: its count, the base mul groups it by (None for a number), the
    number (a positive rational) or the sum it is, if it is one."""

    __slots__ = ("count", "base", "number", "sum")

    def __init__(self, count: int, base: Any, number: sp.Rational | None = None, sum: sp.Add | None = None) -> None:
        self.count, self.base, self.number, self.sum = count, base, number, sum


def _number(value: sp.Integer) -> _Factor:
    return _Factor(0, None, number=value)  # a positive integer: no NEG, no DIV


def _exp_below_group(ex: sp.Expr) -> Any:
    """The base mul groups exp(-ex) by, (E, the non-numeric part of -ex), told apart as well as
    the real ones: -ex has ex's non-numeric part for a product, and a sum's negation is another
    sum (None for a product of a number and a sum, whose parts -ex shares with a sum's)."""
    if ex.is_Rational:
        return (sp.S.Exp1, sp.S.One)
    rest = ex.as_coeff_Mul()[1]
    if ex.is_Mul and rest.is_Add:
        return None
    return ("below", sp.S.Exp1, rest)


def _negated_fraction_count(a: sp.Mul) -> int | None:
    """:func:`_fraction_count` of -a for a product with a negative coefficient c: the product
    of -c (left out when 1) and a's other factors, as Mul.__neg__ builds it, without building
    it."""
    if not activations.is_plain(a):
        return None
    c, rest = a.args[0], a.args[1:]
    return _terms_fraction_count(rest if c is sp.S.NegativeOne else (-c,) + rest)


def _fraction_count(a: sp.Expr) -> int | None:
    """The count the rule above gives a plain product ``a`` (no negative coefficient) from its
    fraction, or None where n and d must be built to know it."""
    if not activations.is_plain(a):
        return None
    return _terms_fraction_count(sp.Mul.make_args(a), a)


def _terms_fraction_count(terms: Sequence[sp.Expr], built: sp.Expr | None = None) -> int | None:
    """:func:`_fraction_count` of the product of ``terms`` (plain; a positive rational first if
    any), which need not be built (``built``: the product, when it is)."""
    numer: list[_Factor] = []
    denom: list[_Factor] = []
    for term in terms:
        if isinstance(term, sp.exp) or term.is_Pow:
            # as_base_exp of exp(x) is (E, x); of a power, its base and exponent
            base, ex = (sp.S.Exp1, term.args[0]) if type(term) is sp.exp else term.as_base_exp()
            sign = _sign(ex)
            if sign is None:
                return None
            if sign > 0:
                factor = _real_factor(term)
            elif ex is sp.S.NegativeOne:
                factor = _real_factor(base)
            elif base is sp.S.Exp1:
                group = _exp_below_group(ex)
                factor = None if group is None else _Factor(1 + _negated_exponent_count(ex), group)  # EXP, -ex
            elif ex.is_Integer and base.is_Add:
                factor = _Factor(1 + count_ops(base), base)  # base**-ex: POW and base
            else:
                return None
            if factor is None:
                return None
            (numer if sign > 0 else denom).append(factor)
        elif term.is_Rational:
            if term.p < 0:
                return None  # not a product the rule above leaves without a NEG
            if term.p != 1:
                numer.append(_number(sp.Integer(term.p)))
            if term.q != 1:
                denom.append(_number(sp.Integer(term.q)))
        else:
            factor = _real_factor(term)
            if factor is None:
                return None
            numer.append(factor)
    if not denom:
        # d = 1: the product counts as one (n is the product, built again)
        if built is not None:
            return _count_generic(built)
        if len(terms) == 1:
            return _count_generic(terms[0])
        return len(terms) - 1 + sum(count_ops(t) for t in terms)
    d = _product_count(denom)
    if d is None:
        return None
    if all(f.number is not None for f in numer):
        return 1 + d  # the numerator is a positive integer (or 1)
    n = _product_count(numer)
    if n is None:
        return None
    return 1 + (0 if all(f.number is not None for f in denom) else d) + n


def _real_factor(term: sp.Expr) -> _Factor | None:
    """A factor of the product itself, grouped as activations.mul groups it (None: mul would
    hand it to SymPy)."""
    if isinstance(term, sp.exp) or term is sp.S.Exp1:
        exponent = sp.S.One if term is sp.S.Exp1 else term.args[0]
        return _Factor(count_ops(term), (sp.S.Exp1, exponent.as_coeff_Mul()[1]))
    if isinstance(term, sp.Pow) and not term.base.is_Number:
        return _Factor(count_ops(term), term.base)
    if term.is_Add:
        return _Factor(count_ops(term), term, sum=term)
    return None


def _product_count(factors: list[_Factor]) -> int | None:
    """count_ops of activations.mul(*factors) (one number at most), else None. Every factor
    here is one fraction() puts above the line, so a product of several has denominator 1 and
    counts as a product; a number times a sum is expanded into the sum of the terms scaled."""
    others = [f for f in factors if f.number is None]
    if len(others) != len(set(f.base for f in others)):
        return None  # powers of one base are combined by SymPy
    if len(factors) == 2 and len(others) == 1 and others[0].sum is not None:
        number = next(f.number for f in factors if f.number is not None)
        return _scaled_sum_count(number, others[0].sum)
    return len(factors) - 1 + sum(f.count for f in factors) if factors else 0


def _scaled_sum_count(c: sp.Rational, s: sp.Add) -> int | None:
    """count_ops(c·s) for a positive rational c ≠ 1 and a plain sum s: mul expands it into the
    sum of the terms c·t (each term keeps its sign; the rule for sums counts each term as
    c·|t|)."""
    ops = len(s.args) - 1
    negs = 0
    for t in s.args:
        if t.is_Rational:
            m = c * t
            negs += m.p < 0
            ops += 1 if m.q != 1 else 0
            continue
        if t.is_Mul and t.args[0].is_Rational:
            k, rest = t.args[0], t.args[1:]
        elif t.is_Mul:
            k, rest = sp.S.One, t.args
        else:
            k, rest = sp.S.One, (t,)
        m = c * k
        negs += m.p < 0
        m = abs(m)
        if m == 1:
            count = count_ops(rest[0]) if len(rest) == 1 else _terms_fraction_count(rest)
        else:
            count = _terms_fraction_count((m,) + tuple(rest))
        if count is None:
            return None
        ops += count
    return ops + (1 if negs == len(s.args) else 0)


def _negated_exponent_count(ex: sp.Expr) -> int:
    """count_ops(-ex) for the exponent of an exp below the line."""
    if ex.is_Rational:
        return (1 if ex.p > 0 else 0) + (1 if ex.q != 1 else 0)  # -ex: NEG when ex > 0
    if ex.is_Mul:
        return _negated_count(ex) if _leading_negative(ex) else count_ops(ex) + 1
    if ex.is_Add:
        # -ex is the sum of the terms negated: each term's NEG moves to the other side, so the
        # sum's own NEG (all terms negative) goes from ex to -ex when no term of ex is negative.
        negative = [_leading_negative(t) for t in ex.args]
        return count_ops(ex) - (1 if all(negative) else 0) + (0 if any(negative) else 1)
    # -ex is -1 times ex: a NEG, and ex as the rule above counts the rest of a product
    counted = _terms_fraction_count((ex,)) if activations.is_plain(ex) else None
    return 1 + counted if counted is not None else count_ops(-ex)


def _leading_negative(a: sp.Basic) -> bool:
    """``sympy.core.function._coeff_isneg(a)``, reading the sign of a rational coefficient
    directly: SymPy asks it through the assumption system, which builds a fact base for every
    fresh number."""
    first = a.args[0] if a.is_Mul else a
    if isinstance(first, sp.Rational):
        return first.p < 0
    return _coeff_isneg(a)


def _fraction_plain(expr: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    """``sympy.simplify.radsimp.fraction(expr)``: numerator and denominator. For a plain closed
    form (activations.exp/power/mul) the same steps with the fast constructors, and the sign
    of each exponent from its 100-digit value, which SymPy decides by a numeric evaluation of
    its own (is_negative); anything else, or an exponent too close to 0 to trust, goes to
    SymPy."""
    if not activations.is_plain(expr):
        return _fraction(expr)
    numer: list[sp.Expr] = []
    denom: list[sp.Expr] = []
    for term in sp.Mul.make_args(expr):
        if term.is_Pow or isinstance(term, sp.exp):
            base, ex = term.as_base_exp()
            sign = _sign(ex)
            if sign is None:
                return _fraction(expr)
            if sign < 0:
                if ex is sp.S.NegativeOne:
                    denom.append(base)
                elif base is sp.S.Exp1:
                    denom.append(activations.exp(-ex))  # Pow(E, x) is exp(x)
                elif ex.is_Integer:
                    denom.append(activations.power(base, -ex))
                else:
                    denom.append(sp.Pow(base, -ex))
            else:
                numer.append(term)
        elif term.is_Rational and not term.is_Integer:
            if term.p != 1:
                numer.append(sp.Integer(term.p))
            denom.append(sp.Integer(term.q))
        else:
            numer.append(term)
    return activations.mul(*numer), activations.mul(*denom)


def _sign(x: sp.Expr) -> int | None:
    """The sign of a plain value (-1, 0 never, 1), or None when SymPy must decide."""
    if x.is_Rational:
        return 1 if x.p > 0 else (-1 if x.p < 0 else None)
    value = plain_value(x)
    if value is None:
        return None
    return 1 if value > 0 else -1


def plain_value(x: sp.Basic) -> Any:
    """The 100-digit value of a plain closed form (activations.is_plain), or None (not plain,
    or too close to 0 to trust a fixed-precision evaluation)."""
    if x.is_Rational or not activations.is_plain(x):
        return None
    with MP.workdps(SAFE_DIGITS):
        try:
            value = _fixed_safe(x)
        except (_Unsupported, ValueError, ZeroDivisionError, OverflowError):
            return None
        if not MP.isfinite(value) or MP.im(value) != 0 or abs(value) < _TRUSTED:
            return None
        return value


mathfmt.set_value_oracle(plain_value)


def _count_generic(a: sp.Basic) -> int:
    if a.is_Pow and a.exp is sp.S.NegativeOne:
        return 1 + count_ops(a.base)
    if a == sp.S.Exp1:
        return 1
    if a.is_Pow and a.base == sp.S.Exp1:
        return 1 + count_ops(a.exp)
    ops = 0
    if a.is_Mul:
        ops += len(a.args) - 1
    elif a.args and (a.is_Pow or a.is_Function):
        ops += 1
    if not a.is_Symbol:
        ops += sum(count_ops(x) for x in a.args)
    return ops


def settle(expr: Any, twin: Any, max_ops: int | None = MAX_CLOSED_FORM_OPS) -> sp.Expr:
    """The exact value ``expr`` if it is rational, or a closed form short enough (``max_ops``
    operations; None: any length) and safe to evaluate; else its precise twin as a
    PRECISION-digit Float (exactly 0 stays the integer 0). ``expr`` None: there is no closed
    form (an input is already digits).

    Safe means: evaluated at a fixed SAFE_DIGITS digits it agrees with the twin to AGREE_DIGITS
    digits, so it loses fewer than SAFE_DIGITS - AGREE_DIGITS digits to cancellation and SymPy's
    adaptive evalf (key, rounding, cross-check) needs only a few hundred bits for it. SymPy's own
    evalf cannot be the test: for 1/2 - erf(150√2)/2 it jumps straight to 65 000 bits, where
    mpmath's erf series takes minutes."""
    if expr is not None:
        expr = expr if isinstance(expr, sp.Basic) else sp.sympify(expr)
        if expr.is_Rational:
            return expr
        if is_closed(expr) and (max_ops is None or count_ops(expr) <= max_ops) and _agrees(expr, twin):
            value = _FIXED.get(expr)
            if value is not None:
                mathfmt.remember_value(expr, value)  # 100 digits, checked against the twin
            return expr
    if twin == 0:
        return sp.Integer(0)  # a twin is exactly 0 only from an exact 0 (a dead unit, a 0 weight)
    return _digits(twin)


_PRECISION_BITS = mlib.dps_to_prec(PRECISION)


def _digits(twin: Any) -> sp.Float:
    """``sp.Float(twin, PRECISION)``. A twin of the private context is not an ``mpmath.mpf``
    to SymPy, which converts it through a new mpmath.mpf (rounded to the Float's precision, to
    nearest) before building the Float: the same rounding, done directly."""
    if type(twin) is _MPF:
        return sp.Float._new(mlib.mpf_pos(twin._mpf_, _PRECISION_BITS, mlib.round_nearest), _PRECISION_BITS, zero=False)
    return sp.Float(twin, PRECISION)


SAFE_DIGITS = 100
AGREE_DIGITS = 45  # the twins are good to ~55 digits after a few layers of 60-digit arithmetic
with MP.workdps(SAFE_DIGITS):  # the powers of ten compared with at SAFE_DIGITS, made once
    _TRUSTED = MP.mpf(10) ** -30  # a plain value smaller than this is not signed from its digits
    _AGREEMENT = MP.mpf(10) ** -AGREE_DIGITS


def _agrees(expr: sp.Expr, twin: Any) -> bool:
    value = _FIXED.get(expr)  # memoized at SAFE_DIGITS by _fixed_safe: no precision to set
    if value is None:
        with MP.workdps(SAFE_DIGITS):
            try:
                value = _fixed_safe(expr)
            except (_Unsupported, ValueError, ZeroDivisionError, OverflowError):
                return False
    elif isinstance(value, Exception):
        return False
    if type(value) is _MPF and type(twin) is _MPF:
        return _agree_mpf(value._mpf_, twin._mpf_)
    with MP.workdps(SAFE_DIGITS):
        if not MP.isfinite(value) or MP.im(value) != 0:
            return False
        scale = max(abs(value), abs(twin))
        return scale == 0 or abs(value - twin) <= _AGREEMENT * scale


_MPF = type(MP.mpf(0))
with MP.workdps(SAFE_DIGITS):
    _SAFE_PREC, _SAFE_ROUNDING = MP._prec_rounding
_NOT_FINITE = (mlib.finf, mlib.fninf, mlib.fnan)


def _agree_mpf(value: tuple, twin: tuple) -> bool:
    """The test of :func:`_agrees` for two real mpf values (as their raw tuples): the same
    operations at SAFE_DIGITS, each rounded as the mpf operators round them, without making an
    mpf object of every intermediate result."""
    if value in _NOT_FINITE:
        return False
    prec, rnd = _SAFE_PREC, _SAFE_ROUNDING
    size, twin_size = mlib.mpf_abs(value, prec, rnd), mlib.mpf_abs(twin, prec, rnd)
    scale = twin_size if mlib.mpf_gt(twin_size, size) else size  # max(): the first on a tie
    if mlib.mpf_eq(scale, mlib.fzero):
        return True
    error = mlib.mpf_abs(mlib.mpf_sub(value, twin, prec, rnd), prec, rnd)
    return mlib.mpf_le(error, mlib.mpf_mul(_AGREEMENT._mpf_, scale, prec, rnd))


class _Unsupported(Exception):
    pass


def _fixed_safe(e: sp.Expr) -> Any:
    """:func:`_fixed` at SAFE_DIGITS (the caller set that precision), memoized per subtree; a
    failure is remembered too."""
    try:
        value = _FIXED[e]
    except KeyError:
        try:
            value = _fixed(e, _fixed_safe)
        except (_Unsupported, ValueError, ZeroDivisionError, OverflowError) as exc:
            value = exc
        if len(_FIXED) >= _MEMO_MAX:
            _FIXED.clear()
        _FIXED[e] = value
    if isinstance(value, Exception):
        raise value
    return value


def _fixed(e: sp.Expr, sub: Any = None) -> Any:
    """A closed form evaluated at MP's current precision, without SymPy's adaptive refinement
    (the node types the activations, softmax and losses build). ``sub`` evaluates the
    sub-expressions (default: this function)."""
    f = sub or _fixed
    if e.is_Rational:
        return MP.mpf(int(e.p)) / int(e.q)
    if e is sp.pi:
        return +MP.pi
    if e is sp.E:
        return +MP.e
    if isinstance(e, sp.Add):
        return MP.fsum(f(a) for a in e.args)
    if isinstance(e, sp.Mul):
        return MP.fprod(f(a) for a in e.args)
    if isinstance(e, sp.Pow):
        base, exponent = e.args
        if exponent.is_Integer:
            return f(base) ** int(exponent)
        return MP.power(f(base), f(exponent))
    if isinstance(e, sp.exp):
        return MP.exp(f(e.args[0]))
    if isinstance(e, sp.log):
        return MP.log(f(e.args[0]))
    if isinstance(e, sp.erf):
        return MP.erf(f(e.args[0]))
    raise _Unsupported(type(e).__name__)


def _sigmoid_mp(z: Any) -> Any:
    return 1 / (1 + MP.exp(-z))


@dataclass
class Layer:
    """One layer's values, entry by entry (tuples of exact values; the answers hold them as
    matrices)."""

    index: int  # 1-based
    activation: str
    a_in: tuple[Any, ...]
    z: tuple[Any, ...]
    a: tuple[Any, ...]
    dz: tuple[Any, ...] | None = None  # g'(z), elementwise (not for softmax)
    # Precise twins (mpmath, 60 digits), entry by entry.
    a_in_mp: list[Any] = field(default_factory=list)
    z_mp: list[Any] = field(default_factory=list)
    a_mp: list[Any] = field(default_factory=list)
    dz_mp: list[Any] | None = None
    # Canonical weights and bias of the layer: z_j = Σ_i rows[j][i] a_i + bias[j] (z = A a_in + b).
    rows: list[list[Any]] = field(default_factory=list)
    bias: list[Any] = field(default_factory=list)

    @property
    def cols(self) -> list[list[Any]]:
        """Columns of A: the weights out of each input unit."""
        return [list(col) for col in zip(*self.rows)]

    @property
    def A(self) -> sp.Matrix:  # noqa: N802 - the matrix's name
        return sp.Matrix(self.rows)

    @property
    def b(self) -> sp.Matrix:
        return vector(self.bias)


def softmax_exact(z: sp.Matrix) -> sp.Matrix:
    exps = [sp.exp(v) for v in z]
    total = sum(exps)
    return sp.Matrix([e / total for e in exps])


def _softmax_mp(z: Sequence[Any]) -> list[Any]:
    top = max(z)
    exps = [MP.exp(v - top) for v in z]
    total = MP.fsum(exps)
    return [e / total for e in exps]


def forward(given: Any) -> list[Layer]:
    weights = canonical_rows(given)
    n_layers = len(weights)
    alpha, alpha_mp = given["alpha"], to_mp(given["alpha"])
    a = tuple(given["x"].flat())
    a_mp = [to_mp(v) for v in a]
    layers = []
    for l, (rows, biases) in enumerate(weights):
        rows_mp = [[to_mp(v) for v in row] for row in rows]
        name = given["output_activation"] if l == n_layers - 1 else given["activation"]
        exact_in = all(map(is_closed, a))
        rational_in = exact_in and all(isinstance(v, sp.Rational) for v in a)
        z, z_mp = [], []
        for row, row_mp, bias in zip(rows, rows_mp, biases):
            twin = MP.fsum(w * v for w, v in zip(row_mp, a_mp)) + to_mp(bias)
            if rational_in:  # rationals only: SymPy's own arithmetic, the same sums
                closed = bias
                for w, v in zip(row, a):
                    closed = closed + w * v
            else:
                closed = total_of((mul(w, v) for w, v in zip(row, a)), bias) if exact_in else None
            z.append(settle(closed, twin))
            z_mp.append(twin)
        if name == "softmax":
            out_mp = _softmax_mp(z_mp)
            closed_out = list(softmax_exact(vector(z))) if all(map(is_closed, z)) else [None] * len(z)
            out = [settle(c, t) for c, t in zip(closed_out, out_mp)]
            dz, dz_mp = None, None
        else:
            g = activations.get(name)
            out_mp = [g.precise(v, alpha_mp) for v in z_mp]
            dz_mp = [g.precise_grad(v, alpha_mp) for v in z_mp]
            closed_out = [g.at(v, alpha) if is_closed(v) else None for v in z]
            out = [settle(c, t) for c, t in zip(closed_out, out_mp)]
            dz = tuple(settle(_closed_grad(g, v, alpha, c), t) for v, c, t in zip(z, closed_out, dz_mp))
        out = tuple(out)
        layers.append(Layer(l + 1, name, a, tuple(z), out, dz, a_in_mp=a_mp, z_mp=z_mp, a_mp=out_mp,
                            dz_mp=dz_mp, rows=rows, bias=biases))
        a, a_mp = out, out_mp
    return layers


def _closed_grad(g: activations.Activation, z: Any, alpha: Any, value: Any) -> Any:
    """g'(z) as a closed form for :func:`settle` (``value``: g(z) as built, None when z is not
    closed), or None where settle would plainly find it longer than MAX_CLOSED_FORM_OPS. For the
    sigmoid, σ'(z) = e^{-z}/(1 + e^{-z})² counts at least 2·count(σ(z)) - 1 operations, where
    σ(z) = 1/(1 + e^{-z}) counts 3 + count(-z): with -z > 0 it is DIV + count(e^{-z}) +
    count((1 + e^{-z})²) = 2·count(σ(z)) - 1 exactly; with -z < 0 e^{-z} moves below the line as
    e^{z}, for 2·count(σ(z)) + count(z) - count(-z), and negating z changes its count by one
    NEG at most. An output unit's σ'(z) of a closed z is mostly past the limit: it is not built
    and counted only to be replaced by its twin's digits (tests/test_fast_solve.py compares)."""
    if value is None:
        return None
    if (g.name == "sigmoid" and not isinstance(z, sp.Rational)
            and 2 * count_ops(value) - 1 > MAX_CLOSED_FORM_OPS):
        return None
    return g.grad_at(z, alpha)


@dataclass
class Loss:
    value: sp.Expr
    terms: list[sp.Expr]  # per output unit
    dl_dyhat: sp.Matrix  # ∂L/∂ŷ
    value_mp: Any
    dl_dyhat_mp: list[Any]


def loss_exact(given: Any, layers: list[Layer]) -> Loss:
    """L, its per-output terms and ∂L/∂ŷ. The twins of the cross-entropies are computed from the
    logits (log-sigmoid, log-sum-exp): ŷ = σ(40) is 1 - 4·10⁻¹⁸, and ln(1 - ŷ) from ŷ's digits
    would be ln 0."""
    kind = given["loss"]
    last = layers[-1]
    yhat, z_mp, s_mp = list(last.a), last.z_mp, last.a_mp
    y = given["y"].flat()
    y_mp = [to_mp(v) for v in y]
    K = len(yhat)
    exact = all(map(is_closed, yhat))
    if kind in ("mse_half", "mse_mean", "mse_sum"):
        c = {"mse_half": sp.Rational(1, 2), "mse_mean": sp.Rational(1, K), "mse_sum": sp.Integer(1)}[kind]
        terms_mp = [(s_mp[k] - y_mp[k]) ** 2 for k in range(K)]
        terms = [settle(power(add(yhat[k], -y[k]), sp.Integer(2)) if exact else None, terms_mp[k]) for k in range(K)]
        grad_mp = [2 * to_mp(c) * (s_mp[k] - y_mp[k]) for k in range(K)]
        grad = [settle(mul(2 * c, add(yhat[k], -y[k])) if exact else None, grad_mp[k]) for k in range(K)]
        total_mp = to_mp(c) * MP.fsum(terms_mp)
        total = settle(mul(c, total_of(terms)) if all(map(is_closed, terms)) else None, total_mp)
    elif kind == "bce":
        # y softplus(-z) + (1 - y) softplus(z) = -(y ln σ(z) + (1 - y) ln(1 - σ(z))).
        terms_mp = [y_mp[k] * MP.log1p(MP.exp(-z_mp[k])) + (1 - y_mp[k]) * MP.log1p(MP.exp(z_mp[k]))
                    for k in range(K)]
        terms = [settle(-(y[k] * sp.log(yhat[k]) + (1 - y[k]) * sp.log(1 - yhat[k])) if exact else None,
                        terms_mp[k]) for k in range(K)]
        # -y/σ(z) + (1 - y)/σ(-z) = -y (1 + e^{-z}) + (1 - y)(1 + e^{z})
        grad_mp = [-y_mp[k] * (1 + MP.exp(-z_mp[k])) + (1 - y_mp[k]) * (1 + MP.exp(z_mp[k])) for k in range(K)]
        grad = [settle(-(y[k] / yhat[k]) + (1 - y[k]) / (1 - yhat[k]) if exact else None, grad_mp[k])
                for k in range(K)]
        total_mp = MP.fsum(terms_mp)
        total = settle(sum(terms) if all(map(is_closed, terms)) else None, total_mp)
    elif kind == "ce":
        top = max(z_mp)
        lse = top + MP.log(MP.fsum(MP.exp(v - top) for v in z_mp))
        terms_mp = [-y_mp[k] * (z_mp[k] - lse) for k in range(K)]
        terms = [sp.Integer(0) if y[k] == 0 else settle(-y[k] * sp.log(yhat[k]) if exact else None, terms_mp[k])
                 for k in range(K)]
        grad_mp = [-y_mp[k] / s_mp[k] for k in range(K)]
        grad = [settle(-y[k] / yhat[k] if exact else None, grad_mp[k]) for k in range(K)]
        total_mp = MP.fsum(terms_mp)
        total = settle(sum(terms) if all(map(is_closed, terms)) else None, total_mp)
    else:
        raise CheckError(f"dense network: no loss {kind!r} to compute")
    return Loss(total, terms, vector(grad), total_mp, grad_mp)


def backward(given: Any, layers: list[Layer],
             loss: Loss | None = None) -> tuple[list[tuple[Any, ...]], list[list[Any]]]:
    """δ^{[l]} = ∂L/∂z^{[l]} for every layer by the chain rule, with their twins (``loss``: the
    result of :func:`loss_exact` for these layers, if the caller has it already)."""
    last = layers[-1]
    yhat, y = list(last.a), given["y"].flat()
    y_mp = [to_mp(v) for v in y]
    K = len(yhat)
    exact = all(map(is_closed, yhat))
    if last.activation == "softmax":
        # With cross-entropy the softmax Jacobian collapses to ŷ − y (seed 002 Q2.4). Twin:
        # s_k Σy − y_k = s_k (Σy − y_k) − y_k Σ_{j≠k} s_j, no cancellation when ŷ_k → 1.
        s, total_y = last.a_mp, MP.fsum(y_mp)
        twin = [s[k] * (total_y - y_mp[k]) - y_mp[k] * MP.fsum(s[j] for j in range(K) if j != k)
                for k in range(K)]
        delta = [settle(yhat[k] - y[k] if exact else None, twin[k]) for k in range(K)]
    elif last.activation == "sigmoid" and given["loss"] == "bce":
        # σ(z) − y = (1 − y) σ(z) − y σ(−z)
        twin = [(1 - y_mp[k]) * _sigmoid_mp(v) - y_mp[k] * _sigmoid_mp(-v) for k, v in enumerate(last.z_mp)]
        delta = [settle(yhat[k] - y[k] if exact else None, twin[k]) for k in range(K)]
    else:
        loss = loss if loss is not None else loss_exact(given, layers)
        grad, grad_mp = list(loss.dl_dyhat), loss.dl_dyhat_mp
        twin = [grad_mp[k] * last.dz_mp[k] for k in range(K)]
        closed = all(map(is_closed, grad)) and all(map(is_closed, last.dz))
        delta = [settle(mul(grad[k], last.dz[k]) if closed else None, twin[k]) for k in range(K)]
    deltas, deltas_mp = [tuple(delta)], [twin]
    for l in range(len(layers) - 2, -1, -1):
        layer = layers[l]
        cols = layers[l + 1].cols  # column j of A: the weights out of unit j
        nxt, nxt_mp = list(deltas[0]), deltas_mp[0]
        closed = all(map(is_closed, nxt)) and all(map(is_closed, layer.dz))
        twin = [MP.fsum(to_mp(w) * d for w, d in zip(col, nxt_mp)) * layer.dz_mp[j] for j, col in enumerate(cols)]
        delta = [settle(mul(total_of((mul(w, d) for w, d in zip(col, nxt)), sp.Integer(0)), layer.dz[j]) if closed else None,
                        twin[j]) for j, col in enumerate(cols)]
        deltas.insert(0, tuple(delta))
        deltas_mp.insert(0, twin)
    return deltas, deltas_mp


def weight_gradient(given: Any, layers: list[Layer], deltas: list[tuple[Any, ...]],
                    deltas_mp: list[list[Any]], l: int) -> sp.Matrix:
    """∂L/∂W^{[l]} in the displayed convention (1-based l)."""
    layer = layers[l - 1]
    a_in, a_mp = list(layer.a_in), list(layer.a_in_mp)
    delta, d_mp = list(deltas[l - 1]), deltas_mp[l - 1]
    if given["convention"] != "W" and given["bias"] == "row":
        a_in, a_mp = [sp.Integer(1)] + a_in, [MP.mpf(1)] + a_mp
    closed = all(map(is_closed, a_in)) and all(map(is_closed, delta))

    def entry(j: int, i: int) -> sp.Expr:  # δ_j a_i
        return settle(mul(delta[j], a_in[i]) if closed else None, d_mp[j] * a_mp[i])

    if given["convention"] == "W":
        flat = [entry(j, i) for j in range(len(delta)) for i in range(len(a_in))]
        return sympyfast.matrix(len(delta), len(a_in), flat)
    flat = [entry(j, i) for i in range(len(a_in)) for j in range(len(delta))]
    return sympyfast.matrix(len(a_in), len(delta), flat)


# -- independent NumPy path -------------------------------------------------------------------
def floats(m: sp.MatrixBase) -> np.ndarray:
    """A matrix of exact givens as a float array (each entry rounded once to a double, as
    ``float()`` of a SymPy rational does, without SymPy's per-entry conversion)."""
    rep = getattr(m, "_rep", None)  # SymPy's DomainMatrix: integers or fractions, unconverted
    if rep is not None and (rep.domain.is_ZZ or rep.domain.is_QQ):
        if rep.domain.is_ZZ:
            return np.array(rep.to_list(), dtype=float)
        return np.array([[int(v.numerator) / int(v.denominator) for v in row] for row in rep.to_list()],
                        dtype=float)
    return np.array([[_float(v) for v in row] for row in m.tolist()], dtype=float)


def _float(v: Any) -> float:
    if isinstance(v, sp.Rational):
        return int(v.p) / int(v.q)  # correctly rounded, like Rational.__float__
    return float(v)


def _np_sigmoid(z: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -z))


def numpy_forward_backward(given: Any) -> dict[str, Any]:
    """Forward pass, loss and weight gradients with NumPy only (no SymPy or mpmath value reused).

    Cross-entropies are computed from the logits (log-sigmoid, log-sum-exp), like the precise
    twins: a true answer of 4·10⁻¹⁸ must not become 0 · ln 0 = NaN here."""
    conv, bias = given["convention"], given["bias"]
    alpha = float(given["alpha"])
    Ws = [floats(w) for w in given["weights"]]
    bs = [floats(b).ravel() for b in given["biases"]] if given["biases"] else None
    a = floats(given["x"]).ravel()
    inputs, zs, outs = [], [], []
    for l, W in enumerate(Ws):
        name = given["output_activation"] if l == len(Ws) - 1 else given["activation"]
        inputs.append(a)
        if conv == "W":
            z = W @ a + (bs[l] if bias == "vector" else 0.0)
        elif bias == "row":
            z = W.T @ np.concatenate([[1.0], a])
        else:
            z = W.T @ a + (bs[l] if bias == "vector" else 0.0)
        if name == "softmax":
            e = np.exp(z - z.max())
            a = e / e.sum()
        else:
            a = activations.get(name).numeric(z, alpha)
        zs.append(z)
        outs.append(a)
    result: dict[str, Any] = {"z": zs, "a": outs}
    if given["loss"] == "none":
        return result
    y = floats(given["y"]).ravel()
    yhat, z_out = outs[-1], zs[-1]
    loss = given["loss"]
    last = given["output_activation"]
    if loss in ("mse_half", "mse_mean", "mse_sum"):
        scale = {"mse_half": 0.5, "mse_mean": 1.0 / len(y), "mse_sum": 1.0}[loss]
        result["loss"] = scale * np.sum((yhat - y) ** 2)
        g = 2 * scale * (yhat - y)
        if last == "softmax":  # full Jacobian of the softmax
            delta = (np.diag(yhat) - np.outer(yhat, yhat)).T @ g
        else:
            delta = g * activations.get(last).numeric_grad(z_out, alpha)
    elif loss == "bce" and last == "sigmoid":
        # L = Σ y softplus(−z) + (1 − y) softplus(z); ∂L/∂z = −y σ(−z) + (1 − y) σ(z).
        result["loss"] = np.sum(y * np.logaddexp(0.0, -z_out) + (1 - y) * np.logaddexp(0.0, z_out))
        delta = -y * _np_sigmoid(-z_out) + (1 - y) * _np_sigmoid(z_out)
    elif loss == "ce" and last == "softmax":
        # L = −Σ y (z − logsumexp z); ∂L/∂z = softmax(z) Σy − y.
        top = z_out.max()
        lse = top + np.log(np.sum(np.exp(z_out - top)))
        result["loss"] = -np.sum(y * (z_out - lse))
        delta = yhat * y.sum() - y
    else:
        raise CheckError(f"dense network check: loss {loss!r} with a {last} output is not taught")
    grads = [None] * len(Ws)
    for l in range(len(Ws) - 1, -1, -1):
        a_in = inputs[l]
        if conv == "W":
            grads[l] = np.outer(delta, a_in)
            back = Ws[l].T @ delta
        elif bias == "row":
            grads[l] = np.outer(np.concatenate([[1.0], a_in]), delta)
            back = Ws[l][1:, :] @ delta
        else:
            grads[l] = np.outer(a_in, delta)
            back = Ws[l] @ delta
        if l > 0:
            delta = back * activations.get(given["activation"]).numeric_grad(zs[l - 1], alpha)
    result["grads"] = grads
    return result


# -- teaching rules (applied to random draws only; see worksheetgen.family.Constraint) ---------
def no_kink_hit(layers: list[Layer]) -> bool:
    """No pre-activation exactly at a kink of its activation (the derivative is a convention there)."""
    for layer in layers:
        kinks = () if layer.activation == "softmax" else activations.get(layer.activation).kinks
        if any(sympyfast.at_kink(v, kinks) for v in layer.z):
            return False
    return True


def hidden_relu_alive(layers: list[Layer]) -> bool:
    """Not every ReLU unit of a hidden layer dead."""
    return not any(layer.activation == "relu" and all(v <= 0 for v in layer.z) for layer in layers[:-1])


def output_relu_alive(layers: list[Layer]) -> bool:
    """Every output ReLU unit alive: a dead output gives ŷ_k = 0 and passes no gradient, so
    every weight into it has ∂L/∂w = 0 (issue 10: 72 % of backprop draws had one)."""
    out = layers[-1]
    return not (out.activation == "relu" and any(v <= 0 for v in out.z_mp))


SOFTMAX_MAX = 0.99  # a softmax output above this is as saturated as σ(4.6)


def saturated(layers: list[Layer]) -> bool:
    """Some unit sits on the flat part of a smooth activation (drawrules.saturated), or a softmax
    output is (almost) one-hot: the chain rule multiplies by almost nothing there."""
    for layer in layers:
        if layer.activation == "softmax":
            if max(layer.a_mp) > SOFTMAX_MAX:
                return True
            continue
        if any(drawrules.saturated(layer.activation, z, d) for z, d in zip(layer.z_mp, layer.dz_mp)):
            return True
    return False


def moderate(layers: list[Layer]) -> bool:
    """Pre-activations a student can work with (|z| ≤ 50)."""
    return all(abs(v) <= MAX_LARGE_PRE_ACTIVATION for layer in layers for v in layer.z_mp)


def passes_gradient(given: Any, layers: list[Layer]) -> bool:
    """Some weight gradient is non-zero for a generic target: the network itself does not block
    every path back (all hidden ReLUs dead, a zero derivative at every output, ...). Decided on
    the twins with a fixed irrational stand-in for ŷ − y, so no target is involved."""
    last = layers[-1]
    generic = [MP.sqrt(k + 2) for k in range(len(last.z_mp))]
    if last.activation == "softmax" or (last.activation == "sigmoid" and given["loss"] == "bce"):
        delta = generic  # δ = ŷ − y, never 0 for these outputs
    else:
        delta = [r * d for r, d in zip(generic, last.dz_mp)]
    row_bias = given["convention"] != "W" and given["bias"] == "row"
    for l in range(len(layers) - 1, -1, -1):
        layer = layers[l]
        inputs = ([MP.mpf(1)] if row_bias else []) + list(layer.a_in_mp)
        if any(d != 0 for d in delta) and any(a != 0 for a in inputs):
            return True
        if l > 0:
            cols = layer.cols
            delta = [MP.fsum(to_mp(w) * d for w, d in zip(col, delta)) * layers[l - 1].dz_mp[j]
                     for j, col in enumerate(cols)]
    return False


def diagram(given: Any, show: str) -> list[Any]:
    """The network figure the seeds show beside a forward-pass question (none, plain, weights)."""
    from worksheetgen import mathfmt
    from worksheetgen.figures import network_diagram

    if show == "none":
        return []
    has_bias = given["bias"] != "none"
    if show == "plain":
        return [_plain_diagram(tuple(given["layers"]), has_bias)]
    labels = None
    if show == "weights":
        As, bs = canonical(given)
        labels = []
        for A, b in zip(As, bs):
            rows = [[mathfmt.num(b[j]) for j in range(A.rows)]] if has_bias else []
            rows += [[mathfmt.num(A[j, i]) for j in range(A.rows)] for i in range(A.cols)]
            labels.append(rows)
    return [network_diagram(given["layers"], bias=has_bias, weights=labels, caption=DIAGRAM_CAPTION)]


DIAGRAM_CAPTION = "The network of this exercise."


@lru_cache(maxsize=64)
def _plain_diagram(layers: tuple[int, ...], has_bias: bool) -> Any:
    """The unlabelled figure of a network shape: the same (immutable) Figure for every draw."""
    from worksheetgen.figures import network_diagram

    return network_diagram(list(layers), bias=has_bias, weights=None, caption=DIAGRAM_CAPTION)
