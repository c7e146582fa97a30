"""vanishing_gradients: draws that teach (issue 10). Its values are asked to 4 significant digits
(the first layers' gradients vanish by decades on purpose); the ReLU comparison chain's numbers
spread over 3.4 decades from student to student before (loss from 0.005 to 356)."""

import pytest

from dense_draws import assert_gate_passes
from helpers import instance, value
from worksheetgen.exercises.vanishing_gradients import RELU_GRADIENT, RELU_OUTPUT


@pytest.mark.slow
@pytest.mark.parametrize("params", [{}, {"width": 2}, {"width": 3}, {"activation": "relu"}, {"activation": "tanh"},
                                    {"use_bias": True}, {"width": 3, "activation": "tanh"}],
                         ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()) or "defaults")
def test_draws_pass_the_gate_over_200_seeds(params):
    assert_gate_passes("vanishing_gradients", params)


@pytest.mark.parametrize("width", [1, 2])
def test_the_relu_chain_stays_within_hand_computation(width):
    for seed in range(3):
        ex = instance("vanishing_gradients", seed=seed, width=width)
        relu = ex.data.relu
        assert all(abs(float(v)) <= RELU_OUTPUT * width**2 for v in relu["a"][-1])
        assert all(abs(float(v)) <= RELU_GRADIENT * width**2 for g in relu["grads"] for v in g)
        assert value(ex, "relu_loss") >= 0.05


def test_a_given_depth_is_not_held_to_the_drawn_depths_gradient_limit():
    # Ten layers of three units: the ReLU chain's gradients multiply ten weights; the instructor
    # chose that depth, so only the rules on the chain's own values apply.
    ex = instance("vanishing_gradients", depth=10, width=3, use_bias=True)
    assert ex.given.depth == 10
