import math
import re

import pytest
import sympy as sp

from helpers import central_difference, instance, value
from worksheetgen import render
from worksheetgen.errors import CheckError, WorksheetError
from worksheetgen.instance import cross_check
from worksheetgen.registry import get_family


def _sigmoid(z):
    return 1 / (1 + math.exp(-z))


def _bce(y, p):
    return -(y * math.log(p) + (1 - y) * math.log(1 - p))


def test_seed_004_ex7_loss():
    ex = instance("bce_loss", y=1, yhat=0.4)
    # Seed: log(0.4) = -0.916, L = 0.916 (ln 0.4 = -0.91629).
    assert value(ex, "loss") == pytest.approx(-math.log(0.4), rel=1e-14)
    assert value(ex, "loss") == pytest.approx(0.916, abs=5e-4)
    assert str(ex.answers["loss"].value) == "-log(2/5)"
    assert value(ex, "dL_dyhat") == pytest.approx(-2.5, rel=1e-15)
    assert value(ex, "dL_dz") == pytest.approx(-0.6, rel=1e-15)


def test_seed_004_ex2_loss_and_delta():
    # Seed 004 Ex2: Z2 = 0, A2 = sigma(0) = 0.5, y = 1: L = 0.693, delta_2 = A2 - y = -0.5.
    ex = instance("bce_loss", mode="logit", y=1, z=0)
    assert value(ex, "yhat") == 0.5
    assert value(ex, "loss") == pytest.approx(math.log(2), rel=1e-14)
    assert value(ex, "loss") == pytest.approx(0.693, abs=5e-4)
    assert value(ex, "dL_dz") == pytest.approx(-0.5, rel=1e-15)
    same = instance("bce_loss", y=1, yhat=0.5)
    assert value(same, "loss") == pytest.approx(0.693, abs=5e-4)


def test_solution_shows_exact_forms():
    _, solution = render.render_exercise(instance("bce_loss", y=1, yhat=0.4), "markdown")
    assert r"-\ln 0.4 \approx 0.9163" in solution
    assert r"\hat{y} - y" in solution
    _, solution = render.render_exercise(instance("bce_loss", mode="logit", y=0, z=2), "markdown")
    assert r"\ln\left(1 + e^{2}\right) \approx 2.1269" in solution


# -- issue: the cross-check compared an analytic answer with a finite difference -------------

@pytest.mark.parametrize("y", [0, 1])
@pytest.mark.parametrize("z", [-10, -9.9, 10, 9.9])
def test_saturated_logits_pass_the_cross_check(y, z):
    # z = -10, y = 0 stopped the build (exit 3): a 4th-order finite difference of L(z) gave
    # dL/dyhat = 1.0000454010 against the exact 1.0000453999.
    ex = instance("bce_loss", mode="logit", y=y, z=z)
    p = 1 / (1 + sp.exp(-sp.Rational(str(z))))
    assert value(ex, "dL_dyhat") == pytest.approx(float(-1 / p if y else 1 / (1 - p)), rel=1e-14)
    assert value(ex, "dL_dz") == pytest.approx(float(p - y), rel=1e-14)
    assert value(ex, "loss") == pytest.approx(float(-sp.log(p if y else 1 - p)), rel=1e-14)
    for fmt in ("latex", "markdown"):
        render.render_exercise(ex, fmt)


@pytest.mark.parametrize("params, key", [
    (dict(mode="logit", y=0, z=-10), "dL_dyhat"),
    (dict(mode="logit", y=0, z=-10), "loss"),
    (dict(mode="logit", y=[1, 0], z=[10, -10]), "dL_dz"),
    (dict(y=0, yhat=0.999), "loss"),
    (dict(y=1, yhat=0.001), "dL_dz"),
])
def test_a_real_disagreement_still_stops_the_build(params, key):
    ex = instance("bce_loss", **params)
    cross_check(ex)  # the true answers agree
    answer = ex.answers[key]
    answer.value = answer.value * (1 + sp.Rational(1, 10**7))  # off in the 7th digit
    with pytest.raises(CheckError, match=key):
        cross_check(ex)


# -- issue: limits refused values the help text allows ----------------------------------------

def _help_range(param):
    text = next(p.help for p in get_family("bce_loss").params if p.name == param)
    return re.search(r"from (\S+) to (\S+)", text).groups()


@pytest.mark.parametrize("param, mode", [("yhat", "yhat"), ("z", "logit")])
def test_limits_are_the_help_texts(param, mode):
    lo_text, hi_text = _help_range(param)
    lo, hi = sp.Rational(lo_text), sp.Rational(hi_text)
    assert (lo, hi) == ((sp.Rational("0.001"), sp.Rational("0.999")) if param == "yhat" else (-10, 10))
    for y in (0, 1):
        for v in (lo, hi):
            ex = instance("bce_loss", mode=mode, y=y, **{param: str(v)})
            assert ex.given[param] == (v,)
        ex = instance("bce_loss", mode=mode, y=[y, 1 - y], **{param: [str(lo), str(hi)]})
        assert ex.given[param] == (lo, hi)
    tiny = sp.Rational(1, 10**6)
    for v in (lo - tiny, hi + tiny):
        with pytest.raises(WorksheetError) as err:
            instance("bce_loss", mode=mode, y=1, **{param: str(v)})
        assert err.value.field == f"params.{param}" and f"from {lo_text} to {hi_text}" in err.value.allowed


def test_limits_are_checked_at_load_time_before_any_draw(monkeypatch):
    from worksheetgen.params import parse_params

    fam = get_family("bce_loss")
    monkeypatch.setattr(fam, "sample", lambda *a: pytest.fail("sample() ran"))
    with pytest.raises(WorksheetError) as err:
        parse_params(fam.params, {"yhat": [0.5, 1]}, validate=fam.validate)
    assert err.value.field == "params.yhat" and "entry 2" in str(err.value)


def test_whole_allowed_grids_pass_the_cross_check():
    for seed in range(6):
        instance("bce_loss", seed=seed, yhat_grid=[0.001, 0.999, 0.001], m=8)
        instance("bce_loss", seed=seed, mode="logit", z_grid=[-10, 10, 0.1], m=8)


@pytest.mark.slow
def test_whole_allowed_grids_pass_the_cross_check_many_seeds():
    for seed in range(200):
        instance("bce_loss", seed=seed, yhat_grid=[0.001, 0.999, 0.001], m=8)
        instance("bce_loss", seed=seed, mode="logit", z_grid=[-10, 10, 0.1], m=8)


# -- random instances against an independent computation --------------------------------------

def _check_random(ex, mode, m):
    g = ex.given
    ys = [int(v) for v in g.y]
    assert len(ys) == m
    if m > 1:
        assert set(ys) == {0, 1}
    if mode == "logit":
        zs = [float(v) for v in g.z]
    else:
        ps = [float(v) for v in g.yhat]
        zs = [math.log(p / (1 - p)) for p in ps]
    yhats = [_sigmoid(z) for z in zs]
    losses = [_bce(y, p) for y, p in zip(ys, yhats)]
    # dL/dz by a central difference of L(sigma(z)); dL/dyhat by one of L(yhat).
    dz = [central_difference(lambda t, y=y: _bce(y, _sigmoid(t)), z, 1e-6) for y, z in zip(ys, zs)]
    dp = [central_difference(lambda q, y=y: _bce(y, q), p, 1e-7) for y, p in zip(ys, yhats)]
    if m == 1:
        if mode == "logit":
            assert value(ex, "yhat") == pytest.approx(yhats[0], rel=1e-12)
        assert value(ex, "loss") == pytest.approx(losses[0], rel=1e-10)
        assert value(ex, "dL_dz") == pytest.approx(dz[0], rel=1e-6)
        assert value(ex, "dL_dyhat") == pytest.approx(dp[0], rel=1e-6)
        assert value(ex, "dL_dz") == pytest.approx(yhats[0] - ys[0], rel=1e-10)
    else:
        if mode == "logit":
            assert value(ex, "yhat")[0] == pytest.approx(yhats, rel=1e-12)
        assert value(ex, "losses")[0] == pytest.approx(losses, rel=1e-10)
        assert value(ex, "loss") == pytest.approx(sum(losses) / m, rel=1e-10)
        assert value(ex, "dL_dz")[0] == pytest.approx([v / m for v in dz], rel=1e-6)
        assert value(ex, "dL_dyhat")[0] == pytest.approx([v / m for v in dp], rel=1e-6)


@pytest.mark.parametrize("mode", ["yhat", "logit"])
@pytest.mark.parametrize("m", [1, 3])
def test_random_instances_against_finite_differences(mode, m):
    for seed in range(4):
        _check_random(instance("bce_loss", seed=seed, mode=mode, m=m), mode, m)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["yhat", "logit"])
@pytest.mark.parametrize("m", [1, 3, 8])
def test_random_instances_against_finite_differences_many_seeds(mode, m):
    for seed in range(40):
        _check_random(instance("bce_loss", seed=seed, mode=mode, m=m), mode, m)


def test_batch_labels_show_both_classes_without_redraws():
    seen = set()
    for seed in range(30):
        ex = instance("bce_loss", seed=seed, m=2)
        assert ex.attempt == 1 and set(ex.given.y) == {0, 1}
        seen.add(ex.given.y)
    assert seen == {(0, 1), (1, 0)}


def test_records_are_declared():
    fam = get_family("bce_loss")
    ex = instance("bce_loss", seed=1, m=3, mode="logit")
    assert isinstance(ex.given, type(fam).Given) and isinstance(ex.data, type(fam).Data)
    assert not hasattr(fam, "rejection")


def test_gradient_can_be_left_out():
    ex = instance("bce_loss", seed=2, gradient=False)
    assert set(ex.answers) == {"loss"}


@pytest.mark.parametrize("params, field", [
    (dict(z=1), "z"),
    (dict(mode="logit", yhat=0.3), "yhat"),
    (dict(yhat=1), "yhat"),
    (dict(yhat=0), "yhat"),
    (dict(mode="logit", z=10.5), "z"),
    (dict(y=2), "y"),
    (dict(y=[1, 0], yhat=[0.5]), "yhat"),
    (dict(m=3, y=[1, 0]), "y"),
    (dict(yhat_grid=[0, 0.5, 0.1]), "yhat_grid"),
    (dict(z_grid=[-20, 0, 1]), "z_grid"),
    (dict(m=9), "m"),
])
def test_bad_input_names_the_field(params, field):
    with pytest.raises(WorksheetError) as err:
        instance("bce_loss", **params)
    assert err.value.field == f"params.{field}"
