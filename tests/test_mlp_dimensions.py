import re
import time
import tracemalloc

import numpy as np
import pytest

from helpers import instance
from quality_helpers import assert_gate_passes, raised
from worksheetgen import render
from worksheetgen.errors import WorksheetError
from worksheetgen.registry import get_family

SEED_000_Q3 = dict(height=32, width=32, channels=1, classes=4, hidden=[512, 128], convention="WT",
                   batch=1, ask_batch=False, ask_params=False,
                   blank_cells=["in1", "Win1", "Wout1", "Win2", "out2", "Win3", "out3"])


def answers(ex):
    assert all(a.kind == "integer" for a in ex.answers.values())  # counts and sizes are integers
    return {k: int(a.value) for k, a in ex.answers.items()}


def test_seed_000_q3_table():
    # The seed prints no solution; the blanks follow from 32*32*1 = 1024 -> 512 -> 128 -> 4.
    ex = instance("mlp_dimensions", **SEED_000_Q3)
    assert answers(ex) == {"in1": 1024, "Win1": 1024, "Wout1": 512, "Win2": 512, "out2": 128,
                           "Win3": 128, "out3": 4}


def test_seed_000_q3_rendering():
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


@pytest.mark.parametrize("seeds", [pytest.param(60, marks=pytest.mark.slow), 6])
def test_small_random_against_real_arrays(seeds):
    rng = np.random.default_rng(7)
    for seed in range(seeds):
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


@pytest.mark.parametrize("seeds", [pytest.param(60, marks=pytest.mark.slow), 6])
def test_default_draws_are_solvable_and_right(seeds):
    for seed in range(seeds):
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
    for seed in range(4):
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
    # Hidden width 1 shown nowhere, whatever number of layers is drawn.
    ({"blank_cells": ["out1", "Wout1", "in2", "Win2"]}, "blank_cells"),
    ({"blank_cells": ["in7"]}, "blank_cells"),
    ({"blanks": 26, "convention": "W"}, "blanks"),  # 6 layers hold at most 25
    ({"blanks": 20, "hidden_layers": 2}, "blanks"),
    ({"convention": "WW"}, "convention"),
    ({"channels": 0}, "channels"),
])
def test_bad_input(params, field):
    with pytest.raises(WorksheetError) as info:
        instance("mlp_dimensions", **params)
    assert field in info.value.field


def test_blank_cells_size_the_drawn_network():
    # Cells of layer 4 with the layer count drawn: at least 3 hidden layers, and every hidden
    # width stays visible (the table can be completed whatever the draw).
    for seed in range(5):
        ex = instance("mlp_dimensions", seed=seed, blank_cells=["in4", "Win4", "out3"])
        assert len(ex.given.hidden) >= 3 and solvable(ex.given)
        assert set(ex.given.blank_cells) == {"in4", "Win4", "out3"}


LARGEST = dict(height=4096, width=4096, channels=4, classes=10000, hidden=[100000] * 5,
               batch=100000, convention="W", blanks=25)


def test_largest_documented_sizes_build_at_once_without_memory():
    """4096×4096×4 images into five layers of 100 000 with batches of 100 000: the counts are
    integer arithmetic and the check pushes zero-size arrays (no 67-million-entry image)."""
    tracemalloc.start()
    start = time.perf_counter()
    ex = instance("mlp_dimensions", **LARGEST)
    for fmt in ("latex", "markdown"):
        render.render_exercise(ex, fmt)
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert elapsed < 2.5
    assert peak < 20 * 2**20  # bytes: nothing of the network's size was allocated
    a = answers(ex)
    d0 = 4096 * 4096 * 4
    assert a["params1"] == d0 * 100000 + 100000
    assert a["params_total"] == a["params1"] + 4 * (100000 * 100000 + 100000) + 100000 * 10000 + 10000
    assert (a["A6_rows"], a["A6_cols"]) == (10000, 100000)
    assert len(ex.given.blank_cells) == 25 and solvable(ex.given)


@pytest.mark.parametrize("params, field", [
    (dict(LARGEST, blanks=26), "blanks"),
    (dict(LARGEST, height=4097), "height"),
    (dict(LARGEST, hidden=[100001]), "hidden"),
    (dict(LARGEST, batch=100001), "batch"),
    (dict(LARGEST, hidden=[100000] * 6), "hidden"),
])
def test_beyond_the_largest_is_refused_at_once(params, field):
    start = time.perf_counter()
    with pytest.raises(WorksheetError) as info:
        instance("mlp_dimensions", **params)
    assert time.perf_counter() - start < 0.5
    assert info.value.field == f"params.{field}"


def test_help_states_the_limits():
    params = {p.name: p for p in get_family("mlp_dimensions").params}
    assert "4096" in params["height"].help and "100 000" in params["hidden"].help
    assert "1 to 5" in params["hidden"].help and "3L + 1" in params["blanks"].help


# -- quality (issue 10): the draws teach ----------------------------------------------------------

@pytest.mark.slow
def test_quality_gate_over_200_seeds():
    report = assert_gate_passes("mlp_dimensions", 400)
    assert report.check("spread").value < 3  # parameter counts of one class within 3 decades
    assert_gate_passes("mlp_dimensions", 200, convention="W")


def test_each_quality_flag_fires():
    # Blanks may be pinned to anything; quality() looks at the given record, so a bad one is built here.
    ex = instance("mlp_dimensions", seed=0, hidden=[64], classes=10)
    assert not raised(ex)
    hidden_blank = ex.given.replace(blank_cells=("out1", "in2"), hidden=(64,))
    assert ex.family.quality(hidden_blank, ex.solved)["a blank that cannot be filled in"] is False
    every_hidden_cell = ex.given.replace(blank_cells=("Wout1", "out1", "in2", "Win2"))
    assert ex.family.quality(every_hidden_cell, ex.solved)["a blank that cannot be filled in"]
    narrow = instance("mlp_dimensions", seed=0, hidden=[8], classes=10)
    assert raised(narrow) == {"a hidden layer no wider than the output"}


def test_deep_networks_above_many_classes_keep_every_hidden_layer_wider():
    # 1024 inputs, 100 classes: only 128, 256 and 512 lie between, so five hidden layers repeat one.
    for seed in range(4):
        ex = instance("mlp_dimensions", seed=seed, hidden_layers=5, classes=100, height=32, width=32, channels=1)
        assert len(ex.given.hidden) == 5 and all(100 < h < 1024 for h in ex.given.hidden)
        assert not raised(ex)
