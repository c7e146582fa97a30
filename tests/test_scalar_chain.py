import math

import numpy as np
import pytest

from helpers import central_difference, instance, value


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
    assert "-0.06464" in solution


@pytest.mark.parametrize("activation", ["elu", "relu", "leaky_relu", "sigmoid", "tanh", "silu", "gelu", "identity"])
@pytest.mark.parametrize("loss", ["squared", "half_squared"])
def test_gradients_match_finite_differences(activation, loss):
    from worksheetgen.activations import get

    for seed in range(25):
        ex = instance("scalar_chain", seed=seed, activation=activation, loss=loss)
        g = ex.given
        act = get(activation)
        alpha = float(g["alpha"])
        x, y = float(g["x"]), float(g["y"])
        scale = 0.5 if loss == "half_squared" else 1.0

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
