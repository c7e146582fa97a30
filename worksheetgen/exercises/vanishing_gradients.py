"""Vanishing gradients in a deep chain (seed 000 Q5): forward values, backpropagated gradients,
the per-layer gradient norm of eq. (3), the σ' ≤ 1/4 bound, and the same chain with ReLU.

Layer l computes z^[l] = W^[l] a^[l-1] + b^[l], a^[l] = g(z^[l]) with a^[0] = x, and the loss is
L = ½ ‖y − a^[L]‖². Width 1 gives the chain of scalar units; width n > 1 uses n×n weight matrices
and the Frobenius norm of eq. (3).

Smooth activations are evaluated to 50 significant digits (SymPy Floats) layer by layer: the closed
form of a depth-L chain nests L exponentials, and evaluating it takes seconds to minutes at L = 8-10
while no solution could print it. The ReLU chain stays in exact rationals; its gradient norms are
exact roots while SymPy can factor them quickly, else 50 digits too (see _root).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp

from worksheetgen import activations
from worksheetgen.answers import MatrixAnswer, NumberAnswer, Rounding, make_answer
from worksheetgen.errors import WorksheetError
from worksheetgen.family import Constraint, Family, Record, Solved
from worksheetgen.params import Bool, Choice, Int, Kind, ListOf, Number, Param, exact_number
from worksheetgen.sampling import grid_values, nonzero_grid_values, require_grid

PRECISION = 50
ACTIVATIONS = ("sigmoid", "tanh", "relu")
# sup g'(z): the factor per layer in the bound on the first layer's gradient.
DERIVATIVE_BOUND = {"sigmoid": sp.Rational(1, 4), "tanh": sp.Integer(1), "relu": sp.Integer(1)}
TARGET_GRIDS = {
    "sigmoid": (sp.Integer(0), sp.Integer(1), sp.Rational(1, 10)),
    "tanh": (sp.Integer(-1), sp.Integer(1), sp.Rational(1, 10)),
    "relu": (sp.Integer(0), sp.Integer(2), sp.Rational(1, 10)),
}
MAX_DEPTH = 10
# Given numbers and grids stay within this size, so every value fits a float in the key and the
# independent NumPy check (a ReLU chain of 10 layers of 3 units grows by at most 3000 per layer).
LARGEST = 1000
SCREEN_DRAWS = 200  # candidates screened in float64 before the grids are declared hopeless
# A drawn ReLU chain's output stays below this per unit of width (hand computation; and its
# numbers, products of the weights, within three decades from student to student).
RELU_OUTPUT = 20
EXACT_ROOT_LIMIT = 10**60  # square roots of rationals beyond this are taken in PRECISION digits

KINK_RULE = "no ReLU pre-activation exactly at the kink 0"
DEAD_LAYER_RULE = "ReLU does not die: every layer has an active unit"
DEAD_FIRST_RULE = "ReLU does not die: the first layer still receives a gradient"
RELU_OUTPUT_RULE = f"a ReLU output below {RELU_OUTPUT} times the squared width"
RELU_GRADIENT = 50  # and its gradients below this per unit (products of up to ten weights)
RELU_GRADIENT_RULE = f"ReLU gradients at most {RELU_GRADIENT} times the squared width in size"
NONZERO_RULE = "every layer receives a non-zero gradient"
LOSS_RULE = "an output that is not already (almost) on target"
VANISHING_RULE = "a first-layer gradient norm below a tenth of the last layer's (visible vanishing)"
MIN_LOSS = 0.005
MIN_RELU_LOSS = 0.05  # the ReLU chain's output reaches 20, so its losses start higher too


def _bounded(value: Any) -> sp.Rational:
    number = exact_number(value)
    if abs(number) > LARGEST:
        raise ValueError(f"numbers at most {LARGEST} in size")
    return number


class LayerStack(Kind):
    """One weight per layer: numbers (width 1) or n×n matrices written as lists of rows."""

    description = (f"a list with one entry per layer: numbers, or n×n matrices as lists of rows "
                   f"(numbers at most {LARGEST} in size)")

    def parse(self, value: Any) -> list[sp.Matrix]:
        if not isinstance(value, (list, tuple)) or not 2 <= len(value) <= MAX_DEPTH:
            raise ValueError(f"{self.description} (2 to {MAX_DEPTH} layers)")
        layers = []
        for item in value:
            if isinstance(item, (list, tuple)):
                rows = [r if isinstance(r, (list, tuple)) else [r] for r in item]
                if not rows or len({len(r) for r in rows}) != 1:
                    raise ValueError("matrices whose rows all have the same length")
                layers.append(sp.Matrix([[_bounded(v) for v in r] for r in rows]))
            else:
                layers.append(sp.Matrix([[_bounded(item)]]))
        return layers


class Vector(Kind):
    """A number (width 1) or a list of numbers, stored as a column."""

    description = f"a number or a list of numbers (at most {LARGEST} in size)"

    def parse(self, value: Any) -> sp.Matrix:
        items = list(value) if isinstance(value, (list, tuple)) else [value]
        if not items:
            raise ValueError(self.description)
        return sp.Matrix([[_bounded(v)] for v in items])


class BiasStack(Kind):
    """One bias per layer: numbers (width 1) or lists of n numbers."""

    description = f"a list with one entry per layer: numbers, or lists of n numbers (at most {LARGEST} in size)"

    def parse(self, value: Any) -> list[sp.Matrix]:
        if not isinstance(value, (list, tuple)) or not value:
            raise ValueError(self.description)
        return [Vector().parse(v) for v in value]


def _f(x: sp.Expr) -> sp.Expr:
    return sp.Float(x.evalf(PRECISION), PRECISION)


def _squared(m: sp.Matrix) -> sp.Expr:
    return sum((v**2 for v in m), sp.Integer(0))


def _root(r: sp.Expr) -> sp.Expr:
    """√r: exact for a rational small enough for SymPy to pull its square factors out quickly
    (it factors numerator and denominator; a 600-digit one takes seconds), else PRECISION digits.
    Norms of the exact ReLU chain of 10 layers of long decimals reach such sizes."""
    if isinstance(r, sp.Rational) and max(abs(r.p), r.q) > EXACT_ROOT_LIMIT:
        return sp.sqrt(sp.Float(r, PRECISION + 10)).evalf(PRECISION)
    return sp.sqrt(r)


def _frobenius(m: sp.Matrix) -> sp.Expr:
    return _root(_squared(m))


def forward_backward(name: str, weights: list[sp.Matrix], biases: list[sp.Matrix], x: sp.Matrix,
                     y: sp.Matrix) -> dict[str, Any]:
    """The chain's forward values and backpropagated quantities, layer by layer (index 0 = layer 1)."""
    act = activations.get(name)
    smooth = name != "relu"

    def apply(fn: Any, z: sp.Matrix) -> sp.Matrix:
        return z.applyfunc(lambda v: _f(fn(v)) if smooth else fn(v))

    zs, acts, gps = [], [], []
    a = x
    for W, b in zip(weights, biases):
        z = W * a + b
        a = apply(act.at, z)
        zs.append(z)
        acts.append(a)
        gps.append(apply(act.grad_at, z))
    err = acts[-1] - y
    loss = sum((e**2 for e in err), sp.Integer(0)) / 2
    depth = len(weights)
    deltas: list[sp.Matrix] = [sp.zeros(1, 1)] * depth
    backs: list[sp.Matrix] = [sp.zeros(1, 1)] * depth  # W^[l+1]^T δ^[l+1] (the error reaching a^[l])
    backs[-1] = err
    deltas[-1] = err.multiply_elementwise(gps[-1])
    for l in range(depth - 2, -1, -1):
        backs[l] = weights[l + 1].T * deltas[l + 1]
        deltas[l] = backs[l].multiply_elementwise(gps[l])
    inputs = [x] + acts[:-1]
    grads = [deltas[l] * inputs[l].T for l in range(depth)]
    squared = [_squared(gm) for gm in grads]
    norms = [_root(sq) for sq in squared]
    return dict(z=zs, a=acts, gp=gps, err=err, loss=loss, back=backs, delta=deltas, inputs=inputs,
                grads=grads, squared=squared, norms=norms)


@dataclass(frozen=True)
class VanishingGradientsGiven(Record):
    activation: str
    compare_relu: bool  # also the ReLU chain (never when the activation is ReLU)
    width: int
    depth: int
    weights: tuple[sp.Matrix, ...]  # n×n per layer
    biases: tuple[sp.Matrix, ...]  # n×1 per layer
    has_bias: bool
    x: sp.Matrix
    y: sp.Matrix


@dataclass(frozen=True)
class VanishingGradientsData(Record):
    main: dict[str, Any]  # forward_backward() of the chosen activation
    relu: dict[str, Any] | None  # the same chain with ReLU, when compared
    kappa: sp.Expr  # sup g'
    weight_norms: list[sp.Expr]
    err_norm: sp.Expr
    x_norm: sp.Expr
    bound: sp.Expr
    act: activations.Activation
    scalar: bool  # width 1
    depth: int
    layers: list[int]  # 0 … depth − 1
    gp_product: sp.Expr | None  # ∏ g'(z^[l]) of a scalar chain
    relu_all_active: bool


def _chains(g: Any, s: Solved) -> list[tuple[str, dict[str, Any]]]:
    chains = [(g.activation, s.data.main)]
    if s.data.relu is not None:
        chains.append(("relu", s.data.relu))
    return chains


def _min_loss(activation: str) -> float:
    return MIN_RELU_LOSS if activation == "relu" else MIN_LOSS


def _relu_chains(g: Any, s: Solved) -> list[dict[str, Any]]:
    return [res for name, res in _chains(g, s) if name == "relu"]


# What the rules read: the drawn values (biases only count when drawn, see drawn()).
CHAIN = ("weights", "biases", "x")
ALL = ("weights", "biases", "x", "y")


def _numpy_chain(name: str, W: list[np.ndarray], B: list[np.ndarray], x: np.ndarray,
                 y: np.ndarray) -> dict[str, Any]:
    """Forward and backward in float64, written from scratch (no SymPy, no shared activation
    code), in forms that neither overflow nor cancel far from 0."""
    if name == "sigmoid":
        def f(z: np.ndarray) -> np.ndarray:
            e = np.exp(-np.abs(z))
            return np.where(z >= 0, 1 / (1 + e), e / (1 + e))

        def fp(z: np.ndarray) -> np.ndarray:  # σ' is even: σ'(z) = e^{-|z|} / (1 + e^{-|z|})²
            e = np.exp(-np.abs(z))
            return e / (1 + e) ** 2
    elif name == "tanh":
        f = np.tanh

        def fp(z: np.ndarray) -> np.ndarray:  # sech² z = 4 e^{-2|z|} / (1 + e^{-2|z|})²
            e = np.exp(-2 * np.abs(z))
            return 4 * e / (1 + e) ** 2
    else:
        def f(z: np.ndarray) -> np.ndarray:
            return np.maximum(z, 0)

        def fp(z: np.ndarray) -> np.ndarray:
            return (z > 0).astype(float)
    a_list, z_list = [x], []
    for Wl, bl in zip(W, B):
        z_list.append(Wl @ a_list[-1] + bl)
        a_list.append(f(z_list[-1]))
    # Backward as a vector-Jacobian loop.
    n, depth = len(x), len(W)
    g_a = a_list[-1] - y
    grads = [np.zeros((n, n))] * depth
    for l in range(depth - 1, -1, -1):
        g_z = g_a * fp(z_list[l])
        grads[l] = np.outer(g_z, a_list[l])
        g_a = W[l].T @ g_z
    norms = np.array([np.sqrt((gm**2).sum()) for gm in grads])
    return dict(z=z_list, a=a_list[1:], loss=0.5 * float(((a_list[-1] - y) ** 2).sum()), grads=grads,
                norms=norms, ratio=norms[0] / norms[-1] if norms[-1] else 0.0)


def _arrays(weights: Any, biases: Any, x: Any, y: Any) -> tuple[list[np.ndarray], list[np.ndarray],
                                                                np.ndarray, np.ndarray]:
    W = [np.array(m.tolist(), dtype=float) for m in weights]
    B = [np.array(b.tolist(), dtype=float).ravel() for b in biases]
    return (W, B, np.array(x.tolist(), dtype=float).ravel(), np.array(y.tolist(), dtype=float).ravel())


def _screen(activation: str, compare_relu: bool, weights: Any, biases: Any, x: Any, y: Any,
            depth_drawn: bool = True) -> str | None:
    """The teaching rule a candidate plainly breaks, judged in float64 (microseconds), or None.
    The exact constraints decide: this only spares the exact solve for hopeless candidates."""
    W, B, xs, ys = _arrays(weights, biases, x, y)
    chains = [(activation, _numpy_chain(activation, W, B, xs, ys))]
    if compare_relu:
        chains.append(("relu", _numpy_chain("relu", W, B, xs, ys)))
    for name, res in chains:
        if name == "relu":
            if any((z == 0).any() for z in res["z"]):
                return KINK_RULE
            if any((z < 0).all() for z in res["z"]):
                return DEAD_LAYER_RULE
            if res["norms"][0] == 0:
                return DEAD_FIRST_RULE
            if np.abs(res["a"][-1]).max() > RELU_OUTPUT * len(xs) ** 2 * (1 + 1e-9):
                return RELU_OUTPUT_RULE
            if depth_drawn and max(np.abs(gm).max() for gm in res["grads"]) > RELU_GRADIENT * len(xs) ** 2 * (1 + 1e-9):
                return RELU_GRADIENT_RULE
        if (res["norms"] == 0).any():
            return NONZERO_RULE
        if res["loss"] < _min_loss(name) * (1 - 1e-9):
            return LOSS_RULE
    if activation != "relu" and chains[0][1]["ratio"] >= 0.1 * (1 + 1e-9):
        return VANISHING_RULE
    return None


class VanishingGradients(Family):
    """At most 10 layers of at most 3 units, given numbers at most 1000 in size, smooth values as
    50-digit Floats: the largest allowed chain solves in well under a second, and candidates are
    screened in float64 before the exact solve, so hopeless grids are refused in a fraction of a
    second rather than after 200 exact solves."""

    name = "vanishing_gradients"
    title = "Vanishing gradients in a deep chain"
    summary = ("L layers z = W a + b, a = g(z), L = ½‖y − a^[L]‖²: forward values, ∂L/∂W^[l] by backprop, "
               "per-layer gradient norms, the σ' ≤ 1/4 bound, and the same chain with ReLU.")
    Given = VanishingGradientsGiven
    Data = VanishingGradientsData
    params = (
        Param("activation", Choice(ACTIVATIONS), "sigmoid", "activation g of every layer"),
        Param("depth", Int(minimum=2, maximum=MAX_DEPTH), None,
              f"number of layers L, 2 to {MAX_DEPTH} (drawn from 4 to 6)"),
        Param("width", Int(minimum=1, maximum=3), None,
              "units per layer, 1 to 3 (1: a chain of scalar units; n > 1: n×n weight matrices); "
              "default from the weights or x, else 1"),
        Param("weights", LayerStack(), None,
              f"the weights w^[1], ..., w^[L] (numbers, or n×n matrices; at most {LARGEST} in size)"),
        Param("use_bias", Bool(), False, "draw biases (otherwise b = 0 unless biases are given)"),
        Param("biases", BiasStack(), None,
              f"the biases b^[1], ..., b^[L] (numbers, or lists of n numbers; at most {LARGEST} in size)"),
        Param("x", Vector(), None, f"the input (a number, or n numbers; at most {LARGEST} in size)"),
        Param("y", Vector(), None, f"the target (a number, or n numbers; at most {LARGEST} in size)"),
        Param("compare_relu", Bool(), True, "also solve the same chain with ReLU (ignored when activation = relu)"),
        Param("weight_grid", ListOf(Number(), min_length=3, max_length=3), None,
              "[lo, hi, step] for drawn weights, never 0 (default [0.5, 2, 0.5] for width 1, "
              f"[-0.5, 1.5, 0.5] for wider layers; at most {LARGEST} in size)"),
        Param("bias_grid", ListOf(Number(), min_length=3, max_length=3), [sp.Rational(-1, 2), sp.Rational(1, 2), sp.Rational(1, 2)],
              f"[lo, hi, step] for drawn biases (at most {LARGEST} in size)"),
        Param("input_grid", ListOf(Number(), min_length=3, max_length=3), [sp.Rational(1, 2), sp.Integer(2), sp.Rational(1, 2)],
              f"[lo, hi, step] for a drawn input, never 0 (at most {LARGEST} in size)"),
        Param("target_grid", ListOf(Number(), min_length=3, max_length=3), None,
              "[lo, hi, step] for a drawn target (default [0, 1, 0.1] sigmoid, [-1, 1, 0.1] tanh, "
              f"[0, 2, 0.1] relu; at most {LARGEST} in size)"),
    )
    constraints = (
        Constraint(KINK_RULE, CHAIN, lambda g, s: all(
            v != 0 for res in _relu_chains(g, s) for z in res["z"] for v in z)),
        Constraint(DEAD_LAYER_RULE, CHAIN, lambda g, s: not any(
            all(v < 0 for v in z) for res in _relu_chains(g, s) for z in res["z"])),
        Constraint(DEAD_FIRST_RULE, ALL, lambda g, s: all(
            float(res["norms"][0]) != 0 for res in _relu_chains(g, s))),
        Constraint(RELU_OUTPUT_RULE, CHAIN, lambda g, s: all(
            abs(float(v)) <= RELU_OUTPUT * g.width**2 for res in _relu_chains(g, s) for v in res["a"][-1])),
        # Read: the depth. A chain the spec makes deep multiplies up to ten weights: its ReLU
        # gradients are as large as the instructor chose.
        Constraint(RELU_GRADIENT_RULE, ("depth",), lambda g, s: all(
            abs(float(v)) <= RELU_GRADIENT * g.width**2
            for res in _relu_chains(g, s) for gm in res["grads"] for v in gm)),
        Constraint(NONZERO_RULE, ALL, lambda g, s: all(
            float(nm) != 0 for _, res in _chains(g, s) for nm in res["norms"])),
        Constraint(LOSS_RULE, ALL, lambda g, s: all(
            float(res["loss"]) >= _min_loss(name) for name, res in _chains(g, s))),
        Constraint(VANISHING_RULE, ALL, lambda g, s: g.activation == "relu" or float(s.data.main["ratio"]) < 0.1),
    )

    # -- options ---------------------------------------------------------------------------
    @staticmethod
    def _width(options: dict[str, Any]) -> int:
        if options["width"] is not None:
            return options["width"]
        if options["weights"] is not None:
            return options["weights"][0].rows
        for key in ("x", "y"):
            if options[key] is not None:
                return options[key].rows
        return 1

    def validate(self, options: dict[str, Any]) -> None:
        for key in ("weight_grid", "bias_grid", "input_grid", "target_grid"):
            require_grid(options, key, nonzero=key in ("weight_grid", "input_grid"))
            if options[key] is not None and max(abs(options[key][0]), abs(options[key][1])) > LARGEST:
                raise WorksheetError(f"the grid reaches beyond {LARGEST}", field=key,
                                     allowed=f"[lo, hi, step] with values at most {LARGEST} in size")
        n = self._width(options)
        weights = options["weights"]
        depth = options["depth"]
        if weights is not None:
            if depth is not None and len(weights) != depth:
                raise WorksheetError(f"{len(weights)} weights for depth {depth}", field="weights",
                                     allowed=f"{depth} weights, one per layer")
            for l, W in enumerate(weights, start=1):
                if W.shape != (n, n):
                    raise WorksheetError(
                        f"layer {l} has a {W.rows}×{W.cols} weight but the layers have width {n}",
                        field="weights", allowed=f"{n}×{n} matrices" if n > 1 else "numbers")
            depth = len(weights)
        if options["biases"] is not None:
            biases = options["biases"]
            if depth is not None and len(biases) != depth:
                raise WorksheetError(f"{len(biases)} biases for {depth} layers", field="biases",
                                     allowed=f"{depth} biases, one per layer")
            if not 2 <= len(biases) <= MAX_DEPTH:
                raise WorksheetError(f"{len(biases)} biases", field="biases",
                                     allowed=f"2 to {MAX_DEPTH} layers")
            if any(b.rows != n for b in biases):
                raise WorksheetError(f"a bias whose size is not the width {n}", field="biases",
                                     allowed="numbers" if n == 1 else f"lists of {n} numbers")
        for key in ("x", "y"):
            if options[key] is not None and options[key].rows != n:
                raise WorksheetError(f"{key} has {options[key].rows} entries but the layers have width {n}",
                                     field=key, allowed="a number" if n == 1 else f"a list of {n} numbers")
        if options["x"] is not None and all(v == 0 for v in options["x"]):
            raise WorksheetError("x = 0 gives a zero gradient for the first layer", field="x",
                                 allowed="a non-zero input")

    def drawn(self, options: dict[str, Any]) -> frozenset[str]:
        """As the base class, less the unset options nothing random decides: biases unless
        use_bias (they are 0), the width and grids (not values), the depth once weights or
        biases fix it. So a chain whose weights, input and target are given is not held to the
        rules."""
        drawn = set(super().drawn(options)) - {"width", "weight_grid", "target_grid"}
        if not options["use_bias"]:
            drawn.discard("biases")
        if options["weights"] is not None or options["biases"] is not None:
            drawn.discard("depth")
        return frozenset(drawn)

    # -- the steps -------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator, options: dict[str, Any]) -> VanishingGradientsGiven:
        """Draws on the grids, screened in float64 against the rules (see _screen) so that the
        exact solve runs about once per instance; grids the rules practically never accept are
        refused after SCREEN_DRAWS candidates, naming the weight grid."""
        n = self._width(options)
        depth = options["depth"]
        for key in ("weights", "biases"):
            if options[key] is not None:
                depth = len(options[key])
        draw_depth = depth is None
        weight_grid = options["weight_grid"] or (
            [sp.Rational(1, 2), sp.Integer(2), sp.Rational(1, 2)] if n == 1
            else [sp.Rational(-1, 2), sp.Rational(3, 2), sp.Rational(1, 2)])
        target_grid = options["target_grid"] or TARGET_GRIDS[options["activation"]]
        compare_relu = options["compare_relu"] and options["activation"] != "relu"
        draw_biases = options["biases"] is None and options["use_bias"]
        drawn_any = draw_biases or any(options[k] is None for k in ("weights", "x", "y"))
        broken = None
        for _ in range(SCREEN_DRAWS):
            if draw_depth:  # with the numbers: a depth whose chains break the rules is drawn again
                depth = int(rng.integers(4, 7))
            weights = options["weights"] or [
                nonzero_grid_values(rng, *weight_grid, size=(n, n)) for _ in range(depth)]
            if options["biases"] is not None:
                biases = options["biases"]
            elif draw_biases:
                biases = [grid_values(rng, *options["bias_grid"], size=(n, 1)) for _ in range(depth)]
            else:
                biases = [sp.zeros(n, 1) for _ in range(depth)]
            x = options["x"] if options["x"] is not None else nonzero_grid_values(
                rng, *options["input_grid"], size=(n, 1))
            y = options["y"] if options["y"] is not None else grid_values(rng, *target_grid, size=(n, 1))
            if not drawn_any:
                break  # the spec's own chain: no rule applies to it
            broken = _screen(options["activation"], compare_relu, weights, biases, x, y, draw_depth)
            if broken is None:
                break
        else:
            raise WorksheetError(
                f"no draw of {SCREEN_DRAWS} met the constraint {broken!r}",
                field="weight_grid" if options["weights"] is None else "weights",
                allowed="other weights or grids (weights below 4 in size let sigmoid and tanh vanish), "
                        "or fewer layers")
        return VanishingGradientsGiven(
            activation=options["activation"], compare_relu=compare_relu, width=n, depth=depth,
            weights=tuple(weights), biases=tuple(biases),
            has_bias=any(any(v != 0 for v in b) for b in biases), x=x, y=y)

    def solve(self, given: VanishingGradientsGiven) -> Solved:
        args = (list(given.weights), list(given.biases), given.x, given.y)
        main = forward_backward(given.activation, *args)
        relu = forward_backward("relu", *args) if given.compare_relu else None
        n, depth = given.width, given.depth
        kappa = DERIVATIVE_BOUND[given.activation]
        weight_norms = [_frobenius(W) for W in given.weights]
        err_norm = _frobenius(main["err"])
        x_norm = _frobenius(given.x)
        # One root of the product of the squares: a product of roots would make SymPy combine
        # them into the root of the product and factor that.
        squares = sp.Integer(1)
        for W in given.weights[1:]:
            squares *= _squared(W)
        bound = kappa**depth * _root(squares * _squared(main["err"]) * _squared(given.x))
        if given.activation != "relu":
            bound = _f(bound)

        def pack(prefix: str, res: dict[str, Any]) -> list[Any]:
            out: list[Any] = []
            if prefix:
                out.append(self._answer(n, "relu_output", r"a^{[L]}_{\mathrm{ReLU}}", res["a"][-1]))
            else:
                out += [self._answer(n, f"a{l + 1}", f"a^{{[{l + 1}]}}", res["a"][l]) for l in range(depth)]
            out.append(NumberAnswer(f"{prefix}loss", "L" + (r"_{\mathrm{ReLU}}" if prefix else ""), res["loss"]))
            sym = "w" if n == 1 else "W"
            out += [self._answer(n, f"{prefix}dL_dw{l + 1}",
                                 rf"\frac{{\partial L}}{{\partial {sym}^{{[{l + 1}]}}}}" + (r"_{\mathrm{ReLU}}" if prefix else ""),
                                 res["grads"][l]) for l in range(depth)]
            out.append(MatrixAnswer(f"{prefix}norms",
                                    r"\left(\left\| \frac{\partial L}{\partial W^{[l]}} \right\|_2\right)_l",
                                    sp.Matrix([res["norms"]])))
            ratio = _root(res["squared"][0] / res["squared"][-1]) if not res["squared"][-1].is_zero else sp.Integer(0)
            res["ratio"] = ratio
            out.append(NumberAnswer(f"{prefix}ratio",
                                    r"\|\partial L / \partial W^{[1]}\| / \|\partial L / \partial W^{[L]}\|", ratio))
            return out

        answers = pack("", main)
        answers.append(NumberAnswer("bound", r"\text{bound on } \|\partial L / \partial W^{[1]}\|", bound))
        if relu is not None:
            answers += pack("relu_", relu)
        for a in answers:  # asked in significant digits, as the text says: gradients shrink by decades
            a.rounding = Rounding("significant")
        data = VanishingGradientsData(
            main=main, relu=relu, kappa=kappa, weight_norms=weight_norms, err_norm=err_norm,
            x_norm=x_norm, bound=bound, act=activations.get(given.activation),
            scalar=n == 1, depth=depth, layers=list(range(depth)),
            gp_product=sp.prod([gp[0, 0] for gp in main["gp"]]) if n == 1 else None,
            relu_all_active=relu is not None and all(v > 0 for z in relu["z"] for v in z))
        return Solved(answers, data)

    @staticmethod
    def _answer(n: int, key: str, label: str, value: sp.Matrix) -> Any:
        """A scalar chain's values are numbers, a wider chain's vectors and matrices."""
        return make_answer(key, label, value[0, 0] if n == 1 else value)

    def check(self, given: VanishingGradientsGiven) -> dict[str, Any]:
        W, B, x, y = _arrays(given.weights, given.biases, given.x, given.y)
        n, depth = given.width, given.depth

        def shape(v: np.ndarray) -> Any:
            return float(v.ravel()[0]) if n == 1 else v

        out: dict[str, Any] = {}
        main = _numpy_chain(given.activation, W, B, x, y)
        for l in range(depth):
            out[f"a{l + 1}"] = shape(main["a"][l].reshape(n, 1))
            out[f"dL_dw{l + 1}"] = shape(main["grads"][l])
        out.update(loss=main["loss"], norms=main["norms"].reshape(1, -1), ratio=main["ratio"])
        kappa = 0.25 if given.activation == "sigmoid" else 1.0
        # Bound via spectral → Frobenius norms: ‖δ^[1]‖ ≤ κ^L ∏_{l≥2} ‖W^[l]‖_F ‖a^[L] − y‖.
        out["bound"] = (kappa**depth * np.prod([np.linalg.norm(Wl) for Wl in W[1:]])
                        * np.linalg.norm(main["a"][-1] - y) * np.linalg.norm(x))
        if given.compare_relu:
            relu = _numpy_chain("relu", W, B, x, y)
            out["relu_output"] = shape(relu["a"][-1].reshape(n, 1))
            for l in range(depth):
                out[f"relu_dL_dw{l + 1}"] = shape(relu["grads"][l])
            out.update(relu_loss=relu["loss"], relu_norms=relu["norms"].reshape(1, -1), relu_ratio=relu["ratio"])
        return out
