"""forward_pass: draws that teach (issue 10). Before: 70 % of default draws had a dead output ReLU
(ŷ_k = 0) and [4, 5, 6] networks had one in 99 %."""

import pytest
import sympy as sp

from dense_draws import assert_gate_passes, raised
from helpers import instance
from worksheetgen import drawrules, nets
from worksheetgen.params import parse_params
from worksheetgen.registry import get_family

WIDE = [{}, {"layers": [4, 5, 6]}, {"layers": [3, 6, 6, 2]}, {"layers": [6, 6, 6, 6, 6]},
        {"layers": [3, 6, 6, 2], "convention": "W", "bias": "vector", "activation": "gelu",
         "output_activation": "softmax", "loss": "ce"},
        {"activation": "tanh", "output_activation": "sigmoid", "loss": "bce"}]


@pytest.mark.slow
@pytest.mark.parametrize("params", WIDE, ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()) or "defaults")
def test_draws_pass_the_gate_over_200_seeds(params):
    assert_gate_passes("forward_pass", params)


ONE = dict(layers=[1, 1], bias="none", convention="W", activation="identity", x=[1])


@pytest.mark.parametrize("params, flag", [
    (dict(ONE, layers=[1, 2], activation="relu", weights=[[[1], [-1]]], y=[0.5, 0.5]), "dead output unit"),
    (dict(ONE, activation="tanh", weights=[[[-3]]], y=[0]), "saturated unit"),
    (dict(ONE, layers=[1, 2], output_activation="softmax", loss="ce", weights=[[[3], [-3]]], y=[1, 0]),
     "saturated unit"),
    (dict(ONE, activation="elu", weights=[[[-4]]], y=[0]), "saturated unit"),
    (dict(ONE, weights=[[[0.0005]]], y=[1]), f"asked value below {drawrules.FLOOR}"),
    (dict(ONE, weights=[[[1]]], y=[0.95]), "loss below 0.01"),
    (dict(ONE, weights=[[[20]]], y=[0]), "loss above 100"),
])
def test_each_flag_fires_on_its_defect(params, flag):
    assert flag in raised("forward_pass", **params)


def test_silu_near_its_derivatives_zero_is_not_saturated():
    # SiLU'(z) crosses 0 at z ≈ -1.28: small there, but not the flat tail.
    assert "saturated unit" not in raised("forward_pass", **dict(ONE, activation="silu", weights=[[[-1.3]]], y=[0]))


def test_a_default_draw_raises_no_flag():
    assert raised("forward_pass") == set()


@pytest.mark.parametrize("convention, bias", [("WT", "row"), ("W", "vector"), ("WT", "vector"), ("WT", "none")])
def test_dead_outputs_are_revived_by_negating_their_weights(convention, bias):
    fam = get_family("forward_pass")
    options = parse_params(fam.params, dict(layers=[2, 3], convention=convention, bias=bias, activation="relu"),
                           validate=fam.validate)
    shape = nets.display_shape(2, 3, options)
    w = sp.Matrix(shape[0], shape[1], [sp.Rational(k % 5 - 2, 10) or sp.Rational(1, 10) for k in range(shape[0] * shape[1])])
    b = [sp.Matrix([sp.Rational(1, 10), sp.Rational(-3, 10), sp.Rational(2, 10)])] if bias == "vector" else None
    x = [sp.Integer(1), sp.Integer(-2)]
    probe = dict(options, weights=[w], biases=b, x=nets.vector(x), alpha=sp.Rational(1, 100),
                 output_activation="relu", loss="none")
    before = nets.numpy_forward_backward(probe)["z"][-1]
    weights, biases = nets._revive_outputs([w], b, x, options, sp.Rational(1, 100), True)
    after = nets.numpy_forward_backward(dict(probe, weights=weights, biases=biases))["z"][-1]
    assert any(v < 0 for v in before)
    assert list(abs(after)) == pytest.approx(list(abs(before)))  # the same sizes, every sign positive
    assert all(v > 0 for v in after)
