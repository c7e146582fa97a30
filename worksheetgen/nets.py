"""Small dense networks, exactly (SymPy) and independently (NumPy).

Weights are kept canonically as ``A`` with ``z = A a + b`` (``A`` is n_out × n_in). What the
student sees depends on the convention: ``"WT"`` shows ``W = Aᵀ`` and writes ``z = Wᵀa`` (seeds
000/001/002 Q3), optionally with the bias as row 0 of ``W`` and ``x₀ = 1``; ``"W"`` shows ``W = A``
and writes ``z = Wa + b`` (seed 004). Both families that use networks (forward_pass, backprop)
share the declarations, the sampler and the solver here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp

from worksheetgen import activations
from worksheetgen.errors import WorksheetError
from worksheetgen.params import Choice, Int, ListOf, Matrix, Number, Param
from worksheetgen.sampling import require_grid, grid_param, grid_values, nonzero_grid_values

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

NET_PARAMS: tuple[Param, ...] = (
    Param("layers", ListOf(Int(1, 6), min_length=2, max_length=5), [2, 2, 2],
          "units per layer, input first (2 to 5 layers of 1 to 6 units)"),
    Param("convention", Choice(("WT", "W")), "WT",
          "WT: z = Wᵀa with W ∈ ℝ^{in×out} (seeds 000-002); W: z = Wa + b with W ∈ ℝ^{out×in} (seed 004)"),
    Param("bias", Choice(("row", "vector", "none")), "row",
          "row: bias weights as row 0 of W with x₀ = 1 (needs convention WT); vector: separate b; none"),
    Param("activation", Choice(activations.NAMES), "relu", "activation of the hidden layers"),
    Param("output_activation", Choice(OUTPUT_ACTIVATIONS), "same",
          "activation of the output layer ('same' as the hidden layers)"),
    Param("alpha", Number(positive=True), None, "α of leaky ReLU (default 0.01) / ELU (default 1)"),
    Param("loss", Choice(LOSSES), "mse_half", "loss; 'none' asks for the forward values only"),
    Param("weights", ListOf(Matrix(), min_length=1, max_length=4), None,
          "weight matrices as shown to students (in the chosen convention, bias row first for bias = row)"),
    Param("biases", ListOf(Matrix(), min_length=1, max_length=4), None, "bias vectors (bias = vector)"),
    Param("x", ListOf(Number(), min_length=1, max_length=6), None, "input vector"),
    Param("y", ListOf(Number(), min_length=1, max_length=6), None, "target vector"),
    Param("diagram", Choice(("plain", "weights", "none")), "plain",
          "network figure beside the question: plain, with weights on the edges, or none"),
    grid_param("weight_grid", (-1, 1, 0.1), "[lo, hi, step] for drawn weights and biases"),
    grid_param("input_grid", (-3, 3, 1), "[lo, hi, step] for a drawn input"),
    grid_param("target_grid", (0, 1, 0.1), "[lo, hi, step] for drawn regression targets"),
)


def validate_net(options: dict[str, Any]) -> None:
    sizes = options["layers"]
    n_layers = len(sizes) - 1
    out_act = output_activation(options)
    for key in ("weight_grid", "input_grid", "target_grid"):
        require_grid(options, key)
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


def output_activation(options: dict[str, Any]) -> str:
    out = options["output_activation"]
    return options["activation"] if out == "same" else out


def display_shape(n_in: int, n_out: int, options: dict[str, Any]) -> tuple[int, int]:
    if options["convention"] == "W":
        return (n_out, n_in)
    return (n_in + (1 if options["bias"] == "row" else 0), n_out)


def sample_net(rng: np.random.Generator, options: dict[str, Any]) -> dict[str, Any]:
    """Concrete givens of a network exercise (pinned values kept, the rest drawn on grids)."""
    sizes = list(options["layers"])
    act = options["activation"]
    out_act = output_activation(options)
    alpha = options["alpha"]
    if alpha is None:
        alpha = DEFAULT_ALPHA.get(act, DEFAULT_ALPHA.get(out_act, sp.Rational(1, 100)))
    wgrid = options["weight_grid"]
    weights = options["weights"]
    if weights is None:
        weights = [nonzero_grid_values(rng, *wgrid, size=display_shape(sizes[l - 1], sizes[l], options))
                   for l in range(1, len(sizes))]
    biases = options["biases"]
    if options["bias"] == "vector" and biases is None:
        biases = [sp.Matrix(grid_values(rng, *wgrid, size=(sizes[l], 1))) for l in range(1, len(sizes))]
    x = options["x"]
    if x is None:
        x = nonzero_grid_values(rng, *options["input_grid"], size=sizes[0])
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
    return {
        "layers": sizes, "convention": options["convention"], "bias": options["bias"],
        "activation": act, "output_activation": out_act, "alpha": alpha, "loss": loss,
        "weights": [sp.Matrix(w) for w in weights],
        "biases": [sp.Matrix(b) for b in biases] if biases is not None else None,
        "x": sp.Matrix(list(x)), "y": sp.Matrix(list(y)) if y is not None else None,
    }


def canonical(given: dict[str, Any]) -> tuple[list[sp.Matrix], list[sp.Matrix]]:
    """(A, b) per layer with z = A a + b, from the weights as shown."""
    As, bs = [], []
    for l, w in enumerate(given["weights"]):
        n_out = given["layers"][l + 1]
        if given["convention"] == "W":
            A, b = w, (given["biases"][l] if given["bias"] == "vector" else sp.zeros(n_out, 1))
        elif given["bias"] == "row":
            A, b = w[1:, :].T, w[0, :].T
        else:
            A = w.T
            b = given["biases"][l] if given["bias"] == "vector" else sp.zeros(n_out, 1)
        As.append(sp.Matrix(A))
        bs.append(sp.Matrix(b))
    return As, bs


@dataclass
class Layer:
    index: int  # 1-based
    activation: str
    a_in: sp.Matrix
    z: sp.Matrix
    a: sp.Matrix
    dz: sp.Matrix | None = None  # g'(z), elementwise (not for softmax)


PRECISION = 50  # digits kept once a closed form grows too large to be worth showing
MAX_CLOSED_FORM_OPS = 24


def tame(v: sp.Expr) -> sp.Expr:
    """Keep a value exact while its closed form is small; past that, a 50-digit Float.

    Closed forms of deep sigmoid/tanh nets grow exponentially with depth; nobody reads them,
    and evaluating them for every comparison costs minutes. Fifty digits lose nothing a sheet
    prints (4 digits) or the cross-check can see (rtol 1e-9).
    """
    if isinstance(v, sp.Rational) or sp.count_ops(v) <= MAX_CLOSED_FORM_OPS:
        return v
    return sp.Float(sp.N(v, PRECISION), PRECISION)


def softmax_exact(z: sp.Matrix) -> sp.Matrix:
    exps = [sp.exp(v) for v in z]
    total = sum(exps)
    return sp.Matrix([e / total for e in exps])


def forward(given: dict[str, Any]) -> list[Layer]:
    As, bs = canonical(given)
    n_layers = len(As)
    alpha = given["alpha"]
    a = given["x"]
    layers = []
    for l in range(n_layers):
        name = given["output_activation"] if l == n_layers - 1 else given["activation"]
        z = (As[l] * a + bs[l]).applyfunc(tame)
        if name == "softmax":
            out, dz = softmax_exact(z).applyfunc(tame), None
        else:
            g = activations.get(name)
            out = sp.Matrix([tame(g.at(v, alpha)) for v in z])
            dz = sp.Matrix([tame(g.grad_at(v, alpha)) for v in z])
        layers.append(Layer(l + 1, name, a, z, out, dz))
        a = out
    return layers


def loss_exact(loss: str, yhat: sp.Matrix, y: sp.Matrix) -> tuple[sp.Expr, list[sp.Expr], sp.Matrix]:
    """(L, per-output terms, ∂L/∂ŷ)."""
    K = len(yhat)
    if loss in ("mse_half", "mse_mean", "mse_sum"):
        c = {"mse_half": sp.Rational(1, 2), "mse_mean": sp.Rational(1, K), "mse_sum": sp.Integer(1)}[loss]
        terms = [(yhat[k] - y[k]) ** 2 for k in range(K)]
        return c * sum(terms), terms, sp.Matrix([2 * c * (yhat[k] - y[k]) for k in range(K)])
    if loss == "bce":
        terms = [-(y[k] * sp.log(yhat[k]) + (1 - y[k]) * sp.log(1 - yhat[k])) for k in range(K)]
        grad = [-(y[k] / yhat[k]) + (1 - y[k]) / (1 - yhat[k]) for k in range(K)]
        return sum(terms), terms, sp.Matrix(grad)
    if loss == "ce":
        terms = [-y[k] * sp.log(yhat[k]) for k in range(K)]
        return sum(terms), terms, sp.Matrix([-y[k] / yhat[k] for k in range(K)])
    raise ValueError(loss)


def backward(given: dict[str, Any], layers: list[Layer]) -> list[sp.Matrix]:
    """δ^{[l]} = ∂L/∂z^{[l]} for every layer, by the chain rule."""
    As, _ = canonical(given)
    yhat, y = layers[-1].a, given["y"]
    last = layers[-1]
    if last.activation == "softmax":
        # With cross-entropy the softmax Jacobian collapses to ŷ − y (seed 002 Q2.4).
        delta = yhat - y
    elif last.activation == "sigmoid" and given["loss"] == "bce":
        delta = yhat - y
    else:
        _, _, dl_dyhat = loss_exact(given["loss"], yhat, y)
        delta = sp.matrix_multiply_elementwise(dl_dyhat, last.dz)
    deltas = [delta.applyfunc(tame)]
    for l in range(len(layers) - 2, -1, -1):
        back = As[l + 1].T * deltas[0]
        deltas.insert(0, sp.matrix_multiply_elementwise(back, layers[l].dz).applyfunc(tame))
    return deltas


def weight_gradient(given: dict[str, Any], layers: list[Layer], deltas: list[sp.Matrix], l: int) -> sp.Matrix:
    """∂L/∂W^{[l]} in the displayed convention (1-based l)."""
    a_in, delta = layers[l - 1].a_in, deltas[l - 1]
    if given["convention"] == "W":
        return delta * a_in.T
    if given["bias"] == "row":
        a_in = sp.Matrix([1] + list(a_in))
    return a_in * delta.T


# -- independent NumPy path -------------------------------------------------------------------
def numpy_forward_backward(given: dict[str, Any]) -> dict[str, Any]:
    """Forward pass, loss and weight gradients with NumPy only (no SymPy expression reused)."""
    conv, bias = given["convention"], given["bias"]
    alpha = float(given["alpha"])
    Ws = [np.array(w.tolist(), dtype=float) for w in given["weights"]]
    bs = [np.array(b.tolist(), dtype=float).ravel() for b in given["biases"]] if given["biases"] else None
    a = np.array(given["x"].tolist(), dtype=float).ravel()
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
    y = np.array(given["y"].tolist(), dtype=float).ravel()
    yhat = outs[-1]
    loss = given["loss"]
    if loss == "mse_half":
        L, g = 0.5 * np.sum((yhat - y) ** 2), yhat - y
    elif loss == "mse_mean":
        L, g = np.mean((yhat - y) ** 2), 2 * (yhat - y) / len(y)
    elif loss == "mse_sum":
        L, g = np.sum((yhat - y) ** 2), 2 * (yhat - y)
    elif loss == "bce":
        L = -np.sum(y * np.log(yhat) + (1 - y) * np.log(1 - yhat))
        g = -(y / yhat) + (1 - y) / (1 - yhat)
    else:
        L, g = -np.sum(y * np.log(yhat)), -(y / yhat)
    result["loss"] = L
    # Backward: full Jacobian of the output activation, whatever it is.
    last = given["output_activation"]
    if last == "softmax":
        s = yhat
        delta = (np.diag(s) - np.outer(s, s)).T @ g
    else:
        delta = g * activations.get(last).numeric_grad(zs[-1], alpha)
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


def degenerate(given: dict[str, Any], layers: list[Layer]) -> str | None:
    """Teaching constraints shared by the network families (applied to random draws only)."""
    hidden = given["activation"]
    g = activations.get(hidden)
    for layer in layers:
        act = layer.activation
        kinks = () if act == "softmax" else activations.get(act).kinks
        if any(v in kinks for v in layer.z):
            return "no pre-activation exactly at a kink of the activation"
    if g.kinks and hidden in ("relu",):
        for layer in layers[:-1]:
            if all(v <= 0 for v in layer.z):
                return "not every ReLU unit of a hidden layer dead"
    out = layers[-1]
    if out.activation == "relu" and all(v <= 0 for v in out.z):
        return "not every output ReLU unit dead"
    for layer in layers:
        if any(abs(float(v)) > 50 for v in layer.z):
            return "pre-activations of moderate size"
    return None


def diagram(given: dict[str, Any], show: str) -> list[Any]:
    """The network figure the seeds show beside a forward-pass question (none, plain, weights)."""
    from worksheetgen import mathfmt
    from worksheetgen.figures import network_diagram

    if show == "none":
        return []
    has_bias = given["bias"] != "none"
    labels = None
    if show == "weights":
        As, bs = canonical(given)
        labels = []
        for A, b in zip(As, bs):
            rows = [[mathfmt.num(b[j]) for j in range(A.rows)]] if has_bias else []
            rows += [[mathfmt.num(A[j, i]) for j in range(A.rows)] for i in range(A.cols)]
            labels.append(rows)
    return [network_diagram(given["layers"], bias=has_bias, weights=labels,
                            caption="The network of this exercise.")]
