import math
import statistics
from fractions import Fraction

import pytest

from helpers import instance, value
from worksheetgen.errors import WorksheetError

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
    from worksheetgen import render

    _, solution = render.render_exercise(instance("preprocessing", X=SEED_X), "markdown")
    assert r"\sqrt{\frac{50}{3}} = \frac{5 \sqrt{6}}{3} \approx 4.0825" in solution
    assert r"- \frac{\sqrt{6}}{2} \approx -1.2247" in solution


def _columns(X):
    return [[Fraction(str(row[j])) for row in X] for j in range(len(X[0]))]


@pytest.mark.parametrize("std", ["population", "sample"])
def test_random_instances_against_statistics_module(std):
    spread = statistics.pstdev if std == "population" else statistics.stdev
    for seed in range(60):
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
])
def test_bad_input_names_the_field(params, field):
    with pytest.raises(WorksheetError) as err:
        instance("preprocessing", **params)
    assert field in err.value.field
