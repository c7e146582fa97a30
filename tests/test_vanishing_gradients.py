import math
import time

import numpy as np
import pytest
import sympy as sp

from helpers import central_difference, instance, value
from worksheetgen import render
from worksheetgen.errors import WorksheetError
from worksheetgen.registry import get_family

# Seed 000 Q5 has no numbers (it points to a notebook), so there is no published vector to check;
# the chains below are small enough to verify by hand.


def test_relu_chain_by_hand():
    # x = 2, weights 1, 2, 1, 2, no bias: z = 2, 4, 4, 8; L = 1/2 (8 - 0.1)^2 = 31.205;
    # δ^[4] = 7.9, δ^[3] = 15.8, δ^[2] = 15.8, δ^[1] = 31.6; ∂L/∂w = δ a^[l-1] = 63.2, 31.6, 63.2, 31.6.
    ex = instance("vanishing_gradients", activation="relu", weights=[1, 2, 1, 2], x=2, y=0.1)
    a = ex.answers
    assert [a[f"a{l}"].value for l in range(1, 5)] == [2, 4, 4, 8]
    assert a["loss"].value == sp.Rational("31.205")
    assert [a[f"dL_dw{l}"].value for l in range(1, 5)] == [sp.Rational(v) for v in ("63.2", "31.6", "63.2", "31.6")]
    assert a["ratio"].value == 2
    # Bound with ReLU' <= 1: |w2 w3 w4| |a - y| |x| = 4 * 7.9 * 2 = 63.2, attained since every unit is active.
    assert a["bound"].value == sp.Rational("63.2")
    assert "relu_loss" not in a


def test_sigmoid_chain_by_hand():
    ex = instance("vanishing_gradients", weights=[1, 2, 1, 2], x=2, y=0.1)
    s = lambda z: 1 / (1 + math.exp(-z))  # noqa: E731
    a1 = s(2)
    a2 = s(2 * a1)
    a3 = s(a2)
    a4 = s(2 * a3)
    assert value(ex, "a1") == pytest.approx(0.8807970779778823, rel=1e-14)
    assert value(ex, "a4") == pytest.approx(a4, rel=1e-13)
    d4 = (a4 - 0.1) * a4 * (1 - a4)
    d3 = d4 * 2 * a3 * (1 - a3)
    d2 = d3 * 1 * a2 * (1 - a2)
    d1 = d2 * 2 * a1 * (1 - a1)
    assert value(ex, "dL_dw4") == pytest.approx(d4 * a3, rel=1e-12)
    assert value(ex, "dL_dw1") == pytest.approx(d1 * 2, rel=1e-12)
    assert value(ex, "ratio") == pytest.approx((d1 * 2) / (d4 * a3), rel=1e-12)
    assert value(ex, "bound") == pytest.approx(0.25**4 * 2 * 1 * 2 * (a4 - 0.1) * 2, rel=1e-12)
    # The ReLU answer set uses the same weights.
    assert ex.answers["relu_loss"].value == sp.Rational("31.205")


def _forward_loss(activation, weights, biases, x, y):
    f = {"sigmoid": lambda z: 1 / (1 + np.exp(-z)), "tanh": np.tanh,
         "relu": lambda z: np.maximum(z, 0)}[activation]
    a = x
    for W, b in zip(weights, biases):
        a = f(W @ a + b)
    return 0.5 * float(np.sum((y - a) ** 2))


def _arrays(g):
    W = [np.array(m.tolist(), dtype=float) for m in g["weights"]]
    B = [np.array(b.tolist(), dtype=float).ravel() for b in g["biases"]]
    x = np.array(g["x"].tolist(), dtype=float).ravel()
    y = np.array(g["y"].tolist(), dtype=float).ravel()
    return W, B, x, y


def _check_chain(ex, activation, prefix):
    g = ex.given
    W, B, x, y = _arrays(g)
    n, depth = g["width"], g["depth"]
    assert value(ex, prefix + "loss") == pytest.approx(_forward_loss(activation, W, B, x, y), rel=1e-10)
    norms = np.array(value(ex, prefix + "norms")).ravel()
    for l in range(depth):
        numeric = np.zeros((n, n))
        for i in range(n):
            for j in range(n):
                def loss_at(t, l=l, i=i, j=j):
                    Ws = [m.copy() for m in W]
                    Ws[l][i, j] = t
                    return _forward_loss(activation, Ws, B, x, y)
                numeric[i, j] = central_difference(loss_at, W[l][i, j], h=1e-6)
        exact = np.array(value(ex, f"{prefix}dL_dw{l + 1}"), dtype=float).reshape(n, n)
        scale = max(1e-9, np.abs(numeric).max())
        assert np.abs(exact - numeric).max() <= 1e-5 * scale + 1e-9
        # Eq. (3): the Frobenius norm of the layer's gradient.
        assert norms[l] == pytest.approx(np.sqrt(np.sum(exact**2)), rel=1e-10)
    assert value(ex, prefix + "ratio") == pytest.approx(norms[0] / norms[-1], rel=1e-10)
    return norms


@pytest.mark.parametrize("activation, width, count", [
    pytest.param(*case, marks=pytest.mark.slow) for case in
    [("sigmoid", 1, 30), ("tanh", 1, 15), ("relu", 1, 15), ("sigmoid", 2, 20), ("tanh", 3, 10), ("sigmoid", 3, 10)]
] + [("sigmoid", 1, 3), ("tanh", 2, 2), ("relu", 3, 2)])
def test_gradients_against_finite_differences(activation, width, count):
    for seed in range(count):
        ex = instance("vanishing_gradients", seed=seed, activation=activation, width=width,
                      use_bias=seed % 2 == 1)
        g = ex.given
        norms = _check_chain(ex, activation, "")
        W, B, x, y = _arrays(g)
        # The σ' <= 1/4 (tanh', ReLU' <= 1) bound on the first layer holds and is what the key says.
        kappa = 0.25 if activation == "sigmoid" else 1.0
        out = x
        f = {"sigmoid": lambda z: 1 / (1 + np.exp(-z)), "tanh": np.tanh, "relu": lambda z: np.maximum(z, 0)}[activation]
        for Wl, bl in zip(W, B):
            out = f(Wl @ out + bl)
        bound = kappa ** g["depth"] * np.prod([np.linalg.norm(Wl) for Wl in W[1:]]) \
            * np.linalg.norm(out - y) * np.linalg.norm(x)
        assert value(ex, "bound") == pytest.approx(bound, rel=1e-10)
        assert norms[0] <= bound * (1 + 1e-12)
        if activation != "relu":
            assert norms[0] < 0.1 * norms[-1]  # drawn instances show the vanishing
            relu_norms = _check_chain(ex, "relu", "relu_")
            assert relu_norms[0] > 0  # ReLU did not die on the drawn instance
        else:
            assert "relu_loss" not in ex.answers


def test_long_chain_gets_scientific_notation():
    ex = instance("vanishing_gradients", weights=[1] * 10, x=1, y=0)
    assert value(ex, "dL_dw1") < 1e-4
    _, solution = render.render_exercise(ex, "latex")
    assert r"\times 10^{-" in solution


@pytest.mark.parametrize("params, field", [
    (dict(weights=[[[1, 2], [3, 4]], [[1, 0], [0, 1]]], width=3), "params.weights"),
    (dict(weights=[1, 2, 3], depth=4), "params.weights"),
    (dict(weights=[1, 2, 3], x=[1, 2]), "params.x"),
    (dict(width=2, x=[1, 2, 3]), "params.x"),
    (dict(x=0), "params.x"),
    (dict(weights=[1, 2, 3], biases=[0, 0]), "params.biases"),
    (dict(depth=11), "params.depth"),
    (dict(weights=[1]), "params.weights"),
    (dict(activation="elu"), "params.activation"),
    (dict(weights=[1001, 1]), "params.weights"),
    (dict(x="-1000.5"), "params.x"),
    (dict(weights=[1, 1], biases=[0, 2000]), "params.biases"),
    (dict(weight_grid=[0.5, 1001, 0.5]), "params.weight_grid"),
    (dict(input_grid=[0, 0, 1]), "params.input_grid"),
    (dict(width=4), "params.width"),
])
def test_bad_input(params, field):
    with pytest.raises(WorksheetError) as err:
        instance("vanishing_gradients", **params)
    assert err.value.field == field


def test_answer_kinds():
    scalar = instance("vanishing_gradients", weights=[1, 2, 1, 2], x=2, y=0.1)
    assert scalar.answers["dL_dw1"].kind == "number" and scalar.answers["norms"].kind == "matrix"
    wide = instance("vanishing_gradients", seed=1, width=2)
    assert wide.answers["dL_dw1"].kind == "matrix" and wide.answers["a1"].kind == "matrix"


def test_a_given_chain_is_not_held_to_the_rules():
    # A ReLU output of 1000 and no vanishing break the rules for drawn chains, but the
    # instructor chose these numbers (biases left unset are 0, not drawn).
    ex = instance("vanishing_gradients", activation="relu", weights=[10, 10, 10], x=1, y=0)
    assert ex.attempt == 1 and value(ex, "a3") == 1000 and value(ex, "ratio") >= 0.1


def test_drawn_biases_make_the_rules_apply():
    for seed in range(3):
        ex = instance("vanishing_gradients", seed=seed, weights=[1, 2, 1, 2], x=2, y=0.1, use_bias=True,
                      bias_grid=[-2, 2, 0.5])
        assert value(ex, "ratio") < 0.1
        assert all(v != 0 for z in ex.data.relu["z"] for v in z)


def test_saturated_chain_checks_without_overflow():
    # z = -10^6 and beyond: σ'(z) underflows to 0 in floats; the check's forms neither overflow
    # nor produce NaN, so exact and independent values agree.
    ex = instance("vanishing_gradients", weights=[-1000] * 10, x=1000, y=0)
    assert value(ex, "a1") == pytest.approx(0, abs=1e-300)
    ex = instance("vanishing_gradients", activation="tanh", weights=[1000] * 10, x=-1000, y=0.5)
    assert value(ex, "a10") == pytest.approx(-1)


LONG = [[[999.123456789012345, -998.5, 3.25], [4, -5, 6], [-7, 8, -9.5]]] * 10


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
@pytest.mark.parametrize("params", [
    dict(depth=10, width=3, use_bias=True),
    dict(weights=LONG, x=[1000, -2, 3], y=[0, 0, 1000], biases=[[0.1, -1000, 0.3]] * 10),
    dict(weights=LONG, x=["1/3", "2/7", "-1000"], y=[0, 0, "1/999983"], biases=[["1/7", "-1/11", "3/13"]] * 10),
])
def test_largest_documented_values_build_at_once(activation, params):
    """10 layers of 3 units, given numbers up to 1000 with long decimals and fractions: the ReLU
    chain's rationals grow to hundreds of digits, so its norms are exact only while SymPy can
    factor them quickly (else 50 digits); smooth chains are 50-digit Floats throughout."""
    start = time.perf_counter()
    ex = instance("vanishing_gradients", activation=activation, **params)
    for fmt in ("latex", "markdown"):
        render.render_exercise(ex, fmt)
    assert time.perf_counter() - start < 2.5
    assert ex.given.depth == 10 and ex.given.width == 3


@pytest.mark.parametrize("params, field", [
    (dict(activation="relu", depth=10, width=3, weight_grid=[5, 1000, 0.5]), "weight_grid"),
    (dict(activation="tanh", depth=10, width=3, weight_grid=[5, 1000, 0.5]), "weight_grid"),
    (dict(depth=10, width=3, weights=[[[1, 2, 3], [4, 5, 6], [7, 8, 9.5]]] * 10), "weights"),
])
def test_hopeless_grids_are_refused_at_once(params, field):
    """Candidates are screened in floats before the exact solve, so grids the rules practically
    never accept end in a second with the grid named, not after 200 exact solves."""
    start = time.perf_counter()
    with pytest.raises(WorksheetError) as err:
        instance("vanishing_gradients", **params)
    assert time.perf_counter() - start < 2
    assert err.value.field.endswith(field)


def test_help_states_the_limits():
    params = {p.name: p for p in get_family("vanishing_gradients").params}
    for key in ("weights", "biases", "x", "y", "weight_grid", "input_grid"):
        assert "at most 1000 in size" in params[key].help, key
    assert "2 to 10" in params["depth"].help and "1 to 3" in params["width"].help
