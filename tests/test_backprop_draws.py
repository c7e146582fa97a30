"""backprop: draws that teach (issue 10). Before: 35 % of default draws asked ∂L/∂w = 0 and 68 %
had a dead output ReLU; sigmoid nets asked gradients below 0.01 in 68 %."""

import numpy as np
import pytest

from dense_draws import assert_gate_passes, raised
from helpers import instance, value
from worksheetgen import drawrules

WIDE = [{}, {"layers": [4, 5, 6]}, {"layers": [3, 6, 6, 2]},
        {"layers": [2, 2, 1], "activation": "sigmoid"}, {"layers": [2, 2, 1], "activation": "tanh"},
        {"bias": "vector", "output_activation": "identity"},
        {"layers": [2, 3, 3], "output_activation": "softmax", "loss": "ce"},
        {"output_activation": "sigmoid", "loss": "bce"}]


@pytest.mark.slow
@pytest.mark.parametrize("params", WIDE, ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()) or "defaults")
def test_draws_pass_the_gate_over_200_seeds(params):
    assert_gate_passes("backprop", params)


# -- each flag fires on a pinned network built with the defect (pinned: no rule applies) -------
ONE = dict(layers=[1, 1], bias="none", convention="W", activation="identity", targets=["W1"],
           learning_rate=0.1, x=[1])


@pytest.mark.parametrize("params, flag", [
    (dict(ONE, layers=[1, 2], activation="relu", weights=[[[1], [-1]]], y=[0.5, 0.5]), "dead output unit"),
    (dict(ONE, activation="sigmoid", weights=[[[5]]], y=[0]), "saturated unit"),
    (dict(ONE, weights=[[[0.0005]]], y=[1]), f"asked value below {drawrules.FLOOR}"),
    (dict(ONE, weights=[[[1]]], y=[0.995]), "gradient below 0.01"),
    (dict(ONE, weights=[[[60]]], y=[0]), "gradient above 50"),
    (dict(ONE, weights=[[[1]]], y=[0.95]), "loss below 0.01"),
    (dict(ONE, weights=[[[20]]], y=[0]), "loss above 100"),
])
def test_each_flag_fires_on_its_defect(params, flag):
    assert flag in raised("backprop", **params)


def test_a_default_draw_raises_no_flag():
    assert raised("backprop") == set()


# -- how the rules are met --------------------------------------------------------------------
@pytest.mark.parametrize("params", [dict(layers=[4, 5, 6]), dict(layers=[3, 6, 2], convention="W", bias="vector")])
def test_every_output_relu_alive_and_the_asked_entry_in_band(params):
    # Dead output units are revived by negating the weights into them (no redraw): six outputs
    # alive at once would take 64 draws on average.
    for seed in range(3):
        ex = instance("backprop", seed=seed, **params)
        assert all(float(v) > 0 for v in ex.data.layers[-1].z)
        entry = next(k for k in ex.answers if k.startswith("dL_dw1_"))
        assert drawrules.GRADIENT_BAND[0] <= abs(value(ex, entry)) <= drawrules.GRADIENT_BAND[1]


def test_a_pinned_network_asks_what_the_instructor_chose():
    # Seed 002 Q3.3 with its target left to draw: every value of the network is pinned, so the
    # rules do not apply; the drawn entry is one whose gradient is in the band when one is.
    params = dict(layers=[2, 2, 2], bias="vector", convention="WT", activation="relu",
                  output_activation="identity", weights=[[[1.0, -0.5], [0.5, -1.0]], [[0.5, -1.0], [-0.5, 1.0]]],
                  biases=[[0.5, -0.5], [-1.0, 0.5]], x=[2.0, -1.0], y=[1.0, 0.5])
    for seed in range(4):
        ex = instance("backprop", seed=seed, **params)
        assert ex.attempt == 1
        np.testing.assert_allclose(value(ex, "z1"), [[2], [-0.5]])  # hidden unit 2 is dead
        entry = next(k for k in ex.answers if k.startswith("dL_dw1_"))
        assert entry in ("dL_dw1_11", "dL_dw1_21")  # into the live unit: ∂L/∂w ≠ 0
        assert value(ex, entry) != 0
