import math
import time

import numpy as np
import pytest

from helpers import central_difference, instance, value
from worksheetgen import render
from worksheetgen.cli import main
from worksheetgen.errors import WorksheetError


def test_seed_001_q4_values():
    ex = instance("scalar_chain", w1=2, w2=3, x=-1, y=-1.4255)
    # a1 = e^{-2} - 1 = -0.8647 (seed: -0.865), a2 = e^{3(e^{-2}-1)} - 1 = -0.92525 (seed: -0.92527).
    assert value(ex, "a1") == pytest.approx(math.exp(-2) - 1, rel=1e-12)
    assert value(ex, "a1") == pytest.approx(-0.865, abs=5e-4)
    assert value(ex, "a2") == pytest.approx(math.exp(3 * (math.exp(-2) - 1)) - 1, rel=1e-12)
    assert value(ex, "a2") == pytest.approx(-0.92527, abs=3e-5)
    # Seed prints MSE = 0.25 (it is 0.25024...).
    assert value(ex, "loss") == pytest.approx(0.2502, abs=1e-4)
    # Seed prints -0.06459: a rounding slip (it multiplied rounded 0.5002 and exp(3 * -0.865));
    # the exact value is -0.064637.
    assert value(ex, "dL_dw2") == pytest.approx(-0.064637, abs=2e-6)
    assert value(ex, "dL_dw2") != pytest.approx(-0.06459, abs=1e-5)
    # Seed: -0.0303 (correct to its 3 significant digits: -0.030354).
    assert value(ex, "dL_dw1") == pytest.approx(-0.0303, abs=1e-4)


def test_closed_forms_are_shown():
    from worksheetgen import render

    ex = instance("scalar_chain", w1=2, w2=3, x=-1, y=-1.4255)
    _, solution = render.render_exercise(ex, "markdown")
    assert "e^{-2} - 1 \\approx -0.8647" in solution
    assert "-0.0646" in solution


ACTIVATIONS = ["elu", "relu", "leaky_relu", "sigmoid", "tanh", "silu", "gelu", "identity"]


def assert_gradients_match_finite_differences(ex):
    from worksheetgen.activations import get

    g = ex.given
    act = get(g.activation)
    alpha = float(g["alpha"])
    x, y = float(g["x"]), float(g["y"])
    scale = 0.5 if g.loss == "half_squared" else 1.0

    def loss_of(w1, w2):
        a1 = act.numeric(np.array([w1 * x]), alpha)[0]
        a2 = act.numeric(np.array([w2 * a1]), alpha)[0]
        return scale * (y - a2) ** 2

    w1, w2 = float(g["w1"]), float(g["w2"])
    assert value(ex, "loss") == pytest.approx(loss_of(w1, w2), rel=1e-10, abs=1e-12)
    assert value(ex, "dL_dw1") == pytest.approx(
        central_difference(lambda v: loss_of(v, w2), w1), rel=1e-5, abs=1e-7)
    assert value(ex, "dL_dw2") == pytest.approx(
        central_difference(lambda v: loss_of(w1, v), w2), rel=1e-5, abs=1e-7)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("loss", ["squared", "half_squared"])
def test_gradients_match_finite_differences(activation, loss):
    for seed in range(3):
        assert_gradients_match_finite_differences(instance("scalar_chain", seed=seed, activation=activation, loss=loss))


@pytest.mark.slow
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("loss", ["squared", "half_squared"])
def test_gradients_match_finite_differences_many_seeds(activation, loss):
    for seed in range(3, 40):
        assert_gradients_match_finite_differences(instance("scalar_chain", seed=seed, activation=activation, loss=loss))


def test_draws_obey_the_teaching_rules():
    for seed in range(20):
        ex = instance("scalar_chain", seed=seed)
        d = ex.data
        assert d.z1 != 0 and d.z2 != 0
        assert not (d.z1 > 0 and d.z2 > 0)  # ELU: one unit on its exponential side
        assert value(ex, "dL_dw1") != 0 and value(ex, "dL_dw2") != 0
        assert value(ex, "loss") <= 100
        assert all(v != 0 for v in (ex.given.w1, ex.given.w2, ex.given.x, ex.given.y))


# -- bad grids fail at once, naming the field ------------------------------------------------
def test_preview_with_an_all_zero_weight_grid_is_one_line_exit_2_within_a_second(capsys):
    start = time.process_time()
    code = main(["preview", "scalar_chain", "--set", "weight_grid=[0,0,1]"])
    elapsed = time.process_time() - start
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "weight_grid" in err and "holds only 0" in err, err
    assert elapsed < 1


@pytest.mark.parametrize("params, field", [
    (dict(weight_grid=[0, 0, 1]), "weight_grid"),
    (dict(w1=1, weight_grid=[0, 0, 1]), "weight_grid"),  # w2 is still drawn from it
    (dict(input_grid=[0, 0, 0.5]), "input_grid"),
    (dict(target_grid=[0, 0, 1]), "target_grid"),
    (dict(weight_grid=[1, 0, 0.5]), "weight_grid"),
])
def test_bad_grids_name_the_field(params, field):
    with pytest.raises(WorksheetError) as err:
        instance("scalar_chain", **params)
    assert err.value.field.split(".")[-1] == field


def test_unused_zero_grids_are_fine():
    ex = instance("scalar_chain", w1=2, w2=3, x=-1, y=-1.4255, weight_grid=[0, 0, 1], input_grid=[0, 0, 1],
                  target_grid=[0, 0, 1])
    assert value(ex, "a1") == pytest.approx(math.exp(-2) - 1, rel=1e-12)


# -- rules apply to drawn values only ----------------------------------------------------------
def test_a_pinned_chain_that_blocks_the_gradient_keeps_its_drawn_target():
    # w1 = 0 pins z1 at the kink and a1 = 0: every target gives ∂L/∂w² = 0. The rules about the
    # chain read only pinned values; the target is drawn but cannot help, so none is demanded.
    ex = instance("scalar_chain", w1=0, w2=3, x=1)
    assert value(ex, "dL_dw2") == 0 and ex.given.y != 0


@pytest.mark.parametrize("activation", ["gelu", "silu", "tanh", "sigmoid", "elu"])
def test_far_out_pinned_values_solve_fast_and_agree(activation):
    # GELU(-300) = -150 (1 + erf(-150 √2)): evaluated by SymPy alone this took minutes.
    start = time.process_time()
    ex = instance("scalar_chain", activation=activation, w1=100, w2=-200, x=-3, y=1)  # cross-checked
    assert time.process_time() - start < 2
    assert_gradients_match_finite_differences(ex)


# -- the derivative convention at the kink is stated ------------------------------------------
@pytest.mark.parametrize("activation, note", [
    ("elu", r"At $z = 0$ this means $\operatorname{ELU}'(0) = 1$ for every $\alpha$."),
    ("relu", r"At $z = 0$ this means $\operatorname{ReLU}'(0) = 0$."),
    ("leaky_relu", r"At $z = 0$ this means $\operatorname{LeakyReLU}'(0) = \alpha$."),
])
def test_kink_convention_is_stated(activation, note):
    for fmt in ("markdown", "latex"):
        problem, _ = render.render_exercise(instance("scalar_chain", activation=activation), fmt)
        assert note in problem


def test_smooth_activations_state_no_kink_convention():
    problem, _ = render.render_exercise(instance("scalar_chain", activation="tanh"), "markdown")
    assert "At $z = 0$" not in problem
