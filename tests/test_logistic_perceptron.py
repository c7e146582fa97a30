import math
import re

import pytest
import sympy as sp

from helpers import central_difference, instance, value
from quality_helpers import assert_gate_passes, raised
from worksheetgen import render
from worksheetgen.errors import CheckError, WorksheetError
from worksheetgen.instance import cross_check
from worksheetgen.params import parse_params
from worksheetgen.registry import get_family

AND = dict(p_X=[[0, 0], [0, 1], [1, 0], [1, 1]], p_y=[0, 0, 0, 1], p_w=[0, 0], p_b=0, p_eta=1)


# -- independent references -------------------------------------------------------------------

def ref_perceptron(X, y, w, b, eta, epochs, low):
    """The rule as written on the sheet, in floats (every value is a multiple of a power of 2
    or a short decimal, and the comparisons are with 0)."""
    w, b, preds = list(w), b, []
    for _ in range(epochs):
        for x, t in zip(X, y):
            z = sum(a * c for a, c in zip(w, x)) + b
            p = 1 if z >= 0 else low
            preds.append(p)
            w = [a + eta * (t - p) * c for a, c in zip(w, x)]
            b = b + eta * (t - p)
    final = [1 if sum(a * c for a, c in zip(w, x)) + b >= 0 else low for x in X]
    return preds, w, b, final


def sigmoid(z):
    return 1 / (1 + math.exp(-z))


def ref_loss(X, y, w, b):
    return sum(-(t * math.log(sigmoid(sum(a * c for a, c in zip(w, x)) + b))
                 + (1 - t) * math.log(1 - sigmoid(sum(a * c for a, c in zip(w, x)) + b)))
               for x, t in zip(X, y)) / len(X)


def ref_logistic(X, y, w, b, eta, steps):
    m = len(X)
    first = None
    for _ in range(steps):
        p = [sigmoid(sum(a * c for a, c in zip(w, x)) + b) for x in X]
        gw = [sum((pi - t) * x[j] for pi, t, x in zip(p, y, X)) / m for j in range(len(w))]
        gb = sum(pi - t for pi, t in zip(p, y)) / m
        if first is None:
            first = (p, ref_loss(X, y, w, b), gw, gb)
        w = [a - eta * g for a, g in zip(w, gw)]
        b = b - eta * gb
    return first, w, b, ref_loss(X, y, w, b)


def fl(values):
    return [float(v) for v in values]


def check_against_reference(ex):
    g = ex.given
    if "perceptron" in g.parts:
        low = 0 if g.labels == "01" else -1
        X = [fl(g.p_X.row(i)) for i in range(g.p_X.rows)]
        preds, w, b, final = ref_perceptron(X, list(g.p_y), fl(g.p_w), float(g.p_b), float(g.p_eta), g.epochs, low)
        assert value(ex, "p_yhat")[0] == preds
        assert value(ex, "p_w")[0] == pytest.approx(w, abs=1e-12)
        assert value(ex, "p_b") == pytest.approx(b, abs=1e-12)
        assert ex.answers["p_updates"].value == sum(p != t for p, t in zip(preds, list(g.p_y) * g.epochs))
        assert ex.answers["p_separates"].value is (final == list(g.p_y))
    if "logistic" in g.parts:
        X = [fl(g.lr_X.row(i)) for i in range(g.lr_X.rows)]
        y = list(g.lr_y)
        (p, loss, gw, gb), w, b, after = ref_logistic(X, y, fl(g.lr_w), float(g.lr_b), float(g.lr_eta), g.lr_steps)
        assert value(ex, "lr_p")[0] == pytest.approx(p, rel=1e-12)
        assert value(ex, "lr_loss") == pytest.approx(loss, rel=1e-10)
        assert value(ex, "lr_grad_w")[0] == pytest.approx(gw, rel=1e-10, abs=1e-13)
        assert value(ex, "lr_grad_b") == pytest.approx(gb, rel=1e-10, abs=1e-13)
        assert value(ex, "lr_w")[0] == pytest.approx(w, rel=1e-10, abs=1e-13)
        assert value(ex, "lr_b") == pytest.approx(b, rel=1e-10, abs=1e-13)
        assert value(ex, "lr_loss_after") == pytest.approx(after, rel=1e-10)
        # The gradient formula against a central difference of the loss itself.
        w0, b0 = fl(g.lr_w), float(g.lr_b)
        fd = [central_difference(lambda t, j=j: ref_loss(X, y, [*w0[:j], t, *w0[j + 1:]], b0), w0[j], 1e-6)
              for j in range(len(w0))]
        assert value(ex, "lr_grad_w")[0] == pytest.approx(fd, rel=1e-6, abs=1e-8)
        assert value(ex, "lr_grad_b") == pytest.approx(
            central_difference(lambda t: ref_loss(X, y, w0, t), b0, 1e-6), rel=1e-6, abs=1e-8)


# -- hand-worked values -----------------------------------------------------------------------

def test_perceptron_learns_and_by_hand():
    ex = instance("logistic_perceptron", parts=["perceptron"], **AND)
    # Step 1: z = 0 gives yhat = 1 (z >= 0), y = 0: w = (0, 0) - (0, 0), b = 0 - 1 = -1.
    # Steps 2, 3: z = -1, yhat = 0 = y. Step 4: z = -1, yhat = 0, y = 1: w = (1, 1), b = 0.
    assert value(ex, "p_yhat") == [[1, 0, 0, 0]]
    assert value(ex, "p_w") == [[1, 1]] and value(ex, "p_b") == 0
    assert ex.answers["p_updates"].value == 2
    # (0, 0) now gives z = 0, so yhat = 1: not yet separated after one epoch.
    assert ex.answers["p_separates"].value is False
    more = instance("logistic_perceptron", parts=["perceptron"], epochs=5, **AND)
    assert more.answers["p_separates"].value is True  # AND is linearly separable
    check_against_reference(more)


def test_perceptron_with_plus_minus_labels():
    # y - yhat is ±2: w = (0.5, -0.5) + 0.5 * 2 * (1, 1) = (1.5, 0.5) after step 1.
    ex = instance("logistic_perceptron", parts=["perceptron"], labels="pm1", p_X=[[1, 1], [2, -1]],
                  p_y=[1, -1], p_w=[0.5, -0.5], p_b=-0.25, p_eta=0.5)
    # step 1: z = 0.5 - 0.5 - 0.25 = -0.25 -> -1, y = 1: w = (1.5, 0.5), b = 0.75.
    # step 2: z = 3 - 0.5 + 0.75 = 3.25 -> 1, y = -1: w = (1.5, 0.5) - (2, -1) = (-0.5, 1.5), b = -0.25.
    assert value(ex, "p_yhat") == [[-1, 1]]
    assert value(ex, "p_w") == [[-0.5, 1.5]] and value(ex, "p_b") == -0.25
    assert ex.answers["p_updates"].value == 2
    _, solution = render.render_exercise(ex, "markdown")
    assert r"y - \hat{y} = \pm 2" in solution


def test_logistic_step_by_hand():
    ex = instance("logistic_perceptron", parts=["logistic"], lr_X=[[1, 2]], lr_y=[1], lr_w=[0, 0], lr_b=0,
                  lr_eta=1)
    assert value(ex, "lr_p") == [[0.5]]
    assert ex.answers["lr_loss"].value == sp.log(2)
    # (sigma(0) - 1) * (1, 2) = (-0.5, -1), db = -0.5; w = (0.5, 1), b = 0.5; z' = 0.5 + 2 + 0.5 = 3.
    assert value(ex, "lr_grad_w") == [[-0.5, -1]] and value(ex, "lr_grad_b") == -0.5
    assert value(ex, "lr_w") == [[0.5, 1]] and value(ex, "lr_b") == 0.5
    assert value(ex, "lr_loss_after") == pytest.approx(math.log(1 + math.exp(-3)), rel=1e-14)


def test_solution_shows_the_work():
    ex = instance("logistic_perceptron", seed=3)
    problem, solution = render.render_exercise(ex, "markdown")
    assert r"w \leftarrow w + \eta\,(y - \hat{y})\,x" in problem
    assert r"\frac{\partial J}{\partial w} = \frac{1}{m} \sum_i \left(\sigma(w \cdot x_i + b) - y_i\right) x_i" in problem
    assert r"\frac{\partial L}{\partial z}" in solution and "| step |" in solution
    for text in (problem, solution):
        assert not re.search(r"\bseed\b|\bfamily\b|worksheetgen", text, re.I)


def test_several_steps_and_epochs():
    ex = instance("logistic_perceptron", seed=5, lr_steps=2, epochs=2)
    assert len(ex.data.lr) == 2 and len(ex.data.steps) == 2 * ex.given.p_X.rows
    check_against_reference(ex)
    render.render_exercise(ex, "latex")


def test_random_instances_against_a_reference():
    for seed in range(3):
        for labels in ("01", "pm1"):
            ex = instance("logistic_perceptron", seed=seed, labels=labels)
            check_against_reference(ex)


@pytest.mark.slow
def test_random_instances_against_a_reference_many_seeds():
    for seed in range(200):
        check_against_reference(instance("logistic_perceptron", seed=seed, labels="01" if seed % 2 else "pm1"))
    for seed in range(15):
        check_against_reference(instance("logistic_perceptron", seed=seed, features=4, points=8, batch=6,
                                         epochs=3, lr_steps=2, lr_eta=0.1))


def test_drawn_instances_teach():
    for seed in range(10):
        ex = instance("logistic_perceptron", seed=seed)
        d = ex.data
        assert 0 < d.mistakes < len(d.steps)
        assert all(s.z != 0 for s in d.steps)
        assert set(ex.given.p_y) == {0, 1} and set(ex.given.lr_y) <= {0, 1}
        assert d.lr_decreased


def test_a_real_disagreement_stops_the_build():
    ex = instance("logistic_perceptron", seed=2)
    cross_check(ex)
    ex.answers["lr_b"].value = ex.answers["lr_b"].value * (1 + sp.Rational(1, 10**7))
    with pytest.raises(CheckError, match="lr_b"):
        cross_check(ex)
    ex = instance("logistic_perceptron", seed=2)
    ex.answers["p_separates"].value = not ex.answers["p_separates"].value
    with pytest.raises(CheckError, match="p_separates"):
        cross_check(ex)


def test_records_are_declared():
    fam = get_family("logistic_perceptron")
    ex = instance("logistic_perceptron", seed=1)
    assert isinstance(ex.given, type(fam).Given) and isinstance(ex.data, type(fam).Data)
    assert not hasattr(fam, "rejection")


def test_parts_are_selectable():
    assert {k[:2] for k in instance("logistic_perceptron", seed=1, parts=["perceptron"]).answers} == {"p_"}
    assert {k[:3] for k in instance("logistic_perceptron", seed=1, parts=["logistic"]).answers} == {"lr_"}


def test_limits_are_the_help_texts():
    fam = get_family("logistic_perceptron")
    help_ = {p.name: p.help for p in fam.params}
    assert "from -10 to 10" in help_["p_X"] and "at most 10" in help_["lr_eta"] and "1 to 2" in help_["lr_steps"]
    instance("logistic_perceptron", parts=["logistic"], lr_X=[[10, -10]], lr_y=[1], lr_w=[10, 10], lr_b=-10,
             lr_eta=10)
    with pytest.raises(WorksheetError) as err:
        instance("logistic_perceptron", lr_eta=10.5)
    assert err.value.field == "params.lr_eta"


def test_limits_are_checked_before_any_draw(monkeypatch):
    fam = get_family("logistic_perceptron")
    monkeypatch.setattr(fam, "sample", lambda *a: pytest.fail("sample() ran"))
    with pytest.raises(WorksheetError) as err:
        parse_params(fam.params, {"p_y": [0, 1, -1]}, validate=fam.validate)
    assert err.value.field == "params.p_y"


@pytest.mark.parametrize("params, field", [
    (dict(p_y=[1, -1], labels="01"), "p_y"),
    (dict(p_X=[[1, 2]] * 9), "p_X"),
    (dict(p_X=[[1, 2, 3, 4, 5]]), "p_X"),
    (dict(p_X=[[1, 2], [3, 4]], p_y=[1, 0, 1]), "p_y"),
    (dict(p_X=[[1, 2], [3, 4]], p_w=[1, 2, 3]), "p_w"),
    (dict(features=3, lr_w=[1, 2]), "lr_w"),
    (dict(lr_X=[[11, 0]]), "lr_X"),
    (dict(p_b=10.5), "p_b"),
    (dict(p_eta=0), "p_eta"),
    (dict(epochs=6), "epochs"),
    (dict(lr_steps=3), "lr_steps"),
    (dict(lr_X=[[1, 2]] * 7), "lr_X"),
    (dict(lr_y=[2]), "lr_y"),
    (dict(weight_grid=[-20, 1, 1]), "weight_grid"),
    (dict(parts=["logistic", "logistic"]), "parts"),
])
def test_bad_input_names_the_field(params, field):
    with pytest.raises(WorksheetError) as err:
        instance("logistic_perceptron", **params)
    assert err.value.field == f"params.{field}"


def test_threshold_convention_is_stated():
    # z = 0 gives yhat = 1, as the sheet states (pinned values keep it; drawn ones avoid it).
    ex = instance("logistic_perceptron", parts=["perceptron"], p_X=[[1, 1], [1, -1]], p_y=[0, 1],
                  p_w=[1, -1], p_b=0, p_eta=1)
    assert value(ex, "p_yhat")[0][0] == 1
    problem, _ = render.render_exercise(ex, "markdown")
    assert r"1 & \text{if } w \cdot x + b \ge 0" in problem


def test_pinned_example():
    from pathlib import Path

    from worksheetgen.spec import load_spec

    spec = load_spec(Path(__file__).resolve().parent.parent / "examples" / "pinned_logistic_perceptron.toml")
    perceptron, logistic = (instance("logistic_perceptron", **e.params) for e in spec.exercises)
    assert value(perceptron, "p_w") == [[1, 1]] and perceptron.answers["p_updates"].value == 2
    assert logistic.answers["lr_loss"].value == sp.log(2)
    assert value(logistic, "lr_w") == [[0.5, 1]]


# -- quality (issue 10): the draws teach -------------------------------------------------------

@pytest.mark.slow
def test_quality_gate_over_200_seeds():
    assert_gate_passes("logistic_perceptron", 200)
    assert_gate_passes("logistic_perceptron", 200, labels="pm1")


@pytest.mark.parametrize("params, flags", [
    (dict(parts=["perceptron"], p_X=[[1, 0], [0, 1]], p_y=[0, 1], p_w=[0, 0], p_b=0, p_eta=1),
     {"perceptron pre-activation at the threshold 0"}),
    (dict(parts=["perceptron"], p_X=[[1, 0], [0, 1]], p_y=[1, 1], p_w=[1, 1], p_b=0.5, p_eta=1),
     {"perceptron never errs or never gets one right"}),
    # ŷ = 1 right, then ŷ = 1 wrong: w = 1 - 1·1 = 0.
    (dict(parts=["perceptron"], p_X=[[2], [1]], p_y=[1, 0], p_w=[1], p_b=0.5, p_eta=1),
     {"perceptron weights all 0 after training"}),
    (dict(parts=["logistic"], lr_X=[[3, 3], [1, 0]], lr_y=[1, 0], lr_w=[1, 1], lr_b=0, lr_eta=0.1),
     {"saturated unit"}),
    # z = ±1: σ(1) - 1 + σ(-1) = 0, so ∂J/∂b is 0 and b stays 0 (SymPy leaves the sum unsimplified).
    (dict(parts=["logistic"], lr_X=[[1], [-1]], lr_y=[1, 0], lr_w=[1], lr_b=0, lr_eta=0.5),
     {"gradient below 0.01", "updated parameter below 0.01"}),
    (dict(parts=["logistic"], lr_X=[[1], [2]], lr_y=[1, 0], lr_w=[0], lr_b=0, lr_eta=10),
     {"loss does not decrease"}),
])
def test_each_quality_flag_fires(params, flags):
    assert flags <= raised(instance("logistic_perceptron", **params))


def test_a_good_draw_raises_no_flag():
    ex = instance("logistic_perceptron", parts=["logistic"], lr_X=[[1, 2], [2, -1]], lr_y=[1, 0],
                  lr_w=[0.5, -0.5], lr_b=0.5, lr_eta=0.5)
    assert not raised(ex)
    assert not raised(instance("logistic_perceptron", seed=3))
    assert "p_yhat" in ex.family.zero_ok  # ŷ is a class label: 0 is an answer
