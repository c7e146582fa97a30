import numpy as np
import pytest

from dense_reference import loss, weights_of
from helpers import instance, numeric_gradient, value
from worksheetgen.errors import WorksheetError

SEED_002_Q3 = dict(
    layers=[2, 2, 2], bias="vector", convention="WT", activation="relu", output_activation="identity",
    loss="mse_half", weights=[[[1.0, -0.5], [0.5, -1.0]], [[0.5, -1.0], [-0.5, 1.0]]],
    biases=[[0.5, -0.5], [-1.0, 0.5]], x=[2.0, -1.0], y=[1.0, 0.5],
    targets=["w1[2,1]"], learning_rate=0.1,
)


def test_seed_002_q3_3():
    ex = instance("backprop", **SEED_002_Q3)
    assert value(ex, "loss") == 2.5
    assert value(ex, "dL_dw1_21") == -1.5
    assert value(ex, "w1_21_new") == pytest.approx(0.65, abs=1e-15)


def test_seed_004_ex2_dead_relu():
    # The lesson of seed 004 Ex2: every hidden ReLU unit is dead, so no gradient flows.
    # Fully pinned, so the "not every unit dead" rule for random draws does not apply.
    # The seed writes W2 as a column but uses it as a row (Z2 = W2 · A1); here it is 1×2.
    ex = instance(
        "backprop", layers=[2, 2, 1], bias="none", convention="W", activation="relu",
        output_activation="sigmoid", loss="bce", weights=[[[0.1, 0.3], [-0.2, 0.4]], [[0.2, -0.5]]],
        x=[0.5, -0.2], y=[1], targets=["W2", "W1"], learning_rate=0.1,
    )
    assert value(ex, "z1") == [[-0.01], [-0.18]]
    assert value(ex, "a1") == [[0.0], [0.0]]
    assert value(ex, "a2") == [[0.5]]
    assert value(ex, "loss") == pytest.approx(np.log(2), rel=1e-15)  # seed: 0.693
    assert value(ex, "dL_dW2") == [[0.0, 0.0]]
    assert value(ex, "dL_dW1") == [[0.0, 0.0], [0.0, 0.0]]


CONFIGS = [
    dict(),
    dict(bias="vector"),
    dict(bias="none", convention="W", layers=[3, 2, 2]),
    dict(activation="sigmoid", output_activation="sigmoid", loss="bce", layers=[2, 2, 1], bias="vector", convention="W"),
    dict(activation="tanh", layers=[2, 3, 2, 2], loss="mse_mean"),
    dict(activation="leaky_relu", loss="mse_sum"),
    dict(activation="elu", output_activation="identity", layers=[2, 3, 1]),
    dict(activation="silu", output_activation="softmax", loss="ce", layers=[2, 2, 3]),
    dict(activation="relu", output_activation="softmax", loss="ce", layers=[3, 3, 2], bias="row"),
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()) or "default")
def test_gradients_equal_central_differences(config):
    for seed in range(10):
        ex = instance("backprop", seed=seed, targets=["W1", "W%d" % (len(config.get("layers", [2, 2, 2])) - 1)], **config)
        given = ex.given
        Ws = weights_of(given)
        for l in {1, len(Ws)}:
            def f(W, l=l):
                ws = list(Ws)
                ws[l - 1] = W
                return loss(given, ws)

            expected = numeric_gradient(f, Ws[l - 1], h=1e-6)
            np.testing.assert_allclose(np.array(value(ex, f"dL_dW{l}")), expected, rtol=1e-5, atol=1e-7)
            eta = float(given["learning_rate"])
            np.testing.assert_allclose(np.array(value(ex, f"W{l}_new")), Ws[l - 1] - eta * expected, rtol=1e-5, atol=1e-7)
        assert value(ex, "loss") == pytest.approx(loss(given), rel=1e-12)


def test_element_targets_match_matrix_entries():
    for seed in range(10):
        ex = instance("backprop", seed=seed, targets=["w1[0,2]", "w2[1,1]", "W1"], bias="row")
        assert value(ex, "dL_dw1_02") == pytest.approx(value(ex, "dL_dW1")[0][1], abs=1e-15)


@pytest.mark.parametrize("params, field", [
    (dict(targets=["w3[1,1]"]), "targets"),
    (dict(targets=["w1[9,1]"]), "targets"),
    (dict(targets=["V1"]), "targets"),
    (dict(loss="none"), "loss"),
    (dict(bias="row", convention="W"), "bias"),
    (dict(loss="ce"), "loss"),
    (dict(weights=[[[1, 2]]]), "weights"),
    (dict(layers=[2]), "layers"),
    (dict(layers=[2, 2, 99]), "layers"),
    (dict(x=[1, 2, 3]), "x"),
    (dict(weight_grid=[1, -1, 0.1]), "weight_grid"),
])
def test_bad_parameters_name_the_field(params, field):
    with pytest.raises(WorksheetError) as err:
        instance("backprop", **params)
    assert field in str(err.value)
