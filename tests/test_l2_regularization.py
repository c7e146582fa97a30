import numpy as np
import pytest
import sympy as sp

from helpers import instance, numeric_gradient, value
from worksheetgen import render
from worksheetgen.errors import CheckError, WorksheetError
from worksheetgen.instance import cross_check
from worksheetgen.registry import get_family

SEED = dict(weights=[1, -2, 0.5], lam=0.01, gradient=[0.1, -0.4, 0.2], eta=0.1)


def test_seed_004_ex6_values():
    ex = instance("l2_regularization", convention="seed", **SEED)
    # The seed's values are right: penalty 0.0525, W_new = [0.989, -1.958, 0.4795].
    assert ex.answers["penalty"].value == sp.Rational("0.0525")
    assert ex.answers["decay"].value == sp.Matrix([[sp.Rational("0.01"), sp.Rational("-0.02"), sp.Rational("0.005")]])
    assert ex.answers["w_new"].value == sp.Matrix([[sp.Rational("0.989"), sp.Rational("-1.958"), sp.Rational("0.4795")]])


def test_default_convention_is_the_textbook_one():
    # Penalty λΣw², update with its derivative 2λw: the seed's numbers need convention = "seed".
    ex = instance("l2_regularization", **SEED)
    assert ex.given.convention == "gradient"
    assert ex.answers["w_new"].value == instance("l2_regularization", convention="gradient", **SEED).answers["w_new"].value
    assert ex.answers["decay"].label == r"2\lambda W"


def test_pinned_example_is_seed_004_ex6_recomputed():
    # The seed's own definitions, in plain fractions: penalty λΣw², W − η(∂L/∂W + λW).
    from fractions import Fraction as F
    from pathlib import Path

    from worksheetgen.instance import make_instance
    from worksheetgen.spec import load_spec

    spec = load_spec(Path(__file__).resolve().parent.parent / "examples" / "pinned_l2_regularization.toml")
    (exercise,) = spec.exercises
    ex = make_instance(get_family(exercise.family), exercise.options, sheet_seed=spec.seed)
    w, g, lam, eta = [F(1), F(-2), F(1, 2)], [F(1, 10), F(-4, 10), F(2, 10)], F(1, 100), F(1, 10)
    assert ex.answers["penalty"].value == sp.Rational(lam * sum(v * v for v in w)) == sp.Rational("0.0525")
    new = [v - eta * (gv + lam * v) for v, gv in zip(w, g)]
    assert ex.answers["w_new"].value == sp.Matrix([[sp.Rational(v) for v in new]])
    assert [str(v) for v in ex.answers["w_new"].value] == ["989/1000", "-979/500", "959/2000"]  # 0.989, -1.958, 0.4795
    assert ex.answers["decay"].label == r"\lambda W"


def test_seed_numbers_under_the_other_conventions():
    ex = instance("l2_regularization", convention="gradient", **SEED)
    assert ex.answers["penalty"].value == sp.Rational("0.0525")
    assert ex.answers["w_new"].value == sp.Matrix([[sp.Rational("0.988"), sp.Rational("-1.956"), sp.Rational("0.479")]])
    ex = instance("l2_regularization", convention="half", **SEED)
    assert ex.answers["penalty"].value == sp.Rational("0.02625")
    assert ex.answers["w_new"].value == sp.Matrix([[sp.Rational("0.989"), sp.Rational("-1.958"), sp.Rational("0.4795")]])


def test_solution_states_the_convention():
    _, seed_text = render.render_exercise(instance("l2_regularization", convention="seed", **SEED), "latex")
    assert r"L + \frac{\lambda}{2} \sum_i w_i^2" in seed_text
    _, grad_text = render.render_exercise(instance("l2_regularization", convention="gradient", **SEED), "latex")
    assert r"2\lambda W" in grad_text


PENALTY_TEX = {r"\text{Penalty} = \lambda \sum_i w_i^2": "λΣw²", r"\text{Penalty} = \frac{\lambda}{2} \sum_i w_i^2": "(λ/2)Σw²"}
RULE_TEX = {r"\frac{\partial L}{\partial W} + 2\lambda W \right)": "2λW", r"\frac{\partial L}{\partial W} + \lambda W \right)": "λW"}


@pytest.mark.parametrize("convention", ["gradient", "half", "seed"])
def test_problem_never_updates_with_lambda_w_after_lambda_sum_w2_without_saying_so(convention):
    # What a student reads: the printed penalty and the printed rule. Where the rule is not the
    # penalty's derivative (the seed's λΣw² with λW) the problem itself must say which term it
    # uses and whose derivative that is.
    for fmt in ("latex", "markdown"):
        problem, _ = render.render_exercise(instance("l2_regularization", convention=convention, **SEED), fmt)
        penalty = {name for tex, name in PENALTY_TEX.items() if tex in problem}
        rule = {name for tex, name in RULE_TEX.items() if tex in problem}
        assert len(penalty) == len(rule) == 1, (fmt, penalty, rule)
        consistent = {("λΣw²", "2λW"), ("(λ/2)Σw²", "λW")}
        if (penalty.pop(), rule.pop()) in consistent:
            assert "derivative of the penalty" in problem
        else:
            assert convention == "seed"
            assert r"This sheet uses the weight-decay term $\lambda W$, the derivative of $\frac{\lambda}{2} \sum_i w_i^2$" in problem
            assert r"is $2\lambda W$" in problem


def test_bank_keys_the_default_convention():
    # One convention across the package: the bank's update for the penalty λΣw² is the family's
    # default update, term by term.
    from worksheetgen.exercises.concept import load_bank

    q = load_bank()[0]["l2-update"]
    assert r"\lambda \sum_i w_i^2" in q.prompt
    (right,) = [c.text for c in q.choices if c.correct]
    assert r"+ 2 \lambda w_i" in right
    ex = instance("l2_regularization", **SEED)
    assert ex.data.factor == 1 and ex.data.c == 2
    effect = load_bank()[0]["l2-effect"].explanation
    assert r"\lambda \sum w^2$ (gradient $2\lambda w$)" in effect and r"(1 - 2\eta\lambda) w" in effect


# The objective whose gradient step each convention takes: the printed penalty for "gradient" and
# "half"; for the seed's rule it is L + (λ/2) Σ w², NOT the printed λ Σ w².
STEP_PENALTY = {"seed": 0.5, "gradient": 1.0, "half": 0.5}
PRINTED_PENALTY = {"seed": 1.0, "gradient": 1.0, "half": 0.5}


def _check_step(ex, convention):
    g = ex.given
    w = np.array([float(v) for v in g.weights])
    grad = np.array([float(v) for v in g.gradient])
    lam, eta = float(g.lam), float(g.eta)
    assert 3 <= len(w) <= 5
    assert len({abs(v) for v in g.weights}) >= 2
    assert value(ex, "penalty") == pytest.approx(PRINTED_PENALTY[convention] * lam * np.sum(w**2), rel=1e-12)

    def objective(v, factor=STEP_PENALTY[convention]):
        return float(grad @ v + factor * lam * np.sum(v**2))  # a linear L with gradient `grad`

    direction = numeric_gradient(objective, w)
    assert np.all(direction != 0)
    new = np.array(value(ex, "w_new")).ravel()
    assert new == pytest.approx(w - eta * direction, rel=1e-8, abs=1e-9)
    if convention == "seed":
        # The seed's step is not gradient descent on L + λ Σ w² (that would need 2λw).
        wrong = numeric_gradient(lambda v: objective(v, 1.0), w)
        assert not np.allclose(new, w - eta * wrong, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("convention", ["seed", "gradient", "half"])
def test_update_is_a_gradient_step_on_loss_plus_penalty(convention):
    for seed in range(5):
        _check_step(instance("l2_regularization", seed=seed, convention=convention), convention)


@pytest.mark.slow
@pytest.mark.parametrize("convention", ["seed", "gradient", "half"])
def test_update_is_a_gradient_step_on_loss_plus_penalty_many_seeds(convention):
    for seed in range(60):
        _check_step(instance("l2_regularization", seed=seed, convention=convention), convention)


def test_everything_is_an_exact_decimal():
    from worksheetgen.mathfmt import is_exact_decimal

    for seed in range(8):
        ex = instance("l2_regularization", seed=seed)
        assert is_exact_decimal(ex.answers["penalty"].value)
        assert all(is_exact_decimal(v) for v in ex.answers["w_new"].value)


def test_large_weights_do_not_fail_the_cross_check():
    # ηλ = 1 cancels w against its decay term: a float check of w − η(g + λw) kept only the
    # rounding error of 1e12; the exact check compares like with like.
    ex = instance("l2_regularization", weights=["1e12", "-3e12", 0.5], gradient=[0.1, -0.3, 0.7],
                  lam=2, eta=0.5, convention="seed")
    assert ex.answers["w_new"].value == sp.Matrix([[sp.Rational("-0.05"), sp.Rational("0.15"), sp.Rational("-0.35")]])


@pytest.mark.parametrize("key", ["penalty", "decay", "w_new"])
def test_a_real_disagreement_still_stops_the_build(key):
    ex = instance("l2_regularization", **SEED)
    cross_check(ex)
    answer = ex.answers[key]
    answer.value = answer.value * (1 + sp.Rational(1, 10**7))
    with pytest.raises(CheckError, match=key):
        cross_check(ex)


def test_rules_apply_only_to_drawn_values():
    # Pinned weights of one size are the instructor's choice; drawn weights never are.
    ex = instance("l2_regularization", weights=[1, -1, 1], gradient=[0.1, 0.2, 0.3], lam=0.1, eta=0.1)
    assert ex.attempt == 1
    # A pinned w and λ with a drawn gradient: the drawn gradient never cancels the decay term.
    for seed in range(5):
        ex = instance("l2_regularization", seed=seed, weights=[1, -2, 5], lam=0.1, gradient_grid=[-0.2, 0.2, 0.1])
        assert all(t != 0 for t in ex.data.total)


def test_records_are_declared():
    fam = type(get_family("l2_regularization"))
    ex = instance("l2_regularization", seed=3)
    assert isinstance(ex.given, fam.Given) and isinstance(ex.data, fam.Data)
    assert not hasattr(fam, "rejection")
    assert {c.rule for c in fam.constraints} >= {"weights of more than one size"}


@pytest.mark.parametrize("params, field", [
    (dict(weights=[1, 2, 3], gradient=[0.1, 0.2]), "params.gradient"),
    (dict(n=4, weights=[1, 2, 3]), "params.n"),
    (dict(lam=-0.1), "params.lam"),
    (dict(eta=0), "params.eta"),
    (dict(convention="double"), "params.convention"),
    (dict(weight_grid=[0, 0, 0.5]), "params.weight_grid"),
    (dict(gradient_grid=[0, 0, 0.5]), "params.gradient_grid"),
])
def test_bad_input(params, field):
    with pytest.raises(WorksheetError) as err:
        instance("l2_regularization", **params)
    assert err.value.field == field


def test_worked_steps_show_exact_decimals_and_round_only_the_result():
    # Every "=" of the chain holds: intermediate values are printed in full (they are exact
    # decimals), and only an asked value with more decimal places than the sheet's 4 is followed
    # by its rounded form after \approx.
    from decimal import Decimal
    from fractions import Fraction as F

    w, g, lam, eta = [F(1), F(-2), F(1, 2)], [F(1, 10), F(-4, 10), F(2, 10)], F(5, 100), F(5, 100)
    ex = instance("l2_regularization", convention="seed", weights=[1, -2, 0.5], gradient=[0.1, -0.4, 0.2],
                  lam=0.05, eta=0.05)
    _, solution = render.render_exercise(ex, "latex")

    def dec(x):
        return format(Decimal(x.numerator) / Decimal(x.denominator), "f")

    new = [v - eta * (gv + lam * v) for v, gv in zip(w, g)]
    for v, gv, n in zip(w, g, new):
        step = eta * (gv + lam * v)
        assert f"{dec(v)} {'-' if step > 0 else '+'} {dec(abs(step))} = {dec(n)}" in solution
    assert dec(new[2]) == "0.48875"  # five decimals: the result is given rounded too
    exact = ", ".join(dec(n) for n in new)
    rounded = ", ".join(format(round(Decimal(n.numerator) / Decimal(n.denominator), 4), "f").rstrip("0") for n in new)
    assert rounded == "0.9925, -1.975, 0.4888"
    assert rf"W_{{\text{{new}}}} &= \left[{exact}\right] \\" + "\n" + rf"&\approx \left[{rounded}\right]" in solution
    penalty = lam * sum(v * v for v in w)  # 0.2625: exact at 4 places, so no \approx
    assert f"= {dec(penalty)}\n" in solution and f"{dec(penalty)} \\approx" not in solution


def test_eight_weights_fit_the_page():
    # Lists and chains of 8 weights with long exact decimals are cut into lines that fit the
    # display width (checked with real TeX by the quality gate; here by texfit's estimate), and
    # the givens leave the running text for a display of their own.
    import re

    from worksheetgen.texfit import DISPLAY_WIDTH, math_width

    ex = instance("l2_regularization", seed=45, n=8, weight_grid=[-3.75, 3.75, 0.25],
                  gradient_grid=[-1, 1, 0.05], convention="half")
    problem, solution = render.render_exercise(ex, "latex")
    assert "$W = " not in problem and "W &= " in problem
    for body in re.findall(r"\\begin\{align\*\}\n(.*?)\n\\end\{align\*\}", problem + solution, re.S):
        for line in body.split(" \\\\\n"):
            assert math_width(line) <= DISPLAY_WIDTH, line
