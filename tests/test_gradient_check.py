import math

import mpmath
import pytest
import sympy as sp

from helpers import central_difference, instance, value
from worksheetgen.errors import WorksheetError

SEED = dict(model="linear", y=1, W=0.5, x=2, b=0.1, epsilon=0.0001)


def test_seed_004_ex5_values():
    ex = instance("gradient_check", **SEED)
    a = ex.answers
    assert a["yhat"].value == sp.Rational("1.1")
    assert a["grad_analytic"].value == sp.Rational("0.2")
    # The seed prints L(W+eps) = 0.00502 and L(W-eps) = 0.00498: both rounded. Exactly
    # 1/2 (0.1002)^2 = 0.00502002 and 1/2 (0.0998)^2 = 0.00498002; the difference 0.00004 is right.
    assert a["loss_plus"].value == sp.Rational("0.00502002")
    assert a["loss_minus"].value == sp.Rational("0.00498002")
    assert a["loss_plus"].value - a["loss_minus"].value == sp.Rational("0.00004")
    # For the linear model the central difference is exact, not an approximation.
    assert a["grad_numerical"].value == sp.Rational("0.2")
    assert a["rel_error"].value == 0
    assert a["correct"].value is True
    assert "grad_claimed" not in a and "mistake" not in a


def test_seed_solution_text_shows_exact_losses():
    from worksheetgen import render

    problem, solution = render.render_exercise(instance("gradient_check", **SEED), "markdown")
    assert "0.00502002" in solution and "0.00498002" in solution
    assert "\\varepsilon = 10^{-4}" in problem and "10^{-7}" in solution


@pytest.mark.parametrize("mistake, rel_max, rel_sum", [("sign", 2, 1), ("factor_2", 0.5, 1 / 3)])
def test_seed_with_wrong_gradient(mistake, rel_max, rel_sum):
    for kind, expected in (("max", rel_max), ("sum", rel_sum)):
        ex = instance("gradient_check", **SEED, wrong_gradient=True, mistake=mistake, relative_error=kind)
        assert value(ex, "rel_error") == pytest.approx(expected, rel=1e-12)
        assert ex.answers["correct"].value is False
        assert value(ex, "grad_numerical") == pytest.approx(0.2, rel=1e-15)
    claimed = value(instance("gradient_check", **SEED, wrong_gradient=True, mistake=mistake), "grad_claimed")
    assert claimed == pytest.approx({"sign": -0.2, "factor_2": 0.4}[mistake])


def test_missing_x_on_the_seed():
    ex = instance("gradient_check", **SEED, wrong_gradient=True, mistake="missing_x")
    assert value(ex, "grad_claimed") == pytest.approx(0.1)  # -(1 - 1.1), the factor x = 2 dropped
    assert value(ex, "rel_error") == pytest.approx(0.5)


def _model(name):
    if name == "sigmoid":
        return lambda z: 1 / (1 + math.exp(-z)), lambda z: mpmath.mpf(1) / (1 + mpmath.exp(-z))
    if name == "tanh":
        return math.tanh, mpmath.tanh
    return (lambda z: z), (lambda z: z)


def _check_instance(ex):
    g = ex.given
    f, mf = _model(g["model"])
    W, x, b, y, eps = (float(g[k]) for k in ("W", "x", "b", "y", "epsilon"))

    def loss(w):
        return 0.5 * (y - f(w * x + b)) ** 2

    true_grad = central_difference(loss, W, h=1e-6)
    assert value(ex, "grad_analytic") == pytest.approx(true_grad, rel=1e-6, abs=1e-9)
    assert value(ex, "loss_plus") == pytest.approx(loss(W + eps), rel=1e-12)
    assert value(ex, "loss_minus") == pytest.approx(loss(W - eps), rel=1e-12)
    assert value(ex, "grad_numerical") == pytest.approx((loss(W + eps) - loss(W - eps)) / (2 * eps), rel=1e-8)
    assert ex.answers["correct"].value is (not g["wrong"])
    rel = value(ex, "rel_error")
    if g["wrong"]:
        assert rel > 0.1  # every mistake is far above any threshold
        assert ex.answers["mistake"].kind == "text"
        return
    assert rel < float(g["threshold"])
    if g["model"] == "linear":
        # Central difference of a quadratic: exact, so the relative error is exactly 0.
        assert ex.answers["rel_error"].value == 0
        assert ex.answers["grad_numerical"].value == ex.answers["grad_analytic"].value
    else:
        # Smooth model: g_n - g_a = eps^2/6 L'''(W) + O(eps^4); L''' by mpmath differentiation.
        with mpmath.workdps(40):
            P = lambda r: mpmath.mpf(int(r.p)) / int(r.q)  # noqa: E731
            mW, mx, mb, my = (P(g[k]) for k in ("W", "x", "b", "y"))
            third = mpmath.diff(lambda w: (my - mf(w * mx + mb)) ** 2 / 2, mW, 3)
            first = mpmath.diff(lambda w: (my - mf(w * mx + mb)) ** 2 / 2, mW, 1)
            predicted = abs(P(g["epsilon"]) ** 2 / 6 * third / first)
        assert rel == pytest.approx(float(predicted), rel=1e-3)


def test_linear_random_seeds():
    for seed in range(70):
        _check_instance(instance("gradient_check", seed=seed, wrong_probability=0.5,
                                 relative_error="max" if seed % 2 else "sum"))


@pytest.mark.parametrize("model", ["sigmoid", "tanh"])
def test_smooth_random_seeds(model):
    for seed in range(15):
        _check_instance(instance("gradient_check", seed=seed, model=model, wrong_probability=0.3))


def test_wrong_gradient_always_caught():
    kinds = set()
    for seed in range(20):
        ex = instance("gradient_check", seed=seed, wrong_gradient=True)
        kinds.add(ex.given["mistake"])
        assert ex.answers["correct"].value is False
        assert value(ex, "rel_error") > 0.1
    assert kinds == {"sign", "missing_x", "factor_2"}


@pytest.mark.parametrize("params, field", [
    (dict(x=0), "params.x"),
    (dict(wrong_gradient=False, mistake="sign"), "params.mistake"),
    (dict(mistake="sign"), "params.mistake"),
    (dict(x=1, wrong_gradient=True, mistake="missing_x"), "params.mistake"),
    (dict(epsilon=-0.001), "params.epsilon"),
    (dict(threshold=0.5), "params.threshold"),
    (dict(input_grid=[0, 0, 1]), "params.input_grid"),
    (dict(model="relu"), "params.model"),
])
def test_bad_input(params, field):
    with pytest.raises(WorksheetError) as err:
        instance("gradient_check", **params)
    assert err.value.field == field
