"""Recurrent networks: a vanilla RNN h_t = tanh(W_hh h_{t-1} + W_xh x_t + b) unrolled over 2-4
time steps, backpropagation through time for one recurrent weight, the vanishing factor
∏ W_hh tanh'(a_t) of a scalar RNN with its bound |W_hh|^{N-1}, parameter counts of RNN, LSTM and
GRU layers, and one step of an LSTM or GRU cell with scalar state, its gate equations written out.

Values are exact as far as a closed form is worth keeping (the policy of the dense networks):
every value is built twice, as a SymPy expression from the values before it and as a 60-digit
mpmath twin. Rationals and short closed forms (h_1 = tanh(1), h_2 = tanh(tanh(1)/2 + 1/2) in
the pinned example) are kept and checked against their twin to 45 digits; longer ones (a BPTT
delta three steps back nests every state) become 50-digit Floats, so the cost stays bounded at
any allowed size. The independent check runs the same networks in NumPy and differentiates by
the complex step (tanh is analytic), so BPTT is compared with a derivative computed without the
BPTT formula.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import mpmath
import numpy as np
import sympy as sp

from worksheetgen import mathfmt
from worksheetgen.answers import Answer, IntegerAnswer, MatrixAnswer, NumberAnswer, Rounding
from worksheetgen.errors import CheckError, WorksheetError
from worksheetgen.family import Constraint, Family, Record, Solved
from worksheetgen.params import Choice, Int, ListOf, Matrix, Number, Param
from worksheetgen.sampling import grid_param, grid_values, nonzero_grid_values, require_grid

PARTS = ("forward", "bptt", "vanishing", "counts", "cell")
CELLS = ("lstm", "gru")
GATES = {"lstm": ("f", "i", "o", "g"), "gru": ("z", "r", "h")}
MAX_STEPS = 4
MAX_HIDDEN = 3
MAX_INPUT = 3
MAX_COUNT = 100_000
MAX_HORIZON = 1000
MAX_BOUND_EXPONENT = 300  # |W_hh|^(N-1) stays below 10^300, a float
LARGEST = 10  # weights, inputs, biases, states: tanh is flat far beyond this anyway
LIMIT_TEXT = f"values from -{LARGEST} to {LARGEST}"
# Teaching limits of drawn values: a pre-activation beyond these saturates its unit
# (tanh'(2) ≈ 0.07, σ'(3) ≈ 0.045), and then nothing flows back.
MAX_PREACTIVATION = 2
MAX_GATE_PREACTIVATION = 3
# ... and a pre-activation this close to 0 gives a state of about 0 (tanh(0) = 0 is asked for
# nothing): every a_t entry and the cell's tanh candidate stay at least this far from 0.
MIN_PREACTIVATION = sp.Rational(1, 20)
# The vanishing part's bound |W_hh|^(N-1) of a drawn W_hh: at least this (0.1^19 prints as 0 and
# differs from a classmate's 0.9^19 = 0.135 by 18 decades), and below 1 (a bound of 1 shows nothing).
MIN_BOUND = sp.Rational(1, 1000)
# Draws of the network and inputs inside one attempt (cheap float passes; see _draw_sequence).
SEQUENCE_TRIES = 40
COUNT_INPUTS = (10, 20, 32, 50, 64, 100, 128, 300)
COUNT_HIDDEN = (16, 32, 50, 64, 100, 128, 256, 512)
COUNT_OUTPUTS = (2, 5, 10, 20, 26, 50, 100)


# Values whose closed form is longer than this many operations are kept as PRECISION-digit
# Floats from a 60-digit twin (as for the dense networks): a BPTT delta three steps back nests
# every state, and SymPy's adaptive evaluation of such forms costs far more than they help.
MAX_CLOSED_OPS = 24
PRECISION = 50
MP = mpmath.MPContext()  # a private context: nobody else's precision changes
MP.dps = 60


class tanh(sp.tanh):  # noqa: N801 - named so that it prints (and parses back) as tanh
    """tanh that remembers its numerical values per precision: a kept closed form nests the
    previous states' tanh, which the key, the rounding and the cross-check would otherwise
    re-evaluate from scratch each time (in the instance's own __dict__: a shared table keyed by
    expressions would compare nested trees on every lookup)."""

    def _eval_evalf(self, prec: int) -> Any:
        cache = self.__dict__.setdefault("_evalf_cache", {})
        hit = cache.get(prec)
        if hit is None:
            hit = cache[prec] = super()._eval_evalf(prec)
        return hit


def _mp(value: Any) -> Any:
    r = sp.Rational(value)
    return MP.mpf(int(r.p)) / int(r.q)


def _keep(expr: Any, twin: Any) -> sp.Expr:
    """The value later values are built from: exact if rational or a short closed form, else the
    twin as a PRECISION-digit Float. Values built from a Float stay Floats, so no expression grows
    with the depth of the recurrence."""
    expr = sp.sympify(expr)
    if expr.is_Rational or (not expr.has(sp.Float) and sp.count_ops(expr) <= MAX_CLOSED_OPS):
        return expr
    return sp.Integer(0) if twin == 0 else sp.Float(twin, PRECISION)


def _show(kept: sp.Expr, twin: Any) -> sp.Expr:
    """What the solution prints: a rational exactly (1.55 with '='), anything else the twin's
    digits (the same digits as the closed form, which _verify holds to 45 of them), so rendering
    never evaluates a nested closed form."""
    return kept if kept.is_Rational else sp.Float(twin, PRECISION)


def _verify(kept: sp.Expr, twin: Any) -> sp.Expr:
    """An answer's kept closed form agrees with its twin to 45 digits (the twin follows the same
    formulas in 60-digit arithmetic): the printed digits are the answer's."""
    if not kept.is_Rational and not kept.has(sp.Float):
        value = sp.N(kept, PRECISION)
        if abs(value - sp.Float(twin, 60)) > sp.Float(10) ** -45 * max(1, abs(value)):
            raise CheckError(f"rnn: the closed form {kept} = {value} disagrees with its twin {twin}")
    return kept


def _keep_matrix(exact: sp.Matrix, twin: list[Any]) -> sp.Matrix:
    return sp.Matrix(exact.rows, exact.cols, [_keep(e, t) for e, t in zip(exact, twin)])


def _show_matrix(kept: sp.Matrix, twin: list[Any]) -> sp.Matrix:
    return sp.Matrix(kept.rows, kept.cols, [_show(e, t) for e, t in zip(kept, twin)])


def _bound_ok(bound: sp.Rational) -> bool:
    return bound >= MIN_BOUND and bound != 1


def _bound_weights(options: dict[str, Any]) -> list[sp.Rational]:
    """The non-zero points of the weight grid whose bound |w|^(N-1) is fine (_bound_ok)."""
    lo, hi, step = (sp.Rational(v) for v in options["weight_grid"])
    points = (lo + k * step for k in range(int(sp.floor((hi - lo) / step)) + 1))
    return [w for w in points if w != 0 and _bound_ok(abs(w) ** (options["horizon"] - 1))]


def _power_text(value: sp.Rational) -> str:
    """The bound |W_hh|^{N-1} after its relation, as TeX numbers are written by the template's
    filters (in significant digits, as the question asks): a short exact decimal as it is
    ('= 0.25'), a power of ten as one ('= 10^{-19}'); a long exact decimal (0.5^19 has 19
    decimals) is marked for rounding ('approx')."""
    if mathfmt.is_exact_decimal(value, mathfmt.DEFAULT_DIGITS, mathfmt.SIGNIFICANT) and len(
            mathfmt.num(value, mathfmt.DEFAULT_DIGITS, mathfmt.SIGNIFICANT)) <= 8:
        return "exact"
    k = sp.log(value, 10)
    if k.is_Integer:
        return f"= 10^{{{int(k)}}}"
    return "approx"


def _relation(values: Any) -> str:
    """'=' when every printed entry is exact, else '\\approx'."""
    items = list(values) if isinstance(values, sp.MatrixBase) else [values]
    return "=" if all(mathfmt.is_exact_decimal(v) for v in items) else r"\approx"


def _sigmoid(z: sp.Expr) -> sp.Expr:
    return 1 / (1 + sp.exp(-z))


def _column(values: Any) -> sp.Matrix:
    return sp.Matrix(len(values), 1, list(values))


def _value_answer(key: str, label: str, value: sp.Matrix) -> Answer:
    """A number for a scalar state, a column for a vector."""
    if value.shape == (1, 1):
        return NumberAnswer(key, label, value[0])
    return MatrixAnswer(key, label, value)


@dataclass(frozen=True)
class RnnGiven(Record):
    parts: tuple[str, ...]  # in the printed order of PARTS
    steps: int | None = None  # forward / bptt / vanishing
    W_hh: sp.Matrix | None = None  # H × H
    W_xh: sp.Matrix | None = None  # H × D
    b: sp.Matrix | None = None  # H × 1
    h0: sp.Matrix | None = None  # H × 1
    xs: sp.Matrix | None = None  # T × D, row t = x_t
    y: sp.Matrix | None = None  # bptt target, H × 1
    entry: tuple[int, int] | None = None  # bptt: (i, j) of W_hh, 1-based
    horizon: int | None = None  # vanishing
    count_input: int | None = None  # counts
    count_hidden: int | None = None
    count_output: int | None = None
    cell: str | None = None  # cell
    cell_weights: sp.Matrix | None = None  # rows = gates, columns = (w, u, b)
    cell_inputs: tuple[sp.Rational, ...] | None = None  # (x_t, h_{t-1}[, c_{t-1}])


@dataclass(frozen=True)
class RnnStep(Record):
    """One time step of the unrolled network (the template reads ``s.<name>``)."""

    t: int
    x: sp.Matrix  # D × 1
    h_prev: sp.Matrix
    a: sp.Matrix
    a_rel: str
    h: sp.Matrix
    h_rel: str
    deriv: sp.Matrix  # 1 - h_t², tanh'(a_t)
    back: sp.Matrix | None = None  # W_hhᵀ δ_{t+1} (t < T)
    delta: sp.Matrix | None = None  # ∂L/∂a_t
    factor: sp.Expr | None = None  # W_hh tanh'(a_t), scalar RNN, t >= 2


@dataclass(frozen=True)
class CellGate(Record):
    name: str  # f, i, o, g / z, r, h
    w: sp.Rational
    u: sp.Rational
    b: sp.Rational
    h_in: sp.Expr  # the recurrent input the gate sees (r_t h_{t-1} for the GRU candidate)
    pre: sp.Expr
    value: sp.Expr


@dataclass(frozen=True)
class RnnData(Record):
    parts: tuple[str, ...]
    H: int | None = None
    D: int | None = None
    T: int | None = None
    scalar: bool | None = None  # H == 1
    h0_zero: bool | None = None
    steps: tuple[RnnStep, ...] | None = None
    # bptt
    error: sp.Matrix | None = None  # h_T - y
    grad: sp.Expr | None = None
    # vanishing
    product: sp.Expr | None = None
    bound_horizon: sp.Rational | None = None  # |W_hh|^{N-1}
    w_abs: sp.Rational | None = None
    bound_text: str | None = None  # how to print the bound: "exact", "approx" or a power of ten
    bound_float: sp.Float | None = None
    # counts
    block: int | None = None  # H(D + H + 1)
    rnn_count: int | None = None
    lstm_count: int | None = None
    gru_count: int | None = None
    output_count: int | None = None
    # cell
    gates: tuple[CellGate, ...] | None = None
    c_prev: sp.Rational | None = None
    c: sp.Expr | None = None
    tanh_c: sp.Expr | None = None
    h_cell: sp.Expr | None = None


class Rnn(Family):
    name = "rnn"
    title = "Recurrent networks"
    summary = ("Vanilla RNN h_t = tanh(W_hh h_{t-1} + W_xh x_t + b) over 2-4 steps, BPTT of one recurrent "
               "weight, the vanishing factor ∏ W_hh tanh'(a_t), RNN/LSTM/GRU parameter counts, one LSTM or "
               "GRU cell step.")
    Given = RnnGiven
    Data = RnnData
    params = (
        Param("parts", ListOf(Choice(PARTS), min_length=1, max_length=len(PARTS)), list(PARTS),
              "which parts to ask: forward (a), bptt (b), vanishing (c), counts (d), cell (e)"),
        Param("steps", Int(2, MAX_STEPS), None,
              f"time steps T, 2 to {MAX_STEPS} (random 2 or 3; 3 with the vanishing part)"),
        Param("hidden_size", Int(1, MAX_HIDDEN), None,
              f"hidden units H, 1 to {MAX_HIDDEN} (default 1, or the size of the pinned matrices; "
              "the vanishing part needs H = 1)"),
        Param("input_size", Int(1, MAX_INPUT), None,
              f"input size D, 1 to {MAX_INPUT} (default 1, or the size of the pinned matrices)"),
        Param("W_hh", Matrix(), None, f"recurrent weights, H × H, {LIMIT_TEXT}"),
        Param("W_xh", Matrix(), None, f"input weights, H × D, {LIMIT_TEXT}"),
        Param("b", ListOf(Number(), 1, MAX_HIDDEN), None, f"bias, H values, {LIMIT_TEXT}"),
        Param("h0", ListOf(Number(), 1, MAX_HIDDEN), None, f"initial hidden state h_0, H values (default 0), {LIMIT_TEXT}"),
        Param("xs", Matrix(), None,
              f"the inputs x_1 … x_T, one row per time step (a flat list when D = 1), {LIMIT_TEXT}"),
        Param("y", ListOf(Number(), 1, MAX_HIDDEN), None,
              f"target of the last hidden state in L = ½‖h_T - y‖², H values, {LIMIT_TEXT}"),
        Param("entry", ListOf(Int(1, MAX_HIDDEN), 2, 2), None,
              "[i, j]: the entry of W_hh whose gradient the bptt part asks, when H > 1 (random)"),
        Param("horizon", Int(2, MAX_HORIZON), 20,
              f"sequence length N of the vanishing part's bound |W_hh|^(N-1), 2 to {MAX_HORIZON} "
              f"(and the bound at most 10^{MAX_BOUND_EXPONENT}; with W_hh drawn, some weight of the grid "
              f"must keep the bound between {float(MIN_BOUND):g} and 1: N <= 66 on the default grid)"),
        Param("count_input", Int(1, MAX_COUNT), None, f"input size D of the counts part, 1 to {MAX_COUNT}"),
        Param("count_hidden", Int(1, MAX_COUNT), None, f"hidden units H of the counts part, 1 to {MAX_COUNT}"),
        Param("count_output", Int(1, MAX_COUNT), None, f"outputs K of the counts part, 1 to {MAX_COUNT}"),
        Param("cell", Choice(CELLS), None, "the cell of the cell part: lstm or gru (random)"),
        Param("cell_weights", Matrix(), None,
              "the cell's scalar weights, one row per gate (LSTM: f, i, o, g; GRU: z, r, h), columns "
              f"w (input), u (recurrent), b (bias), {LIMIT_TEXT}"),
        Param("cell_inputs", ListOf(Number(), 2, 3), None,
              f"[x_t, h_(t-1)] for a GRU, [x_t, h_(t-1), c_(t-1)] for an LSTM, {LIMIT_TEXT}"),
        grid_param("weight_grid", (-1, 1, 0.1), f"[lo, hi, step] for drawn weights (never 0), {LIMIT_TEXT}"),
        grid_param("bias_grid", (-0.5, 0.5, 0.1), f"[lo, hi, step] for drawn biases, {LIMIT_TEXT}"),
        grid_param("input_grid", (-2, 2, 0.5), f"[lo, hi, step] for drawn inputs (never 0), {LIMIT_TEXT}"),
        grid_param("target_grid", (-1, 1, 0.1), f"[lo, hi, step] for a drawn target y, {LIMIT_TEXT}"),
        grid_param("state_grid", (-0.9, 0.9, 0.1),
                   f"[lo, hi, step] for the cell's drawn h_(t-1) and c_(t-1) (never 0), {LIMIT_TEXT}"),
    )
    constraints = (
        Constraint(f"no saturated unit: every |a_t| <= {MAX_PREACTIVATION}",
                   ("W_hh", "W_xh", "b", "xs", "h0"),
                   lambda g, s: s.data.steps is None or all(
                       abs(sp.N(v, 30)) <= MAX_PREACTIVATION for st in s.data.steps for v in st.a)),
        Constraint("a last hidden state away from its target (|h_T - y| >= 0.1 somewhere)",
                   ("W_hh", "W_xh", "b", "xs", "h0", "y"),
                   lambda g, s: "bptt" not in g.parts or max(abs(sp.N(v, 30)) for v in s.data.error) >= sp.Rational(1, 10)),
        Constraint("a BPTT gradient that is not (nearly) zero",
                   ("W_hh", "W_xh", "b", "xs", "h0", "y", "entry"),
                   lambda g, s: "bptt" not in g.parts or abs(sp.N(s.data.grad, 30)) >= sp.Rational(1, 1000)),
        Constraint("a recurrent path that matters: every step's factor |W_hh tanh'(a_t)| >= 0.05",
                   ("W_hh", "W_xh", "b", "xs", "h0"),
                   lambda g, s: "vanishing" not in g.parts or all(
                       abs(sp.N(st.factor, 30)) >= sp.Rational(1, 20) for st in s.data.steps[1:])),
        Constraint(f"gates that are not saturated: every gate pre-activation within ±{MAX_GATE_PREACTIVATION}",
                   ("cell", "cell_weights", "cell_inputs"),
                   lambda g, s: s.data.gates is None or all(
                       abs(sp.N(gate.pre, 30)) <= MAX_GATE_PREACTIVATION for gate in s.data.gates)),
        Constraint("a cell state and output that are not (nearly) zero", ("cell", "cell_weights", "cell_inputs"),
                   lambda g, s: s.data.gates is None or (
                       (s.data.c is None or abs(sp.N(s.data.c, 30)) >= sp.Rational(1, 20))
                       and abs(sp.N(s.data.h_cell, 30)) >= sp.Rational(1, 100))),
        Constraint(f"no hidden state near 0: every |a_t| >= {MIN_PREACTIVATION}", ("W_hh", "W_xh", "b", "xs", "h0"),
                   lambda g, s: s.data.steps is None or all(
                       abs(sp.N(v, 30)) >= MIN_PREACTIVATION for st in s.data.steps for v in st.a)),
        Constraint(f"a bound |W_hh|^(N-1) of at least {float(MIN_BOUND):g} and not 1", ("W_hh",),
                   lambda g, s: "vanishing" not in g.parts or _bound_ok(s.data.bound_horizon)),
        Constraint(f"a cell candidate away from 0: its pre-activation at least {MIN_PREACTIVATION} in size",
                   ("cell", "cell_weights", "cell_inputs"),
                   lambda g, s: s.data.gates is None or abs(sp.N(s.data.gates[-1].pre, 30)) >= MIN_PREACTIVATION),
        Constraint("three different layer sizes to count with", ("count_input", "count_hidden", "count_output"),
                   lambda g, s: g.count_input is None or len({g.count_input, g.count_hidden, g.count_output}) == 3),
    )

    def quality(self, given: RnnGiven, solved: Solved) -> dict[str, bool]:
        d = solved.data
        out: dict[str, bool] = {}
        if d.steps is not None:
            a = [abs(sp.N(v, 30)) for st in d.steps for v in st.a]
            out["saturated unit"] = max(a) > MAX_PREACTIVATION
            out["hidden state near 0"] = min(a) < MIN_PREACTIVATION
        if "bptt" in given.parts:
            out["gradient below 0.001"] = abs(sp.N(d.grad, 30)) < sp.Rational(1, 1000)
        if "vanishing" in given.parts:
            out["recurrent factor below 0.05"] = any(abs(sp.N(st.factor, 30)) < sp.Rational(1, 20) for st in d.steps[1:])
            out[f"bound |W_hh|^(N-1) below {float(MIN_BOUND):g} or equal to 1"] = not _bound_ok(d.bound_horizon)
        if d.gates is not None:
            out["saturated gate"] = any(abs(sp.N(gate.pre, 30)) > MAX_GATE_PREACTIVATION for gate in d.gates)
            out["cell candidate near 0"] = abs(sp.N(d.gates[-1].pre, 30)) < MIN_PREACTIVATION
        return out

    # -- validation ----------------------------------------------------------------------------
    def validate(self, options: dict[str, Any]) -> None:
        parts = options["parts"]
        if len(set(parts)) != len(parts):
            raise WorksheetError("a part is listed twice", field="parts", allowed=", ".join(PARTS))
        for key in ("weight_grid", "input_grid", "state_grid"):
            require_grid(options, key, nonzero=True)
        for key in ("bias_grid", "target_grid"):
            require_grid(options, key)
        for key in ("weight_grid", "input_grid", "state_grid", "bias_grid", "target_grid"):
            self._limit(key, options[key])
        for key in ("W_hh", "W_xh", "xs", "cell_weights"):
            if options[key] is not None:
                self._limit(key, list(options[key]))
        for key in ("b", "h0", "y", "cell_inputs"):
            if options[key] is not None:
                self._limit(key, options[key])

        H, D, T = self._sizes(options)
        if not 1 <= H <= MAX_HIDDEN:
            raise WorksheetError(f"H = {H} hidden units", field="hidden_size", allowed=f"1 to {MAX_HIDDEN}")
        if not 1 <= D <= MAX_INPUT:
            raise WorksheetError(f"D = {D} inputs", field="input_size", allowed=f"1 to {MAX_INPUT}")
        if T is not None and not 2 <= T <= MAX_STEPS:
            raise WorksheetError(f"{T} time steps", field="xs", allowed=f"2 to {MAX_STEPS} rows (time steps)")
        shapes = {"W_hh": (H, H), "W_xh": (H, D)}
        for key, shape in shapes.items():
            M = options[key]
            if M is not None and M.shape != shape:
                raise WorksheetError(f"{key} is {M.shape[0]} x {M.shape[1]}", field=key,
                                     allowed=f"{shape[0]} x {shape[1]} for H = {H}, D = {D}")
        if options["xs"] is not None and options["xs"].shape[1] != D:
            raise WorksheetError(f"xs has {options['xs'].shape[1]} columns", field="xs",
                                 allowed=f"{D} columns (one input vector per row) for D = {D}")
        for key in ("b", "h0", "y"):
            if options[key] is not None and len(options[key]) != H:
                raise WorksheetError(f"{key} has {len(options[key])} entries", field=key, allowed=f"{H} for H = {H}")
        if options["entry"] is not None and max(options["entry"]) > H:
            raise WorksheetError(f"W_hh has no entry {tuple(options['entry'])}", field="entry",
                                 allowed=f"[i, j] with 1 <= i, j <= {H}")
        if "vanishing" in parts and H != 1:
            source = next(k for k in ("hidden_size", "W_hh", "W_xh", "b", "h0", "y") if options[k] is not None)
            raise WorksheetError(f"the vanishing part is written for a scalar hidden state, not H = {H}",
                                 field=source,
                                 allowed="H = 1, or leave the vanishing part out")
        if "vanishing" in parts:
            # The bound |W_hh|^(N-1) must stay a float for the key (10^999 is not one).
            w_max = float(max(abs(v) for v in (list(options["W_hh"]) if options["W_hh"] is not None
                                                else options["weight_grid"][:2])))
            if w_max > 1 and (options["horizon"] - 1) * math.log10(w_max) > MAX_BOUND_EXPONENT:
                longest = 1 + int(MAX_BOUND_EXPONENT / math.log10(w_max))
                raise WorksheetError(f"|W_hh|^(N-1) reaches beyond 10^{MAX_BOUND_EXPONENT} for |W_hh| up to "
                                     f"{mathfmt.num(w_max)}", field="horizon", allowed=f"N <= {longest} for these weights")
            if options["W_hh"] is None and not _bound_weights(options):
                raise WorksheetError(f"no weight of the grid keeps |W_hh|^(N-1) between {float(MIN_BOUND):g} and 1 "
                                     f"(N = {options['horizon']})", field="horizon",
                                     allowed="a shorter horizon, a grid with larger weights, or W_hh pinned")
        cw = options["cell_weights"]
        cell = options["cell"]
        if cw is not None:
            if cw.shape[1] != 3 or cw.shape[0] not in (3, 4):
                raise WorksheetError(f"cell_weights is {cw.shape[0]} x {cw.shape[1]}", field="cell_weights",
                                     allowed="4 x 3 for an LSTM (rows f, i, o, g), 3 x 3 for a GRU (rows z, r, h)")
            inferred = "lstm" if cw.shape[0] == 4 else "gru"
            if cell is not None and cell != inferred:
                raise WorksheetError(f"cell_weights has {cw.shape[0]} rows, which is a {inferred.upper()}",
                                     field="cell_weights", allowed=f"{len(GATES[cell])} rows for cell = {cell!r}")
            cell = inferred
        ci = options["cell_inputs"]
        if ci is not None:
            inferred = "lstm" if len(ci) == 3 else "gru"
            if cell is not None and cell != inferred:
                raise WorksheetError(f"cell_inputs has {len(ci)} values", field="cell_inputs",
                                     allowed="[x_t, h_(t-1), c_(t-1)] for an LSTM, [x_t, h_(t-1)] for a GRU")

    @staticmethod
    def _limit(key: str, values: Any) -> None:
        for i, v in enumerate(values, start=1):
            if abs(v) > LARGEST:
                raise WorksheetError(f"entry {i} ({mathfmt.num(v, 12)}) is outside the allowed range", field=key,
                                     allowed=LIMIT_TEXT)

    @staticmethod
    def _sizes(options: dict[str, Any]) -> tuple[int, int, int | None]:
        """H, D and T from the options: given sizes first, then pinned values, then 1 (T: None)."""
        H = options["hidden_size"]
        if H is None:
            H = next((options[k].shape[0] for k in ("W_hh", "W_xh") if options[k] is not None),
                     next((len(options[k]) for k in ("b", "h0", "y") if options[k] is not None), 1))
        D = options["input_size"]
        if D is None:
            D = next((options[k].shape[1] for k in ("W_xh", "xs") if options[k] is not None), 1)
        T = options["steps"]
        if T is None and options["xs"] is not None:
            T = options["xs"].shape[0]
        elif T is not None and options["xs"] is not None and options["xs"].shape[0] != T:
            raise WorksheetError(f"xs has {options['xs'].shape[0]} rows but steps = {T}", field="xs",
                                 allowed=f"{T} rows, one per time step")
        return H, D, T

    def drawn(self, options: dict[str, Any]) -> frozenset[str]:
        """As the base class, less what nothing random decides: sizes (given or implied by the
        pinned values), h0 (0 unless given), the entry of a scalar W_hh, the cell type when its
        weights or inputs are given, and the values of parts that are not asked. So a fully pinned
        exercise is not held to the rules."""
        drawn = set(super().drawn(options)) - {"hidden_size", "input_size", "steps", "h0"}
        parts = options["parts"]
        if not any(p in parts for p in ("forward", "bptt", "vanishing")):
            drawn -= {"W_hh", "W_xh", "b", "xs", "y", "entry"}
        if "bptt" not in parts:
            drawn -= {"y", "entry"}
        try:
            H = self._sizes(options)[0]
        except WorksheetError:
            H = 1
        if H == 1:
            drawn.discard("entry")
        if "counts" not in parts:
            drawn -= {"count_input", "count_hidden", "count_output"}
        if "cell" not in parts:
            drawn -= {"cell", "cell_weights", "cell_inputs"}
        elif options["cell_weights"] is not None or options["cell_inputs"] is not None:
            drawn.discard("cell")
        return frozenset(drawn)

    # -- sampling ------------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator, options: dict[str, Any]) -> RnnGiven:
        parts = tuple(p for p in PARTS if p in options["parts"])
        values: dict[str, Any] = {}
        if any(p in parts for p in ("forward", "bptt", "vanishing")):
            H, D, T = self._sizes(options)
            # A product of one factor shows nothing: the vanishing part gets three steps.
            T = T or (3 if "vanishing" in parts else int(rng.integers(2, 4)))
            values.update(self._draw_sequence(rng, options, parts, H, D, T))
            if "bptt" in parts and H > 1:
                entry = options["entry"] or [int(v) for v in rng.integers(1, H + 1, size=2)]
                values["entry"] = (int(entry[0]), int(entry[1]))
            if "vanishing" in parts:
                values["horizon"] = options["horizon"]
        if "counts" in parts:
            # Three different sizes, so each product in the count names one layer size: each
            # drawn size avoids the ones already fixed or drawn (no redraws).
            sizes: dict[str, int] = {k: options[k] for k in ("count_hidden", "count_input", "count_output")
                                     if options[k] is not None}
            pools = {"count_hidden": COUNT_HIDDEN, "count_input": COUNT_INPUTS, "count_output": COUNT_OUTPUTS}
            for key, pool in pools.items():
                if key not in sizes:
                    free = [v for v in pool if v not in sizes.values()] or list(pool)
                    sizes[key] = int(free[int(rng.integers(len(free)))])
            values.update(sizes)
        if "cell" in parts:
            values.update(self._draw_cell(rng, options))
        return RnnGiven(parts=parts, **values)

    @staticmethod
    def _draw_sequence(rng: np.random.Generator, options: dict[str, Any], parts: tuple[str, ...],
                       H: int, D: int, T: int) -> dict[str, Any]:
        """The network, the inputs and the target. The unpinned values are drawn up to
        SEQUENCE_TRIES times until a float forward pass meets the teaching rules (no saturated
        unit, a recurrent factor that matters, a target away from h_T), so larger sizes do not
        make the engine redraw the whole exercise dozens of times. The last draw is kept if none
        does: the constraints then decide, on the exact values."""
        wg, bg, ig, tg = (options[k] for k in ("weight_grid", "bias_grid", "input_grid", "target_grid"))
        h0 = _column(options["h0"] if options["h0"] is not None else [0] * H)
        drawn: dict[str, Any] = {}
        # The vanishing part (H = 1) draws W_hh among the weights whose bound is fine.
        bounded = _bound_weights(options) if "vanishing" in parts and options["W_hh"] is None else None
        for _ in range(SEQUENCE_TRIES):
            if bounded:
                W = sp.Matrix([[bounded[int(rng.integers(len(bounded)))]]])
            else:
                W = sp.Matrix(options["W_hh"] if options["W_hh"] is not None else nonzero_grid_values(rng, *wg, size=(H, H)))
            U = sp.Matrix(options["W_xh"] if options["W_xh"] is not None else nonzero_grid_values(rng, *wg, size=(H, D)))
            b = _column(options["b"] if options["b"] is not None else grid_values(rng, *bg, size=H))
            xs = sp.Matrix(options["xs"] if options["xs"] is not None else nonzero_grid_values(rng, *ig, size=(T, D)))
            y = None
            if "bptt" in parts:
                y = _column(options["y"] if options["y"] is not None else grid_values(rng, *tg, size=H))
            drawn = dict(steps=T, W_hh=W, W_xh=U, b=b, h0=h0, xs=xs, y=y)
            if _plausible(drawn, parts):
                break
        return drawn

    @staticmethod
    def _draw_cell(rng: np.random.Generator, options: dict[str, Any]) -> dict[str, Any]:
        """The cell, its weights and inputs; unpinned values redrawn (bounded) until a float pass
        has no saturated gate and a state that is not nearly 0."""
        cw, ci = options["cell_weights"], options["cell_inputs"]
        cell = options["cell"] or (("lstm" if cw.shape[0] == 4 else "gru") if cw is not None else
                                   ("lstm" if len(ci) == 3 else "gru") if ci is not None else
                                   CELLS[int(rng.integers(len(CELLS)))])
        n = len(GATES[cell])
        drawn: dict[str, Any] = {}
        for _ in range(SEQUENCE_TRIES):
            weights = cw
            if weights is None:
                wu = nonzero_grid_values(rng, *options["weight_grid"], size=(n, 2))
                bias = grid_values(rng, *options["bias_grid"], size=n)
                weights = sp.Matrix(n, 3, lambda r, c: wu[r, c] if c < 2 else bias[r])
            inputs = ci
            if inputs is None:
                x = nonzero_grid_values(rng, *options["input_grid"])
                states = nonzero_grid_values(rng, *options["state_grid"], size=2 if cell == "lstm" else 1)
                inputs = [x, *states]
            drawn = dict(cell=cell, cell_weights=sp.Matrix(weights), cell_inputs=tuple(inputs))
            if _cell_plausible(drawn):
                break
        return drawn

    # -- solving -------------------------------------------------------------------------------
    def solve(self, given: RnnGiven) -> Solved:
        parts = given.parts
        data: dict[str, Any] = {"parts": parts}
        answers: list[Answer] = []
        if given.W_hh is not None:
            self._solve_rnn(given, data, answers)
        if given.count_input is not None:
            D, H, K = given.count_input, given.count_hidden, given.count_output
            block = H * (D + H + 1)
            data.update(block=block, rnn_count=block, lstm_count=4 * block, gru_count=3 * block,
                        output_count=K * (H + 1))
            answers += [
                IntegerAnswer("rnn_params", r"\#\text{params (RNN)}", block),
                IntegerAnswer("lstm_params", r"\#\text{params (LSTM)}", 4 * block),
                IntegerAnswer("gru_params", r"\#\text{params (GRU)}", 3 * block),
                IntegerAnswer("output_params", r"\#\text{params (output layer)}", K * (H + 1)),
            ]
        if given.cell is not None:
            self._solve_cell(given, data, answers)
        return Solved(answers, RnnData(**data))

    def _solve_rnn(self, given: RnnGiven, data: dict[str, Any], answers: list[Answer]) -> None:
        """Every value twice: the exact expression built from the kept values before it, and its
        60-digit twin. The template shows _show values, the answers _verify'd kept ones."""
        W, U, b = given.W_hh, given.W_xh, given.b
        H, D = U.shape
        T = given.steps
        mpW = [[_mp(W[i, j]) for j in range(H)] for i in range(H)]
        hs, twins = [given.h0], [[_mp(v) for v in given.h0]]
        raw: list[dict[str, Any]] = []
        for t in range(1, T + 1):
            x = given.xs[t - 1, :].T
            h_prev, tw_prev = hs[-1], twins[-1]
            inp = U * x  # rational
            tw_rec = [MP.fsum(mpW[i][j] * tw_prev[j] for j in range(H)) for i in range(H)]
            rec = _keep_matrix(W * h_prev, tw_rec)
            tw_a = [tw_rec[i] + _mp(inp[i] + b[i]) for i in range(H)]
            a = _keep_matrix(rec + inp + b, tw_a)
            tw_h = [MP.tanh(v) for v in tw_a]
            h = _keep_matrix(a.applyfunc(tanh), tw_h)
            tw_d = [1 - v**2 for v in tw_h]
            deriv = _keep_matrix(h.applyfunc(lambda v: 1 - v**2), tw_d)
            hs.append(h)
            twins.append(tw_h)
            raw.append(dict(t=t, x=x, h_prev=h_prev, tw_prev=tw_prev, rec=rec, tw_rec=tw_rec, inp=inp, a=a,
                            tw_a=tw_a, h=h, tw_h=tw_h, deriv=deriv, tw_deriv=tw_d))
        data.update(H=H, D=D, T=T, scalar=H == 1, h0_zero=all(v == 0 for v in given.h0))
        if "forward" in given.parts:
            answers += [_value_answer(f"h{t}", f"h_{{{t}}}", hs[t].applyfunc(lambda v: v))
                        for t in range(1, T + 1)]
            for t in range(1, T + 1):
                for v, tw in zip(hs[t], twins[t]):
                    _verify(v, tw)
        if "bptt" in given.parts:
            tw_err = [twins[T][k] - _mp(given.y[k]) for k in range(H)]
            error = _keep_matrix(hs[T] - given.y, tw_err)
            i, j = given.entry if given.entry is not None else (1, 1)
            tw_delta = [e * dv for e, dv in zip(tw_err, raw[-1]["tw_deriv"])]
            delta = _keep_matrix(error.multiply_elementwise(raw[-1]["deriv"]), tw_delta)
            raw[-1].update(delta=delta, tw_delta=tw_delta)
            for t in range(T - 1, 0, -1):
                tw_back = [MP.fsum(mpW[r][k] * tw_delta[r] for r in range(H)) for k in range(H)]
                back = _keep_matrix(W.T * delta, tw_back)
                tw_delta = [v * dv for v, dv in zip(tw_back, raw[t - 1]["tw_deriv"])]
                delta = _keep_matrix(back.multiply_elementwise(raw[t - 1]["deriv"]), tw_delta)
                raw[t - 1].update(back=back, tw_back=tw_back, delta=delta, tw_delta=tw_delta)
            for st in raw:
                st["tw_contribution"] = st["tw_delta"][i - 1] * st["tw_prev"][j - 1]
                st["contribution"] = _keep(st["delta"][i - 1] * st["h_prev"][j - 1], st["tw_contribution"])
            tw_grad = MP.fsum(st["tw_contribution"] for st in raw)
            grad = _verify(_keep(sum((st["contribution"] for st in raw), sp.Integer(0)), tw_grad), tw_grad)
            data.update(error=_show_matrix(error, tw_err), grad=_show(grad, tw_grad))
            label = (r"\frac{\partial L}{\partial W_{hh}}" if H == 1
                     else rf"\frac{{\partial L}}{{\partial (W_{{hh}})_{{{i}{j}}}}}")
            answers.append(NumberAnswer("dL_dWhh", label, grad))
        if "vanishing" in given.parts:
            if H != 1:
                raise CheckError(f"rnn: the vanishing part needs a scalar hidden state, got H = {H}")
            w = W[0]
            product, tw_product = sp.Integer(1), MP.mpf(1)
            for st in raw[1:]:
                st["tw_factor"] = mpW[0][0] * st["tw_deriv"][0]
                st["factor"] = _keep(w * st["deriv"][0], st["tw_factor"])
                tw_product *= st["tw_factor"]
                product = _keep(product * st["factor"], tw_product)
            product = _verify(product, tw_product)
            w_abs = abs(w)
            bound_horizon = w_abs ** (given.horizon - 1)
            bound_text = _power_text(bound_horizon)  # the template rounds with the sheet's digits
            data.update(product=_show(product, tw_product), w_abs=w_abs, bound_horizon=bound_horizon, bound_text=bound_text,
                        bound_float=sp.Float(bound_horizon, PRECISION))
            answers += [
                # Products of many factors below 1: asked in significant digits, as the text says.
                NumberAnswer("dhT_dh1", rf"\frac{{\partial h_{{{T}}}}}{{\partial h_1}}", product,
                             rounding=Rounding("significant")),
                NumberAnswer("bound_horizon", rf"|W_{{hh}}|^{{{given.horizon - 1}}}", bound_horizon,
                             rounding=Rounding("significant")),
            ]
        steps = []
        for st in raw:
            shown_step: dict[str, Any] = dict(t=st["t"], x=st["x"])
            for key in ("h_prev", "a", "h", "deriv", "back", "delta"):
                if key in st:
                    shown_step[key] = _show_matrix(st[key], st[f"tw_{key}"] if key != "h_prev" else st["tw_prev"])
            for key in ("factor",):
                if key in st:
                    shown_step[key] = _show(st[key], st[f"tw_{key}"])
            shown_step.update(a_rel=_relation(shown_step["a"]), h_rel=_relation(shown_step["h"]))
            steps.append(RnnStep(**shown_step))
        data["steps"] = tuple(steps)

    def _solve_cell(self, given: RnnGiven, data: dict[str, Any], answers: list[Answer]) -> None:
        cell, cw = given.cell, given.cell_weights
        x, h_prev = given.cell_inputs[0], given.cell_inputs[1]
        kept: dict[str, sp.Expr] = {}
        tw: dict[str, Any] = {}
        gates: list[CellGate] = []

        def mp_sigmoid(z: Any) -> Any:
            return 1 / (1 + MP.exp(-z))

        def gate(row: int, h_in: sp.Expr, tw_h_in: Any, squash: Any, tw_squash: Any) -> None:
            name = GATES[cell][row]
            w, u, bias = cw[row, 0], cw[row, 1], cw[row, 2]
            tw_pre = _mp(w) * _mp(x) + _mp(u) * tw_h_in + _mp(bias)
            pre = _keep(w * x + u * h_in + bias, tw_pre)
            tw[name] = tw_squash(tw_pre)
            kept[name] = _verify(_keep(squash(pre), tw[name]), tw[name])
            gates.append(CellGate(name=name, w=w, u=u, b=bias, h_in=_show(h_in, tw_h_in), pre=_show(pre, tw_pre),
                                  value=_show(kept[name], tw[name])))

        if cell == "lstm":
            c_prev = given.cell_inputs[2]
            squashes = ((_sigmoid, mp_sigmoid),) * 3 + ((tanh, MP.tanh),)
            for row, (squash, tw_squash) in enumerate(squashes):
                gate(row, h_prev, _mp(h_prev), squash, tw_squash)
            tw_c = tw["f"] * _mp(c_prev) + tw["i"] * tw["g"]
            c = _verify(_keep(kept["f"] * c_prev + kept["i"] * kept["g"], tw_c), tw_c)
            tw_tanh_c = MP.tanh(tw_c)
            tanh_c = _keep(tanh(c), tw_tanh_c)
            tw_h = tw["o"] * tw_tanh_c
            h = _verify(_keep(kept["o"] * tanh_c, tw_h), tw_h)
            data.update(gates=tuple(gates), c_prev=c_prev, c=_show(c, tw_c), tanh_c=_show(tanh_c, tw_tanh_c),
                        h_cell=_show(h, tw_h))
            answers += [NumberAnswer(f"lstm_{k}", f"{k}_t", kept[k]) for k in ("f", "i", "o", "g")]
            answers += [NumberAnswer("lstm_c", "c_t", c), NumberAnswer("lstm_h", "h_t", h)]
        else:
            gate(0, h_prev, _mp(h_prev), _sigmoid, mp_sigmoid)
            gate(1, h_prev, _mp(h_prev), _sigmoid, mp_sigmoid)
            tw_rh = tw["r"] * _mp(h_prev)
            gate(2, _keep(kept["r"] * h_prev, tw_rh), tw_rh, tanh, MP.tanh)
            tw_h = tw["z"] * _mp(h_prev) + (1 - tw["z"]) * tw["h"]
            h = _verify(_keep(kept["z"] * h_prev + (1 - kept["z"]) * kept["h"], tw_h), tw_h)
            data.update(gates=tuple(gates), h_cell=_show(h, tw_h))
            answers += [
                NumberAnswer("gru_z", "z_t", kept["z"]),
                NumberAnswer("gru_r", "r_t", kept["r"]),
                NumberAnswer("gru_htilde", r"\tilde{h}_t", kept["h"]),
                NumberAnswer("gru_h", "h_t", h),
            ]

    # -- independent check ---------------------------------------------------------------------
    def check(self, given: RnnGiven) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if given.W_hh is not None:
            out.update(self._check_rnn(given))
        if given.count_input is not None:
            out.update(_count_parameters(given.count_input, given.count_hidden, given.count_output))
        if given.cell is not None:
            out.update(_check_cell(given))
        return out

    @staticmethod
    def _check_rnn(given: RnnGiven) -> dict[str, Any]:
        """NumPy forward pass; derivatives by the complex step: Im f(v + ih)/h equals f'(v) to
        machine precision for analytic f (tanh is), with no difference of nearly equal values,
        so BPTT and the vanishing factor are checked against derivatives taken without their
        formulas."""
        f = lambda M: np.array(M.tolist(), dtype=float)  # noqa: E731
        W, U, b, h0, xs = f(given.W_hh), f(given.W_xh), f(given.b)[:, 0], f(given.h0)[:, 0], f(given.xs)
        T = given.steps

        def run(Wc: np.ndarray, start: np.ndarray, first: int = 0) -> list[np.ndarray]:
            hs = [start]
            for t in range(first, T):
                hs.append(np.tanh(Wc @ hs[-1] + U @ xs[t] + b))
            return hs

        hs = run(W, h0)
        out: dict[str, Any] = {}
        if "forward" in given.parts:
            for t in range(1, T + 1):
                out[f"h{t}"] = float(hs[t][0]) if len(hs[t]) == 1 else hs[t].reshape(-1, 1)
        step = 1e-30
        if "bptt" in given.parts:
            y = f(given.y)[:, 0]
            i, j = given.entry if given.entry is not None else (1, 1)
            bump = W.astype(complex)
            bump[i - 1, j - 1] += 1j * step
            last = run(bump, h0.astype(complex))[-1]
            out["dL_dWhh"] = float((0.5 * np.sum((last - y) ** 2)).imag / step)
        if "vanishing" in given.parts:
            # h_T as a function of h_1: restart the recurrence at t = 2 from a complex h_1.
            last = run(W, hs[1].astype(complex) + 1j * step, first=1)[-1]
            out["dhT_dh1"] = float(last[0].imag / step)
            out["bound_horizon"] = float(abs(W[0, 0]) ** (given.horizon - 1))
        return out


def _count_parameters(D: int, H: int, K: int) -> dict[str, int]:
    """Parameters counted from the shapes of each block's arrays (nothing is allocated: sizes go
    up to 100000)."""
    block = [(H, D), (H, H), (H,)]  # input weights, recurrent weights, bias
    size = lambda shapes: sum(int(np.prod(s, dtype=np.int64)) for s in shapes)  # noqa: E731
    return {"rnn_params": size(block), "lstm_params": size(block * 4), "gru_params": size(block * 3),
            "output_params": size([(K, H), (K,)])}


def _check_cell(given: RnnGiven) -> dict[str, Any]:
    """The cell in NumPy, with the sigmoid written through tanh, σ(z) = (1 + tanh(z/2))/2: another
    formula than the solver's 1/(1 + e^{-z})."""
    cw = np.array(given.cell_weights.tolist(), dtype=float)
    inputs = [float(v) for v in given.cell_inputs]
    x, h_prev = inputs[0], inputs[1]
    sig = lambda z: (1 + np.tanh(z / 2)) / 2  # noqa: E731
    pre = lambda row, h_in: cw[row, 0] * x + cw[row, 1] * h_in + cw[row, 2]  # noqa: E731
    if given.cell == "lstm":
        c_prev = inputs[2]
        f, i, o = (sig(pre(r, h_prev)) for r in range(3))
        g = np.tanh(pre(3, h_prev))
        c = f * c_prev + i * g
        return {"lstm_f": f, "lstm_i": i, "lstm_o": o, "lstm_g": g, "lstm_c": c, "lstm_h": o * np.tanh(c)}
    z = sig(pre(0, h_prev))
    r = sig(pre(1, h_prev))
    cand = np.tanh(pre(2, r * h_prev))
    return {"gru_z": z, "gru_r": r, "gru_htilde": cand, "gru_h": z * h_prev + (1 - z) * cand}


def _plausible(drawn: dict[str, Any], parts: tuple[str, ...]) -> bool:
    """A float pass over a drawn network with margins inside the constraints' limits."""
    f = lambda M: np.array(M.tolist(), dtype=float)  # noqa: E731
    W, U, b, h = f(drawn["W_hh"]), f(drawn["W_xh"]), f(drawn["b"])[:, 0], f(drawn["h0"])[:, 0]
    derivs = []
    for x in f(drawn["xs"]):
        a = W @ h + U @ x + b
        if np.abs(a).max() > MAX_PREACTIVATION - 0.01 or np.abs(a).min() < float(MIN_PREACTIVATION) + 0.001:
            return False
        h = np.tanh(a)
        derivs.append(1 - h**2)
    if "vanishing" in parts and any(abs(W[0, 0] * d[0]) < 0.06 for d in derivs[1:]):
        return False
    if drawn["y"] is not None and np.abs(h - f(drawn["y"])[:, 0]).max() < 0.11:
        return False
    return True


def _cell_plausible(drawn: dict[str, Any]) -> bool:
    cw = np.array(drawn["cell_weights"].tolist(), dtype=float)
    x, h_prev, *rest = (float(v) for v in drawn["cell_inputs"])
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    pre = lambda r, h_in: cw[r, 0] * x + cw[r, 1] * h_in + cw[r, 2]  # noqa: E731
    if drawn["cell"] == "lstm":
        pres = [pre(r, h_prev) for r in range(4)]
        c = sig(pres[0]) * rest[0] + sig(pres[1]) * np.tanh(pres[3])
        h = sig(pres[2]) * np.tanh(c)
        return (max(map(abs, pres)) <= MAX_GATE_PREACTIVATION - 0.01 and abs(pres[3]) >= float(MIN_PREACTIVATION) + 0.001
                and abs(c) >= 0.06 and abs(h) >= 0.011)
    z, r = sig(pre(0, h_prev)), sig(pre(1, h_prev))
    cand_pre = pre(2, r * h_prev)
    h = z * h_prev + (1 - z) * np.tanh(cand_pre)
    worst = max(abs(pre(0, h_prev)), abs(pre(1, h_prev)), abs(cand_pre))
    return (worst <= MAX_GATE_PREACTIVATION - 0.01 and abs(cand_pre) >= float(MIN_PREACTIVATION) + 0.001
            and abs(h) >= 0.011)
