"""A two-input ReLU network with weights in {-1, 0, 1} that computes a Boolean function
(seed 003 Ex1): read the weight matrices off the network, run the four inputs forward and name
the function, pick the symbolic gradients, and pick the weights that implement a target function.

Every multiple-choice key is derived, not asserted: the function a net computes comes from its
four exact outputs, the gradient options are compared with SymPy's derivative of the network
expression, and every option of the "implement" task is run on the four inputs.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import sympy as sp

from worksheetgen import mathfmt
from worksheetgen.answers import LETTERS, Answer, ChoiceAnswer, IntegerAnswer
from worksheetgen.errors import CheckError, WorksheetError
from worksheetgen.family import Constraint, Family, Record, Solved
from worksheetgen.figures import Figure, boolean_network
from worksheetgen.params import Bool, Choice, ListOf, Matrix, Number, Param

FUNCTIONS = ("AND", "OR", "XOR", "NAND", "NOR", "XNOR")
NONE = "none of these"
# How often a drawn net computes none of the listed functions (with none_option): often enough
# that "none of these" must be considered, well below the quality gate's bound of 1/4.
NONE_RATE = 0.15
# Outputs on the inputs (A, B) = (0,0), (0,1), (1,0), (1,1), the seed's order x_1..x_4.
TRUTH = {
    "AND": (0, 0, 0, 1),
    "OR": (0, 1, 1, 1),
    "XOR": (0, 1, 1, 0),
    "NAND": (1, 1, 1, 0),
    "NOR": (1, 0, 0, 0),
    "XNOR": (1, 0, 0, 1),
}
INPUTS = ((0, 0), (0, 1), (1, 0), (1, 1))
TASKS = ("weights", "forward", "gradient", "implement")
W1_ENTRIES = ("11", "12", "21", "22")
W2_ENTRIES = ("11", "12")
# Columns of an enumerated net: W1 row-major, W2, b1, b2.
W1_COLS, W2_COLS, B1_COLS, B2_COL = slice(0, 4), slice(4, 6), slice(6, 8), 8
UNIT_COLS = ([0, 1, 6], [2, 3, 7])  # per hidden unit j: W1_j1, W1_j2, b1_j


@dataclass(frozen=True)
class Net(Record):
    """One network: W1 (2x2, row j into n_j), W2 (1x2), and the biases when the net has them.
    A Record, so ``net["W1"]`` reads as ``net.W1`` (the figure code indexes it)."""

    W1: sp.Matrix
    W2: sp.Matrix
    b1: sp.Matrix | None = None
    b2: sp.Integer | None = None


@dataclass(frozen=True)
class BooleanNetGiven(Record):
    """What the sheet shows; the fields of a task that is not asked are None."""

    bias: bool
    tasks: tuple[str, ...]
    # the net of the weights/forward parts
    W1: sp.Matrix | None = None
    W2: sp.Matrix | None = None
    b1: sp.Matrix | None = None
    b2: sp.Integer | None = None
    weights_options: tuple[Net, ...] | None = None  # W1, W2 as printed (W2 as row or column)
    function_options: tuple[str, ...] | None = None
    w2_entry: str | None = None  # "1j" of dL/dW2_1j
    w1_entry: str | None = None  # "jk" of dL/dW1_jk
    w2_options: tuple[tuple[str, int], ...] | None = None  # (sign "out-y"/"y-out", unit)
    w1_options: tuple[tuple[int, str], ...] | None = None  # (W2 unit, input "A"/"B")
    target: str | None = None
    implement_options: tuple[Net, ...] | None = None

    @property
    def net(self) -> Net | None:
        return None if self.W1 is None else Net(self.W1, self.W2, self.b1, self.b2)


@dataclass(frozen=True)
class BooleanNetData(Record):
    parts: tuple[str, ...]
    bias: bool
    net: Net | None = None
    scalar: str | None = None
    weight_rows: list[list[str]] | None = None
    table_cells: list[list[str]] | None = None
    non_boolean: bool | None = None
    weights_answer: str | None = None
    function: str | None = None
    w2_unit: int | None = None
    w1_unit: int | None = None
    w1_input: str | None = None
    z_tex: str | None = None
    implement_cells: list[list[str]] | None = None
    implement_scalar: str | None = None
    implement_fail_items: list[str] | None = None


def _boolean_outputs(out: np.ndarray) -> np.ndarray:
    """Per enumerated net: all four outputs are 0 or 1."""
    return np.all((out == 0) | (out == 1), axis=1)


def _boolean(given: BooleanNetGiven, solved: Solved) -> bool:
    return not solved.data.non_boolean


def named_function(outputs: tuple[int, ...]) -> str:
    """The name of the Boolean function with these four outputs, or NONE."""
    for name, table in TRUTH.items():
        if tuple(outputs) == table:
            return name
    return NONE


@lru_cache(maxsize=2)
def _space(bias: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every net with weights in {-1, 0, 1}: parameters, outputs, function index, 'good'.

    3^6 = 729 nets without bias, 3^9 = 19683 with. Built on first use, not at import.
    A net is 'good' for teaching when both hidden units reach the output (non-zero W2), each
    is active for some input, they are not copies of each other, and the output is not constant.
    """
    values = (-1, 0, 1)
    count = 9 if bias else 6
    rows = np.array(list(itertools.product(values, repeat=count)), dtype=np.int64)
    if not bias:
        rows = np.hstack([rows, np.zeros((len(rows), 3), dtype=np.int64)])
    x = np.array(INPUTS, dtype=np.int64)  # (4, 2)
    w1 = rows[:, W1_COLS].reshape(-1, 2, 2)
    z = np.einsum("njk,ik->nij", w1, x) + rows[:, None, B1_COLS]  # (N, 4 inputs, 2 units)
    h = np.maximum(z, 0)
    out = np.einsum("nij,nj->ni", h, rows[:, W2_COLS]) + rows[:, B2_COL][:, None]
    fn = np.full(len(rows), -1, dtype=np.int64)
    for index, name in enumerate(FUNCTIONS):
        fn[np.all(out == np.array(TRUTH[name]), axis=1)] = index
    good = (
        np.all(rows[:, W2_COLS] != 0, axis=1)
        & np.all(np.any(h > 0, axis=1), axis=1)
        & np.any(rows[:, UNIT_COLS[0]] != rows[:, UNIT_COLS[1]], axis=1)
        & np.any(out != out[:, :1], axis=1)
    )
    return rows, out, fn, good


def reachable(bias: bool) -> tuple[str, ...]:
    """The named functions some good net computes exactly (without bias out(0, 0) = 0)."""
    _, _, fn, good = _space(bias)
    return tuple(name for i, name in enumerate(FUNCTIONS) if np.any(good & (fn == i)))


def _pin_mask(rows: np.ndarray, w1: Any, w2: Any, b1: Any, b2: Any) -> np.ndarray:
    mask = np.ones(len(rows), dtype=bool)
    for value, cols in ((w1, W1_COLS), (w2, W2_COLS), (b1, B1_COLS)):
        if value is not None:
            mask &= np.all(rows[:, cols] == np.array([int(v) for v in value]), axis=1)
    if b2 is not None:
        mask &= rows[:, B2_COL] == int(b2)
    return mask


def _net(row: np.ndarray, bias: bool) -> Net:
    r = [sp.Integer(int(v)) for v in row]
    return Net(sp.Matrix(2, 2, r[0:4]), sp.Matrix(1, 2, r[4:6]),
               sp.Matrix(2, 1, r[6:8]) if bias else None, r[8] if bias else None)


def forward(net: Net) -> list[dict[str, Any]]:
    """Exact forward pass on the four inputs: z, v = ReLU(z), out (SymPy integers)."""
    rows = []
    for a, b in INPUTS:
        z = net.W1 * sp.Matrix([a, b])
        if net.b1 is not None:
            z += net.b1
        v = z.applyfunc(lambda t: sp.Max(0, t))
        out = (net.W2 * v)[0] + (net.b2 if net.b2 is not None else 0)
        rows.append({"x": (a, b), "z": list(z), "v": list(v), "out": sp.Integer(out)})
    return rows


# -- TeX of nets and options ---------------------------------------------------------------
def _pmatrix(m: sp.Matrix) -> str:
    return mathfmt.matrix(m, env="pmatrix")


def _linear(coeffs: list[Any], names: list[str]) -> str:
    """'-A + B' from coefficients in {-1, 0, 1} (and a constant), '0' when all vanish."""
    text = ""
    for c, name in zip(coeffs, names):
        c = int(c)
        if c == 0:
            continue
        term = name if name else "1"
        if abs(c) != 1:
            term = f"{abs(c)} {name}" if name else str(abs(c))
        if not text:
            text = ("-" if c < 0 else "") + term
        else:
            text += (" - " if c < 0 else " + ") + term
    return text or "0"


def scalar_form(net: Net) -> str:
    """out written with scalars, e.g. 'ReLU(-A + B) + ReLU(A - B)' as the seed does."""
    terms = []
    for j in range(2):
        coeffs = [net.W1[j, 0], net.W1[j, 1]]
        names = ["A", "B"]
        if net.b1 is not None:
            coeffs.append(net.b1[j])
            names.append("")
        terms.append(rf"\sigma({_linear(coeffs, names)})")
    coeffs = [net.W2[0, 0], net.W2[0, 1]]
    if net.b2 is not None:
        coeffs.append(net.b2)
        terms.append("")
    return _linear(coeffs, terms)


def net_tex(net: Net, w2_row: bool = True) -> str:
    w2 = net.W2 if w2_row else net.W2.T
    parts = [
        rf"W^{{(1)}} = {_pmatrix(net.W1)}",
        rf"W^{{(2)}} = {_pmatrix(w2)}",
    ]
    if net.b1 is not None:
        parts += [rf"b^{{(1)}} = {_pmatrix(net.b1)}", rf"b^{{(2)}} = {mathfmt.num(net.b2)}"]
    return ",\\quad ".join(parts)


def network_figure(net: Any) -> Figure:
    """The network drawn with its weights (and biases), as in the seed's figure."""
    num = mathfmt.num
    w1, w2 = net["W1"], net["W2"]
    biases = {}
    if net["b1"] is not None:
        biases = {"b1": [num(net["b1"][0]), num(net["b1"][1])], "b2": num(net["b2"])}
    return boolean_network([[num(w1[j, k]) for k in range(2)] for j in range(2)],
                           [num(w2[0, 0]), num(w2[0, 1])], **biases)


def weight_table(net: Net) -> list[list[str]]:
    w1, w2 = net.W1, net.W2
    rows = []
    for j in range(2):
        for k, name in enumerate(("A", "B")):
            rows.append([f"${name}$", f"$n_{j + 1}$", f"${mathfmt.num(w1[j, k])}$"])
    for j in range(2):
        rows.append([f"$n_{j + 1}$", r"$\mathit{out}$", f"${mathfmt.num(w2[0, j])}$"])
    if net.b1 is not None:
        for j in range(2):
            rows.append(["bias", f"$n_{j + 1}$", f"${mathfmt.num(net.b1[j])}$"])
        rows.append(["bias", r"$\mathit{out}$", f"${mathfmt.num(net.b2)}$"])
    return rows


def _z_tex(j: int, bias: bool) -> str:
    text = rf"W^{{(1)}}_{{{j}1}} A + W^{{(1)}}_{{{j}2}} B"
    return text + (rf" + b^{{(1)}}_{j}" if bias else "")


def grad_w2_tex(option: tuple[str, int]) -> str:
    sign, unit = option
    first = r"2(\mathit{out} - y)" if sign == "out-y" else r"2(y - \mathit{out})"
    return rf"{first} \cdot n_{unit}"


def grad_w1_tex(option: tuple[int, str], j: int, bias: bool) -> str:
    unit, inp = option
    return (rf"2(\mathit{{out}} - y) \cdot W^{{(2)}}_{{1{unit}}} \cdot "
            rf"\sigma'({_z_tex(j, bias)}) \cdot {inp}")


# -- symbolic gradients --------------------------------------------------------------------
_A, _B, _Y, _T = sp.symbols("A B y t")
_SIGMA = sp.Function("sigma")
_W1 = sp.Matrix(2, 2, sp.symbols("W1_11 W1_12 W1_21 W1_22"))
_W2 = sp.Matrix(1, 2, sp.symbols("W2_11 W2_12"))
_B1 = sp.Matrix(2, 1, sp.symbols("b1_1 b1_2"))
_B2 = sp.Symbol("b2")


def _symbolic(bias: bool) -> tuple[list[sp.Expr], sp.Expr, sp.Expr]:
    z = _W1 * sp.Matrix([_A, _B]) + (_B1 if bias else sp.zeros(2, 1))
    out = sum(_W2[0, j] * _SIGMA(z[j]) for j in range(2)) + (_B2 if bias else 0)
    return list(z), out, (_Y - out) ** 2


def _sigma_prime(z: sp.Expr) -> sp.Expr:
    return sp.Derivative(_SIGMA(_T), _T).subs(_T, z)


def _matching(derivative: sp.Expr, candidates: list[sp.Expr]) -> int:
    hits = [i for i, c in enumerate(candidates) if sp.expand(derivative - c) == 0]
    if len(hits) != 1:
        raise CheckError(f"boolean_net: expected exactly one gradient option equal to "
                         f"{derivative}, found {len(hits)} (options {hits})")
    return hits[0]


@lru_cache(maxsize=None)
def _gradient_keys(bias: bool, w2_entry: str, w1_entry: str,
                   w2_options: tuple, w1_options: tuple) -> tuple[int, int]:
    """Indices of the options equal to SymPy's derivatives of L = (y - out)^2."""
    z, out, loss = _symbolic(bias)
    v = [_SIGMA(zj) for zj in z]
    j2 = int(w2_entry[1])
    d2 = sp.diff(loss, _W2[0, j2 - 1])
    c2 = [(1 if s == "out-y" else -1) * 2 * (out - _Y) * v[u - 1] for s, u in w2_options]
    j, k = int(w1_entry[0]), int(w1_entry[1])
    d1 = sp.diff(loss, _W1[j - 1, k - 1])
    inputs = {"A": _A, "B": _B}
    c1 = [2 * (out - _Y) * _W2[0, u - 1] * _sigma_prime(z[j - 1]) * inputs[x] for u, x in w1_options]
    return _matching(d2, c2), _matching(d1, c1)


class BooleanNet(Family):
    name = "boolean_net"
    Given = BooleanNetGiven
    Data = BooleanNetData
    title = "Neural network learns Boolean functions"
    summary = ("Two-input ReLU net with weights in {-1, 0, 1}: weight matrices, forward pass and the "
               "function computed, symbolic gradients, weights implementing AND/OR/XOR/....")
    params = (
        Param("tasks", ListOf(Choice(TASKS), min_length=1, max_length=4), list(TASKS),
              "which parts to ask: weights (which matrices), forward (truth table and function), "
              "gradient (dL/dW2_1j and dL/dW1_jk), implement (weights for a target function)"),
        Param("bias", Bool(), False, "give the units biases (also in {-1, 0, 1})"),
        Param("W1", Matrix(), None, "2x2 first-layer weights (row j = weights into n_j)"),
        Param("W2", Matrix(), None, "1x2 second-layer weights"),
        Param("b1", Matrix(), None, "2 first-layer biases (bias = true only)"),
        Param("b2", Number(), None, "output bias (bias = true only)"),
        Param("none_option", Bool(), True,
              "offer 'none of these' for the function (the drawn net may then compute none)"),
        Param("w2_entry", Choice(W2_ENTRIES), None, "which W2_1j the gradient part asks for"),
        Param("w1_entry", Choice(W1_ENTRIES), None, "which W1_jk the gradient part asks for"),
        Param("target", Choice(FUNCTIONS), None, "function of the implement part"),
        Param("target_W1", Matrix(), None, "W1 of the correct option of the implement part"),
        Param("target_W2", Matrix(), None, "W2 of the correct option of the implement part"),
        Param("target_b1", Matrix(), None, "b1 of the correct option of the implement part"),
        Param("target_b2", Number(), None, "b2 of the correct option of the implement part"),
    )

    # The outputs 0 … 3 of the truth table are Boolean: 0 is a fine value to ask for.
    zero_ok = frozenset(f"out_{i}" for i in range(1, 5))
    constraints = (
        Constraint("outputs 0 or 1 on all four inputs (the sheet says they are Boolean)",
                   ("W1", "W2", "b1", "b2"), _boolean),
    )

    def quality(self, given: BooleanNetGiven, solved: Solved) -> dict[str, bool]:
        return {"non-Boolean output": bool(solved.data.non_boolean)}

    def drawn(self, options: dict[str, Any]) -> frozenset[str]:
        """As the base class, less the biases of a net without bias (nothing is drawn for them)."""
        drawn = set(super().drawn(options))
        if not options["bias"]:
            drawn -= {"b1", "b2", "target_b1", "target_b2"}
        return frozenset(drawn)

    # -- validation ----------------------------------------------------------------------------
    def validate(self, options: dict[str, Any]) -> None:
        if len(set(options["tasks"])) != len(options["tasks"]):
            raise WorksheetError("a task is listed twice", field="tasks", allowed=", ".join(TASKS))
        bias = options["bias"]
        for prefix in ("", "target_"):
            for key, shape in (("W1", (2, 2)), ("W2", (1, 2)), ("b1", (2, 1)), ("b2", None)):
                value = options[prefix + key]
                if value is None:
                    continue
                if key.startswith("b") and not bias:
                    raise WorksheetError("biases are given but bias = false", field=prefix + key,
                                         allowed="set bias = true, or leave the biases out")
                entries = [value] if shape is None else list(value)
                if shape is not None and value.shape != shape and value.shape != shape[::-1]:
                    raise WorksheetError(f"{key} must be {shape[0]}x{shape[1]}", field=prefix + key,
                                         allowed=f"a {shape[0]}x{shape[1]} matrix")
                if key == "W1" and value.shape != (2, 2):
                    raise WorksheetError("W1 must be 2x2", field=prefix + key, allowed="a 2x2 matrix")
                if any(v not in (-1, 0, 1) for v in entries):
                    raise WorksheetError("weights outside {-1, 0, 1}", field=prefix + key,
                                         allowed="entries -1, 0 or 1")
        rows, _, fn, _ = _space(bias)
        if "forward" in options["tasks"] or "weights" in options["tasks"]:
            mask = _pin_mask(rows, *self._pins(options, ""))
            if not options["none_option"] and "forward" in options["tasks"]:
                mask &= fn >= 0
            if not mask.any():
                raise WorksheetError(
                    "the given weights do not compute AND, OR, XOR, NAND, NOR or XNOR",
                    field="W1", allowed="weights computing a named function, or none_option = true")
            drawn = self.drawn(options) & {"W1", "W2", "b1", "b2"}
            if drawn and not (mask & _boolean_outputs(self._outputs(bias))).any():
                raise WorksheetError(
                    "no net with the given weights has outputs 0 or 1 on all four inputs",
                    field=sorted(set(("W1", "W2", "b1", "b2")) - drawn)[0],
                    allowed="weights some Boolean-valued net shares, or every weight given")
        if "implement" in options["tasks"]:
            names = reachable(bias)
            target = options["target"]
            if target is not None and target not in names:
                raise WorksheetError(
                    f"no net with weights in {{-1, 0, 1}} computes {target}"
                    + ("" if bias else " without bias (out(0, 0) = 0)"),
                    field="target", allowed=", ".join(names) + ("" if bias else " (or bias = true)"))
            mask = _pin_mask(rows, *self._pins(options, "target_"))
            wanted = [FUNCTIONS.index(target)] if target else [FUNCTIONS.index(n) for n in names]
            if not (mask & np.isin(fn, wanted)).any():
                raise WorksheetError(
                    f"the given target weights do not compute {target or 'a named function'}",
                    field="target_W1", allowed="weights computing the target function")

    @staticmethod
    def _outputs(bias: bool) -> np.ndarray:
        return _space(bias)[1]

    @staticmethod
    def _pins(options: dict[str, Any], prefix: str) -> tuple[Any, Any, Any, Any]:
        w2 = options[prefix + "W2"]
        return (
            options[prefix + "W1"],
            None if w2 is None else list(w2),  # a 2x1 column is read as the row it lists
            None if options[prefix + "b1"] is None else list(options[prefix + "b1"]),
            options[prefix + "b2"],
        )

    # -- sampling ------------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator, options: dict[str, Any]) -> BooleanNetGiven:
        bias = options["bias"]
        tasks = tuple(t for t in TASKS if t in options["tasks"])
        rows, out, fn, good = _space(bias)
        drawn: dict[str, Any] = {}
        if "weights" in tasks or "forward" in tasks:
            mask = _pin_mask(rows, *self._pins(options, ""))
            named = mask & (fn >= 0)
            unnamed = mask & (fn < 0)
            # Only nets whose four outputs are 0 or 1: the sheet says the outputs are Boolean, so
            # "none of these" is a Boolean function outside the list (A ∧ ¬B, ...), never out = 2.
            unnamed &= _boolean_outputs(out)
            pick_none = options["none_option"] and rng.random() < NONE_RATE
            if named.any() and not (pick_none and unnamed.any()):
                # Function first, then a net: keeps rarely reachable XOR as likely as OR.
                names = sorted({int(i) for i in fn[named & good]} or {int(i) for i in fn[named]})
                wanted = names[int(rng.integers(len(names)))]
                pool = named & (fn == wanted)
            else:
                pool = unnamed if unnamed.any() else mask  # mask: pins without a Boolean net
            pool = pool & good if (pool & good).any() else pool
            net = _net(rows[self._choose(rng, pool)], bias)
            drawn.update(net.as_dict())
            if "weights" in tasks:
                drawn["weights_options"] = self._weights_options(rng, net)
            if "forward" in tasks:
                computed = named_function(tuple(int(o) for o in out[_index(rows, net)]))
                drawn["function_options"] = self._function_options(rng, computed,
                                                                   options["none_option"])
        if "gradient" in tasks:
            drawn["w2_entry"] = options["w2_entry"] or W2_ENTRIES[int(rng.integers(2))]
            drawn["w1_entry"] = options["w1_entry"] or W1_ENTRIES[int(rng.integers(4))]
            w2_opts = [(s, u) for s in ("out-y", "y-out") for u in (1, 2)]
            w1_opts = [(u, x) for u in (1, 2) for x in ("A", "B")]
            drawn["w2_options"] = tuple(w2_opts[i] for i in rng.permutation(4))
            drawn["w1_options"] = tuple(w1_opts[i] for i in rng.permutation(4))
        if "implement" in tasks:
            target = options["target"]
            mask = _pin_mask(rows, *self._pins(options, "target_"))
            if target is None:
                names = [n for n in reachable(bias) if (mask & (fn == FUNCTIONS.index(n))).any()]
                target = names[int(rng.integers(len(names)))]
            pool = mask & (fn == FUNCTIONS.index(target))
            pool = pool & good if (pool & good).any() else pool
            correct = self._choose(rng, pool)
            drawn["target"] = target
            drawn["implement_options"] = self._implement_options(rng, correct, target, bias)
        return BooleanNetGiven(bias=bias, tasks=tasks, **drawn)

    @staticmethod
    def _choose(rng: np.random.Generator, mask: np.ndarray) -> int:
        indices = np.flatnonzero(mask)
        return int(indices[int(rng.integers(len(indices)))])

    @staticmethod
    def _weights_options(rng: np.random.Generator, net: Net) -> tuple[Net, ...]:
        w1 = net.W1
        # The misreadings the seed's distractors stand for: transposed, rows swapped, a sign lost.
        others = [w1.T, sp.Matrix([w1.row(1), w1.row(0)]),
                  sp.Matrix([-w1.row(0), w1.row(1)]), sp.Matrix([w1.row(0), -w1.row(1)]),
                  sp.Matrix([-w1.row(0), -w1.row(1)])]
        others = [m for i, m in enumerate(others) if m != w1 and m not in others[:i]]
        wrong = others[int(rng.integers(len(others)))]
        options = [Net(a, b) for a in (w1, wrong) for b in (net.W2, net.W2.T)]
        return tuple(options[i] for i in rng.permutation(4))

    @staticmethod
    def _function_options(rng: np.random.Generator, computed: str,
                          none_option: bool) -> tuple[str, ...]:
        others = [f for f in FUNCTIONS if f != computed]
        if computed == NONE:
            chosen = [others[i] for i in rng.choice(len(others), 3, replace=False)]
        else:
            count = 2 if none_option else 3
            chosen = [computed] + [others[i] for i in rng.choice(len(others), count, replace=False)]
        chosen = [chosen[i] for i in rng.permutation(len(chosen))]
        return tuple(chosen + ([NONE] if none_option else []))

    @staticmethod
    def _implement_options(rng: np.random.Generator, correct: int, target: str,
                           bias: bool) -> tuple[Net, ...]:
        rows, out, fn, _ = _space(bias)
        cols = [0, 1, 2, 3] + ([6, 7] if bias else [])
        same_output_layer = np.all(rows[:, [4, 5, 8]] == rows[correct, [4, 5, 8]], axis=1)
        changed = np.sum(rows[:, cols] != rows[correct, cols], axis=1)
        wrong = fn != FUNCTIONS.index(target)
        boolean = np.all((out == 0) | (out == 1), axis=1)
        # Near misses first (one to three hidden weights off, same output layer), preferring
        # ones that still output 0/1, so every option must be run on all four inputs.
        tiers = [same_output_layer & (changed >= 1) & (changed <= 3) & wrong & boolean,
                 same_output_layer & (changed >= 1) & wrong,
                 wrong]
        picked: list[int] = []
        for tier in tiers:
            free = np.flatnonzero(tier & ~np.isin(np.arange(len(rows)), picked))
            need = 3 - len(picked)
            if need == 0:
                break
            take = rng.choice(len(free), min(need, len(free)), replace=False)
            picked += [int(free[i]) for i in take]
        chosen = [correct] + picked
        return tuple(_net(rows[chosen[i]], bias) for i in rng.permutation(4))

    # -- solving -------------------------------------------------------------------------------
    def solve(self, given: BooleanNetGiven) -> Solved:
        bias, tasks = given.bias, given.tasks
        answers: list[Answer] = []
        parts: list[str] = []
        data: dict[str, Any] = {}
        figures: list[Figure] = []
        net = given.net
        if net is not None:
            table = forward(net)
            figures.append(network_figure(net))
            data.update(net=net, scalar=scalar_form(net),
                        weight_rows=weight_table(net), table_cells=_cells(table),
                        non_boolean=any(r["out"] not in (0, 1) for r in table))
        if "weights" in tasks:
            options = given.weights_options
            hits = [i for i, o in enumerate(options)
                    if o.W1 == net.W1 and o.W2.shape == (1, 2) and o.W2 == net.W2]
            if len(hits) != 1:
                raise CheckError(f"boolean_net: {len(hits)} weight options equal W1 = {net.W1.tolist()}, "
                                 f"W2 = {net.W2.tolist()} (options {hits})")
            data["weights_answer"] = net_tex(Net(net.W1, net.W2))
            parts.append("weights")
            answers.append(ChoiceAnswer("weights", r"W^{(1)}, W^{(2)}",
                                        options=tuple(f"${net_tex(o)}$" for o in options),
                                        correct=hits[0]))
        if "forward" in tasks:
            computed = named_function(tuple(int(r["out"]) for r in table))
            options = given.function_options
            if computed not in options:
                raise CheckError(f"boolean_net: the function options {list(options)} miss the "
                                 f"function the net computes, {computed}")
            data["function"] = computed
            parts.append("forward")
            for i, row in enumerate(table, start=1):
                answers.append(IntegerAnswer(f"out_{i}", rf"\mathit{{out}}(\mathbf{{x}}_{i})", row["out"]))
            answers.append(ChoiceAnswer("function", r"\text{Boolean function}", options=options,
                                        correct=options.index(computed)))
        if "gradient" in tasks:
            w2e, w1e = given.w2_entry, given.w1_entry
            w2o, w1o = given.w2_options, given.w1_options
            i2, i1 = _gradient_keys(bias, w2e, w1e, tuple(map(tuple, w2o)), tuple(map(tuple, w1o)))
            j, k = int(w1e[0]), int(w1e[1])
            data.update(w2_unit=int(w2e[1]), w1_unit=j, w1_input="AB"[k - 1], z_tex=_z_tex(j, bias))
            parts += ["grad_w2", "grad_w1"]
            answers.append(ChoiceAnswer(
                "dL_dW2", rf"\frac{{\partial L}}{{\partial W^{{(2)}}_{{{w2e}}}}}",
                options=tuple(f"${grad_w2_tex(o)}$" for o in w2o), correct=i2))
            answers.append(ChoiceAnswer(
                "dL_dW1", rf"\frac{{\partial L}}{{\partial W^{{(1)}}_{{{w1e}}}}}",
                options=tuple(f"${grad_w1_tex(o, j, bias)}$" for o in w1o), correct=i1))
        if "implement" in tasks:
            target = given.target
            options = given.implement_options
            tables = [forward(o) for o in options]
            outputs = [tuple(int(r["out"]) for r in t) for t in tables]
            hits = [i for i, o in enumerate(outputs) if o == TRUTH[target]]
            if len(hits) != 1:
                raise CheckError(f"boolean_net: {len(hits)} of the implement options compute "
                                 f"{target} (outputs {outputs})")
            fails = []
            for i, o in enumerate(outputs):
                if i == hits[0]:
                    continue
                bad = next(n for n in range(4) if o[n] != TRUTH[target][n])
                a, b = INPUTS[bad]
                fails.append(f"Option {LETTERS[i]}: ${scalar_form(options[i])}$ gives "
                             f"$\\mathit{{out}} = {o[bad]}$ at $(A, B) = ({a}, {b})$, "
                             f"but $Y = {TRUTH[target][bad]}$ there.")
            data.update(implement_cells=[row + [str(t)] for row, t in
                                         zip(_cells(tables[hits[0]]), TRUTH[target])],
                        implement_scalar=scalar_form(options[hits[0]]), implement_fail_items=fails)
            parts.append("implement")
            answers.append(ChoiceAnswer("implement", rf"\text{{weights implementing {target}}}",
                                        options=tuple(f"${net_tex(o)}$" for o in options),
                                        correct=hits[0]))
        return Solved(answers, BooleanNetData(parts=tuple(parts), bias=bias, **data), figures)

    # -- independent check ---------------------------------------------------------------------
    def check(self, given: BooleanNetGiven) -> dict[str, Any]:
        tasks = given.tasks
        result: dict[str, Any] = {}

        def run(net: Net, a: float, b: float) -> float:
            w1 = np.array(net.W1.tolist(), dtype=float)
            w2 = np.array(net.W2.tolist(), dtype=float).ravel()
            b1 = np.zeros(2) if net.b1 is None else np.array(list(net.b1), dtype=float)
            b2 = 0.0 if net.b2 is None else float(net.b2)
            hidden = [max(0.0, w1[j, 0] * a + w1[j, 1] * b + b1[j]) for j in range(2)]
            return w2[0] * hidden[0] + w2[1] * hidden[1] + b2

        # Boolean functions written as logic, not as the truth-table constants solve() uses.
        logic = {
            "AND": lambda a, b: a and b, "OR": lambda a, b: a or b, "XOR": lambda a, b: a != b,
            "NAND": lambda a, b: not (a and b), "NOR": lambda a, b: not (a or b),
            "XNOR": lambda a, b: a == b,
        }

        def computes(net: Net, name: str) -> bool:
            return all(run(net, a, b) == float(logic[name](bool(a), bool(b)))
                       for a in (0, 1) for b in (0, 1))

        def letters(found: list[int]) -> str:
            return LETTERS[found[0]] if len(found) == 1 else f"{len(found)} options fit"

        net = given.net
        if "weights" in tasks:
            w1 = np.array(net.W1.tolist(), dtype=float)
            w2 = np.array(net.W2.tolist(), dtype=float)
            found = []
            for i, o in enumerate(given.weights_options):
                ow2 = np.array(o.W2.tolist(), dtype=float)
                if np.array_equal(np.array(o.W1.tolist(), dtype=float), w1) and ow2.shape == (1, 2) \
                        and np.array_equal(ow2, w2):
                    found.append(i)
            result["weights"] = letters(found)
        if "forward" in tasks:
            outs = [run(net, a, b) for a in (0, 1) for b in (0, 1)]
            for i, o in enumerate(outs, start=1):
                result[f"out_{i}"] = o
            names = [n for n in logic if computes(net, n)]
            wanted = names[0] if names else NONE
            result["function"] = letters([i for i, o in enumerate(given.function_options) if o == wanted])
        if "gradient" in tasks:
            result.update(_numeric_gradient_keys(given))
        if "implement" in tasks:
            result["implement"] = letters([i for i, o in enumerate(given.implement_options)
                                           if computes(o, given.target)])
        return result


def _cells(table: list[dict[str, Any]]) -> list[list[str]]:
    return [[str(r["x"][0]), str(r["x"][1])] + [f"${mathfmt.num(v)}$" for v in r["z"] + r["v"]]
            + [f"${mathfmt.num(r['out'])}$"] for r in table]


def _index(rows: np.ndarray, net: Net) -> int:
    flat = [int(v) for v in list(net.W1) + list(net.W2)]
    if net.b1 is None:
        flat += [0, 0, 0]
    else:
        flat += [int(v) for v in net.b1] + [int(net.b2)]
    found = np.flatnonzero(np.all(rows == np.array(flat), axis=1))
    if len(found) != 1:
        raise CheckError(f"boolean_net: the net {flat} is {len(found)} times in the enumeration")
    return int(found[0])


def _numeric_gradient_keys(given: BooleanNetGiven) -> dict[str, str]:
    """The gradient options that match central differences of L at random real values.

    The options are formulas in sigma and sigma'; any smooth sigma tests them, so tanh is used
    at random points (ReLU's kink would make the finite difference unreliable).
    """
    rng = np.random.default_rng(20230403)
    bias = given.bias
    j2 = int(given.w2_entry[1]) - 1
    j, k = int(given.w1_entry[0]) - 1, int(given.w1_entry[1]) - 1
    keys: dict[str, list[str]] = {"dL_dW2": [], "dL_dW1": []}
    for _ in range(3):
        w1 = rng.normal(size=(2, 2))
        w2 = rng.normal(size=2)
        b1 = rng.normal(size=2) if bias else np.zeros(2)
        b2 = rng.normal() if bias else 0.0
        x = rng.normal(size=2)
        y = rng.normal()

        def loss(w1: np.ndarray, w2: np.ndarray) -> float:
            return float((y - (w2 @ np.tanh(w1 @ x + b1) + b2)) ** 2)

        z = w1 @ x + b1
        n = np.tanh(z)
        out = w2 @ n + b2
        h = 1e-6
        e2 = np.zeros(2)
        e2[j2] = h
        fd2 = (loss(w1, w2 + e2) - loss(w1, w2 - e2)) / (2 * h)
        e1 = np.zeros((2, 2))
        e1[j, k] = h
        fd1 = (loss(w1 + e1, w2) - loss(w1 - e1, w2)) / (2 * h)
        w2_values = [(2 * (out - y) if s == "out-y" else 2 * (y - out)) * n[u - 1]
                     for s, u in given.w2_options]
        w1_values = [2 * (out - y) * w2[u - 1] * (1 - n[j] ** 2) * x["AB".index(inp)]
                     for u, inp in given.w1_options]
        keys["dL_dW2"].append("".join(LETTERS[i] for i, v in enumerate(w2_values)
                                      if abs(v - fd2) <= 1e-6 * max(1.0, abs(fd2))))
        keys["dL_dW1"].append("".join(LETTERS[i] for i, v in enumerate(w1_values)
                                      if abs(v - fd1) <= 1e-6 * max(1.0, abs(fd1))))
    return {key: found[0] if len(set(found)) == 1 else "/".join(found) for key, found in keys.items()}
