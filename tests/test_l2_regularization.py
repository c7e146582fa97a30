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


def test_default_convention_is_the_seeds():
    # The default stays "seed" (λW in the update of λΣw²) until the convention question is settled.
    ex = instance("l2_regularization", **SEED)
    assert ex.given.convention == "seed"
    assert ex.answers["w_new"].value == instance("l2_regularization", convention="seed", **SEED).answers["w_new"].value


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
