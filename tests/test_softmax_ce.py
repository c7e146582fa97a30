import math

import numpy as np
import pytest

from helpers import central_difference, instance, numeric_gradient, value
from worksheetgen import render
from worksheetgen.errors import WorksheetError

SEED_PINS = dict(D_x=4, D_a=5, K=3, m=32, alpha=0.01, logits=[2, 1, -0.5], label=1,
                 large_logits=[1000, 998.5, 1001])


def softmax(z):
    e = np.exp(z - np.max(z))
    return e / e.sum()


def test_seed_002_q2():
    ex = instance("softmax_ce", seed=2, **SEED_PINS)
    # 2.1: W2 in R^{K x D_a}, b2 in R^{K x 1}, hidden output D_a x m.
    assert value(ex, "W2_shape") == [[3, 5]]
    assert value(ex, "b2_shape") == [[3, 1]]
    assert value(ex, "A1_shape") == [[5, 32]]
    # 2.2-2.4, as the seed has them.
    assert ex.answers["dyk_dzk"].value == r"\hat{y}_k (1 - \hat{y}_k)"
    assert ex.answers["dyk_dzi"].value == r"-\hat{y}_k \hat{y}_i"
    assert ex.answers["dL_dzk"].value == r"\hat{y}_k - 1"
    assert ex.answers["dL_dzi"].value == r"\hat{y}_i"
    # Seed typo: it writes z^{[2]} = W^{[2]}x + b^{[2]}; W^{[2]} is K x D_a, so it multiplies
    # the hidden activation a^{[1]}, which is what the sheet prints.
    problem, _ = render.render_exercise(ex, "markdown")
    assert r"z^{[2]} &= W^{[2]}a^{[1]} + b^{[2]}" in problem
    # 2.8: e^{1000} overflows float64 (max ~1.8e308), the shifted version gives the softmax.
    assert math.exp(709.78) < 1.8e308
    assert 1000 * math.log10(math.e) == pytest.approx(434.2945, abs=1e-4)  # e^1000 = 1.97e434
    with np.errstate(over="ignore"):
        assert np.isinf(np.exp(np.float64(1000)))
    assert ex.answers["naive_overflows"].value is True
    assert value(ex, "max_logit") == 1001
    assert np.ravel(value(ex, "stable_yhat")) == pytest.approx(
        softmax(np.array([-1.0, -2.5, 0.0])), rel=1e-12)


def test_seed_numeric_part_values():
    ex = instance("softmax_ce", seed=2, **SEED_PINS)
    z = np.array([2.0, 1.0, -0.5])
    y = softmax(z)
    # Z = e^2 + e^1 + e^-0.5 = 10.7139, yhat = (0.6897, 0.2537, 0.0566), L = ln Z - 2 = 0.3715.
    assert np.ravel(value(ex, "yhat")) == pytest.approx(y, rel=1e-12)
    assert np.ravel(value(ex, "yhat")) == pytest.approx([0.6897, 0.2537, 0.05661], abs=1e-4)
    assert value(ex, "loss") == pytest.approx(math.log(math.exp(2) + math.e + math.exp(-0.5)) - 2, rel=1e-12)
    assert value(ex, "loss") == pytest.approx(0.3715, abs=1e-4)
    assert np.ravel(value(ex, "dL_dz")) == pytest.approx(y - np.array([1, 0, 0]), rel=1e-12)
    _, solution = render.render_exercise(ex, "markdown")
    assert r"e^{1000} &\approx 1.97 \times 10^{434}" in solution


def test_random_numeric_instances_against_numpy_and_finite_differences():
    for seed in range(80):
        ex = instance("softmax_ce", seed=seed, parts=["numeric", "stable"])
        g = ex.given
        z = np.array([float(v) for v in g["logits"]])
        k = g["label"] - 1
        assert 2 <= len(z) <= 6 and len(set(z)) > 1 and np.all(z * 2 == np.round(z * 2))
        y = softmax(z)
        assert np.ravel(value(ex, "yhat")) == pytest.approx(y, rel=1e-10)

        def loss(v):
            return -np.log(softmax(v)[k])

        assert value(ex, "loss") == pytest.approx(loss(z), rel=1e-10)
        assert np.ravel(value(ex, "dL_dz")) == pytest.approx(numeric_gradient(loss, z), abs=1e-7)
        # Stability part: the naive float64 softmax really fails, the shifted one does not.
        big = np.array([float(v) for v in g["large_logits"]])
        with np.errstate(over="ignore", invalid="ignore"):
            naive = np.exp(big) / np.exp(big).sum()
        assert not np.isfinite(naive).all()
        assert ex.answers["naive_overflows"].value is True
        assert value(ex, "max_logit") == big.max()
        assert np.ravel(value(ex, "stable_yhat")) == pytest.approx(softmax(big), rel=1e-10)
        assert sum(np.ravel(value(ex, "stable_yhat"))) == pytest.approx(1, rel=1e-12)


def test_random_shapes_and_forms():
    for seed in range(30):
        ex = instance("softmax_ce", seed=seed, parts=["shapes", "softmax_same", "softmax_other", "loss_grad"])
        g = ex.given
        assert len({g["D_x"], g["D_a"], g["K"], g["m"]}) == 4
        W2 = np.ones((g["K"], g["D_a"]))
        A1 = np.ones((g["D_a"], g["m"]))
        assert value(ex, "W2_shape") == [list(W2.shape)]
        assert value(ex, "A1_shape") == [list((W2.T @ (W2 @ A1)).shape)]
        assert value(ex, "b2_shape") == [[g["K"], 1]]


def test_forms_against_finite_differences():
    # The four printed forms, read as formulas, against central differences of a NumPy softmax.
    rng = np.random.default_rng(11)
    z = rng.normal(size=5)
    y = softmax(z)
    for k in range(5):
        for i in range(5):
            def yk(t):
                v = z.copy()
                v[i] = t
                return softmax(v)[k]

            def loss(t):
                return -np.log(yk(t))

            dy = central_difference(yk, z[i])
            dl = central_difference(loss, z[i])
            if i == k:
                assert dy == pytest.approx(y[k] * (1 - y[k]), abs=1e-8)
                assert dl == pytest.approx(y[k] - 1, abs=1e-8)
            else:
                assert dy == pytest.approx(-y[k] * y[i], abs=1e-8)
                assert dl == pytest.approx(y[i], abs=1e-8)


def test_sympy_derivation_rejects_a_wrong_form(monkeypatch):
    from worksheetgen.exercises import softmax_ce

    assert softmax_ce.derive_forms.__wrapped__(3)["dyk_dzk"] == r"\hat{y}_k (1 - \hat{y}_k)"
    wrong = dict(softmax_ce.FORMS)
    wrong["dyk_dzi"] = (r"\hat{y}_k \hat{y}_i", lambda y, k, i: y[k] * y[i])  # sign slip
    monkeypatch.setattr(softmax_ce, "FORMS", wrong)
    with pytest.raises(AssertionError):
        softmax_ce.derive_forms.__wrapped__(3)


def test_parts_subset_and_formats():
    ex = instance("softmax_ce", seed=4, parts=["stable"], large_logits=[700, 712, 705.5])
    assert set(ex.answers) == {"naive_overflows", "max_logit", "stable_yhat"}
    # Only e^712 overflows: the naive softmax gives NaN there and 0 elsewhere.
    assert ex.data["naive"] == ["0", r"\mathrm{NaN}", "0"]
    for fmt in render.FORMATS:
        problem, solution = render.render_exercise(ex, fmt)
        assert "712" in problem and "NaN" in solution


@pytest.mark.parametrize("params, field", [
    (dict(K=10), "K"),
    (dict(K=3, logits=[1, 2]), "logits"),
    (dict(large_logits=[100, 200, 300]), "large_logits"),
    (dict(K=3, label=4), "label"),
    (dict(logits=[1, 1, 1]), "logits"),
    (dict(parts=["stable", "stable"]), "parts"),
    (dict(logit_grid=[1, 0, 0.5]), "logit_grid"),
])
def test_bad_input_names_the_field(params, field):
    with pytest.raises(WorksheetError) as err:
        instance("softmax_ce", **params)
    assert field in err.value.field


def test_large_k_allowed_without_numeric_parts():
    ex = instance("softmax_ce", seed=1, K=10, parts=["shapes", "loss_grad"])
    assert value(ex, "W2_shape")[0][0] == 10
