import numpy as np
import pytest

from dense_reference import forward
from helpers import instance, value

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


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()) or "default")
def test_forward_equals_plain_numpy(config):
    for seed in range(12):
        ex = instance("forward_pass", seed=seed, **config)
        zs, outs = forward(ex.given)
        for l, (z, a) in enumerate(zip(zs, outs), start=1):
            np.testing.assert_allclose(np.ravel(value(ex, f"z{l}")), z, rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(np.ravel(value(ex, f"a{l}")), a, rtol=1e-12, atol=1e-12)


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
