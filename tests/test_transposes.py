"""Transposes in worked solutions: a column vector is written inline as (a, b)^T, and the
transpose of a column as the row it is. "(delta^{[2]})^T = (0.83, -0.39)^T" (a column again) was
printed by the dense-network gradient a (delta)^T; it is now a column times a row."""

import pytest

from helpers import instance
from test_softmax_ce import transposed_column_written_as_column
from worksheetgen import render


@pytest.mark.parametrize("convention", ["WT", "W"])
def test_backprop_outer_products_are_column_times_row(convention):
    seen = 0
    for seed in range(6):
        ex = instance("backprop", seed=seed, convention=convention, bias="row" if convention == "WT" else "vector")
        _, solution = render.render_exercise(ex, "latex")
        assert not transposed_column_written_as_column(solution)
        seen += solution.count(r"\end{pmatrix} \begin{pmatrix}")
    assert seen  # some whole-matrix gradient was worked as an outer product
