import math
import time

import numpy as np
import pytest
import sympy as sp

from helpers import instance, value
from worksheetgen import render
from worksheetgen.errors import WorksheetError
from worksheetgen.registry import get_family

SEED_WEIGHTS = [  # W1, W2, W3 of seed 001 Q2 (the seed lists them as W3, W2, W1)
    [[1.4, 0.6], [0.8, 0.6]],
    [[2.1, -0.5], [0.7, 1.9]],
    [[1.2, -2.2], [1.2, 1.3]],
]

NUMPY_G = {
    "relu": lambda z, a: np.maximum(z, 0.0),
    "leaky_relu": lambda z, a: np.where(z > 0, z, a * z),
    "elu": lambda z, a: np.where(z >= 0, z, a * (np.exp(np.minimum(z, 0)) - 1)),
    "sigmoid": lambda z, a: 1 / (1 + np.exp(-z)),
    "tanh": lambda z, a: np.tanh(z),
    "silu": lambda z, a: z / (1 + np.exp(-z)),
    "gelu": lambda z, a: 0.5 * z * (1 + np.vectorize(math.erf)(z / np.sqrt(2))),
}


def network(weights, x, g=None, alpha=0.0):
    a = np.asarray(x, float)
    for l, w in enumerate(weights):
        a = np.asarray(w, float).T @ a
        if g is not None and l < len(weights) - 1:
            a = NUMPY_G[g](a, alpha)
    return a


def test_seed_001_q2_values():
    ex = instance("linear_collapse", weights=SEED_WEIGHTS)
    assert ex.given["activation"] == "silu" and ex.given["c"] == 2
    assert list(ex.given["x1"]) == [1, 0]
    # Seed: M^T = [[4.56, 3.408], [-6.82, -3.658]] (correct, and exact).
    assert ex.answers["MT"].value == sp.Matrix([[sp.Rational("4.56"), sp.Rational("3.408")],
                                               [sp.Rational("-6.82"), sp.Rational("-3.658")]])
    # Seed: y1 = (3.0571, -5.2727), y2 = (7.7257, -13.2458): both correct to the 4 decimals shown
    # (3.057108, -5.272707 and 7.725729, -13.245817).
    y1 = np.ravel(value(ex, "y1"))
    y2 = np.ravel(value(ex, "y2"))
    assert y1 == pytest.approx([3.0571, -5.2727], abs=5e-5)
    assert y2 == pytest.approx([7.7257, -13.2458], abs=5e-5)
    assert np.ravel(value(ex, "diff")) == pytest.approx(y2 - 2 * y1, abs=1e-12)
    assert ex.answers["one_matrix_with_g"].value is False  # a real bool
    assert ex.answers["one_matrix_with_g"].kind == "boolean"
    assert {ex.answers[k].kind for k in ("MT", "y1", "y2", "diff")} == {"matrix"}


def test_seed_solution_text():
    ex = instance("linear_collapse", weights=SEED_WEIGHTS)
    problem, solution = render.render_exercise(ex, "markdown")
    assert r"\begin{bmatrix} 4.56 & 3.408 \\ -6.82 & -3.658 \end{bmatrix}" in solution
    assert r"\begin{bmatrix} 3.0571 \\ -5.2727 \end{bmatrix}" in solution
    assert r"\begin{bmatrix} 7.7257 \\ -13.2458 \end{bmatrix}" in solution
    assert r"\mathbf{W}^{[3]} = \begin{bmatrix} 1.2 & -2.2 \\ 1.2 & 1.3 \end{bmatrix}" in problem


@pytest.mark.parametrize("activation, seeds", [
    pytest.param(*case, marks=pytest.mark.slow) for case in
    [("silu", 30), ("relu", 30), ("leaky_relu", 20), ("elu", 20), ("sigmoid", 10), ("tanh", 10), ("gelu", 10)]
] + [("silu", 2), ("relu", 2), ("gelu", 2), ("elu", 2)])
def test_random_against_numpy(activation, seeds):
    for seed in range(seeds):
        inputs = "drawn" if seed % 2 else "seed"
        ex = instance("linear_collapse", seed=seed, activation=activation, inputs=inputs)
        g = ex.given
        ws = [np.array(w.tolist(), dtype=float) for w in g["weights"]]
        alpha, c = float(g["alpha"]), float(g["c"])
        x1 = np.array(g["x1"].tolist(), dtype=float).ravel()
        # (a) M^T from one multi_dot, and it reproduces the linear network on any input.
        mt = np.linalg.multi_dot([w.T for w in reversed(ws)])
        assert np.array(value(ex, "MT")) == pytest.approx(mt, rel=1e-12, abs=1e-12)
        probe = np.random.default_rng(seed).normal(size=len(x1))
        assert network(ws, probe) == pytest.approx(mt @ probe, rel=1e-9, abs=1e-9)
        assert mt.T == pytest.approx(np.linalg.multi_dot(ws), rel=1e-12, abs=1e-12)  # M = W1 W2 ... WL
        # (b) the outputs with g, by plain numpy.
        y1, y2 = network(ws, x1, activation, alpha), network(ws, c * x1, activation, alpha)
        assert np.ravel(value(ex, "y1")) == pytest.approx(y1, rel=1e-9, abs=1e-9)
        assert np.ravel(value(ex, "y2")) == pytest.approx(y2, rel=1e-9, abs=1e-9)
        assert np.ravel(value(ex, "diff")) == pytest.approx(y2 - c * y1, rel=1e-8, abs=1e-9)
        # (c) the teaching constraint: the difference is visible at 4 decimals.
        assert np.max(np.abs(y2 - c * y1)) >= 0.05
        if activation in ("relu", "leaky_relu"):
            assert c < 0  # positive scales cannot expose a positively homogeneous g


def test_larger_networks():
    for seed, (size, layers) in enumerate([(3, 2), (3, 4), (4, 3), (2, 5)]):
        ex = instance("linear_collapse", seed=seed, size=size, layers=layers, inputs="drawn")
        ws = [np.array(w.tolist(), dtype=float) for w in ex.given["weights"]]
        assert len(ws) == layers and all(w.shape == (size, size) for w in ws)
        x1 = np.array(ex.given["x1"].tolist(), dtype=float).ravel()
        c = float(ex.given["c"])
        assert np.ravel(value(ex, "y2")) == pytest.approx(network(ws, c * x1, "silu"), rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("params, field", [
    ({"weights": [[[1, 2], [3, 4]], [[1, 2, 3], [4, 5, 6], [7, 8, 9]]]}, "weights"),
    ({"weights": [[[1, 2, 3], [4, 5, 6]], [[1, 2], [3, 4]]]}, "weights"),
    ({"weights": [[[1, 2], [3, 4]]]}, "weights"),
    ({"x1": [1, 0, 0]}, "x1"),
    ({"x1": [0, 0]}, "x1"),
    ({"activation": "relu", "c": 2}, "c"),
    ({"c": 1}, "c"),
    ({"c": 0}, "c"),
    ({"c": "1/3"}, "c"),
    ({"x1": ["1/3", 1]}, "x1"),
    ({"activation": "leaky_relu", "alpha": 1}, "alpha"),
    ({"activation": "tanh", "c": -1}, "c"),
    # Every pre-activation positive: ELU acts linearly, so this pair proves nothing.
    ({"activation": "elu", "weights": [[[1, 0.5], [0.5, 1]], [[1, 0.5], [0.5, 1]]]}, "c"),
    ({"activation": "identity"}, "activation"),
    ({"layers": 6}, "layers"),
    ({"weight_grid": [1, -1, 0.1]}, "weight_grid"),
    ({"weight_grid": [0, 0, 1]}, "weight_grid"),
    ({"inputs": "drawn", "input_grid": [0, 0, 1]}, "input_grid"),
    ({"weight_grid": [-1001, 1, 1]}, "weight_grid"),
    ({"weights": [[[1001, 0], [0, 1]], [[1, 0], [0, 1]]]}, "weights"),
    ({"x1": [-1000.5, 1]}, "x1"),
    ({"c": -1001}, "c"),
    ({"layers": 6}, "layers"),
    ({"size": 5}, "size"),
])
def test_bad_input(params, field):
    with pytest.raises(WorksheetError) as info:
        instance("linear_collapse", **params)
    assert field in info.value.field


def test_zero_input_grid_is_fine_when_unused():
    ex = instance("linear_collapse", input_grid=[0, 0, 1])
    assert list(ex.given.x1) == [1, 0]


def test_seed_inputs_are_not_draws():
    # With inputs = "seed", x1 = e1 and c = 2 are no draw: pinned weights make a fully pinned
    # exercise, not held to the rules (here Mᵀ and ŷ with entries beyond 1000 in size).
    big = [[[3, -2], [1, 1]], [[400, 1], [0, -400]]]
    ex = instance("linear_collapse", weights=big)
    assert ex.attempt == 1 and np.abs(value(ex, "MT")).max() == 1200
    assert np.abs(value(ex, "y2")).max() > 1000


def test_closed_forms_are_not_nested():
    """g of a rational keeps its closed form; a later layer continues in 40-digit decimals (the
    nested form of 5 layers of 4 × 4 GELUs took seconds to evaluate and nobody reads it)."""
    ex = instance("linear_collapse", seed=2, activation="gelu", layers=3, size=2, inputs="drawn")
    a1, a2 = ex.data.path1[0]["a"], ex.data.path1[1]["a"]
    assert all(v.is_Rational or v.has(sp.erf) for v in a1)
    assert all(isinstance(v, sp.Float) for v in a2)


LARGEST = dict(layers=5, size=4, inputs="drawn")


@pytest.mark.parametrize("activation", ["gelu", "silu", "elu", "tanh", "leaky_relu"])
def test_largest_documented_sizes_build_at_once(activation):
    start = time.perf_counter()
    ex = instance("linear_collapse", activation=activation, **LARGEST)
    for fmt in ("latex", "markdown"):
        render.render_exercise(ex, fmt)
    assert time.perf_counter() - start < 2.5
    assert len(ex.given.weights) == 5 and ex.given.weights[0].shape == (4, 4)


def test_largest_given_numbers_build_at_once():
    w = [[[999.5, -0.25, 3, 4], [4, 5, -6, 7], [-7, 8, 9.5, 1], [1, -2, 3, 4]]] * 5
    start = time.perf_counter()
    ex = instance("linear_collapse", activation="gelu", weights=w, x1=[1000, -2, 3, 4], c=-1000)
    render.render_exercise(ex, "latex")
    assert time.perf_counter() - start < 2.5


@pytest.mark.parametrize("params, field", [
    (dict(LARGEST, weight_grid=[-1000, 1000, 0.5]), "weight_grid"),
    (dict(LARGEST, weight_grid=[-0.1, 0.1, 0.1]), "weight_grid"),
    (dict(LARGEST, weights=[[[1000] * 4] * 4] * 5), "weights"),
])
def test_hopeless_grids_are_refused_at_once(params, field):
    """Candidates are screened in floats before the exact solve: a grid whose draws practically
    never meet the rules ends in a second, naming it, not after 200 exact solves."""
    start = time.perf_counter()
    with pytest.raises(WorksheetError) as info:
        instance("linear_collapse", activation="gelu", **params)
    assert time.perf_counter() - start < 2
    assert info.value.field.endswith(field)


def test_help_states_the_limits():
    params = {p.name: p for p in get_family("linear_collapse").params}
    for key in ("weights", "x1", "c", "weight_grid", "input_grid"):
        assert "at most 1000 in size" in params[key].help, key
    assert "2 to 5" in params["layers"].help and "2 to 4" in params["size"].help
