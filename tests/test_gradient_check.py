import math
import re

import mpmath
import pytest
import sympy as sp

from helpers import central_difference, instance, value
from worksheetgen.answers import to_float
from worksheetgen import render
from worksheetgen.answers import BooleanAnswer
from worksheetgen.errors import CheckError, WorksheetError
from worksheetgen.instance import cross_check
from worksheetgen.params import parse_params
from worksheetgen.registry import get_family

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


# -- answer kinds and declared records ----------------------------------------------------------

def test_verify_and_correct_are_real_booleans():
    for params in (SEED, dict(SEED, wrong_probability=0.5), dict(SEED, wrong_gradient=False)):
        ex = instance("gradient_check", **params)
        assert type(ex.given.verify) is bool and type(ex.given.wrong) is bool
        assert isinstance(ex.answers["correct"], BooleanAnswer)
        assert type(ex.answers["correct"].value) is bool
        assert type(ex.family.check(ex.given)["correct"]) is bool
    assert instance("gradient_check", **SEED).given.verify is False
    assert instance("gradient_check", **SEED, wrong_probability=0.5).given.verify is True
    # "False" as text would print "True" through any truthiness test.
    entry = instance("gradient_check", **SEED, wrong_gradient=True, mistake="sign").answers["correct"].entry(4, None)
    assert entry["exact"] is False and entry["shown"] == "false"


def test_records_are_declared():
    fam = type(get_family("gradient_check"))
    ex = instance("gradient_check", seed=1, model="tanh", wrong_probability=0.5)
    assert isinstance(ex.given, fam.Given) and isinstance(ex.data, fam.Data)
    assert not hasattr(fam, "rejection")


# -- random instances against an independent computation --------------------------------------

def _model(name):
    if name == "sigmoid":
        return lambda z: 1 / (1 + math.exp(-z)), lambda z: mpmath.mpf(1) / (1 + mpmath.exp(-z))
    if name == "tanh":
        return math.tanh, mpmath.tanh
    return (lambda z: z), (lambda z: z)


def _check_instance(ex):
    g = ex.given
    f, mf = _model(g.model)
    W, x, b, y, eps = (float(g[k]) for k in ("W", "x", "b", "y", "epsilon"))

    def loss(w):
        return 0.5 * (y - f(w * x + b)) ** 2

    true_grad = central_difference(loss, W, h=1e-6)
    assert value(ex, "grad_analytic") == pytest.approx(true_grad, rel=1e-6, abs=1e-9)
    assert value(ex, "loss_plus") == pytest.approx(loss(W + eps), rel=1e-12)
    assert value(ex, "loss_minus") == pytest.approx(loss(W - eps), rel=1e-12)
    assert value(ex, "grad_numerical") == pytest.approx((loss(W + eps) - loss(W - eps)) / (2 * eps), rel=1e-8)
    assert ex.answers["correct"].value is (not g.wrong)
    rel = value(ex, "rel_error")
    if g.wrong:
        assert rel > 0.1  # every mistake is far above any threshold
        assert ex.answers["mistake"].kind == "text"
        return
    assert rel < float(g.threshold)
    if g.model == "linear":
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
            predicted = abs(P(g.epsilon) ** 2 / 6 * third / first)
        assert rel == pytest.approx(float(predicted), rel=1e-3)


def test_random_seeds():
    for seed in range(4):
        _check_instance(instance("gradient_check", seed=seed, wrong_probability=0.5,
                                 relative_error="max" if seed % 2 else "sum"))
    for model in ("sigmoid", "tanh"):
        for seed in range(2):
            _check_instance(instance("gradient_check", seed=seed, model=model, wrong_probability=0.3))


@pytest.mark.slow
def test_linear_random_seeds():
    for seed in range(70):
        _check_instance(instance("gradient_check", seed=seed, wrong_probability=0.5,
                                 relative_error="max" if seed % 2 else "sum"))


@pytest.mark.slow
@pytest.mark.parametrize("model", ["sigmoid", "tanh"])
def test_smooth_random_seeds(model):
    for seed in range(25):
        _check_instance(instance("gradient_check", seed=seed, model=model, wrong_probability=0.3))


@pytest.mark.slow
def test_wrong_gradient_always_caught():
    kinds = set()
    for seed in range(20):
        ex = instance("gradient_check", seed=seed, wrong_gradient=True)
        kinds.add(ex.given.mistake)
        assert ex.answers["correct"].value is False
        assert value(ex, "rel_error") > 0.1
    assert kinds == {"sign", "missing_x", "factor_2"}


# -- the cross-check compares like with like ----------------------------------------------------

@pytest.mark.parametrize("model, z, eps, y", [
    ("sigmoid", 30, "1e-12", "0.1"),
    ("tanh", -30, "1e-12", "-1"),
    ("sigmoid", 0.3, "1e-12", "1"),
    ("tanh", 15, "1e-7", "0.5"),
])
def test_small_steps_and_saturated_units_pass_the_cross_check(model, z, eps, y):
    # L(W + ε) and L(W - ε) agree in ~25 digits here: a double-precision g_n is noise, so the
    # independent check raises its working precision until it settles.
    ex = instance("gradient_check", model=model, W=z, x=1, b=0, y=y, epsilon=eps)
    assert ex.answers["correct"].value is True
    with mpmath.workdps(80):
        f = (lambda t: 1 / (1 + mpmath.exp(-t))) if model == "sigmoid" else mpmath.tanh
        L = lambda w: (mpmath.mpf(y) - f(w)) ** 2 / 2  # noqa: E731
        e = mpmath.mpf(eps)
        g_n = (L(mpmath.mpf(z) + e) - L(mpmath.mpf(z) - e)) / (2 * e)
    assert value(ex, "grad_numerical") == pytest.approx(float(g_n), rel=1e-12)


@pytest.mark.parametrize("params, key, off", [
    (dict(model="sigmoid", W=2, x=1, b=0, y=0.1, epsilon="1e-10"), "grad_numerical", sp.Rational(1, 10**7)),
    # The relative error is ~1e-9 here, and the engine compares values that small to an
    # absolute 1e-12: a 1% error is caught, a 1e-7 one would not be.
    (dict(model="tanh", W=0.5, x=2, b=0.1, y=0.3), "rel_error", sp.Rational(1, 100)),
    (dict(SEED), "loss_plus", sp.Rational(1, 10**7)),
    (dict(SEED, wrong_gradient=True, mistake="factor_2"), "grad_claimed", sp.Rational(1, 10**7)),
])
def test_a_real_disagreement_still_stops_the_build(params, key, off):
    ex = instance("gradient_check", **params)
    cross_check(ex)
    answer = ex.answers[key]
    answer.value = answer.value * (1 + off)
    with pytest.raises(CheckError, match=key):
        cross_check(ex)


def test_a_wrong_verdict_stops_the_build():
    ex = instance("gradient_check", **SEED, wrong_gradient=True, mistake="sign")
    ex.answers["correct"].value = True
    with pytest.raises(CheckError, match="correct"):
        cross_check(ex)


# -- which rules apply -----------------------------------------------------------------------

def test_pinned_values_are_not_held_to_the_rules():
    # Everything but randomness-free options pinned: nothing is drawn, so a large ε whose
    # truncation error misleads the test is the instructor's lesson, shown with a caution.
    options = parse_params(get_family("gradient_check").params, dict(SEED, model="sigmoid", epsilon=0.5))
    assert get_family("gradient_check").drawn(options) == frozenset()
    ex = instance("gradient_check", **dict(SEED, model="sigmoid", epsilon=0.5))
    assert ex.attempt == 1 and ex.data.misleading
    _, solution = render.render_exercise(ex, "markdown")
    assert "Caution" in solution


def test_drawn_values_obey_the_rules():
    for seed in range(3):
        ex = instance("gradient_check", seed=seed, model="sigmoid", W=3, wrong_probability=0.5)
        assert abs(float(ex.data.z)) <= 4 and abs(value(ex, "grad_analytic")) >= 1e-3
        assert not ex.data.misleading


# -- limits ---------------------------------------------------------------------------------

def test_epsilon_limits_are_the_help_texts():
    text = next(p.help for p in get_family("gradient_check").params if p.name == "epsilon")
    lo, hi = re.search(r"from (\S+) to (\S+)", text).groups()
    for eps in (lo, hi):
        instance("gradient_check", **dict(SEED, epsilon=eps))
    for eps in (sp.Rational(lo) / 2, sp.Rational(hi) + sp.Rational(1, 100)):
        with pytest.raises(WorksheetError) as err:
            instance("gradient_check", **dict(SEED, epsilon=str(eps)))
        assert err.value.field == "params.epsilon" and err.value.allowed == f"from {lo} to {hi}"


@pytest.mark.parametrize("params, field", [
    (dict(x=0), "params.x"),
    (dict(wrong_gradient=False, mistake="sign"), "params.mistake"),
    (dict(mistake="sign"), "params.mistake"),
    (dict(x=1, wrong_gradient=True, mistake="missing_x"), "params.mistake"),
    (dict(x=-1, wrong_probability=0.5, mistake="missing_x"), "params.mistake"),
    (dict(epsilon=-0.001), "params.epsilon"),
    (dict(epsilon="1e-13"), "params.epsilon"),
    (dict(epsilon=0.6), "params.epsilon"),
    (dict(threshold=0.5), "params.threshold"),
    (dict(input_grid=[0, 0, 1]), "params.input_grid"),
    (dict(model="relu"), "params.model"),
    (dict(model="sigmoid", W=31, x=1, b=0), "params.W"),
    (dict(model="linear", W=0.5, x=2, b=0.1, y=1.1), "params.y"),
    (dict(model="sigmoid", W=0.5, x=2, b=-1, y=0.5), "params.y"),
    (dict(model="tanh", W=0.5, x=2, b=-1, y=0), "params.y"),
])
def test_bad_input(params, field):
    with pytest.raises(WorksheetError) as err:
        instance("gradient_check", **params)
    assert err.value.field == field


# -- the precision the text asks for, and the verdict it implies ---------------------------------

def _round_sig(x, k):
    """x (an exact SymPy value) rounded half up to k significant digits, as a student would."""
    from decimal import ROUND_HALF_UP, Decimal

    d = Decimal(str(sp.N(x, 60)).replace("*^", "E")) if not isinstance(x, Decimal) else x
    if d == 0:
        return d
    return d.quantize(Decimal(1).scaleb(d.adjusted() - k + 1), rounding=ROUND_HALF_UP)


def _graded(ex, key, text):
    import json

    from worksheetgen.answers import grade_entry

    entry = json.loads(json.dumps(ex.answers[key].entry(4, None)))
    return grade_entry(entry, str(text))


def _check_asked_precision(ex):
    """The student who rounds as the text says gets every value accepted, and no accepted relative
    error implies the other verdict."""
    from decimal import Decimal

    from worksheetgen.answers import margin

    d, g = ex.data, ex.given
    kg, kl = d.grad_digits, d.loss_digits
    problem, _ = render.render_exercise(ex, "markdown")
    assert f"to {kg} significant digits" in problem and f"with {kl} significant digits" in problem
    # The losses rounded as asked, then g_n from them, then the relative error from the rounded gradients.
    lp, lm = _round_sig(d.loss_plus, kl), _round_sig(d.loss_minus, kl)
    assert _graded(ex, "loss_plus", lp) == 1 and _graded(ex, "loss_minus", lm) == 1
    eps = Decimal(int(g.epsilon.p)) / Decimal(int(g.epsilon.q))
    gn = _round_sig((lp - lm) / (2 * eps), kg)
    assert _graded(ex, "grad_numerical", gn) == 1
    ga = _round_sig(d.claimed, kg)
    assert _graded(ex, "grad_claimed" if g.verify else "grad_analytic", ga) == 1
    denom = max(abs(ga), abs(gn)) if g.relative_error == "max" else abs(ga) + abs(gn)
    rel = _round_sig(abs(ga - gn) / denom, 2) if denom else Decimal(0)
    assert _graded(ex, "rel_error", f"{rel:e}") == 1
    assert (rel < Decimal(str(float(g.threshold)))) == d.decision == (not g.wrong)
    # No value within the key's tolerance lies on the other side of the threshold.
    entry = ex.answers["rel_error"].entry(4, None)
    r, t = to_float(ex.answers["rel_error"].value), float(g.threshold)
    m = margin(entry["tolerance"], r)
    assert entry["tolerance"] == {"kind": "significant", "digits": 2}
    assert (r + m < t) if r < t else (r - m >= t)


def test_asked_precision_on_the_seed_and_a_few_draws():
    _check_asked_precision(instance("gradient_check", **SEED))
    for seed, model in ((0, "sigmoid"), (1, "tanh"), (2, "linear")):
        _check_asked_precision(instance("gradient_check", seed=seed, model=model, wrong_probability=0.5))


@pytest.mark.slow
def test_no_accepted_relative_error_implies_the_other_verdict_over_300_draws():
    counts = {}
    for i in range(300):
        model = ("linear", "sigmoid", "tanh")[i % 3]
        ex = instance("gradient_check", seed=i, model=model, wrong_probability=0.5,
                      relative_error="max" if i % 2 else "sum")
        _check_asked_precision(ex)
        counts[(model, ex.given.wrong)] = counts.get((model, ex.given.wrong), 0) + 1
    print("draws by (model, wrong):", counts)
    assert all(counts.get((m, w), 0) > 20 for m in ("linear", "sigmoid", "tanh") for w in (False, True))
