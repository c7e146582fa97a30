"""Randomized conceptual families: lr_grid (002 Q1.3), lr_curves (002 Q1.4),
activation_match (003 Ex3 e). Keys are checked against computations written here, and the
choices' options in the key against what the sheet prints."""

import math
import re
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp

from helpers import instance, value
from worksheetgen import render
from worksheetgen.answers import BooleanAnswer, ChoiceAnswer, IntegerAnswer
from worksheetgen.errors import WorksheetError
from worksheetgen.exercises import activation_match as am
from worksheetgen.exercises import lr_curves as lc
from worksheetgen.exercises import lr_grid as lg
from worksheetgen.exercises.concept import SEED_CURVES, SEED_NETWORKS
from worksheetgen.registry import get_family


def seeds(n, fast=2):
    """Seeds 0..n-1; all but the first ``fast`` run only in the slow suite."""
    return [s if s < fast else pytest.param(s, marks=pytest.mark.slow) for s in range(n)]


def printed_panels(figure):
    """{title: the (x, y) points of its curves}, in drawing order, read back from the TikZ the
    sheet prints (four decimals; scattered data points left out)."""
    panels = {}
    for options, body in re.findall(r"\\begin\{axis\}\[(.*?)\]\n(.*?)\\end\{axis\}", figure.tikz, re.S):
        title = re.search(r"title=\{\$(.*?)\$\}", options).group(1)
        points = []
        for coords in re.findall(r"no markers[^\]]*\] coordinates \{(.*?)\};", body):
            points += [(float(x), float(y)) for x, y in re.findall(r"\(([-\d.e]+),([-\d.e]+)\)", coords)]
        panels[title] = points
    return panels


def shows(points, curve, xs, top=math.inf):
    """The printed points at the sample positions xs are exactly the curve's samples that lie
    inside the plot (below ``top``); points the clipping adds at the border are ignored."""
    xs = [round(float(x), 4) for x in xs]
    expected = {x: float(y) for x, y in zip(xs, curve) if y < top}
    borderline = {x for x, y in zip(xs, curve) if abs(y - top) < 1e-3}
    printed = {x: y for x, y in points if x in set(xs)}
    if (set(printed) ^ set(expected)) - borderline:
        return False
    return all(abs(printed[x] - expected[x]) <= 1.5e-4 for x in set(printed) & set(expected))


@pytest.mark.parametrize("name", ["lr_grid", "lr_curves", "activation_match"])
def test_on_constraints_not_rejection(name):
    family = get_family(name)
    assert not hasattr(family, "rejection")
    assert family.constraints


# ------------------------------------------------------------------------------ lr_grid


def test_lr_grid_seed_002_q13():
    ex = instance("lr_grid", values=[0.01, 0.16, 0.21, 0.84, 0.94], low_exponent=-2, high_exponent=0)
    # Seed: "four values between 0.1 and 1, only one between 0.01 and 0.1" → not a good search.
    good = ex.answers["good"]
    assert isinstance(good, BooleanAnswer) and good.value is False
    assert isinstance(ex.answers["count_m2"], IntegerAnswer)
    assert value(ex, "count_m2") == 1 and value(ex, "count_m1") == 4
    _, solution = render.render_exercise(ex, "markdown")
    assert "**No.**" in solution and "$[10^{-1}, 10^{0}]$ gets 4 values" in solution


def _count(values, low, high):
    counts = [0] * (high - low)
    for v in values:
        k = math.floor(math.log10(float(v)) + 1e-12)  # values have 2 significant digits
        counts[min(max(k, low), high - 1) - low] += 1
    return counts


@pytest.mark.parametrize("seed", seeds(120))
def test_lr_grid_counts_and_verdict(seed):
    ex = instance("lr_grid", seed=seed)
    g = ex.given
    counts = _count(g.values, g.low, g.high)
    for k, c in zip(range(g.low, g.high), counts):
        assert value(ex, f"count_{k}".replace("-", "m")) == c
    n, d = len(g.values), g.high - g.low
    good = all(n // d <= c <= math.ceil(n / d) for c in counts)
    assert ex.answers["good"].value is good
    assert good is g.log_uniform  # log-scale draws are good, linear ones are not
    assert all(10.0 ** g.low <= float(v) <= 10.0 ** g.high for v in g.values)
    assert len(set(g.values)) == n
    assert all(len(Decimal(str(float(v))).normalize().as_tuple().digits) <= 2 for v in g.values)
    _, solution = render.render_exercise(ex, "markdown")
    assert ("**Yes.**" if good else "**No.**") in solution


@pytest.mark.parametrize("params", [
    {"low_exponent": -3},
    {"high_exponent": -4},
    {"low_exponent": 0, "log_uniform": True},
    {"high_exponent": -5, "log_uniform": True},
])
def test_lr_grid_one_exponent_pinned_stays_in_range(params):
    for seed in range(4):
        g = instance("lr_grid", seed=seed, **params).given
        assert g.low == params.get("low_exponent", g.low) and g.high == params.get("high_exponent", g.high)
        assert -6 <= g.low < g.high <= 1


def test_floor_log10_is_exact():
    rng = np.random.default_rng(5)
    for _ in range(300):
        p, q = (int(x) for x in rng.integers(1, 10**6, size=2))
        v = sp.Rational(p, q)
        k = lg.floor_log10(v)
        assert Fraction(10) ** k <= Fraction(p, q) < Fraction(10) ** (k + 1)
    for k in range(-8, 4):  # powers of ten sit at the start of their decade
        assert lg.floor_log10(sp.Rational(10) ** k) == k == lg.ceil_log10(sp.Rational(10) ** k)


@pytest.mark.parametrize("params, field", [
    ({"low_exponent": -2, "high_exponent": -2}, "high_exponent"),
    ({"low_exponent": -4, "high_exponent": 0, "count": 3}, "count"),
    ({"values": [0.5, 2], "low_exponent": -2, "high_exponent": 0}, "values"),
    ({"values": [0.5, 0.5]}, "values"),
    ({"low_exponent": -2, "high_exponent": -1, "log_uniform": False}, "log_uniform"),
    ({"low_exponent": 0, "log_uniform": False}, "log_uniform"),
])
def test_lr_grid_bad_input(params, field):
    with pytest.raises(WorksheetError) as err:
        instance("lr_grid", **params)
    assert err.value.field.endswith(field)


# ------------------------------------------------------------------------------ lr_curves


def sgd_curves(rates, noise_seed):
    """The exercise's problem, re-implemented: ridge regression, SGD with batch size 1."""
    rng = np.random.default_rng(noise_seed)
    scale = lc.EDGE / (lc.DIM * sorted(rates)[-2])
    u = rng.normal(size=(lc.SAMPLES, lc.DIM))
    x = u / np.linalg.norm(u, axis=1)[:, None] * math.sqrt(lc.DIM * scale)
    y = x @ rng.normal(size=lc.DIM) + lc.NOISE * math.sqrt(scale) * rng.normal(size=lc.SAMPLES)
    lam = lc.L2 * scale
    order = rng.integers(0, lc.SAMPLES, size=lc.STEPS)
    curves = []
    for rate in rates:
        w = np.zeros(lc.DIM)
        losses = []
        with np.errstate(all="ignore"):
            for t in range(lc.STEPS + 1):
                r = x @ w - y
                losses.append(0.5 * np.mean(r**2) + 0.5 * lam * w @ w)
                if t < lc.STEPS:
                    i = order[t]
                    w = np.clip(w - rate * ((x[i] @ w - y[i]) * x[i] + lam * w), -1e12, 1e12)
        losses = np.nan_to_num(np.array(losses), nan=np.inf)
        curves.append(losses / losses[0])
    return curves


def assert_curve_roles(rates, letters, keys):
    """The curve keyed to each role really behaves that way."""
    curves = dict(zip(letters, sgd_curves([float(r) for r in rates], keys["noise_seed"])))
    by_size = sorted(range(4), key=lambda i: rates[i], reverse=True)
    way, high, good, low = (curves[keys[f"alpha{i + 1}"]] for i in by_size)
    tail = lambda c: float(np.mean(c[-lc.TAIL:]))  # noqa: E731
    assert way[-1] > 10 * way[0]  # diverges: the loss increases far past its start
    assert np.mean(np.diff(high) > 0) > 0.2  # oscillates: the loss often goes up
    assert high.max() < 1.2 and tail(high) > tail(good)
    assert tail(good) < min(tail(high), tail(low))  # good reaches the lowest loss
    assert low[-1] < 1 and low[-1] > tail(good) + 0.2  # too low: decreases, slowly
    blocks = low[1:].reshape(6, -1).mean(axis=1)
    assert np.all(np.diff(blocks) < 0)


def assert_curves_printed_as_keyed(ex):
    """Every rate's options are the curves' letters as the figure titles them and the problem
    names them, and the solution gives each rate the keyed curve."""
    problem, solution = render.render_exercise(ex, "markdown")
    (figure,) = ex.solved.figures
    panels = printed_panels(figure)
    titles = list(panels)
    assert titles == ["A", "B", "C", "D"]
    assert f"the curve ({'/'.join(titles)}) it belongs to" in problem
    curves = sgd_curves([float(r) for r in ex.given.rates], ex.given.noise_seed)
    for i, rate in enumerate(ex.given.rates):
        a = ex.answers[f"alpha{i + 1}"]
        assert isinstance(a, ChoiceAnswer)
        assert list(a.options) == titles
        assert a.value == a.options[a.correct]
        # The panel titled with the keyed letter draws this rate's loss, and no other does.
        assert [t for t in titles if shows(panels[t], curves[i], range(lc.STEPS + 1), lc.Y_MAX)] == [a.value]
        assert f"$\\alpha = {lc._rate_tex(rate)}$ belongs to **curve {a.value}**" in solution


def test_lr_curves_seed_002_q14():
    # Seed: alpha = [3e-4, 4e-1, 2e-5, 8e-3] (printed there as 3e4, 4e1, 2e5, 8e3) and
    # A = 0.4 (way too high), B = 2e-5 (too low), C = 8e-3 (too high), D = 3e-4 (good).
    ex = instance("lr_curves", rates=[3e-4, 0.4, 2e-5, 8e-3], letters=["D", "A", "B", "C"], noise_seed=1)
    keys = {k: a.value for k, a in ex.answers.items()}
    assert keys == {"alpha1": "D", "alpha2": "A", "alpha3": "B", "alpha4": "C"}
    assert [ex.answers[f"alpha{i}"].correct for i in range(1, 5)] == [3, 0, 1, 2]
    assert_curve_roles(ex.given.rates, ex.given.letters, {**keys, "noise_seed": 1})
    assert lc.role_problem(ex.data.traits) is None
    assert_curves_printed_as_keyed(ex)


def test_bank_figure_of_002_q14_shows_the_seed_answer():
    rates = SEED_CURVES["rates"]  # curves A, B, C, D
    keys = {f"alpha{i + 1}": letter for i, letter in enumerate("ABCD")}
    assert_curve_roles(rates, list("ABCD"), {**keys, "noise_seed": SEED_CURVES["noise_seed"]})


@pytest.mark.parametrize("seed", seeds(24, fast=1))
def test_lr_curves_random(seed):
    ex = instance("lr_curves", seed=seed)
    g = ex.given
    keys = {k: a.value for k, a in ex.answers.items()}
    assert sorted(keys.values()) == ["A", "B", "C", "D"]
    ordered = sorted(g.rates, reverse=True)
    assert all(a >= 10 * b for a, b in zip(ordered, ordered[1:]))
    assert_curve_roles(g.rates, g.letters, {**keys, "noise_seed": g.noise_seed})
    assert_curves_printed_as_keyed(ex)


def test_lr_curves_rate_tex():
    assert lc._rate_tex(sp.Rational(3, 10000)) == r"3 \times 10^{-4}"
    assert lc._rate_tex(sp.Rational(1, 100)) == r"10^{-2}"
    assert lc._rate_tex(sp.Rational(4, 10)) == r"4 \times 10^{-1}"
    assert lc._rate_tex(sp.Integer(1)) == r"10^{0}"


@pytest.mark.parametrize("params, field", [
    ({"rates": [0.1, 0.05, 0.001, 0.0001]}, "rates"),
    ({"letters": ["A", "A", "B", "C"]}, "letters"),
])
def test_lr_curves_bad_input(params, field):
    with pytest.raises(WorksheetError) as err:
        instance("lr_curves", **params)
    assert err.value.field.endswith(field)


# ------------------------------------------------------------------------------ activation_match


def fitted_curve(g, name):
    """Least squares with ridge rows (bias unpenalised), written out here."""
    x, y = am.make_data(g["target"], g["points"], g["data_seed"])
    w, b = am.hidden_layer(g["hidden"], g["data_seed"])
    act = {"sigmoid": lambda z: 1 / (1 + np.exp(-z)), "relu": lambda z: np.maximum(z, 0),
           "identity": lambda z: z}[name]
    design = np.hstack([act(np.outer(x, w) + b), np.ones((len(x), 1))])
    k = len(w)
    reg = np.hstack([math.sqrt(len(x) * am.RIDGE) * np.eye(k), np.zeros((k, 1))])
    coef = np.linalg.lstsq(np.vstack([design, reg]), np.concatenate([y, np.zeros(k)]), rcond=None)[0]
    grid = np.linspace(-am.X_RANGE, am.X_RANGE, am.GRID)
    return grid, np.hstack([act(np.outer(grid, w) + b), np.ones((am.GRID, 1))]) @ coef, -b / w


def assert_shape(name, grid, curve, breaks):
    height = np.ptp(curve)
    second = np.abs(np.diff(curve, 2)) / max(height, 1e-12)
    if name == "identity":
        assert second.max() < 1e-9  # exactly a straight line
        return
    assert np.abs(curve - np.polyval(np.polyfit(grid, curve, 1), grid)).max() > 0.1 * height
    step = grid[1] - grid[0]
    near_kink = np.array([np.min(np.abs(breaks - xm)) <= 1.01 * step for xm in grid[1:-1]])
    if name == "relu":
        # piecewise linear: it bends only next to a breakpoint -b/w of some hidden unit
        assert second[~near_kink].max() < 1e-9
        assert second[near_kink].max() > 1e-3
    else:
        # smooth: bends everywhere, gently (no spike of the second difference)
        assert np.mean(second > 1e-9) > 0.9
        third = np.abs(np.diff(curve, 3)) / height
        assert third.max() < 0.2 * second.max()


NET_NAMES = {"sigmoid": "sigmoid", "relu": "ReLU", "identity": "identity"}  # as the sheet says


def assert_networks_printed_as_keyed(ex):
    """Each network's options are the panels' letters as titled and named in the problem; the
    solution names the keyed curve."""
    problem, solution = render.render_exercise(ex, "markdown")
    (figure,) = ex.solved.figures
    panels = printed_panels(figure)
    titles = list(panels)
    assert titles == ["A", "B", "C"]
    assert f"Match the learned output function ({', '.join(titles)}) with" in problem
    assert set(ex.answers) == {f"{name}_curve" for name in NET_NAMES}
    for name, text in NET_NAMES.items():
        a = ex.answers[f"{name}_curve"]
        assert isinstance(a, ChoiceAnswer)
        assert list(a.options) == titles
        assert a.value == a.options[a.correct]
        assert f"**Curve {a.value}: {text}.**" in solution


@pytest.mark.parametrize("seed", seeds(40))
def test_activation_match_shapes_follow_the_key(seed):
    ex = instance("activation_match", seed=seed)
    g = ex.given
    panels = printed_panels(ex.solved.figures[0])
    fits = {name: fitted_curve(g, name) for name in NET_NAMES}
    for name in NET_NAMES:
        letter = ex.answers[f"{name}_curve"].value
        # The panel of the keyed letter shows the curve of this network, and no other.
        assert [n for n, (grid, curve, _) in fits.items() if shows(panels[letter], curve, grid)] == [name]
        assert_shape(name, *fits[name])  # and that curve has the network's shape
        assert np.allclose(fits[name][1], ex.data.curves[name], atol=1e-7)
    assert_networks_printed_as_keyed(ex)


def test_activation_match_pinned_and_bank_figure():
    # Seed 003 Ex3 (e): (A, B, C) = (identity, ReLU, sigmoid).
    ex = instance("activation_match", order=["identity", "relu", "sigmoid"], target="cubic", data_seed=7)
    assert {k: a.value for k, a in ex.answers.items()} == {
        "identity_curve": "A", "relu_curve": "B", "sigmoid_curve": "C"}
    assert_networks_printed_as_keyed(ex)
    _, solution = render.render_exercise(ex, "markdown")
    assert "Answer: (A, B, C) = (identity, ReLU, sigmoid)" in solution
    g = {**SEED_NETWORKS}
    for name in g["order"]:
        assert_shape(name, *fitted_curve(g, name))


@pytest.mark.parametrize("params, field", [
    ({"order": ["relu", "relu", "identity"]}, "order"),
    ({"hidden": 2}, "hidden"),
])
def test_activation_match_bad_input(params, field):
    with pytest.raises(WorksheetError) as err:
        instance("activation_match", **params)
    assert err.value.field.endswith(field)


# ------------------------------------------------------------------------------ draws that teach
# (issue 10): each family's quality() flags, the constraints that keep drawn instances clear of
# them, and what the sheet prints for values the sheet's rounding would hide.

def _raised(ex):
    return {name for name, bad in ex.family.quality(ex.given, ex.solved).items() if bad}


def test_lr_grid_an_empty_decade_is_a_count_worth_asking():
    ex = instance("lr_grid", values=[0.2, 0.5, 0.9], low_exponent=-2, high_exponent=0)
    assert value(ex, "count_m2") == 0 and ex.answers["good"].value is False
    assert ex.family.zero_ok == frozenset({"count_*"})
    from worksheetgen.qualitygate import zero_answers

    assert zero_answers(ex.solved.answers, ex.family.zero_ok) == []


def test_lr_grid_a_value_on_an_inner_decade_boundary_is_flagged_and_never_drawn():
    # 0.1 = 10^-1 inside [0.01, 1]: counted in [0.1, 1] by the rule, ambiguous to a student.
    pinned = instance("lr_grid", values=[0.01, 0.05, 0.1, 0.5], low_exponent=-2, high_exponent=0)
    assert _raised(pinned) == {"value on an inner decade boundary"}  # pinned: the instructor's choice
    assert _raised(instance("lr_grid", values=[0.01, 0.16, 0.21, 0.84, 0.94], low_exponent=-2,
                            high_exponent=0)) == set()
    assert not lg.on_inner_boundary([sp.Rational(1, 100), sp.Integer(1)], -2, 0)  # the ends are fine
    for seed in range(4):
        ex = instance("lr_grid", seed=seed)
        assert _raised(ex) == set()
    assert any(c.rule.startswith("no value exactly on a decade boundary") for c in ex.family.constraints)


def test_lr_grid_small_rates_print_as_written_not_rounded_to_zero():
    ex = instance("lr_grid", seed=1, low_exponent=-6, high_exponent=-4)
    problem, solution = render.render_exercise(ex, "markdown")
    assert "0.0000" not in problem + solution
    for v in ex.given.values:
        tex = lg.value_tex(v)
        mantissa, _, power = tex.partition(" \\times 10^")
        assert sp.Rational(mantissa) * sp.Rational(10) ** int(power.strip("{}")) == v
        assert tex in problem
    assert "between $10^{-6}$ and $10^{-4}$" in problem
    assert lg.value_tex(sp.Rational("0.0012")) == "0.0012" and lg.value_tex(sp.Rational(1, 100000)) == "10^{-5}"
    assert lg.value_tex(sp.Rational("0.00034")) == "3.4 \\times 10^{-4}"


def test_lr_curves_look_alike_measure():
    base = np.linspace(1, 0.2, lc.STEPS + 1)
    alike = np.vstack([base, base + 0.05, base * 0 + 5, np.linspace(1, 0.9, lc.STEPS + 1)])
    assert lc.closest_pair_gap(alike) == pytest.approx(0.05)
    # cut at the top of the plot: two curves that both leave it look the same
    assert lc.closest_pair_gap(np.vstack([base * 0 + 3, base * 0 + 9])) == 0
    ex = instance("lr_curves", rates=[3e-4, 0.4, 2e-5, 8e-3], letters=["D", "A", "B", "C"], noise_seed=1)
    assert _raised(ex) == set() and lc.closest_pair_gap(ex.data.curves) >= lc.LOOK_ALIKE
    assert any(c.rule == "no two curves look alike on the plot" for c in ex.family.constraints)


def test_activation_match_turn_measure():
    grid = np.linspace(-am.X_RANGE, am.X_RANGE, am.GRID)
    # a kink from slope 0 to slope 1 on a plot whose y-range equals the x-range: a 4:3 plot area
    # draws slope 1 at atan(3/4) ≈ 36.9°
    kink = np.maximum(grid, 0)
    assert am.sharpest_turn(grid, kink, 2 * am.X_RANGE) == pytest.approx(np.degrees(np.arctan(3 / 4)), abs=0.01)
    smooth = 1 / (1 + np.exp(-grid))
    assert am.sharpest_turn(grid, smooth, 1.2) < 5
    assert am.sharpest_turn(grid, 0.3 * grid, 3.0) == pytest.approx(0, abs=1e-9)


def test_activation_match_pinned_draw_has_no_flags():
    ex = instance("activation_match", order=["identity", "relu", "sigmoid"], target="cubic", data_seed=7,
                  hidden=20, points=100)
    assert _raised(ex) == set()
    assert ex.data.turns["relu"] >= am.KINK_DEGREES and ex.data.turns["sigmoid"] < am.SMOOTH_DEGREES


@pytest.mark.slow
def test_activation_match_wide_networks_keep_visible_kinks():
    # 50 hidden units on 400 points: seed 76 drew a ReLU fit whose sharpest kink turned by 21°,
    # hard to tell from the sigmoid's curve; the constraint redraws it.
    ex = instance("activation_match", seed=76, hidden=50, points=400)
    assert ex.attempt > 1
    assert _raised(ex) == set() and ex.data.turns["relu"] >= am.KINK_DEGREES


def test_lr_grid_twelve_small_rates_fit_the_page():
    # Twelve rates written as 3.7 × 10^{-4}: the set is cut into display lines and the table's
    # values into rows that fit (real TeX: the quality gate; here texfit's estimate).
    from worksheetgen.texfit import DISPLAY_WIDTH, math_width

    ex = instance("lr_grid", seed=140, low_exponent=-6, high_exponent=-3, count=12)
    assert len(ex.data.set_lines) >= 2
    assert all(math_width(line) <= DISPLAY_WIDTH for line in ex.data.set_lines)
    printed = [row[1].strip("$,") for row in ex.data.rows if row[1] != "$\\text{none}$"]
    assert ",\\ ".join(printed) == ",\\ ".join(lg.value_tex(v) for v in ex.given.values)  # all, in order
    assert all(math_width(row[1].strip("$")) <= lg.CELL_WIDTH for row in ex.data.rows)
    assert [int(row[2]) for row in ex.data.rows if row[2]] == [int(c) for c in ex.data.counts_text.split(", ")]
    problem, _ = render.render_exercise(ex, "markdown")
    assert "between $10^{-6}$ and $10^{-3}$" in problem
