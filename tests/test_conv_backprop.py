"""conv_backprop: the forward pass and ∂L/∂K, ∂L/∂b, ∂L/∂X against central finite differences of
the loss (and the pinned worked example by hand)."""

import re
import tomllib
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import conv_reference
from helpers import instance, numeric_gradient, value
from quality_helpers import assert_gate_passes, raised
from worksheetgen import render
from worksheetgen.errors import CheckError, WorksheetError
from worksheetgen.instance import cross_check
from worksheetgen.registry import get_family

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
X3 = [[1, 2, 3], [4, 5, 6], [7, 8, 9]]


def arr(m):
    return np.array(m.tolist(), dtype=float)


def forward(X, K, b, s, p):
    """Y of a stride-s, padding-p cross-correlation in floats (X: (C, H, W), K: (C, k, k))."""
    return np.array(conv_reference.correlate(X.tolist(), K.tolist(), b, s, p, number=float))


def loss_function(g):
    """L as a function of (X, K, b), from the givens."""
    if g.loss == "mse":
        T = arr(g.T)
        return lambda X, K, b: 0.5 * float(np.sum((forward(X, K, b, g.stride, g.padding) - T) ** 2))
    G = arr(g.G)
    return lambda X, K, b: float(np.sum(G * forward(X, K, b, g.stride, g.padding)))


def check_by_finite_differences(ex):
    g = ex.given
    X = np.array([arr(m) for m in g.X])
    K = np.array([arr(m) for m in g.K])
    b = float(g.bias)
    L = loss_function(g)
    C = len(g.X)
    # L is quadratic (mse) or linear (upstream) in each argument: a central difference is exact up
    # to rounding, so h = 1e-3 keeps the rounding error near 1e-12.
    dK = numeric_gradient(lambda k: L(X, k, b), K, 1e-3)
    dX = numeric_gradient(lambda x: L(x, K, b), X, 1e-3)
    db = (L(X, K, b + 1e-3) - L(X, K, b - 1e-3)) / 2e-3
    if "forward" in g.parts:
        assert np.allclose(value(ex, "Y"), forward(X, K, b, g.stride, g.padding), rtol=0, atol=1e-12)
        if g.loss == "mse":
            assert value(ex, "L") == pytest.approx(L(X, K, b), rel=1e-12, abs=1e-12)
    for c in range(C):
        suffix = "" if C == 1 else f"_{c + 1}"
        if "kernel" in g.parts:
            assert np.allclose(value(ex, f"dL_dK{suffix}"), dK[c], rtol=1e-7, atol=1e-7)
        if "input" in g.parts:
            assert np.allclose(value(ex, f"dL_dX{suffix}"), dX[c], rtol=1e-7, atol=1e-7)
            assert ex.answers[f"dL_dX{suffix}"].value.shape == g.X[0].shape
    if "bias" in g.parts:
        assert value(ex, "dL_db") == pytest.approx(db, rel=1e-7, abs=1e-7)


# -- the worked example ---------------------------------------------------------------------------

def test_pinned_worked_example_by_hand():
    spec = tomllib.loads((EXAMPLES / "pinned_conv_backprop.toml").read_text())
    first, second = (instance("conv_backprop", **e["params"]) for e in spec["exercise"])
    assert value(first, "Y") == [[11, 14], [20, 23]]
    assert value(first, "dL_dK") == [[37, 47], [67, 77]]  # X correlated with dL/dY
    assert value(first, "dL_db") == 10
    assert value(first, "dL_dX") == [[1, 2, 0], [3, 6, 4], [0, 6, 8]]  # the full convolution
    check_by_finite_differences(first)
    check_by_finite_differences(second)
    assert second.given.stride == 2 and second.data.spread.shape == (5, 5)


def test_rotated_kernel_and_full_padding_are_shown():
    ex = instance("conv_backprop", loss="upstream", input=X3, kernel=[[1, 2], [3, 4]], bias=0, stride=1,
                  padding=0, upstream=[[1, 0], [0, 1]])
    ch = ex.data.channels[0]
    assert ch.rot.tolist() == [[4, 3], [2, 1]]
    assert ex.data.full.tolist() == [[0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]]
    _, solution = render.render_exercise(ex, "markdown")
    assert r"180^\circ" in solution and r"K^{\text{rot}}" in solution
    assert r"\tilde{\delta} = \begin{bmatrix} 0 & 0 & 0 & 0 \\ 0 & 1 & 0 & 0" in solution


def test_windows_that_miss_the_last_rows():
    # 4 × 4 input, 2 × 2 kernel, stride 3: (4 - 2) // 3 + 1 = 1 window per side, so rows and
    # columns 2 and 3 are never read; the extra padding of δ gives them gradient 0.
    X = [[1, 2, 0, 1], [0, 1, 2, 1], [2, 0, 1, 1], [1, 1, 0, 2]]
    ex = instance("conv_backprop", loss="upstream", input=X, kernel=[[1, -1], [2, 1]], bias=0, stride=3,
                  padding=0, upstream=[[2]])
    assert ex.data.extra_h == 2 and ex.data.extra_w == 2
    assert value(ex, "dL_dX") == [[2, -2, 0, 0], [4, 2, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    check_by_finite_differences(ex)
    ex = instance("conv_backprop", input=[[1, 2, 0, 1, 1], [0, 1, 2, 1, 0], [2, 0, 1, 1, 1], [1, 1, 0, 2, 0]],
                  kernel=[[1, -1], [2, 1]], bias=1, stride=2, padding=0)
    assert ex.data.extra_w == 1
    check_by_finite_differences(ex)


@pytest.mark.parametrize("fmt", ["latex", "markdown"])
def test_student_text_names_no_tool(fmt):
    for seed in range(3):
        problem, solution = render.render_exercise(instance("conv_backprop", seed=seed), fmt)
        text = (problem + solution).lower()
        for word in ("seed", "family", "worksheetgen"):
            assert not re.search(rf"\b{word}\b", text)


# -- random instances -----------------------------------------------------------------------------

VARIANTS = [
    {},
    dict(loss="upstream"),
    dict(channels=2),
    dict(stride=2, padding=1),
    dict(kernel_size=3, padding=1, input_grid=[-1, 1, 0.5]),
]


@pytest.mark.parametrize("params", VARIANTS)
def test_random_instances_against_finite_differences(params):
    for seed in range(2):
        check_by_finite_differences(instance("conv_backprop", seed=seed, **params))


@pytest.mark.slow
@pytest.mark.parametrize("params", VARIANTS)
def test_random_instances_against_finite_differences_many_seeds(params):
    for seed in range(200):
        check_by_finite_differences(instance("conv_backprop", seed=seed, **params))


@pytest.mark.slow
def test_teaching_rules_hold_on_many_draws():
    for seed in range(200):
        ex = instance("conv_backprop", seed=seed)
        assert np.count_nonzero(value(ex, "dL_dY")) >= 2
        suffixes = [""] if len(ex.given.X) == 1 else [f"_{c + 1}" for c in range(len(ex.given.X))]
        for suffix in suffixes:
            assert np.any(value(ex, f"dL_dK{suffix}")) and np.any(value(ex, f"dL_dX{suffix}"))
        assert value(ex, "dL_db") != 0
        assert 2 <= ex.data.H_out <= 3 and 2 <= ex.data.W_out <= 3


def test_drawn_targets_keep_delta_small():
    for seed in range(4):
        ex = instance("conv_backprop", seed=seed)
        assert all(abs(v) <= 2 and v == int(v) for row in value(ex, "dL_dY") for v in row)


def test_check_is_a_direct_summation_not_the_solver():
    ex = instance("conv_backprop", seed=3)
    cross_check(ex)
    answer = ex.answers["dL_dX"]
    answer.value = answer.value + sp.ones(*answer.value.shape) / 10**7
    with pytest.raises(CheckError, match="dL_dX"):
        cross_check(ex)


def test_parts_can_be_chosen():
    ex = instance("conv_backprop", loss="upstream", parts=["input"])
    assert set(ex.answers) == {"dL_dX"}
    ex = instance("conv_backprop", parts=["forward", "bias"])
    assert set(ex.answers) == {"Y", "L", "dL_dY", "dL_db"}
    ex = instance("conv_backprop", channels=2, parts=["forward", "kernel"], loss="upstream")
    assert set(ex.answers) == {"Y", "dL_dK_1", "dL_dK_2"}


@pytest.mark.parametrize("params, field", [
    (dict(parts=["kernel"]), "parts"),
    (dict(loss="upstream", target=[[1]]), "target"),
    (dict(upstream=[[1]]), "upstream"),
    (dict(input=X3, kernel=[[1, 0], [0, 1]], stride=1, padding=0, target=[[1, 2, 3]]), "target"),
    (dict(input=X3, kernel=[[1] * 4] * 4, padding=0), "kernel"),
    (dict(kernel=[[1, 2, 3], [4, 5, 6]]), "kernel"),
    (dict(input=X3, kernel=[[[1]], [[1]]]), "kernel"),
    (dict(input=[[1] * 11] * 11), "input"),
    (dict(input=[[1000]]), "input"),
    (dict(delta_grid=[0, 200, 1]), "delta_grid"),
    (dict(stride=4), "stride"),
])
def test_bad_input_names_the_field(params, field):
    with pytest.raises(WorksheetError) as err:
        instance("conv_backprop", **params)
    assert err.value.field == f"params.{field}"


def test_records_are_declared():
    fam = get_family("conv_backprop")
    ex = instance("conv_backprop", seed=2)
    assert isinstance(ex.given, type(fam).Given) and isinstance(ex.data, type(fam).Data)
    assert not hasattr(fam, "rejection")


# -- quality (issue 10): the draws teach ------------------------------------------------------------

@pytest.mark.slow
def test_quality_gate_over_200_seeds():
    assert_gate_passes("conv_backprop", 300)


UPSTREAM = dict(loss="upstream", bias=0, stride=1, padding=0)


@pytest.mark.parametrize("params, flags", [
    (dict(input=[[1, 2], [3, 4]], kernel=[[1]], upstream=[[1, 0], [0, 0]]), {"δ with fewer than two non-zero entries"}),
    (dict(input=[[1, 1], [1, 1]], kernel=[[1]], upstream=[[1, -1], [1, 2]]), {"constant output"}),
    (dict(input=[[0, 0], [0, 0]], kernel=[[1]], upstream=[[1, -1], [1, 2]]), {"∂L/∂K all 0"}),
    (dict(input=[[1, 2], [3, 4]], kernel=[[1]], upstream=[[1, -1], [1, -1]]), {"∂L/∂b = 0"}),
    (dict(input=[[1, 2], [3, 4]], kernel=[[0]], upstream=[[1, -1], [1, 2]]), {"∂L/∂X all 0"}),
])
def test_each_quality_flag_fires(params, flags):
    assert flags <= raised(instance("conv_backprop", **UPSTREAM, **params))


def test_a_good_draw_raises_no_flag():
    assert not raised(instance("conv_backprop", **UPSTREAM, input=[[1, 2, 3], [4, 5, 6], [7, 8, 9]],
                               kernel=[[1, 0], [0, 2]], upstream=[[1, 2], [3, 4]]))
    for seed in range(3):
        assert not raised(instance("conv_backprop", seed=seed))
