import math

import numpy as np
import pytest
import sympy as sp

from helpers import central_difference, instance, value
from worksheetgen.errors import WorksheetError

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
    ("sigmoid", 1, 30), ("tanh", 1, 15), ("relu", 1, 15), ("sigmoid", 2, 20), ("tanh", 3, 10), ("sigmoid", 3, 10),
])
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
    from worksheetgen import render

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
])
def test_bad_input(params, field):
    with pytest.raises(WorksheetError) as err:
        instance("vanishing_gradients", **params)
    assert err.value.field == field
