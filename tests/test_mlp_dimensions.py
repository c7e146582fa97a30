import re

import numpy as np
import pytest

from helpers import instance
from worksheetgen.errors import WorksheetError

SEED_000_Q3 = dict(height=32, width=32, channels=1, classes=4, hidden=[512, 128], convention="WT",
                   batch=1, ask_batch=False, ask_params=False,
                   blank_cells=["in1", "Win1", "Wout1", "Win2", "out2", "Win3", "out3"])


def answers(ex):
    return {k: int(a.value) for k, a in ex.answers.items()}


def test_seed_000_q3_table():
    # The seed prints no solution; the blanks follow from 32*32*1 = 1024 -> 512 -> 128 -> 4.
    ex = instance("mlp_dimensions", **SEED_000_Q3)
    assert answers(ex) == {"in1": 1024, "Win1": 1024, "Wout1": 512, "Win2": 512, "out2": 128,
                           "Win3": 128, "out3": 4}


def test_seed_000_q3_rendering():
    from worksheetgen import render

    ex = instance("mlp_dimensions", **SEED_000_Q3)
    problem, solution = render.render_exercise(ex, "markdown")
    blank = r"\_\_\_\_\_"
    # The seed's rows, blank for blank.
    assert f"| Linear layer 1 | {blank} $\\times$ 1 | {blank} $\\times$ {blank} | 512 $\\times$ 1 |" in problem
    assert f"| Linear layer 2 | 512 $\\times$ 1 | {blank} $\\times$ 128 | {blank} $\\times$ 1 |" in problem
    assert f"| Linear layer 3 | 128 $\\times$ 1 | {blank} $\\times$ 4 | {blank} $\\times$ 1 |" in problem
    assert "| Linear layer 1 | **1024** $\\times$ 1 | **1024** $\\times$ **512** | 512 $\\times$ 1 |" in solution
    assert "**(a)**" not in problem  # no extra parts when they are switched off


def test_seed_002_q21_shapes():
    # Seed 002 Q2.1: W[2] is K x D_a, b[2] is K x 1, the hidden output for a batch is D_a x m.
    ex = instance("mlp_dimensions", height=8, width=8, channels=1, hidden=[50], classes=7,
                  convention="W", batch=16, blank_cells=["Wout2", "Win2", "b2"])
    a = answers(ex)
    assert (a["Wout2"], a["Win2"], a["b2"]) == (7, 50, 7)
    assert (a["A1_rows"], a["A1_cols"]) == (50, 16)
    assert (a["A2_rows"], a["A2_cols"]) == (7, 16)
    assert a["params1"] == 64 * 50 + 50 and a["params2"] == 50 * 7 + 7
    assert a["params_total"] == a["params1"] + a["params2"]


def forward_shapes(given, m):
    """Push a real batch of zero images through real zero weight matrices."""
    images = np.zeros((m, given["height"], given["width"], given["channels"]))
    x = images.reshape(m, -1).T  # one flattened image per column
    cells, shapes, counts = [], [], []
    for width in [*given["hidden"], given["classes"]]:
        if given["convention"] == "WT":
            w = np.zeros((x.shape[0], width))
            y = w.T @ x
            cell = {"in": x.shape[0], "Win": w.shape[0], "Wout": w.shape[1], "out": y.shape[0]}
            counts.append(w.size)
        else:
            w, b = np.zeros((width, x.shape[0])), np.zeros((width, 1))
            y = w @ x + b
            cell = {"in": x.shape[0], "Wout": w.shape[0], "Win": w.shape[1], "b": b.shape[0],
                    "out": y.shape[0]}
            counts.append(w.size + b.size)
        cells.append(cell)
        shapes.append(y.shape)
        x = y
    return cells, shapes, counts


def test_small_random_against_real_arrays():
    rng = np.random.default_rng(7)
    for seed in range(60):
        params = dict(height=int(rng.integers(2, 13)), width=int(rng.integers(2, 13)),
                      channels=int(rng.choice([1, 3])), classes=int(rng.integers(2, 10)),
                      hidden=[int(h) for h in rng.integers(2, 40, size=int(rng.integers(1, 4)))],
                      convention=["WT", "W"][seed % 2], batch=int(rng.integers(1, 9)))
        ex = instance("mlp_dimensions", seed=seed, **params)
        g, a = ex.given, answers(ex)
        cells, shapes, counts = forward_shapes(g, g["batch"])
        for key in g["blank_cells"]:
            role, layer = re.fullmatch(r"([A-Za-z]+)(\d+)", key).groups()
            assert a[key] == cells[int(layer) - 1][role], key
        for l, shape in enumerate(shapes, start=1):
            assert (a[f"A{l}_rows"], a[f"A{l}_cols"]) == shape
            assert a[f"params{l}"] == counts[l - 1]
        assert a["params_total"] == sum(counts)


def solvable(given):
    """Every hidden width appears in a cell that is not blank (the text gives D and K)."""
    layers = len(given["hidden"]) + 1
    roles = ["in", "Win", "Wout", "out"] + (["b"] if given["convention"] == "W" else [])
    shown = set()
    for l in range(1, layers + 1):
        for role in roles:
            if f"{role}{l}" not in given["blank_cells"]:
                shown.add(l - 1 if role in ("in", "Win") else l)
    return all(v in shown for v in range(1, layers))


def test_default_draws_are_solvable_and_right():
    for seed in range(60):
        convention = ["WT", "W"][seed % 2]
        ex = instance("mlp_dimensions", seed=seed, convention=convention)
        g, a = ex.given, answers(ex)
        assert solvable(g)
        dims = [g["height"] * g["width"] * g["channels"], *g["hidden"], g["classes"]]
        assert dims[1:-1] == sorted(dims[1:-1], reverse=True)
        for key in g["blank_cells"]:
            role, layer = re.fullmatch(r"([A-Za-z]+)(\d+)", key).groups()
            l = int(layer)
            assert a[key] == (dims[l - 1] if role in ("in", "Win") else dims[l])
        bias = convention == "W"
        for l in range(1, len(dims)):
            assert a[f"params{l}"] == dims[l - 1] * dims[l] + (dims[l] if bias else 0)
            assert (a[f"A{l}_rows"], a[f"A{l}_cols"]) == (dims[l], g["batch"])


def test_blank_count_is_respected():
    from worksheetgen import render

    for seed in range(10):
        ex = instance("mlp_dimensions", seed=seed, blanks=5, hidden=[256, 64])
        assert len(ex.given["blank_cells"]) == 5 and solvable(ex.given)
        problem, _ = render.render_exercise(ex, "markdown")
        assert problem.count(r"\_\_\_\_\_") == 5


@pytest.mark.parametrize("params, field", [
    ({"hidden": [512, 128], "blank_cells": ["out1", "in2", "Win2", "Wout1"]}, "blank_cells"),
    ({"hidden": [64], "blank_cells": ["in3"]}, "blank_cells"),
    ({"blank_cells": ["b1"]}, "blank_cells"),
    ({"blank_cells": ["x1"]}, "blank_cells"),
    ({"blank_cells": ["in1", "in1"]}, "blank_cells"),
    ({"hidden": [64], "blanks": 8}, "blanks"),
    ({"hidden": [64], "hidden_layers": 2}, "hidden_layers"),
    ({"convention": "WW"}, "convention"),
    ({"channels": 0}, "channels"),
])
def test_bad_input(params, field):
    with pytest.raises(WorksheetError) as info:
        instance("mlp_dimensions", **params)
    assert field in info.value.field
