import math
import time
import tracemalloc

import numpy as np
import pytest
import sympy as sp

from helpers import central_difference, instance, numeric_gradient, value
from worksheetgen import render
from worksheetgen.answers import BooleanAnswer, ExpressionAnswer
from worksheetgen.errors import CheckError, WorksheetError
from worksheetgen.instance import cross_check
from worksheetgen.registry import get_family

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


def _check_numeric(ex):
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


def test_random_numeric_instances_against_numpy_and_finite_differences():
    for seed in range(6):
        _check_numeric(instance("softmax_ce", seed=seed, parts=["numeric", "stable"]))


@pytest.mark.slow
def test_random_numeric_instances_against_numpy_and_finite_differences_many_seeds():
    for seed in range(100):
        _check_numeric(instance("softmax_ce", seed=seed, parts=["numeric", "stable"]))


def test_random_shapes_and_forms():
    for seed in range(10):
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
    with pytest.raises(CheckError, match="dyk_dzi"):
        softmax_ce.derive_forms.__wrapped__(3)


def test_parts_subset_and_formats():
    ex = instance("softmax_ce", seed=4, parts=["stable"], large_logits=[700, 712, 705.5])
    assert set(ex.answers) == {"naive_overflows", "max_logit", "stable_yhat"}
    # Only e^712 overflows: the naive softmax gives NaN there and 0 elsewhere.
    assert ex.data.naive == ("0", r"\mathrm{NaN}", "0")
    assert [e.inf for e in ex.data.large_exp] == [False, True, False]
    for fmt in ("latex", "markdown"):
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
    (dict(logit_grid=[1, 1, 0.5]), "logit_grid"),
    (dict(logit_grid=[-200, 0, 1]), "logit_grid"),
    (dict(logits=[1, 200, 3]), "logits"),
    (dict(large_logits=[709.78, 800]), "large_logits"),
    (dict(large_logits=[800, 800]), "large_logits"),
    (dict(large_logits=[800, 20000]), "large_logits"),
    (dict(parts=["shapes"], D_x=100001), "D_x"),
])
def test_bad_input_names_the_field(params, field):
    with pytest.raises(WorksheetError) as err:
        instance("softmax_ce", **params)
    assert err.value.field == f"params.{field}"


def test_large_k_allowed_without_numeric_parts():
    ex = instance("softmax_ce", seed=1, K=10, parts=["shapes", "loss_grad"])
    assert value(ex, "W2_shape")[0][0] == 10


# -- answer kinds and records -------------------------------------------------------------------

def test_answer_kinds_and_records():
    fam = type(get_family("softmax_ce"))
    ex = instance("softmax_ce", seed=2, **SEED_PINS)
    assert isinstance(ex.given, fam.Given) and isinstance(ex.data, fam.Data)
    assert not hasattr(fam, "rejection")
    for key in ("dyk_dzk", "dyk_dzi", "dL_dzk", "dL_dzi"):
        assert isinstance(ex.answers[key], ExpressionAnswer)
    assert isinstance(ex.answers["naive_overflows"], BooleanAnswer)
    assert type(ex.answers["naive_overflows"].value) is bool


# -- issue: the shapes check allocated the network (26.8 GiB for D_x = 80000, D_a = 45000) -------

def test_shapes_check_counts_instead_of_allocating():
    tracemalloc.start()
    try:
        start = time.perf_counter()
        ex = instance("softmax_ce", parts=["shapes"], D_x=80000, D_a=45000, K=7, m=64)
        elapsed = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2**20 and elapsed < 5
    assert value(ex, "W2_shape") == [[7, 45000]]
    assert value(ex, "A1_shape") == [[45000, 64]]


def test_every_documented_size_is_cheap():
    # The limits `worksheetgen list` prints (the kinds' ranges) are the ones refused, and the
    # largest allowed sizes cost nothing: the check counts shapes.
    params = {p.name: p for p in get_family("softmax_ce").params}
    limits = {k: params[k].kind.maximum for k in ("D_x", "D_a", "K", "m")}
    for key, hi in limits.items():
        assert f"to {hi}" in params[key].kind.description
        with pytest.raises(WorksheetError) as err:
            instance("softmax_ce", parts=["shapes"], **{key: hi + 1})
        assert err.value.field == f"params.{key}"
    start = time.perf_counter()
    ex = instance("softmax_ce", parts=["shapes", "loss_grad"], **limits)
    assert time.perf_counter() - start < 5
    assert value(ex, "A1_shape") == [[limits["D_a"], limits["m"]]]


def test_a_shape_that_does_not_fit_stops_the_check():
    from worksheetgen.exercises.softmax_ce import _matmul_shape

    assert _matmul_shape((3, 4), (4, 5), "W X") == (3, 5)
    with pytest.raises(CheckError, match="W X"):
        _matmul_shape((3, 4), (5, 4), "W X")


# -- cross-checks compare like with like ----------------------------------------------------------

@pytest.mark.parametrize("key, corrupt", [
    ("loss", lambda v: v * (1 + sp.Rational(1, 10**7))),
    ("yhat", lambda v: v * (1 + sp.Rational(1, 10**7))),
    ("stable_yhat", lambda v: v * (1 + sp.Rational(1, 10**7))),
    ("W2_shape", lambda v: sp.Matrix([[v[1], v[0]]])),  # K × D_a written as D_a × K
    ("dyk_dzi", lambda v: v.lstrip("-")),  # the sign slip
    ("naive_overflows", lambda v: not v),
])
def test_a_real_disagreement_still_stops_the_build(key, corrupt):
    ex = instance("softmax_ce", seed=2, **SEED_PINS)
    cross_check(ex)
    ex.answers[key].value = corrupt(ex.answers[key].value)
    with pytest.raises(CheckError, match=key):
        cross_check(ex)


def test_extreme_logits_pass_the_cross_check():
    # ŷ_2 = e^{-200}/Z: -log of a float softmax loses it; log-sum-exp does not.
    ex = instance("softmax_ce", parts=["numeric"], logits=[100, -100, 0], label=2)
    assert value(ex, "loss") == pytest.approx(200 + math.log1p(math.exp(-100) + math.exp(-200)), rel=1e-14)
    ex = instance("softmax_ce", parts=["stable"], large_logits=[10000, -10000, 709.8])
    assert [e.inf for e in ex.data.large_exp] == [True, False, True]
    for fmt in ("latex", "markdown"):
        render.render_exercise(ex, fmt)


def test_the_forms_check_is_tight():
    from worksheetgen.exercises.softmax_ce import FORMS, _numeric_forms

    keys = list(FORMS)
    assert _numeric_forms(keys, 5) == {k: FORMS[k][0] for k in keys}
    assert _numeric_forms(keys, 100000) == {k: FORMS[k][0] for k in keys}
