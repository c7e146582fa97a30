import math
import re
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from helpers import central_difference, instance, numeric_gradient, value
from worksheetgen import render
from worksheetgen.answers import BooleanAnswer, ExpressionAnswer
from worksheetgen.errors import CheckError, WorksheetError
from worksheetgen.instance import cross_check
from worksheetgen.params import parse_params
from worksheetgen.registry import get_family
from worksheetgen.spec import load_spec

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
    # A LeakyReLU's slope is below 1; 10^7 (found by the fuzz test) overflowed the check.
    (dict(alpha=10_000_000), "alpha"),
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


# -- seed 002 Q2.5-2.7: the backward step into the hidden layer ----------------------------------

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "pinned_softmax_ce.toml"


def test_seed_002_q2_5_to_2_7():
    ex = instance("softmax_ce", seed=2, **SEED_PINS)
    parts = {a.key: a.part for a in ex.solved.answers}
    # The seed's order: 2.1-2.4 are (a)-(d), 2.5-2.7 are (e)-(g).
    assert [parts[k] for k in ("A1_shape", "dL_dzi", "dz2_da1", "da1_dz1", "dL_dW1_form", "dL_db1_form")] == \
        [1, 4, 5, 6, 7, 7]
    # 2.5: delta_1 = W^{[2]} (the seed writes d z^{[2]} / d alpha^{[1]}: a typo for a^{[1]}).
    assert ex.answers["dz2_da1"].value == "W^{[2]}"
    # 2.6: the seed gives 1 for z >= 0 and 0.01 otherwise. At z = 0 LeakyReLU has no derivative;
    # the sheet's convention (as in its activation tables) is alpha there, and says so.
    assert r"1 & z_i^{[1]} > 0 \\ 0.01 & z_i^{[1]} \le 0" in ex.answers["da1_dz1"].value
    # 2.7: dL/dW1 = delta_1^T delta_0 o delta_2 x^T, dL/db1 = delta_1^T delta_0 o delta_2.
    assert ex.answers["dL_dW1_form"].value.startswith(r"\left(\delta_1^\top \delta_0 \circ \delta_2\right) x^\top")
    assert ex.answers["dL_db1_form"].value.startswith(r"\delta_1^\top \delta_0 \circ \delta_2")
    for key in ("dz2_da1", "da1_dz1", "dL_dW1_form", "dL_db1_form"):
        assert isinstance(ex.answers[key], ExpressionAnswer)
    _, solution = render.render_exercise(ex, "markdown")
    assert r"\operatorname{LeakyReLU}'(0) = \alpha" in solution
    assert r"\mathbb{R}^{3 \times 5}" in solution  # delta_1 is K x D_a


def test_hidden_forms_are_proven_and_a_wrong_one_is_caught(monkeypatch):
    from worksheetgen.exercises import softmax_ce

    proven = softmax_ce.derive_hidden_forms.__wrapped__(sp.Rational(1, 10))
    assert proven["dz2_da1"] == "W^{[2]}" and "0.1" in proven["da1_dz1"]
    assert softmax_ce._numeric_hidden_forms(list(proven), 0.1, sp.Rational(1, 10)) == proven
    # The complex-step check catches a transpose slip (x instead of x^T is a different product).
    wrong = dict(softmax_ce.HIDDEN_FORMS, dL_dW1_form="wrong")
    monkeypatch.setattr(softmax_ce, "HIDDEN_FORMS", wrong)
    assert softmax_ce._numeric_hidden_forms(["dL_dW1_form"], 0.1, sp.Rational(1, 10))["dL_dW1_form"] == "wrong"
    assert softmax_ce._numeric_hidden_forms(["dL_dW1_form"], 0.1, sp.Rational(1, 10)) != {}


def reference_network(g):
    """The network's loss and gradients by plain NumPy and central differences (no formula of
    the family): forward pass, then dL/dW1 and dL/db1 entry by entry."""
    x = np.array([float(v) for v in g.x])
    W1 = np.array(g.W1.tolist(), dtype=float)
    b1 = np.array([float(v) for v in g.b1])
    W2 = np.array(g.W2.tolist(), dtype=float)
    b2 = np.array([float(v) for v in g.b2])
    alpha, k = float(g.alpha), g.label - 1

    def forward(W1_, b1_):
        z1 = W1_ @ x + b1_
        a1 = np.where(z1 > 0, z1, alpha * z1)
        return z1, a1, W2 @ a1 + b2

    def loss(W1_, b1_):
        z2 = forward(W1_, b1_)[2]
        return np.log(np.exp(z2 - z2.max()).sum()) + z2.max() - z2[k]

    z1, a1, z2 = forward(W1, b1)
    dW1 = numeric_gradient(lambda w: loss(w.reshape(W1.shape), b1), W1.ravel(), h=1e-7).reshape(W1.shape)
    db1 = numeric_gradient(lambda b: loss(W1, b), b1, h=1e-7)
    return dict(z1=z1, a1=a1, z2=z2, yhat=softmax(z2), loss=loss(W1, b1), dW1=dW1, db1=db1)


def _check_network(ex):
    ref = reference_network(ex.given)
    assert np.ravel(value(ex, "a1")) == pytest.approx(ref["a1"], rel=1e-12, abs=1e-15)
    assert np.ravel(value(ex, "z2")) == pytest.approx(ref["z2"], rel=1e-12, abs=1e-15)
    assert np.ravel(value(ex, "yhat")) == pytest.approx(ref["yhat"], rel=1e-10)
    assert np.ravel(value(ex, "delta2")) == pytest.approx(np.where(ref["z1"] > 0, 1, float(ex.given.alpha)))
    assert np.array(value(ex, "dL_dW1")) == pytest.approx(ref["dW1"], abs=1e-6)
    assert np.ravel(value(ex, "dL_db1")) == pytest.approx(ref["db1"], abs=1e-6)
    # dL/da1 recovered from dL/db1: where the slope is 1 they agree.
    live = ref["z1"] > 0
    assert np.ravel(value(ex, "dL_da1"))[live] == pytest.approx(ref["db1"][live], abs=1e-6)
    if "loss" in ex.answers:
        assert value(ex, "loss") == pytest.approx(ref["loss"], rel=1e-10)


def test_pinned_example_asks_the_restored_parts():
    spec = load_spec(EXAMPLE)
    seed_sheet, network = (instance("softmax_ce", **e.params) for e in spec.exercises)
    assert {"dz2_da1", "da1_dz1", "dL_dW1_form", "dL_db1_form"} <= set(seed_sheet.answers)
    assert not offences_in(seed_sheet.title) and not offences_in(spec.title)
    # The network: z1 = (0.5, -2.5, 0.5), so delta_2 = (1, 0.01, 1); logits (0.775, 0.725, -0.7625).
    assert np.ravel(value(network, "z2")) == pytest.approx([0.775, 0.725, -0.7625])
    assert np.ravel(value(network, "delta2")) == pytest.approx([1, 0.01, 1])
    assert np.ravel(value(network, "yhat")) == pytest.approx([0.46164915, 0.43913426, 0.09921659], abs=1e-8)
    assert np.array(value(network, "dL_dW1")) == pytest.approx(np.array(
        [[0.79169032, -1.58338064], [-0.00972907, 0.01945813], [-0.42925775, 0.8585155]]), abs=1e-8)
    _check_network(network)
    _, solution = render.render_exercise(network, "markdown")
    # The softmax output is substituted into delta_0 = yhat - y, and x^T is written as the row it is.
    assert r"\delta_0 &= \hat{y} - y \approx \begin{pmatrix} 0.4616 \\ 0.4391 \\ 0.0992 \end{pmatrix}" in solution
    assert r"x^\top \approx \begin{pmatrix} 0.7917 \\ -0.0097 \\ -0.4293 \end{pmatrix} \begin{pmatrix} 1 & -2 \end{pmatrix}" \
        in solution


def offences_in(text):
    return re.findall(r"\bseeds?\b|famil|worksheetgen", text, re.I)


def transposed_column_written_as_column(text):
    """Each place where a transposed symbol equals a tuple written as a column, as in
    "(\\delta^{[2]})^\\top = (0.83, -0.39)^\\top": the transpose of a column is the row (0.83, -0.39).
    A tuple of numbers transposed on the left, (1, 0)^\\top = (...)^\\top, is a column equal to a
    column and fine."""
    found = []
    for hit in re.finditer(r"\^\\top\s*(?:=|\\approx)\s*\(\s*-?[0-9][^()]*\)\^\\top", text):
        before = text[:hit.start()]
        if before.endswith(")"):
            depth, i = 0, len(before) - 1
            while i >= 0:
                depth += {")": 1, "(": -1}.get(before[i], 0)
                if depth == 0:
                    break
                i -= 1
            if re.match(r"\(\s*-?[0-9]", before[i:]):
                continue  # a tuple of numbers
        found.append(text[max(0, hit.start() - 40):hit.end()])
    return found


def test_the_transpose_finder():
    assert transposed_column_written_as_column(r"(\boldsymbol{\delta}^{[2]})^\top = (0.83, -0.39)^\top")
    assert transposed_column_written_as_column(r"x^\top \approx (1, -2)^\top")
    assert not transposed_column_written_as_column(r"\hat{y} - y = (0.4, 0.6)^\top - (1, 0)^\top = (-0.6, 0.6)^\top")
    assert not transposed_column_written_as_column(r"x^\top = \begin{pmatrix} 1 & -2 \end{pmatrix}")


@pytest.mark.parametrize("parts", [["numeric", "hidden_numeric", "stable"], None])
def test_no_transpose_is_written_on_a_column_twice(parts):
    params = {} if parts is None else {"parts": parts}
    for seed in range(3):
        ex = instance("softmax_ce", seed=seed, **params)
        for fmt in ("markdown", "latex"):
            for text in render.render_exercise(ex, fmt):
                assert not transposed_column_written_as_column(text)
                assert "^T" not in text.replace(r"^T}", "")


def test_random_networks_against_finite_differences():
    for seed in range(4):
        _check_network(instance("softmax_ce", seed=seed, parts=["hidden_numeric"]))


@pytest.mark.slow
def test_random_networks_against_finite_differences_many_seeds():
    for seed in range(200):
        ex = instance("softmax_ce", seed=seed, parts=["numeric", "hidden_numeric"])
        _check_network(ex)
        assert not any(ex.family.quality(ex.given, ex.solved).values()), seed


@pytest.mark.slow
def test_default_draws_have_no_quality_flag():
    for seed in range(200):
        ex = instance("softmax_ce", seed=seed)
        assert not any(ex.family.quality(ex.given, ex.solved).values()), seed
        floats = [v for a in ex.solved.answers if a.kind in ("number", "matrix") and "shape" not in a.key
                  for v in np.ravel(value(ex, a.key))]
        assert min(abs(v) for v in floats) >= 1e-3, seed


NETWORK = dict(x=[1, -2], W1=[[1, 0.5], [-0.5, 1], [0.5, 0.5]], b1=[0.5, 0, 1],
               W2=[[1, -1, 0.5], [-0.5, 1, 1], [0.5, 0.5, -1]], b2=[0, 0.5, -0.5], label=2)


@pytest.mark.parametrize("flag, params", [
    ("saturated softmax", dict(parts=["numeric"], logits=[4, 0, -1], label=1)),
    ("saturated softmax", dict(parts=["stable"], large_logits=[1000, 996, 995])),
    ("pre-activation at the kink", dict(parts=["hidden_numeric"], **dict(NETWORK, b1=[0, 0, 1]))),
    ("one LeakyReLU slope only", dict(parts=["hidden_numeric"], **dict(NETWORK, b1=[0.5, 3, 1]))),
    ("asked value below 0.001", dict(parts=["stable"], large_logits=[1000, 993, 1000])),
])
def test_each_quality_flag_fires_on_a_pinned_draw(flag, params):
    # Pinned values are the instructor's choice (no rule applies), so the flag shows in quality().
    ex = instance("softmax_ce", **params)
    flags = ex.family.quality(ex.given, ex.solved)
    assert flags[flag]


@pytest.mark.parametrize("flag_rule", ["no softmax output above 0.95", "no pre-activation z^{[1]} at the",
                                       "hidden units on both sides", "every asked value at least 0.001"])
def test_each_quality_rule_rejects_drawn_networks(flag_rule):
    fam = get_family("softmax_ce")
    rule = next(c for c in fam.constraints if c.rule.startswith(flag_rule))
    assert set(rule.reads) & {"x", "W1", "b1", "W2", "b2", "logits"}
    options = parse_params(fam.params, {"parts": ["hidden_numeric"]}, validate=fam.validate)
    assert set(rule.reads) & fam.drawn(options)


@pytest.mark.parametrize("params, field", [
    (dict(x=[1, 2]), "x"),  # no part uses a network
    (dict(parts=["hidden_numeric"], logits=[1, 2, 3]), "logits"),
    (dict(parts=["hidden_numeric"], x=[1, 2, 3, 4, 5]), "x"),
    (dict(parts=["hidden_numeric"], D_x=5), "D_x"),
    (dict(parts=["hidden_numeric"], x=[1, 2], W1=[[1, 2, 3], [1, 1, 1]]), "W1"),
    (dict(parts=["hidden_numeric"], W1=[[1, 2], [1, 1]], b1=[1, 2, 3]), "b1"),
    (dict(parts=["hidden_numeric"], K=3, b2=[1, 2]), "b2"),
    (dict(parts=["hidden_numeric"], K=3, W2=[[1, 2], [1, 1]]), "W2"),
    (dict(parts=["hidden_numeric"], x=[11, 1]), "x"),
    (dict(parts=["hidden_numeric"], weight_grid=[-20, 20, 1]), "weight_grid"),
    (dict(parts=["hidden_numeric"], input_grid=[0, 0, 1]), "input_grid"),
    (dict(parts=["hidden_numeric"], x=[10, 10], W1=[[10, 10], [10, 10]], b1=[0, 0],
          W2=[[10, 10], [1, 1], [0, 1]], b2=[0, 0, 0]), "W2"),
])
def test_bad_network_input_names_the_field(params, field):
    with pytest.raises(WorksheetError) as err:
        instance("softmax_ce", **params)
    assert err.value.field == f"params.{field}"
