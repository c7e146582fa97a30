import math
import time

import numpy as np
import pytest

from dense_reference import loss, weights_of
from helpers import instance, numeric_gradient, value
from worksheetgen import render
from worksheetgen.errors import WorksheetError
from worksheetgen.params import parse_params
from worksheetgen.registry import get_family
from worksheetgen.seeding import generator

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


def assert_gradients_equal_central_differences(ex):
    given = ex.given
    Ws = weights_of(given)
    # Central differences lose about eps·|L|/h absolutely: scale the absolute tolerance with L.
    atol = 1e-7 * max(1.0, abs(loss(given)))
    for l in {1, len(Ws)}:
        def f(W, l=l):
            ws = list(Ws)
            ws[l - 1] = W
            return loss(given, ws)

        expected = numeric_gradient(f, Ws[l - 1], h=1e-6)
        np.testing.assert_allclose(np.array(value(ex, f"dL_dW{l}")), expected, rtol=1e-5, atol=atol)
        eta = float(given["learning_rate"])
        np.testing.assert_allclose(np.array(value(ex, f"W{l}_new")), Ws[l - 1] - eta * expected, rtol=1e-5, atol=atol)
    assert value(ex, "loss") == pytest.approx(loss(given), rel=1e-12)


def targets_for(config):
    return ["W1", "W%d" % (len(config.get("layers", [2, 2, 2])) - 1)]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()) or "default")
def test_gradients_equal_central_differences(config):
    for seed in range(2):
        assert_gradients_equal_central_differences(instance("backprop", seed=seed, targets=targets_for(config), **config))


@pytest.mark.slow
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()) or "default")
def test_gradients_equal_central_differences_many_seeds(config):
    for seed in range(2, 30):
        assert_gradients_equal_central_differences(instance("backprop", seed=seed, targets=targets_for(config), **config))


def test_element_targets_match_matrix_entries():
    for seed in range(3):
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


# -- saturated sigmoid + BCE (the issue: 0 · ln 0 = NaN in the check, exit 3) -----------------
@pytest.mark.parametrize("w, y", [(40, 1), (40, 0), (-800, 1), (800, 1)])
def test_saturated_sigmoid_with_bce_gradient(w, y):
    ex = instance("backprop", layers=[1, 1], bias="none", activation="sigmoid", loss="bce", weights=[[[w]]],
                  x=[1], y=[y], targets=["W1"], learning_rate=0.1)
    sigma = lambda t: math.exp(-np.logaddexp(0, -t))  # noqa: E731 - σ(t) = e^{-softplus(-t)}
    expected = -sigma(-w) if y == 1 else sigma(w)  # σ(z) − y without cancellation
    assert value(ex, "dL_dW1")[0][0] == pytest.approx(expected, rel=1e-12, abs=1e-300)
    assert value(ex, "W1_new")[0][0] == pytest.approx(w - 0.1 * expected, rel=1e-15)


# -- cost is bounded: the 5-layer GELU/SiLU net with weights up to ±3 -----------------
def _pinned_from_grid(seed, layers, **params):
    """A network drawn on the grid by hand and pinned: the teaching rules (no saturated unit,
    which weights up to ±3 over six inputs break almost always) do not apply to it."""
    from worksheetgen import nets
    from worksheetgen.sampling import nonzero_grid_values

    fam = get_family("backprop")
    options = parse_params(fam.params, dict(layers=layers, **params), validate=fam.validate)
    rng = generator(seed)
    weights = [nonzero_grid_values(rng, *options["weight_grid"], size=nets.display_shape(m, n, options)).tolist()
               for m, n in zip(layers, layers[1:])]
    x = [int(v) for v in nonzero_grid_values(rng, *options["input_grid"], size=layers[0])]
    return dict(layers=layers, weights=weights, x=x, **params)


@pytest.mark.parametrize("activation", ["gelu", "silu"])
def test_wide_smooth_network_with_large_weights_builds_in_seconds(activation):
    # Before: one variant of this ran for minutes (SymPy evaluating 1 + erf(-200) to 50 digits).
    params = _pinned_from_grid(0, [2, 6, 4, 6, 5], activation=activation, weight_grid=[-3, 3, 1])
    params.pop("weight_grid")
    start = time.process_time()
    ex = instance("backprop", **params)
    assert time.process_time() - start < 10
    assert any(abs(float(v)) > 2 for layer in ex.data.layers for v in layer.z)


@pytest.mark.parametrize("activation", ["gelu", "silu"])
def test_a_grid_whose_draws_all_saturate_is_refused_at_once(activation):
    # Drawn, the same network saturates some unit in practically every draw: candidates are
    # screened in floats, so the grid is named within a second, not after 200 exact solves.
    start = time.process_time()
    with pytest.raises(WorksheetError) as err:
        instance("backprop", layers=[2, 6, 4, 6, 5], activation=activation, weight_grid=[-3, 3, 1])
    assert time.process_time() - start < 2
    assert err.value.field.endswith("weight_grid") and "saturated" in str(err.value)


@pytest.mark.slow
@pytest.mark.parametrize("activation", ["gelu", "silu"])
def test_wide_smooth_network_ten_variants(activation):
    start = time.process_time()
    for seed in range(10):
        params = _pinned_from_grid(seed, [2, 6, 4, 6, 5], activation=activation, weight_grid=[-3, 3, 1])
        params.pop("weight_grid")
        with np.errstate(over="ignore"):  # e^{-z} of the reference's SiLU at z < -709 is inf: SiLU = -0
            assert_gradients_equal_central_differences(instance("backprop", seed=seed, targets=["W1", "W4"], **params))
    assert time.process_time() - start < 60


@pytest.mark.parametrize("activation", ["gelu", "tanh"])
def test_one_draw_of_the_largest_network_is_cheap(activation):
    # Every exact solve must be cheap, whatever the numbers: the largest allowed network with
    # weights far outside a pleasant range (pinned: drawn, the screen refuses such grids).
    fam = get_family("backprop")
    worst = 0.0
    for seed in range(2):
        params = _pinned_from_grid(seed, [6, 6, 6, 6, 6], activation=activation, weight_grid=[-3, 3, 1],
                                   input_grid=[-3, 3, 1])
        options = parse_params(fam.params, params, validate=fam.validate)
        start = time.process_time()
        fam.solve(fam.sample(generator(seed), options))
        worst = max(worst, time.process_time() - start)
    assert worst < 1.0


# -- the teaching rules apply to drawn values only --------------------------------------------
SEED_004_NET = dict(layers=[2, 2, 1], bias="none", convention="W", activation="relu", output_activation="sigmoid",
                    loss="bce", weights=[[[0.1, 0.3], [-0.2, 0.4]], [[0.2, -0.5]]], x=[0.5, -0.2], y=[1])


@pytest.mark.parametrize("net", [
    SEED_004_NET,
    {k: v for k, v in SEED_004_NET.items() if k != "y"},  # the target drawn too
    dict(layers=[2, 2, 1], bias="vector", activation="relu", output_activation="identity",
         weights=[[[-1, -1], [-1, -1]], [[1], [1]]], biases=[[0, 0], [0]], x=[1, 1]),
], ids=["seed-004", "seed-004-drawn-y", "dead-identity-output"])
def test_pinned_dead_network_with_drawn_targets_and_rate_builds(net):
    # Every network value pinned, targets (and the target y) left free: no rule about the network
    # applies, and no choice of targets or y could make a gradient non-zero, so none is demanded.
    ex = instance("backprop", **net)
    assert all(v == 0 for key, a in ex.answers.items() if key.startswith("dL_d") for v in np.ravel(value(ex, key)))
    assert float(ex.given.learning_rate) in (0.1, 0.05, 0.5, 0.01, 0.2)


def test_pinned_live_network_with_drawn_targets_asks_a_non_zero_gradient():
    live = {**SEED_004_NET, "x": [-0.5, 0.2]}
    for seed in range(5):
        ex = instance("backprop", seed=seed, **live)
        asked = [np.ravel(value(ex, key)) for key in ex.answers if key.startswith("dL_d")]
        assert any(v != 0 for g in asked for v in g)


def test_drawn_parameters():
    fam = get_family("backprop")
    options = parse_params(fam.params, dict(SEED_004_NET), validate=fam.validate)
    assert fam.drawn(options) == {"targets", "learning_rate"}
    options = parse_params(fam.params, dict(SEED_004_NET, update=False), validate=fam.validate)
    assert fam.drawn(options) == {"targets"}


# -- derivative conventions at kinks are stated where g' is used --------------------------------
@pytest.mark.parametrize("config, notes", [
    (dict(activation="elu"), [r"$\operatorname{ELU}'(0) = 1$ for every $\alpha$"]),
    (dict(activation="sigmoid", output_activation="elu"), [r"$\operatorname{ELU}'(0) = 1$ for every $\alpha$"]),
    (dict(activation="elu", output_activation="leaky_relu"),
     [r"$\operatorname{ELU}'(0) = 1$ for every $\alpha$", r"$\operatorname{LeakyReLU}'(0) = \alpha$"]),
    (dict(), [r"$\operatorname{ReLU}'(0) = 0$"]),
    (dict(activation="tanh"), []),
])
def test_kink_conventions_are_stated(config, notes):
    ex = instance("backprop", **config)
    _, solution = render.render_exercise(ex, "markdown")
    for note in notes:
        assert note in solution
    if not notes:
        assert "We use" not in solution
