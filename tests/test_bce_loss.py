import math

import pytest

from helpers import central_difference, instance, value
from worksheetgen.errors import WorksheetError


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
    from worksheetgen import render

    _, solution = render.render_exercise(instance("bce_loss", y=1, yhat=0.4), "markdown")
    assert r"-\ln 0.4 \approx 0.9163" in solution
    assert r"\hat{y} - y" in solution
    _, solution = render.render_exercise(instance("bce_loss", mode="logit", y=0, z=2), "markdown")
    assert r"\ln\left(1 + e^{2}\right) \approx 2.1269" in solution


@pytest.mark.parametrize("mode", ["yhat", "logit"])
@pytest.mark.parametrize("m", [1, 3])
def test_random_instances_against_finite_differences(mode, m):
    for seed in range(30):
        ex = instance("bce_loss", seed=seed, mode=mode, m=m)
        g = ex.given
        ys = [int(v) for v in g["y"]]
        if m > 1:
            assert set(ys) == {0, 1}
        if mode == "logit":
            zs = [float(v) for v in g["z"]]
        else:
            ps = [float(v) for v in g["yhat"]]
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


def test_gradient_can_be_left_out():
    ex = instance("bce_loss", seed=2, gradient=False)
    assert set(ex.answers) == {"loss"}


@pytest.mark.parametrize("params, field", [
    (dict(z=1), "z"),
    (dict(mode="logit", yhat=0.3), "yhat"),
    (dict(yhat=1), "yhat"),
    (dict(yhat=0), "yhat"),
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
    assert field in err.value.field
