import math
import statistics
import time
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp

from helpers import instance, value
from worksheetgen import render
from worksheetgen.errors import WorksheetError
from worksheetgen.registry import get_family

SEED_X = [[5, 20, 10], [15, 5, 25], [10, 30, 15]]


def test_seed_004_ex3_min_max():
    ex = instance("preprocessing", X=SEED_X)
    scaled = value(ex, "X_scaled")
    assert scaled == [[0, 0.6, 0], [1, 0, 1], [0.5, 1, pytest.approx(1 / 3, rel=1e-15)]]
    assert round(scaled[2][2], 3) == 0.333


def test_seed_004_ex3_standardization():
    ex = instance("preprocessing", X=SEED_X)
    assert value(ex, "mu")[0] == pytest.approx([10, 55 / 3, 50 / 3], rel=1e-15)
    sigma = value(ex, "sigma")[0]
    # sigma_1 = sqrt(50/3) = 4.08 as in the seed; sigma_3 = sqrt(350/9) = 6.236 (seed 6.24).
    assert sigma[0] == pytest.approx(math.sqrt(50 / 3), rel=1e-14)
    assert sigma[2] == pytest.approx(6.24, abs=5e-3)
    # Seed prints sigma_2 = 10.28; it is sqrt(950/9) = 10.2740 (the seed rounded sqrt(105.56)).
    assert sigma[1] == pytest.approx(math.sqrt(950 / 9), rel=1e-14)
    assert round(sigma[1], 2) == 10.27

    std = value(ex, "X_standardized")
    assert [round(v, 3) for v in (std[0][0], std[1][0], std[2][0])] == [-1.225, 1.225, 0]
    assert [round(v, 3) for v in (std[0][2], std[1][2], std[2][2])] == [-1.069, 1.336, -0.267]
    assert round(std[0][1], 3) == 0.162
    # Seed column 2 is off: it prints -1.297 and 1.297 for rows 2 and 3. Exactly,
    # (5 - 55/3)/sqrt(950/9) = -4 sqrt(38)/19 = -1.2978 and (30 - 55/3)/sqrt(950/9)
    # = 7 sqrt(38)/38 = 1.1355 (a standardized column sums to 0: 0.162 - 1.298 + 1.136 = 0).
    assert std[1][1] == pytest.approx(-4 * math.sqrt(38) / 19, rel=1e-14)
    assert round(std[1][1], 3) == -1.298
    assert std[2][1] == pytest.approx(7 * math.sqrt(38) / 38, rel=1e-14)
    assert round(std[2][1], 3) == 1.136


def test_seed_exact_forms_in_solution():
    _, solution = render.render_exercise(instance("preprocessing", X=SEED_X), "markdown")
    assert r"\sqrt{\frac{50}{3}} = \frac{5 \sqrt{6}}{3} \approx 4.0825" in solution
    assert r"- \frac{\sqrt{6}}{2} \approx -1.2247" in solution


def _columns(X):
    return [[Fraction(str(row[j])) for row in X] for j in range(len(X[0]))]


@pytest.mark.parametrize("seeds", [pytest.param(60, marks=pytest.mark.slow), 5])
@pytest.mark.parametrize("std", ["population", "sample"])
def test_random_instances_against_statistics_module(std, seeds):
    spread = statistics.pstdev if std == "population" else statistics.stdev
    for seed in range(seeds):
        ex = instance("preprocessing", seed=seed, std=std)
        X = [[float(v) for v in row] for row in ex.given["X"].tolist()]
        n, d = len(X), len(X[0])
        assert 3 <= n <= 5 and 2 <= d <= 4
        scaled, standardized = value(ex, "X_scaled"), value(ex, "X_standardized")
        for j, col in enumerate(_columns(X)):
            lo, hi = min(col), max(col)
            assert hi > lo
            mean = statistics.fmean(col)
            sd = spread(col)  # exact on Fractions, then a float square root
            assert value(ex, "mu")[0][j] == pytest.approx(float(mean), rel=1e-14)
            assert value(ex, "sigma")[0][j] == pytest.approx(float(sd), rel=1e-12)
            for i, x in enumerate(col):
                assert scaled[i][j] == pytest.approx(float((x - lo) / (hi - lo)), rel=1e-14, abs=1e-15)
                assert standardized[i][j] == pytest.approx(float(x - mean) / float(sd), rel=1e-12, abs=1e-14)
        # Not every scaled value is 0 or 1 (the teaching constraint).
        assert any(0 < v < 1 for row in scaled for v in row)
        # Standardized columns have mean 0 and the chosen spread 1.
        for j in range(d):
            col = [standardized[i][j] for i in range(n)]
            assert sum(col) == pytest.approx(0, abs=1e-12)
            assert spread(col) == pytest.approx(1, rel=1e-12)


def test_tasks_select_answers():
    ex = instance("preprocessing", seed=3, tasks=["standardize"])
    assert set(ex.answers) == {"mu", "sigma", "X_standardized"}
    ex = instance("preprocessing", seed=3, tasks=["minmax"], rows=4, cols=3)
    assert set(ex.answers) == {"X_scaled"}
    assert ex.given["X"].shape == (4, 3)


@pytest.mark.parametrize("params, field", [
    (dict(X=[[1, 2], [1, 3], [1, 4]]), "X"),
    (dict(X=[[1, 2]]), "X"),
    (dict(X=SEED_X, rows=4), "rows"),
    (dict(rows=2), "rows"),
    (dict(cols=9), "cols"),
    (dict(value_grid=[0, 1, 1]), "value_grid"),
    (dict(value_grid=[5, 0, 1]), "value_grid"),
    (dict(tasks=["minmax", "minmax"]), "tasks"),
    (dict(tasks=[]), "tasks"),
    (dict(std="biased"), "std"),
    (dict(X=[[1, 2]] * 9), "X"),
    (dict(X=[[1, 2, 3, 4, 5, 6, 7]] * 3), "X"),
    (dict(X=[[10**12 + 1, 2], [3, 4]]), "X"),
    (dict(value_grid=[0, "1000000000001", 1000000]), "value_grid"),
    (dict(value_grid=[0, 1, "1/2000000"]), "value_grid"),
])
def test_bad_input_names_the_field(params, field):
    with pytest.raises(WorksheetError) as err:
        instance("preprocessing", **params)
    assert field in err.value.field


def test_answers_are_matrices():
    ex = instance("preprocessing", X=SEED_X)
    assert {a.kind for k, a in ex.answers.items() if k not in ("comparison", "statements")} == {"matrix"}
    assert (ex.answers["comparison"].kind, ex.answers["statements"].kind) == ("text", "multi")


def test_a_constant_draw_is_repaired_in_bounded_time():
    """A stream that only ever draws the grid's first point: after the capped redraws one entry
    moves to another grid value, so the column can be scaled."""
    class Stuck:
        def integers(self, lo, hi=None, size=None):
            return np.zeros(size, dtype=int) if size not in (None, ()) else 0

    family = get_family("preprocessing")
    column = family._column(Stuck(), [sp.Integer(0), sp.Integer(30), sp.Integer(5)], 4)
    assert column == [5, 0, 0, 0]


def test_close_large_entries_are_checked_exactly():
    """Entries near 10^12 that differ in the third decimal: a float X would lose the
    differences; the exact solution and the Fraction check agree with the statistics module."""
    X = [["999999999999.001", 1], ["999999999999.004", 2], ["999999999999.002", 4]]
    ex = instance("preprocessing", X=X, std="sample")
    col = [Fraction(r[0]) for r in X]
    mean, sd = statistics.mean(col), statistics.stdev(col)  # exact mean and variance on Fractions
    assert value(ex, "X_scaled")[1][0] == 1 and value(ex, "X_scaled")[2][0] == pytest.approx(1 / 3, rel=1e-12)
    for i, x in enumerate(col):
        assert value(ex, "X_standardized")[i][0] == pytest.approx(float(x - mean) / sd, rel=1e-12)


LARGEST_X = [[f"{(-1) ** (i + j) * (10**12 - 7 * i - 3 * j)}/{10**11 + 3 + 17 * i * j}" for j in range(6)]
             for i in range(8)]


@pytest.mark.parametrize("params", [
    dict(X=LARGEST_X, std="sample"),
    dict(X=[[f"{(-1) ** i * 999999999999}.{987654321 * (i + 1) + j}" for j in range(6)] for i in range(8)]),
    dict(rows=8, cols=6, value_grid=[-10**12, 10**12, 2 * 10**6]),
])
def test_largest_documented_values_build_at_once(params):
    """8 × 6 entries up to 10^12 with long fractions and decimals: σ is exact while SymPy can
    factor the variance quickly, else 50 digits, so nothing takes seconds."""
    start = time.perf_counter()
    ex = instance("preprocessing", **params)
    for fmt in ("latex", "markdown"):
        render.render_exercise(ex, fmt)
    assert time.perf_counter() - start < 2.5
    X = [[Fraction(int(v.p), int(v.q)) for v in row] for row in ex.given.X.tolist()]
    for j, col in enumerate(zip(*X)):
        spread = statistics.stdev if ex.given.std == "sample" else statistics.pstdev
        assert value(ex, "sigma")[0][j] == pytest.approx(float(spread(col)), rel=1e-12)


def test_help_states_the_limits():
    params = {p.name: p for p in get_family("preprocessing").params}
    assert "10^12" in params["X"].help and "8 rows" in params["X"].help
    assert "10^12" in params["value_grid"].help


# -- seed 004 Ex3 step 3: the comparison of the two methods --------------------------------------

def test_seed_004_ex3_comparison():
    ex = instance("preprocessing", seed=4, X=SEED_X)
    assert [ex.answers[k].part for k in ("X_scaled", "sigma", "comparison", "statements")] == [1, 2, 3, 3]
    text = ex.answers["comparison"].value
    # The seed's points: min-max gives every feature the same range [0, 1] and is sensitive to
    # outliers; standardization centres at 0, is less sensitive to outliers, and is not bounded.
    # (The seed says standardization "scales by variance": it divides by the standard
    # deviation, which the model answer says.)
    for phrase in ("onto $[0, 1]$", "outlier", "mean $0$ and standard deviation $1$", "not bounded",
                   "divides by its standard deviation", "less sensitive to outliers", "neural networks"):
        assert phrase in text
    # This dataset's standardized values run from -4 sqrt(38)/19 = -1.2978 to 5 sqrt(14)/14 = 1.3363.
    assert "from $-1.30$ to $1.34$" in text
    truths = dict(zip(ex.given.statement_order, ex.data.truths))
    # Scaled means 1/2, 8/15, 4/9: not all 1/2. Largest |z|: sqrt(6)/2, 4 sqrt(38)/19, 5 sqrt(14)/14, all > 1.
    assert truths == {"minmax_range": True, "minmax_mean": False, "std_moments": True,
                      "std_bounded": False, "order": True}
    assert ex.data.facts["scaled_means"] == [sp.Rational(1, 2), sp.Rational(8, 15), sp.Rational(4, 9)]
    letters = [chr(65 + i) for i, k in enumerate(ex.given.statement_order) if truths[k]]
    assert ex.answers["statements"].value == letters


def numpy_truths(ex):
    """The statements decided from floats and plain NumPy, with margins far from the grid's
    resolution (values on a grid of fives over at most 8 samples)."""
    X = np.array([[float(v) for v in row] for row in ex.given.X.tolist()])
    ddof = 1 if ex.given.std == "sample" else 0
    scaled = (X - X.min(axis=0)) / (X.max(axis=0) - X.min(axis=0))
    z = (X - X.mean(axis=0)) / X.std(axis=0, ddof=ddof)
    order = all(np.array_equal(np.argsort(X[:, j], kind="stable"), np.argsort(z[:, j], kind="stable"))
                and np.array_equal(np.argsort(X[:, j], kind="stable"), np.argsort(scaled[:, j], kind="stable"))
                for j in range(X.shape[1]))
    return {
        "minmax_range": bool(np.all(scaled.min(axis=0) == 0) and np.all(np.isclose(scaled.max(axis=0), 1))),
        "minmax_mean": bool(np.all(np.isclose(scaled.mean(axis=0), 0.5, rtol=0, atol=1e-9))),
        "std_moments": bool(np.allclose(z.mean(axis=0), 0) and np.allclose(z.std(axis=0, ddof=ddof), 1)),
        "std_bounded": bool(np.all(np.abs(z) <= 1 + 1e-9)),
        "order": order,
    }, z


def check_comparison(ex):
    truths, z = numpy_truths(ex)
    letters = [chr(65 + i) for i, k in enumerate(ex.given.statement_order) if truths[k]]
    assert ex.answers["statements"].value == letters
    text = ex.answers["comparison"].value
    assert f"from ${z.min():.2f}$ to ${z.max():.2f}$" in text.replace("$-0.00$", "$0.00$")


@pytest.mark.parametrize("std", ["population", "sample"])
def test_comparison_statements_against_numpy(std):
    for seed in range(3):
        check_comparison(instance("preprocessing", seed=seed, std=std))


@pytest.mark.slow
def test_comparison_statements_against_numpy_many_seeds():
    orders = set()
    for seed in range(200):
        ex = instance("preprocessing", seed=seed, std=("population", "sample")[seed % 2])
        check_comparison(ex)
        orders.add(ex.given.statement_order)
        assert not any(ex.family.quality(ex.given, ex.solved).values()), seed
    assert len(orders) > 20  # the letters of the right statements vary from sheet to sheet


@pytest.mark.parametrize("flag, X", [
    ("no scaled value strictly between 0 and 1", [[0, 5], [10, 0]]),
    ("two features scale to the same column", [[1, 5], [2, 7], [4, 11]]),
])
def test_each_quality_flag_fires_on_a_pinned_dataset(flag, X):
    ex = instance("preprocessing", X=X)
    assert ex.family.quality(ex.given, ex.solved)[flag]


def test_drawn_datasets_avoid_twin_features():
    # A grid of two values makes every column a 0/1 pattern: twins are frequent and redrawn.
    for seed in range(3):
        ex = instance("preprocessing", seed=seed, value_grid=[0, 10, 5], rows=3, cols=3)
        cols = [tuple(c["scaled"]) for c in ex.data.columns]
        assert len(set(cols)) == len(cols)


def test_compare_alone_and_in_any_order():
    ex = instance("preprocessing", seed=1, tasks=["compare"])
    assert set(ex.answers) == {"comparison", "statements"}
    problem, solution = render.render_exercise(ex, "markdown")
    assert "Select all that apply" in problem and "**Answer:**" in solution
