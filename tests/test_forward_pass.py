import dataclasses
import math
import time

import numpy as np
import pytest
import sympy as sp

from dense_reference import forward, loss
from helpers import instance, value
from worksheetgen.errors import CheckError, WorksheetError
from worksheetgen.instance import cross_check
from worksheetgen.registry import get_family

SEED_000_Q1 = dict(
    layers=[2, 2, 2], bias="row", convention="WT", activation="relu", loss="mse_half",
    weights=[[[0.1, 0.1], [-0.1, 0.2], [0.3, -0.4]], [[0.1, 0.1], [0.5, -0.6], [0.7, -0.8]]],
    x=[2, 3], y=[0.1, 0.9],
)


def test_seed_000_001_q1():
    ex = instance("forward_pass", **SEED_000_Q1)
    assert value(ex, "a1") == [[0.8], [0.0]]
    assert value(ex, "a2") == [[0.5], [0.0]]
    # The seed's question says "MSE (mean squared error)" while its solution computes
    # ½Σ(ŷ - y)²; with two outputs both give 0.485, so the published value stands either way.
    assert value(ex, "loss") == pytest.approx(0.485, abs=1e-15)
    assert value(instance("forward_pass", **{**SEED_000_Q1, "loss": "mse_mean"}), "loss") == pytest.approx(0.485)


def test_seed_002_q3_forward():
    ex = instance(
        "forward_pass", layers=[2, 2, 2], bias="vector", convention="WT", activation="relu",
        output_activation="identity", loss="mse_half",
        weights=[[[1.0, -0.5], [0.5, -1.0]], [[0.5, -1.0], [-0.5, 1.0]]],
        biases=[[0.5, -0.5], [-1.0, 0.5]], x=[2.0, -1.0], y=[1.0, 0.5],
    )
    # h1 = 2.0, h2 = -0.5, h3 = 2, h4 = 0; o = (0, -1.5); MSE (½Σ) = 2.5
    assert value(ex, "z1") == [[2.0], [-0.5]]
    assert value(ex, "a1") == [[2.0], [0.0]]
    assert value(ex, "a2") == [[0.0], [-1.5]]
    assert value(ex, "loss") == 2.5


def test_seed_004_ex1():
    ex = instance(
        "forward_pass", layers=[2, 2], bias="vector", convention="W", activation="relu", loss="none",
        weights=[[[0.2, 0.8], [0.4, 0.3]]], biases=[[0.1, 0.1]], x=[1, 0.5],
    )
    assert value(ex, "z1") == [[0.7], [0.65]]
    assert value(ex, "a1") == [[0.7], [0.65]]
    assert "loss" not in ex.answers


CONFIGS = [
    dict(),
    dict(bias="vector"),
    dict(bias="none", convention="W"),
    dict(bias="vector", convention="W", activation="sigmoid", layers=[3, 2, 1]),
    dict(activation="tanh", layers=[2, 3, 2], loss="mse_mean"),
    dict(activation="leaky_relu", layers=[2, 2, 2, 2], loss="mse_sum"),
    dict(activation="elu", output_activation="identity"),
    dict(activation="silu", output_activation="sigmoid", loss="bce", layers=[2, 2, 1]),
    dict(activation="gelu", output_activation="softmax", loss="ce", layers=[2, 3, 3]),
    dict(activation="relu", output_activation="softmax", loss="ce", layers=[4, 3, 2], bias="vector", convention="W"),
]


def assert_equals_plain_numpy(ex):
    zs, outs = forward(ex.given)
    for l, (z, a) in enumerate(zip(zs, outs), start=1):
        np.testing.assert_allclose(np.ravel(value(ex, f"z{l}")), z, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(np.ravel(value(ex, f"a{l}")), a, rtol=1e-12, atol=1e-12)
    if ex.given.loss != "none":
        assert value(ex, "loss") == pytest.approx(loss(ex.given), rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()) or "default")
def test_forward_equals_plain_numpy(config):
    for seed in range(3):
        assert_equals_plain_numpy(instance("forward_pass", seed=seed, **config))


@pytest.mark.slow
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()) or "default")
def test_forward_equals_plain_numpy_many_seeds(config):
    for seed in range(3, 40):
        assert_equals_plain_numpy(instance("forward_pass", seed=seed, **config))


def test_draws_are_on_the_grid_and_teach():
    import sympy as sp

    for seed in range(30):
        ex = instance("forward_pass", seed=seed)
        for w in ex.given["weights"]:
            assert all((v * 10).is_integer and v != 0 for v in w)
        # Not every hidden ReLU unit dead and no pre-activation exactly at the kink.
        assert any(v > 0 for v in ex.answers["z1"].value)
        assert all(v != 0 for l in (1, 2) for v in ex.answers[f"z{l}"].value)
        assert isinstance(ex.given["x"][0], sp.Integer)


# -- saturated outputs: the exact loss is tiny, the independent check must not say NaN ----------
SATURATED = dict(layers=[1, 1], bias="none", activation="sigmoid", loss="bce", x=[1])


def softplus(t: float) -> float:
    return max(t, 0.0) + math.log1p(math.exp(-abs(t)))


@pytest.mark.parametrize("w, y", [(40, 1), (40, 0), (-40, 0), (-40, 1), (800, 1), (-800, 0)])
def test_saturated_sigmoid_with_bce_builds_and_is_exact(w, y):
    # The issue: w = 40, y = 1 gives L = ln(1 + e^-40) = 4.2e-18, and the old check computed
    # 0 · ln 0 = NaN and stopped the build. make_instance cross-checks, so building is the test.
    ex = instance("forward_pass", **SATURATED, weights=[[[w]]], y=[y])
    expected = softplus(-w) if y == 1 else softplus(w)
    assert value(ex, "loss") == pytest.approx(expected, rel=1e-12, abs=1e-300)
    independent = get_family("forward_pass").check(ex.given)["loss"]
    assert independent == pytest.approx(expected, rel=1e-12, abs=1e-300)


def test_the_exact_bce_keeps_its_relative_accuracy_far_out():
    ex = instance("forward_pass", **SATURATED, weights=[[[200]]], y=[1])
    # ln(1 + e^-200) = e^-200 (1 - e^-200/2 ...): 50 digits, not 0.
    assert float(ex.answers["loss"].value / sp.exp(-200)) == pytest.approx(1.0, rel=1e-15)


def with_answer(ex, key, new_value):
    answers = [dataclasses.replace(a, value=new_value) if a.key == key else a for a in ex.solved.answers]
    return dataclasses.replace(ex, solved=dataclasses.replace(ex.solved, answers=answers))


@pytest.mark.parametrize("key, wrong", [
    ("loss", lambda v: v + sp.Rational(1, 10**6)),
    ("loss", lambda v: sp.log(2)),
    ("a1", lambda v: v.applyfunc(lambda e: e - sp.Rational(1, 10**5))),
    ("z1", lambda v: 2 * v),
])
def test_the_cross_check_still_catches_a_wrong_exact_value(key, wrong):
    ex = instance("forward_pass", **SATURATED, weights=[[[40]]], y=[1])
    cross_check(ex)  # the true answers pass
    with pytest.raises(CheckError, match=f"answer '{key}'"):
        cross_check(with_answer(ex, key, wrong(ex.answers[key].value)))


@pytest.mark.parametrize("hot, expected", [(0, math.log1p(2 * math.exp(-40))), (1, 40 + math.log1p(2 * math.exp(-40)))])
def test_saturated_softmax_with_cross_entropy_builds(hot, expected):
    y = [0, 0, 0]
    y[hot] = 1
    ex = instance("forward_pass", layers=[2, 3], bias="none", output_activation="softmax", loss="ce",
                  weights=[[[40, 0, 0], [0, 0, 0]]], x=[1, 1], y=y)
    assert value(ex, "loss") == pytest.approx(expected, rel=1e-12)


# -- cost: bounded whatever the numbers -------------------------------------------------------
@pytest.mark.parametrize("activation", ["gelu", "silu", "tanh", "sigmoid", "elu"])
def test_far_out_pre_activations_solve_fast(activation):
    # GELU(-300) = -150 (1 + erf(-150 √2)): SymPy alone needs ~20 000 digits to evaluate it.
    start = time.process_time()
    ex = instance("forward_pass", layers=[2, 2, 1], bias="none", activation=activation, output_activation="identity",
                  loss="mse_half", weights=[[[100, -100], [100, 50]], [[1], [-1]]], x=[-3, 1], y=[0])
    assert time.process_time() - start < 2
    assert_equals_plain_numpy(ex)


# -- the teaching rules apply to drawn values only --------------------------------------------
def test_rules_that_read_only_pinned_values_are_not_applied():
    # Seed 004's dead ReLU layer with only the target left to draw: the dead-unit rule reads the
    # weights and x (pinned), so it does not apply, and the build must not fail.
    ex = instance("forward_pass", layers=[2, 2, 1], bias="none", convention="W", activation="relu",
                  output_activation="sigmoid", loss="bce", weights=[[[0.1, 0.3], [-0.2, 0.4]], [[0.2, -0.5]]],
                  x=[0.5, -0.2])
    assert value(ex, "a1") == [[0.0], [0.0]]
    assert ex.given.y[0] in (0, 1)


def test_unset_alpha_and_unused_biases_are_not_drawn():
    from worksheetgen.params import parse_params

    fam = get_family("forward_pass")
    options = parse_params(fam.params, dict(bias="none", convention="W", layers=[2, 1], weights=[[[1, 2]]], x=[1, 1]),
                           validate=fam.validate)
    assert fam.drawn(options) == {"y"}
    options = parse_params(fam.params, dict(bias="vector", loss="none"), validate=fam.validate)
    assert fam.drawn(options) == {"weights", "biases", "x"}


@pytest.mark.parametrize("params, field", [
    (dict(weight_grid=[0, 0, 1]), "weight_grid"),
    (dict(input_grid=[0, 0, 1]), "input_grid"),
    (dict(weight_grid=[1, 0, 1]), "weight_grid"),
    (dict(layers=[2, 2], loss="bce"), "loss"),
    (dict(layers=[2, 1], output_activation="softmax", loss="ce"), "layers"),
])
def test_bad_parameters_name_the_field(params, field):
    with pytest.raises(WorksheetError) as err:
        instance("forward_pass", **params)
    assert err.value.field.split(".")[-1] == field


def test_a_zero_grid_is_fine_when_nothing_is_drawn_from_it():
    ex = instance("forward_pass", layers=[2, 2], bias="none", loss="none", weights=[[[1, 2], [3, 4]]], x=[1, 1],
                  weight_grid=[0, 0, 1])
    assert value(ex, "z1") == [[4.0], [6.0]]
