"""linear_collapse: draws that teach (issue 10). Before: with ReLU 68 % of draws mapped x₁ or x₂
to ŷ = 0, and GELU printed ŷ₂ entries of 0.0003."""

import pytest

from dense_draws import assert_gate_passes, raised
from helpers import instance, value
from worksheetgen import drawrules


@pytest.mark.slow
@pytest.mark.parametrize("params", [{}, {"activation": "relu"}, {"activation": "gelu"}, {"activation": "elu"},
                                    {"layers": 5, "size": 4}, {"inputs": "drawn"}],
                         ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()) or "defaults")
def test_draws_pass_the_gate_over_200_seeds(params):
    assert_gate_passes("linear_collapse", params)


def test_the_floor_flag_fires_on_pinned_small_weights():
    # Mᵀ = W2ᵀ W1ᵀ with entries of 0.01 · 0.01 · 2 = 0.0002 and more: one significant digit at best.
    params = dict(activation="relu", layers=2, weights=[[[0.01, 0.01], [0.01, 0.01]], [[0.01, 0.02], [0.03, 0.04]]],
                  x1=[[1], [0]], c=-1)
    assert raised("linear_collapse", **params) == {f"asked value below {drawrules.FLOOR}"}


def test_relu_draws_keep_both_outputs_alive():
    for seed in range(6):
        ex = instance("linear_collapse", seed=seed, activation="relu")
        for key in ("y1", "y2"):
            assert max(abs(v) for row in value(ex, key) for v in row) >= 0.05
