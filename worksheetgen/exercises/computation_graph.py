"""Forward and backward pass on a small expression graph (CS231n's staged computation): the value
at every node, the local gradient of every operation with respect to each of its operands, and
∂f/∂(every node) by the chain rule, with gradients adding up where a value feeds two operations.
The graph is drawn: names on the wires in the problem, values above and gradients below them in
the solution.

The graph is random (inputs on an integer grid, operations from a chosen set, every value used,
by default one value used twice) or pinned as a list of operations, e.g. CS231n's
``f = (x + y) z``: ``nodes = [["q", "add", "x", "y"], ["f", "mul", "q", "z"]]``,
``inputs = ["x", "y", "z"]``, ``values = [-2, 5, -4]``.

Conventions, as the sheet states them: at a tie max passes the gradient to its first argument,
and ReLU'(0) = 0.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable

import mpmath
import numpy as np
import sympy as sp

from worksheetgen import mathfmt
from worksheetgen.answers import Answer, NumberAnswer
from worksheetgen.errors import CheckError, WorksheetError
from worksheetgen.family import Constraint, Family, Record, Solved
from worksheetgen.figures import Figure
from worksheetgen.figures.graph import GraphLayout, expression_graph, graph_layout
from worksheetgen.params import Bool, Choice, Int, ListOf, Number, Param, Text
from worksheetgen.sampling import grid_param, nonzero_grid_values, require_grid

PARTS = ("forward", "local", "backward")


@dataclass(frozen=True)
class Op:
    arity: int
    symbol: str  # TeX in the figure's circle
    formula: str  # TeX of the definition, {0} and {1} the operands
    word: str  # for the help text


OPS: dict[str, Op] = {
    "add": Op(2, "+", "{0} + {1}", "a + b"),
    "sub": Op(2, "-", "{0} - {1}", "a − b"),
    "mul": Op(2, r"\times", r"{0} \cdot {1}", "a · b"),
    "max": Op(2, r"\max", r"\max({0}, {1})", "max(a, b)"),
    "relu": Op(1, r"\scriptstyle\mathrm{ReLU}", r"\max(0, {0})", "max(0, a)"),
    "square": Op(1, r"(\cdot)^2", "{0}^2", "a²"),
    "exp": Op(1, r"\exp", "e^{{{0}}}", "e^a"),
    "sigmoid": Op(1, r"\sigma", r"\sigma({0})", "σ(a) = 1/(1 + e^{−a})"),
    "inv": Op(1, r"1/\cdot", r"\frac{{1}}{{{0}}}", "1/a"),
}
DEFAULT_OPS = ["add", "sub", "mul", "max", "square"]
INPUT_NAMES = ("x", "y", "z", "w", "v", "s")
NAME = re.compile(r"^[A-Za-z](_?[0-9]{1,2})?$")
MAX_INPUTS = 6
MAX_OPS = 8
VALUE_LIMIT = 10  # pinned and drawn inputs
PINNED_LIMIT = 10**6  # every value of a pinned graph
PLEASANT = 100  # drawn graphs: every value and gradient within ±100
SATURATED = 4  # drawn graphs: a sigmoid's input within ±4 (σ' >= 0.018)
FLOOR = 0.01  # drawn graphs: every operation's value and every gradient at least this in size


def tex_name(name: str) -> str:
    """``x`` → ``x``, ``w0`` / ``w_0`` → ``w_{0}``."""
    m = re.match(r"^([A-Za-z])_?([0-9]*)$", name)
    if m is None:
        raise ValueError(f"not a node name: {name!r}")
    return m.group(1) + (f"_{{{m.group(2)}}}" if m.group(2) else "")


def key_name(name: str) -> str:
    return name.replace("_", "")


# -- exact operations and their local derivatives ----------------------------------------------

def _sigmoid(a: sp.Expr) -> sp.Expr:
    return 1 / (1 + sp.exp(-a))


def _apply(op: str, args: list[sp.Expr]) -> sp.Expr:
    a = args[0]
    b = args[1] if len(args) > 1 else None
    if op == "add":
        return a + b
    if op == "sub":
        return a - b
    if op == "mul":
        return a * b
    if op == "max":
        return a if _ge(a, b) else b
    if op == "relu":
        return a if _gt(a, 0) else sp.Integer(0)
    if op == "square":
        return a**2
    if op == "exp":
        return sp.exp(a)
    if op == "sigmoid":
        return _sigmoid(a)
    if op == "inv":
        return 1 / a
    raise KeyError(op)


def _ge(a: sp.Expr, b: sp.Expr) -> bool:
    return bool(sp.N(a - b, 50) >= 0) if not (a - b).is_Rational else bool(a - b >= 0)


def _gt(a: sp.Expr, b: Any) -> bool:
    d = a - b
    return bool(d > 0) if d.is_Rational else bool(sp.N(d, 50) > 0)


def _local(op: str, args: list[sp.Expr], value: sp.Expr, j: int) -> sp.Expr:
    """∂ op / ∂ args[j] at args (ties: max's first argument, ReLU'(0) = 0)."""
    a = args[0]
    if op == "add":
        return sp.Integer(1)
    if op == "sub":
        return sp.Integer(1 if j == 0 else -1)
    if op == "mul":
        return args[1 - j]
    if op == "max":
        first = _ge(args[0], args[1])
        return sp.Integer(1 if (j == 0) == first else 0)
    if op == "relu":
        return sp.Integer(1 if _gt(a, 0) else 0)
    if op == "square":
        return 2 * a
    if op == "exp":
        return value
    if op == "sigmoid":
        return value * (1 - value)
    if op == "inv":
        return -1 / a**2
    raise KeyError(op)


def _local_shown(op: str, names: list[str], vals: list[sp.Expr], j: int, out: str, local: sp.Expr) -> str:
    """The right-hand side of ∂out/∂names[j] in the solution: the rule in names, then its value."""
    a = names[0]
    num, pnum, rel = mathfmt.num, mathfmt.pnum, mathfmt.relation
    if op == "add":
        return "1"
    if op == "sub":
        return "1" if j == 0 else "-1"
    if op == "mul":
        return f"{names[1 - j]} = {num(local)}"
    if op == "max":
        if vals[0] == vals[1]:
            return num(local) + r" \quad (\text{a tie: the first argument takes the gradient})"
        word = "larger" if local == 1 else "smaller"
        return num(local) + rf" \quad ({names[j]} \text{{ is the {word}}})"
    if op == "relu":
        relation = ">" if local == 1 else r"\le"
        return num(local) + rf" \quad ({a} {relation} 0)"
    if op == "square":
        return rf"2{a} = 2 \cdot {pnum(vals[0])} = {num(local)}"
    if op == "exp":
        return rf"e^{{{a}}} = {out} {rel(local)} {num(local)}"
    if op == "sigmoid":
        return rf"\sigma({a})(1 - \sigma({a})) = {out}(1 - {out}) {rel(local)} {num(local)}"
    if op == "inv":
        return rf"-\frac{{1}}{{{a}^2}} = -\frac{{1}}{{{pnum(vals[0])}^2}} {rel(local)} {num(local)}"
    raise KeyError(op)


# -- records ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class ComputationGraphGiven(Record):
    parts: tuple[str, ...]
    branch: bool  # the draw must use some value twice
    inputs: tuple[str, ...]  # names
    values: tuple[sp.Rational, ...]
    nodes: tuple[tuple[str, ...], ...]  # (name, op, operand names...)


@dataclass(frozen=True)
class LocalGrad(Record):
    operand: str  # TeX name
    shown: str  # TeX: the rule in names and its value
    value: sp.Expr
    key: str


@dataclass(frozen=True)
class Contribution(Record):
    consumer: str  # TeX name of the operation the value feeds
    upstream: sp.Expr  # ∂f/∂consumer
    local: sp.Expr  # ∂consumer/∂value
    product: sp.Expr


@dataclass(frozen=True)
class GraphNode(Record):
    name: str  # TeX
    key: str
    op: str | None  # None for an input
    definition: str  # TeX: u_1 = x + y (empty for an input)
    substituted: str  # TeX: -2 + 5
    value: sp.Expr
    locals: tuple[LocalGrad, ...]
    grad: sp.Expr
    contributions: tuple[Contribution, ...]  # how ∂f/∂node adds up (empty for the output)


@dataclass(frozen=True)
class ComputationGraphData(Record):
    parts: tuple[str, ...]
    feasible: bool  # every value finite and within the limits (else the draw is refused)
    inputs: tuple[GraphNode, ...]
    ops: tuple[GraphNode, ...]  # in the order computed; the last is the output
    output: str  # TeX name of the output
    backward: tuple[GraphNode, ...]  # every node but the output, in the order the pass visits them
    branches: tuple[str, ...]  # TeX names of the values used by more than one operation
    ops_used: tuple[str, ...]
    has_max: bool
    has_relu: bool
    clean_figure: bool


# -- the graph --------------------------------------------------------------------------------

def _operand_indices(given: ComputationGraphGiven) -> list[list[int]]:
    index = {name: i for i, name in enumerate(given.inputs)}
    out = []
    for k, node in enumerate(given.nodes):
        out.append([index[o] for o in node[2:]])
        index[node[0]] = len(given.inputs) + k
    return out


def _random_graph(rng: np.random.Generator, n_inputs: int, n_ops: int, ops: list[str]) -> list[tuple[str, list[int]]] | None:
    """A DAG in which every value but the last is used: each operation reads one not yet used
    value first (the oldest ones are read before the newest), the last must read the rest.
    None if that cannot close (the engine's next attempt draws again)."""
    unused = list(range(n_inputs))
    out: list[tuple[str, list[int]]] = []
    for k in range(n_ops):
        remaining = n_ops - k
        # Leave enough operations to use the values still unused.
        binary = [o for o in ops if OPS[o].arity == 2]
        unary = [o for o in ops if OPS[o].arity == 1]
        need_binary = len(unused) > remaining
        pool = binary if (need_binary or not unary) else (binary + unary if binary else unary)
        if not pool:
            return None
        op = pool[int(rng.integers(len(pool)))]
        available = n_inputs + k
        first = unused.pop(int(rng.integers(len(unused)))) if unused else int(rng.integers(available))
        args = [first]
        if OPS[op].arity == 2:
            if unused and (len(unused) >= remaining or rng.random() < 0.7):
                second = unused.pop(int(rng.integers(len(unused))))
            else:
                choices = [v for v in range(available) if v != first]
                if not choices:
                    return None
                second = choices[int(rng.integers(len(choices)))]
            args.append(second)
        out.append((op, args))
        unused.append(available)
    return out if unused == [n_inputs + n_ops - 1] else None


# -- teaching rules -----------------------------------------------------------------------------

def _float(x: sp.Expr) -> float:
    return float(sp.N(x, 30))


def _pleasant(s: Solved) -> bool:
    d = s.data
    if not d.feasible:
        return False
    nodes = (*d.inputs, *d.ops)
    return all(abs(_float(n.value)) <= PLEASANT and abs(_float(n.grad)) <= PLEASANT for n in nodes)


def _no_ties(s: Solved) -> bool:
    d = s.data
    if not d.feasible:
        return False
    values = {n.name: n.value for n in (*d.inputs, *d.ops)}
    for n in d.ops:
        if n.op == "max" and values[n.locals[0].operand] == values[n.locals[1].operand]:
            return False
        if n.op == "relu" and values[n.locals[0].operand] == 0:
            return False
    return True


def _sizeable(x: sp.Expr) -> bool:
    return x != 0 and (x.is_Rational and abs(x) >= FLOOR or abs(_float(x)) >= FLOOR)


def _nonzero_values(s: Solved) -> bool:
    """No operation's value is 0 (or below FLOOR in size): a 0 is asked for nothing, and makes
    the other operand's local gradient of a product 0."""
    d = s.data
    return d.feasible and all(_sizeable(n.value) for n in d.ops)


def _nonzero_gradients(s: Solved) -> bool:
    """Every ∂f/∂node is non-zero (and at least FLOOR in size): a value that only feeds the
    smaller side of a max (or a dead ReLU), or whose two contributions cancel, asks for a 0 that
    needs no chain rule, and 10^-4 next to a classmate's 20 is another exercise. The max's
    routing is still taught by its local gradients 1 and 0."""
    d = s.data
    return d.feasible and all(_sizeable(n.grad) for n in d.backward)


def _saturated(s: Solved) -> bool:
    """A sigmoid whose input is beyond ±SATURATED: σ' < 0.018, nothing flows back."""
    d = s.data
    values = {n.name: n.value for n in (*d.inputs, *d.ops)}
    return any(n.op == "sigmoid" and abs(_float(values[n.locals[0].operand])) > SATURATED for n in d.ops)


STRUCTURE = ("nodes", "n_inputs", "n_ops", "inputs")
VALUES = ("values",)


class ComputationGraph(Family):
    name = "computation_graph"
    title = "Computation graph: forward and backward"
    summary = ("A small expression graph (+, −, ×, max, ReLU, x², exp, σ, 1/x): values at every "
               "node, local gradients, ∂f/∂(every node) by the chain rule; drawn as a figure.")
    Given = ComputationGraphGiven
    Data = ComputationGraphData
    params = (
        Param("parts", ListOf(Choice(PARTS), min_length=1, max_length=len(PARTS)), list(PARTS),
              "which parts to ask: forward (values), local (local gradients), backward (∂f/∂ every node)"),
        Param("nodes", ListOf(ListOf(Text(max_length=8), 3, 4), 1, MAX_OPS), None,
              f"the graph, up to {MAX_OPS} operations in order, each [name, op, operand, (operand)], "
              "e.g. [[\"q\", \"add\", \"x\", \"y\"], [\"f\", \"mul\", \"q\", \"z\"]]; ops: "
              + ", ".join(f"{k} ({v.word})" for k, v in OPS.items()) + "; names a letter and up to two digits"),
        Param("inputs", ListOf(Text(max_length=8), 1, MAX_INPUTS), None,
              f"input names in order (with nodes: required), 1 to {MAX_INPUTS} (drawn x, y, z, w ...)"),
        Param("values", ListOf(Number(), 1, MAX_INPUTS), None,
              f"input values, one per input, from {-VALUE_LIMIT} to {VALUE_LIMIT}; a pinned graph's values "
              f"must stay within ±{PINNED_LIMIT:,}".replace(",", " ")),
        Param("n_inputs", Int(1, MAX_INPUTS), None, f"inputs of a drawn graph, 1 to {MAX_INPUTS} (drawn 3 or 4)"),
        Param("n_ops", Int(1, MAX_OPS), None, f"operations of a drawn graph, 1 to {MAX_OPS} (drawn 3 to 5)"),
        Param("ops", ListOf(Choice(tuple(OPS)), 1, len(OPS)), DEFAULT_OPS,
              "operations a drawn graph may use (at least one with two operands when there are several inputs)"),
        Param("branch", Bool(), True, "a drawn graph uses some value twice, so two gradients add up"),
        grid_param("value_grid", (-3, 3, 1),
                   f"[lo, hi, step] for drawn input values (0 is skipped), from {-VALUE_LIMIT} to {VALUE_LIMIT}"),
    )
    constraints = (
        Constraint(f"every value and gradient within ±{PLEASANT}", (*STRUCTURE, *VALUES, "ops"),
                   lambda g, s: _pleasant(s)),
        Constraint("no tie at a max and no ReLU at 0 (the gradient is defined)", (*STRUCTURE, *VALUES, "ops"),
                   lambda g, s: _no_ties(s)),
        Constraint(f"no operation with the value 0 (every value at least {FLOOR} in size)",
                   (*STRUCTURE, *VALUES, "ops"), lambda g, s: _nonzero_values(s)),
        Constraint(f"a non-zero gradient of the output with respect to every node (at least {FLOOR} in size)",
                   (*STRUCTURE, *VALUES, "ops"), lambda g, s: _nonzero_gradients(s)),
        Constraint(f"no saturated sigmoid (input within ±{SATURATED})", (*STRUCTURE, *VALUES, "ops"),
                   lambda g, s: s.data.feasible and not _saturated(s)),
        Constraint("a value used by two operations (gradients add up)", ("nodes", "n_inputs", "n_ops", "ops"),
                   lambda g, s: not g.branch or bool(s.data.branches)),
        Constraint("the figure has no wire through a node", ("nodes", "n_inputs", "n_ops", "ops"),
                   lambda g, s: s.data.clean_figure),
    )

    # A local gradient's 0 is a lesson: max passes 0 to its smaller argument, a ReLU below its
    # kink. Keys are named after the graph's nodes (local_u2_x). A 0 local gradient of any other
    # operation is flagged by quality() and is never drawn (every value is non-zero).
    zero_ok = frozenset({"local_*"})

    def quality(self, given: ComputationGraphGiven, solved: Solved) -> dict[str, bool]:
        d = solved.data
        if not d.feasible:
            return {"value beyond the limits": True}
        return {
            "value beyond ±100": not _pleasant(solved),
            "tie at a max or ReLU at 0": not _no_ties(solved),
            f"operation value 0 or below {FLOOR}": not _nonzero_values(solved),
            f"gradient 0 or below {FLOOR}": not _nonzero_gradients(solved),
            "zero local gradient outside max and ReLU": any(
                lg.value == 0 for n in d.ops if n.op not in ("max", "relu") for lg in n.locals),
            "saturated unit": _saturated(solved),
        }

    # -- validation ----------------------------------------------------------------------------
    def validate(self, options: dict[str, Any]) -> None:
        parts = options["parts"]
        if len(set(parts)) != len(parts):
            raise WorksheetError("a part is listed twice", field="parts", allowed=", ".join(PARTS))
        require_grid(options, "value_grid", nonzero=True)
        lo, hi, _ = options["value_grid"]
        if lo < -VALUE_LIMIT or hi > VALUE_LIMIT:
            raise WorksheetError("grid outside the allowed range", field="value_grid",
                                 allowed=f"values from {-VALUE_LIMIT} to {VALUE_LIMIT}")
        for i, v in enumerate(options["values"] or (), start=1):
            if abs(v) > VALUE_LIMIT:
                raise WorksheetError(f"value {i} ({mathfmt.num(v)}) is outside the allowed range", field="values",
                                     allowed=f"values from {-VALUE_LIMIT} to {VALUE_LIMIT}")
        if len(set(options["ops"])) != len(options["ops"]):
            raise WorksheetError("an operation is listed twice", field="ops", allowed=", ".join(OPS))
        inputs, nodes = options["inputs"], options["nodes"]
        for name in inputs or ():
            if not NAME.match(name):
                raise WorksheetError(f"input name {name!r}", field="inputs",
                                     allowed="a letter and up to two digits, e.g. x, w0, x_1")
        if inputs is not None and len({key_name(n) for n in inputs}) != len(inputs):
            raise WorksheetError("two inputs have the same name", field="inputs", allowed="distinct names")
        n_in = len(inputs) if inputs is not None else options["n_inputs"]
        if options["values"] is not None:
            if n_in is not None and len(options["values"]) != n_in:
                raise WorksheetError(f"{len(options['values'])} values for {n_in} inputs", field="values",
                                     allowed=f"{n_in} values, one per input")
            n_in = len(options["values"])
        if options["n_inputs"] is not None and n_in != options["n_inputs"]:
            raise WorksheetError(f"n_inputs = {options['n_inputs']} but {n_in} inputs are given", field="n_inputs",
                                 allowed=str(n_in))
        if nodes is not None:
            if inputs is None:
                raise WorksheetError("a pinned graph needs its input names", field="inputs",
                                     allowed="the names its operations read, e.g. [\"x\", \"y\", \"z\"]")
            _validate_nodes(inputs, nodes)
            if options["n_ops"] is not None and options["n_ops"] != len(nodes):
                raise WorksheetError(f"n_ops = {options['n_ops']} but nodes has {len(nodes)} operations",
                                     field="n_ops", allowed=str(len(nodes)))
            if options["values"] is not None:
                _validate_pinned_values(inputs, options["values"], nodes)
        else:
            ops = options["ops"]
            n_ops = options["n_ops"]
            n_in_max = n_in or 4
            if options["branch"] and not any(OPS[o].arity == 2 for o in ops):
                raise WorksheetError("a value used by two operations needs an operation of two operands",
                                     field="ops", allowed="add, sub, mul or max among them, or branch = false")
            if n_in_max > 1 and not any(OPS[o].arity == 2 for o in ops):
                raise WorksheetError("with several inputs the graph needs an operation of two operands",
                                     field="ops", allowed="add, sub, mul or max among them")
            if n_ops is not None and n_in is not None and n_ops < n_in - 1:
                raise WorksheetError(f"{n_ops} operations cannot combine {n_in} inputs", field="n_ops",
                                     allowed=f"at least {n_in - 1}")
            if options["branch"] and n_ops is not None and n_ops < (n_in or 1):
                raise WorksheetError(f"{n_ops} operations cannot use a value twice and still combine "
                                     f"{n_in or 1} inputs", field="n_ops",
                                     allowed=f"at least {n_in or 1}, or branch = false")


    def drawn(self, options: dict[str, Any]) -> frozenset[str]:
        """A pinned graph fixes its size too (n_inputs, n_ops and ops are not drawn then)."""
        drawn = set(super().drawn(options))
        if options["nodes"] is not None:
            drawn -= {"n_inputs", "n_ops", "inputs"}
        if options["values"] is not None or options["inputs"] is not None:
            drawn.discard("n_inputs")
        return frozenset(drawn)

    # -- sampling ------------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator, options: dict[str, Any]) -> ComputationGraphGiven:
        """A graph and its input values, drawn again (up to SAMPLE_TRIES times, cheap exact
        passes in fractions) until the teaching rules that need no SymPy hold; the constraints
        decide on the exact values of the draw that is kept."""
        random = options["nodes"] is None or options["values"] is None
        given = self._draw(rng, options)
        for _ in range(SAMPLE_TRIES - 1):
            if not random or _quick_ok(given):
                break
            given = self._draw(rng, options)
        return given

    def _draw(self, rng: np.random.Generator, options: dict[str, Any]) -> ComputationGraphGiven:
        parts = tuple(p for p in PARTS if p in options["parts"])
        nodes = options["nodes"]
        if nodes is not None:
            inputs = tuple(options["inputs"])
            graph = tuple(tuple(n) for n in nodes)
        else:
            n_in = (len(options["inputs"]) if options["inputs"] is not None
                    else len(options["values"]) if options["values"] is not None
                    else options["n_inputs"] or int(rng.integers(3, 5)))
            # With a branch some value is read twice: that takes at least as many operations as inputs.
            n_ops = options["n_ops"] or max(n_in if options["branch"] else n_in - 1, int(rng.integers(3, 6)))
            inputs = tuple(options["inputs"]) if options["inputs"] is not None else _default_inputs(n_in)
            made = _random_graph(rng, n_in, n_ops, list(options["ops"]))
            if made is None:  # rare: the draw could not use every value; a chain always can
                made = _fallback_graph(n_in, n_ops, list(options["ops"]))
            names = list(inputs)
            taken = {key_name(n) for n in inputs}
            # Intermediate names u_1, u_2, ... (another letter if an input already has one of them)
            # and f for the output (g if f is an input): answer keys stay distinct.
            letter = next(c for c in "uqrstabcd" if not any(key_name(f"{c}_{k + 1}") in taken for k in range(n_ops)))
            out_name = next(c for c in "fghp" if c not in taken)
            graph_list = []
            for k, (op, args) in enumerate(made):
                name = out_name if k == n_ops - 1 else f"{letter}_{k + 1}"
                graph_list.append((name, op, *[names[a] for a in args]))
                names.append(name)
            graph = tuple(graph_list)
        values = options["values"]
        if values is None:
            values = nonzero_grid_values(rng, *options["value_grid"], size=len(inputs))
        return ComputationGraphGiven(parts=parts, branch=options["branch"], inputs=inputs, values=tuple(values), nodes=graph)

    # -- solving -------------------------------------------------------------------------------
    def solve(self, given: ComputationGraphGiven) -> Solved:
        inputs = given.inputs
        names = list(inputs)
        values: list[sp.Expr] = [sp.Rational(v) for v in given.values]
        feasible = True
        ops_args: list[list[int]] = _operand_indices(given)
        for k, node in enumerate(given.nodes):
            args = [values[a] for a in ops_args[k]]
            if node[1] == "inv" and args[0] == 0:
                feasible = False
                break
            v = _apply(node[1], args)
            if not sp.N(v, 20).is_finite or abs(_float(v)) > PINNED_LIMIT:
                feasible = False
                break
            values.append(v)
            names.append(node[0])
        n_in, n = len(inputs), len(inputs) + len(given.nodes)
        tex = [tex_name(x) for x in [*inputs, *[nd[0] for nd in given.nodes]]]
        layout = graph_layout(n_in, ops_args)
        if not feasible:
            empty = ComputationGraphData(parts=given.parts, feasible=False, inputs=(), ops=(), output=tex[-1],
                                         backward=(), branches=(), ops_used=(), has_max=False,
                                         has_relu=False, clean_figure=layout.clean)
            return Solved([], empty)
        # Local gradients and the backward pass (reverse order; gradients add at branches).
        locals_: list[list[sp.Expr]] = []
        for k, node in enumerate(given.nodes):
            args = [values[a] for a in ops_args[k]]
            locals_.append([_local(node[1], args, values[n_in + k], j) for j in range(len(args))])
        grads: list[sp.Expr] = [sp.Integer(0)] * n
        grads[n - 1] = sp.Integer(1)
        contributions: list[list[Contribution]] = [[] for _ in range(n)]
        for k in reversed(range(len(given.nodes))):
            up = grads[n_in + k]
            for j, a in enumerate(ops_args[k]):
                product = up * locals_[k][j]
                grads[a] = grads[a] + product
                contributions[a].append(Contribution(consumer=tex[n_in + k], upstream=up, local=locals_[k][j],
                                                     product=product))

        def node_record(v: int) -> GraphNode:
            if v < n_in:
                return GraphNode(name=tex[v], key=key_name(names[v]), op=None, definition="", substituted="",
                                 value=values[v], locals=(), grad=grads[v],
                                 contributions=tuple(reversed(contributions[v])))
            k = v - n_in
            node = given.nodes[k]
            op = OPS[node[1]]
            operand_tex = [tex[a] for a in ops_args[k]]
            operand_val = [values[a] for a in ops_args[k]]
            definition = f"{tex[v]} = " + op.formula.format(*operand_tex)
            # Parentheses where a negative number would read wrongly: a second operand, a base.
            shown = [mathfmt.pnum(x) if ((j > 0 and node[1] in ("add", "sub", "mul")) or node[1] == "square")
                     else mathfmt.num(x) for j, x in enumerate(operand_val)]
            substituted = op.formula.format(*shown)
            lg = tuple(LocalGrad(operand=operand_tex[j],
                                 shown=_local_shown(node[1], operand_tex, operand_val, j, tex[v], locals_[k][j]),
                                 value=locals_[k][j],
                                 key=f"local_{key_name(node[0])}_{key_name(names[ops_args[k][j]])}")
                       for j in range(len(operand_tex)))
            return GraphNode(name=tex[v], key=key_name(node[0]), op=node[1], definition=definition,
                             substituted=substituted, value=values[v], locals=lg, grad=grads[v],
                             contributions=tuple(reversed(contributions[v])))

        records = [node_record(v) for v in range(n)]
        uses: dict[int, int] = {}
        for args in ops_args:
            for a in args:
                uses[a] = uses.get(a, 0) + 1
        ops_used = tuple(dict.fromkeys(nd[1] for nd in given.nodes))
        data = ComputationGraphData(
            parts=given.parts, feasible=True, inputs=tuple(records[:n_in]), ops=tuple(records[n_in:]),
            output=tex[-1], backward=tuple(records[v] for v in reversed(range(n - 1))),
            branches=tuple(tex[v] for v in range(n) if uses.get(v, 0) > 1), ops_used=ops_used,
            has_max="max" in ops_used, has_relu="relu" in ops_used, clean_figure=layout.clean)

        answers: list[Answer] = []
        if "forward" in given.parts:
            answers += [NumberAnswer(f"value_{r.key}", r.name, r.value) for r in records[n_in:]]
        if "local" in given.parts:
            answers += [NumberAnswer(lg.key, rf"\frac{{\partial {r.name}}}{{\partial {lg.operand}}}", lg.value)
                        for r in records[n_in:] for lg in r.locals]
        if "backward" in given.parts:
            answers += [NumberAnswer(f"grad_{r.key}", rf"\frac{{\partial {tex[-1]}}}{{\partial {r.name}}}", r.grad)
                        for r in data.backward]
        wire_grads = [grads[n_in + k] * locals_[k][j] for k in range(len(given.nodes)) for j in range(len(ops_args[k]))]
        figures = _figures(given, data, layout, ops_args, wire_grads)
        return Solved(answers, data, figures)

    # -- independent check ---------------------------------------------------------------------
    def check(self, given: ComputationGraphGiven) -> dict[str, Any]:
        return _check(given)


# Operations whose value and local gradients stay rational (checked exactly in fractions).
RATIONAL_OPS = frozenset({"add", "sub", "mul", "max", "relu", "square", "inv"})
SAMPLE_TRIES = 30
_NEAR = 1e-9  # floats (graphs with exp or σ): closer to a tie than this counts as one


def _quick_ok(given: ComputationGraphGiven) -> bool:
    """The value rules of the constraints without SymPy: some value used twice when a branch is
    asked, every operation's value non-zero and within ±PLEASANT, no tie at a max and no ReLU at
    0, no saturated σ, every gradient non-zero and within ±PLEASANT, values and gradients at
    least FLOOR in size. Exact in fractions when every operation stays rational; with exp or σ
    in floats, where a value within 10^-9 of a tie is refused too (a pre-filter: the constraints
    decide on the exact values)."""
    ops_args = _operand_indices(given)
    if given.branch and max(Counter(a for args in ops_args for a in args).values()) < 2:
        return False
    exact = all(node[1] in RATIONAL_OPS for node in given.nodes)
    near = 0 if exact else _NEAR
    one: Any = Fraction(1) if exact else 1.0
    zero = one - one
    vals: list[Any] = [Fraction(sp.Rational(v).p, sp.Rational(v).q) if exact else float(v) for v in given.values]
    locals_: list[list[Any]] = []
    for node, args in zip(given.nodes, ops_args):
        op, xs = node[1], [vals[a] for a in args]
        if op == "max" and abs(xs[0] - xs[1]) <= near or op in ("relu", "inv") and abs(xs[0]) <= near:
            return False
        if op == "add":
            v, loc = xs[0] + xs[1], [one, one]
        elif op == "sub":
            v, loc = xs[0] - xs[1], [one, -one]
        elif op == "mul":
            v, loc = xs[0] * xs[1], [xs[1], xs[0]]
        elif op == "max":
            v, loc = (xs[0], [one, zero]) if xs[0] > xs[1] else (xs[1], [zero, one])
        elif op == "relu":
            v, loc = (xs[0], [one]) if xs[0] > 0 else (zero, [zero])
        elif op == "square":
            v, loc = xs[0] ** 2, [2 * xs[0]]
        elif op == "inv":
            v, loc = 1 / xs[0], [-1 / xs[0] ** 2]
        elif (abs(xs[0]) if op == "sigmoid" else xs[0]) > (SATURATED if op == "sigmoid" else math.log(PLEASANT)):
            return False  # a saturated σ, or e^x beyond PLEASANT
        elif op == "exp":
            v = math.exp(xs[0])
            loc = [v]
        else:  # sigmoid
            v = 1 / (1 + math.exp(-xs[0]))
            loc = [v * (1 - v)]
        if not FLOOR <= abs(v) <= PLEASANT:
            return False
        vals.append(v)
        locals_.append(loc)
    grads = [zero] * len(vals)
    grads[-1] = one
    for k in reversed(range(len(given.nodes))):
        for a, loc in zip(ops_args[k], locals_[k]):
            grads[a] += grads[len(given.inputs) + k] * loc
    return all(FLOOR <= abs(g) <= PLEASANT for g in grads)


def _default_inputs(n: int) -> tuple[str, ...]:
    return INPUT_NAMES[:n] if n <= len(INPUT_NAMES) else tuple(f"x_{i + 1}" for i in range(n))


def _fallback_graph(n_in: int, n_ops: int, ops: list[str]) -> list[tuple[str, list[int]]]:
    """A chain that uses every value: fold the inputs with the first binary operation, then
    apply the rest in turn. Only when the random draw could not close."""
    binary = [o for o in ops if OPS[o].arity == 2]
    unary = [o for o in ops if OPS[o].arity == 1]
    out: list[tuple[str, list[int]]] = []
    last = 0
    for i in range(1, n_in):
        out.append((binary[(i - 1) % len(binary)], [last, i]))
        last = n_in + len(out) - 1
    while len(out) < n_ops:
        k = len(out)
        if unary:
            out.append((unary[k % len(unary)], [last]))
        else:
            out.append((binary[k % len(binary)], [last, k % n_in]))
        last = n_in + len(out) - 1
    return out


def _validate_nodes(inputs: list[str], nodes: list[list[str]]) -> None:
    defined = {key_name(n): n for n in inputs}
    used: set[str] = set()
    for i, node in enumerate(nodes, start=1):
        name, op, *operands = node
        where = f"nodes[{i}]"
        if not NAME.match(name):
            raise WorksheetError(f"{where}: node name {name!r}", field="nodes",
                                 allowed="a letter and up to two digits, e.g. q, u1, u_1")
        if key_name(name) in defined:
            raise WorksheetError(f"{where}: the name {name!r} is already used", field="nodes", allowed="distinct names")
        if op not in OPS:
            raise WorksheetError(f"{where}: unknown operation {op!r}", field="nodes", allowed=", ".join(OPS))
        if len(operands) != OPS[op].arity:
            raise WorksheetError(f"{where}: {op} takes {OPS[op].arity} operand(s), not {len(operands)}",
                                 field="nodes", allowed=f"[name, {op}, " + ", ".join(["operand"] * OPS[op].arity) + "]")
        for o in operands:
            if key_name(o) not in defined or defined[key_name(o)] != o:
                raise WorksheetError(f"{where}: {o!r} is neither an input nor an earlier node", field="nodes",
                                     allowed="operands among " + ", ".join(defined.values()))
        if len(set(operands)) != len(operands):
            raise WorksheetError(f"{where}: the same operand twice", field="nodes",
                                 allowed="two different operands (write x·x as square)")
        used.update(operands)
        defined[key_name(name)] = name
    unused = [n for n in [*inputs, *[nd[0] for nd in nodes[:-1]]] if n not in used]
    if unused:
        raise WorksheetError(f"{unused[0]!r} is never used", field="nodes",
                             allowed="a graph in which every input and node but the last feeds an operation")


def _validate_pinned_values(inputs: list[str], values: list[sp.Rational], nodes: list[list[str]]) -> None:
    """A fully pinned graph: no division by zero, no value beyond ±10^6 (checked node by node,
    so the cost is bounded: no operation sees an operand beyond the limit)."""
    env = dict(zip(inputs, values))
    for i, (name, op, *operands) in enumerate(nodes, start=1):
        args = [env[o] for o in operands]
        if op == "inv" and args[0] == 0:
            raise WorksheetError(f"nodes[{i}] divides by zero", field="values", allowed="values where every 1/x is defined")
        v = _apply(op, args)
        if abs(_float(v)) > PINNED_LIMIT:
            raise WorksheetError(f"nodes[{i}] ({name}) reaches {mathfmt.num(v)}", field="values",
                                 allowed=f"values that keep every node within ±{PINNED_LIMIT}")
        env[name] = v


# -- figures ----------------------------------------------------------------------------------

def _figures(given: ComputationGraphGiven, data: ComputationGraphData, layout: GraphLayout,
             ops_args: list[list[int]], wire_grads: list[sp.Expr]) -> list[Figure]:
    n_in = len(given.inputs)
    symbols = [OPS[nd[1]].symbol for nd in given.nodes]
    nodes = (*data.inputs, *data.ops)
    problem = expression_graph(
        n_in, ops_args, symbols,
        [f"{r.name} = {mathfmt.num(r.value)}" for r in data.inputs],
        above=[None] * n_in + [r.name for r in data.ops[:-1]] + [None],
        output=(data.output, None, None), name="graph", layout=layout)
    solved = expression_graph(
        n_in, ops_args, symbols, [r.name for r in data.inputs],
        above=[mathfmt.num(r.value) for r in nodes],
        below=[f"[{mathfmt.num(g)}]" for g in wire_grads],
        output=(data.output, mathfmt.num(data.ops[-1].value), "[1]"), name="graph-solved",
        caption=("Values above the wires; below them, in brackets, the gradient of the output flowing back "
                 "along each wire (a value that feeds two wires gets their sum)."), layout=layout)
    return [problem, solved]


# -- independent check: mpmath, forward mode by the complex step -------------------------------

_MP_OPS: dict[str, Callable[..., Any]] = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    # Piecewise operations compare real parts; at a tie max keeps its first argument, ReLU'(0) = 0.
    "max": lambda a, b: a if mpmath.re(a) >= mpmath.re(b) else b,
    "relu": lambda a: a if mpmath.re(a) > 0 else mpmath.mpc(0),
    "square": lambda a: a * a,
    "exp": lambda a: mpmath.exp(a),
    "sigmoid": lambda a: 1 / (1 + mpmath.exp(-a)),
    "inv": lambda a: 1 / a,
}


def _check(given: ComputationGraphGiven) -> dict[str, Any]:
    """Every value by evaluating the graph in 50-digit mpmath; every local gradient and every
    ∂f/∂node by the complex step (an imaginary nudge ih, h = 10^-30, added to one operand or
    node and carried forward: Im/h is the derivative, with no difference of nearly equal numbers
    and no chain rule written out), so even gradients that cancel to 0 come out at ~10^-40."""
    with mpmath.workdps(50):
        h = mpmath.mpf("1e-30")
        ops_args = _operand_indices(given)
        n_in = len(given.inputs)
        base = [mpmath.mpc(mpmath.mpf(int(sp.Rational(v).p)) / int(sp.Rational(v).q)) for v in given.values]

        def run(nudge: int | None) -> list[Any]:
            vals = list(base)
            if nudge is not None and nudge < n_in:
                vals[nudge] += 1j * h
            for k, node in enumerate(given.nodes):
                v = _MP_OPS[node[1]](*[vals[a] for a in ops_args[k]])
                if nudge == n_in + k:
                    v += 1j * h
                vals.append(v)
            return vals

        plain = run(None)
        out: dict[str, Any] = {}
        names = [*given.inputs, *[nd[0] for nd in given.nodes]]
        if "forward" in given.parts:
            for k, node in enumerate(given.nodes):
                out[f"value_{key_name(node[0])}"] = float(mpmath.re(plain[n_in + k]))
        if "local" in given.parts:
            for k, node in enumerate(given.nodes):
                args = [plain[a] for a in ops_args[k]]
                for j, a in enumerate(ops_args[k]):
                    nudged = [x + (1j * h if i == j else 0) for i, x in enumerate(args)]
                    d = mpmath.im(_MP_OPS[node[1]](*nudged)) / h
                    out[f"local_{key_name(node[0])}_{key_name(names[a])}"] = float(d)
        if "backward" in given.parts:
            total = len(names)
            for v in range(total - 1):
                f = run(v)[-1]
                out[f"grad_{key_name(names[v])}"] = float(mpmath.im(f) / h)
            if abs(float(mpmath.im(plain[-1]))) != 0.0:
                raise CheckError("computation_graph: the unperturbed graph has an imaginary part")
        return out
