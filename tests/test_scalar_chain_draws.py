"""scalar_chain: draws that teach (issue 10). Before: 31 % of default ELU draws saturated a unit
(z ≤ -3.9), 20 % asked a gradient below 0.01 and the gradients of one roster spread over four
decades (-1.97·10⁻⁵ beside ≈ 5)."""

import pytest

from dense_draws import assert_gate_passes, raised
from helpers import instance, value
from worksheetgen import drawrules

EXAM = {"weight_grid": [-2, 2, 0.1], "input_grid": [-3, 3, 0.5], "target_grid": [-2, 2, 0.05]}
CASES = [{}, EXAM] + [{"activation": a} for a in ("sigmoid", "tanh", "relu", "leaky_relu", "silu", "gelu", "identity")]


@pytest.mark.slow
@pytest.mark.parametrize("params", CASES, ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()) or "defaults")
def test_draws_pass_the_gate_over_200_seeds(params):
    assert_gate_passes("scalar_chain", params)


@pytest.mark.parametrize("params, flag", [
    (dict(w1=-2, w2=1, x=2, y=1), "saturated unit"),  # z¹ = -4: ELU'(-4) = e⁻⁴ ≈ 0.018
    (dict(activation="sigmoid", w1=2, w2=-1, x=3, y=1), "saturated unit"),  # z¹ = 6
    (dict(activation="identity", w1=1, w2=1, x=1, y=0.999), "gradient below 0.01"),
    (dict(activation="identity", w1=3, w2=3, x=2, y=-2), "gradient above 10"),
    (dict(activation="identity", w1=1, w2=1, x=1, y=0.9999), f"asked value below {drawrules.FLOOR}"),
])
def test_each_flag_fires_on_its_defect(params, flag):
    assert flag in raised("scalar_chain", **params)


def test_the_seed_chain_is_pinned_and_kept():
    # Seed 001 Q4: its numbers are the instructor's; no rule applies.
    ex = instance("scalar_chain", activation="elu", alpha=1, loss="squared", w1=2, w2=3, x=-1, y=-1.4255)
    assert ex.attempt == 1 and value(ex, "dL_dw2") == pytest.approx(-0.064637, abs=2e-6)


def test_roster_difficulty_is_even():
    # One exam's students (the example exam's grids): every gradient within the band.
    low, high = drawrules.GRADIENT_BAND[0], 10
    for seed in range(12):
        ex = instance("scalar_chain", seed=seed, **EXAM)
        assert all(low <= abs(value(ex, k)) <= high for k in ("dL_dw1", "dL_dw2"))
        assert raised("scalar_chain", seed=seed, **EXAM) == set()
