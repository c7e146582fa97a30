"""convolution: output size, feature map, pooling and receptive field against independent
computations (window enumeration with exact fractions in conv_reference, a perturbation-based
receptive field)."""

import re
import time
import tomllib
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import conv_reference
from conv_reference import channels
from helpers import instance, value
from quality_helpers import assert_gate_passes, raised
from worksheetgen import render
from worksheetgen.errors import CheckError, WorksheetError
from worksheetgen.instance import cross_check
from worksheetgen.registry import get_family

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
# The Stanford UFLDL tutorial's "convolved feature": a 5×5 binary image and the 3×3 "X" kernel.
UFLDL_IMAGE = [[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]]
UFLDL_KERNEL = [[1, 0, 1], [0, 1, 0], [1, 0, 1]]
PINNED_SIZES = dict(bias=0, stride=1, padding=0, dilation=1)


# -- independent references -------------------------------------------------------------------

def reference_pool(F, q, t, how):
    out, top = [], 0
    while top + q <= len(F):
        row, left = [], 0
        while left + q <= len(F[0]):
            window = [F[top + u][left + v] for u in range(q) for v in range(q)]
            row.append(max(window) if how == "max" else sum(window, Fraction(0)) / len(window))
            left += t
        out.append(row)
        top += t
    return out


def receptive_field_by_perturbation(kernels, strides, dilations):
    """Run the 1-D stack (all-ones kernels, so nothing cancels) on a long input, once as is and
    once with each input position bumped: the positions that change output unit 0 (and 1) are
    their receptive fields."""
    jump = int(np.prod(strides))
    n = 2 * (1 + sum(d * (k - 1) for k, d in zip(kernels, dilations)) * jump + jump) + 8

    def forward(x):
        for k, s, d in zip(kernels, strides, dilations):
            m = (len(x) - d * (k - 1) - 1) // s + 1
            x = np.array([sum(x[s * i + d * u] for u in range(k)) for i in range(m)])
        return x

    base = forward(np.zeros(n))
    seen = {0: [], 1: []}
    for pos in range(n):
        x = np.zeros(n)
        x[pos] = 1.0
        out = forward(x) - base
        for unit in (0, 1):
            if out[unit] != 0:
                seen[unit].append(pos)
    return max(seen[0]) - min(seen[0]) + 1, min(seen[1]) - min(seen[0])


def check_against_reference(ex):
    g = ex.given
    if g.X is not None:
        ref = conv_reference.correlate(channels(g.X), channels(g.K), g.bias, g.stride, g.padding, g.dilation)
        if "size" in g.parts:
            assert (ex.answers["H_out"].value, ex.answers["W_out"].value) == (len(ref), len(ref[0]))
        if "output" in g.parts:
            assert ex.answers["Y"].value.tolist() == ref
            feature = ref
            if g.activation == "relu":
                feature = [[max(v, Fraction(0)) for v in row] for row in ref]
                assert ex.answers["A"].value.tolist() == feature
        if "pool" in g.parts:
            for how, key in (("max", "P_max"), ("average", "P_avg")):
                if g.pooling in (how, "both"):
                    assert ex.answers[key].value.tolist() == reference_pool(feature, g.pool_size, g.pool_stride, how)
    if "receptive" in g.parts:
        rf, jump = receptive_field_by_perturbation(g.rf_kernels, g.rf_strides, g.rf_dilations)
        assert (ex.answers["rf"].value, ex.answers["jump"].value) == (rf, jump)


# -- published values ----------------------------------------------------------------------------

def test_ufldl_convolved_feature():
    ex = instance("convolution", input=UFLDL_IMAGE, kernel=UFLDL_KERNEL, **PINNED_SIZES,
                  pool_stride=1, rf_kernels=[3, 3, 3], rf_strides=[1, 1, 1], rf_dilations=[1, 1, 1])
    assert value(ex, "Y") == [[4, 3, 4], [2, 4, 3], [2, 3, 4]]  # as published by UFLDL
    assert (ex.answers["H_out"].value, ex.answers["W_out"].value) == (3, 3)
    assert value(ex, "P_max") == [[4, 4], [4, 4]]
    assert value(ex, "P_avg") == [[3.25, 3.5], [2.75, 3.5]]
    # VGG: three stacked 3×3 convolutions see a 7×7 patch.
    assert (ex.answers["rf"].value, ex.answers["jump"].value) == (7, 1)


def test_pinned_example_file():
    spec = tomllib.loads((EXAMPLES / "pinned_convolution.toml").read_text())
    first, second = (instance("convolution", **e["params"]) for e in spec["exercise"])
    assert value(first, "Y") == [[4, 3, 4], [2, 4, 3], [2, 3, 4]]
    assert first.attempt == 1 and second.attempt == 1  # pinned: no teaching rule redraws them
    assert (second.answers["H_out"].value, second.answers["W_out"].value) == (5, 5)  # span 5, padding 2
    check_against_reference(first)
    check_against_reference(second)
    assert (second.answers["rf"].value, second.answers["jump"].value) == (1 + 2 + 2 * 2 * 2 + 4 * 2 * 2, 2)


def test_receptive_field_recurrence_examples():
    # Two 3×3 stride-2 layers: r = 1 + 2 + 2·2 = 7, jump 4; dilations 1, 2, 4 (WaveNet-style): 15.
    ex = instance("convolution", parts=["receptive"], rf_kernels=[3, 3], rf_strides=[2, 2], rf_dilations=[1, 1])
    assert (ex.answers["rf"].value, ex.answers["jump"].value) == (7, 4)
    ex = instance("convolution", parts=["receptive"], rf_kernels=[3, 3, 3], rf_strides=[1, 1, 1],
                  rf_dilations=[1, 2, 4])
    assert (ex.answers["rf"].value, ex.answers["jump"].value) == (15, 1)


def test_size_formula_against_window_counts():
    fam = get_family("convolution")
    for n in range(1, 13):
        for k in range(1, 6):
            for s in range(1, 5):
                for p in range(0, 5):
                    for d in range(1, 4):
                        expected = (n + 2 * p - d * (k - 1) - 1) // s + 1
                        count = len(range(0, n + 2 * p - d * (k - 1), s)) if n + 2 * p > d * (k - 1) else 0
                        assert max(expected, 0) == count
    assert fam.name == "convolution"


def test_dilation_spreads_the_kernel():
    X = [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10], [11, 12, 13, 14, 15], [16, 17, 18, 19, 20], [21, 22, 23, 24, 25]]
    ex = instance("convolution", parts=["size", "output"], input=X, kernel=[[1, 0], [0, 1]], bias=0, stride=1,
                  padding=0, dilation=2)
    # Y[i, j] = X[i, j] + X[i + 2, j + 2]: a 3 × 3 output.
    assert value(ex, "Y") == [[X[i][j] + X[i + 2][j + 2] for j in range(3)] for i in range(3)]


def test_solution_states_the_conventions():
    ex = instance("convolution", seed=3, dilation=2, padding=1)
    problem, solution = render.render_exercise(ex, "markdown")
    assert "cross-correlation" in problem and "without being flipped" in problem
    assert r"\left\lfloor \frac{n + 2p - d(k - 1) - 1}{s} \right\rfloor + 1" in solution
    assert "d = 2" in problem and "p = 1" in problem


@pytest.mark.parametrize("fmt", ["latex", "markdown"])
def test_student_text_names_no_tool(fmt):
    for seed in range(3):
        problem, solution = render.render_exercise(instance("convolution", seed=seed), fmt)
        text = (problem + solution).lower()
        for word in ("seed", "family", "worksheetgen"):
            assert not re.search(rf"\b{word}\b", text)


# -- random instances against the reference ---------------------------------------------------------

VARIANTS = [
    {},
    dict(activation="relu", pooling="max"),
    dict(channels=2, pooling="average"),
    dict(dilation=2, padding=2, kernel_size=3, parts=["size", "output"]),
    dict(input_grid=[-1, 1, 0.5], kernel_grid=[-0.5, 0.5, 0.25], stride=2),
]


@pytest.mark.parametrize("params", VARIANTS)
def test_random_instances_against_reference(params):
    for seed in range(2):
        check_against_reference(instance("convolution", seed=seed, **params))


@pytest.mark.slow
@pytest.mark.parametrize("params", VARIANTS)
def test_random_instances_against_reference_many_seeds(params):
    for seed in range(200):
        check_against_reference(instance("convolution", seed=seed, **params))


@pytest.mark.slow
def test_teaching_rules_hold_on_many_draws():
    for seed in range(200):
        ex = instance("convolution", seed=seed, activation="relu")
        Y = [v for row in value(ex, "Y") for v in row]
        assert any(v > 0 for v in Y) and any(v < 0 for v in Y)
        assert 2 <= ex.answers["H_out"].value <= 4 and 2 <= ex.answers["W_out"].value <= 4
        assert any(s > 1 for s in ex.given.rf_strides[:-1])
        windows = [e.values for e in ex.data.pool_entries]
        assert any(len(set(w)) > 1 for w in windows)


def test_drawn_instances_are_hand_sized():
    for seed in range(6):
        ex = instance("convolution", seed=seed)
        d = ex.data
        assert d.H_out * d.W_out * d.C * d.k**2 <= 81
        assert all(abs(v) <= 3 for m in ex.given.X for v in m)


def test_a_wrong_answer_stops_the_build():
    ex = instance("convolution", seed=1)
    cross_check(ex)
    Y = ex.answers["Y"]
    Y.value = Y.value + sp.ones(*Y.value.shape) / 10**7
    with pytest.raises(CheckError, match="'Y'"):
        cross_check(ex)


def test_parts_can_be_chosen():
    assert set(instance("convolution", parts=["receptive"]).answers) == {"rf", "jump"}
    assert set(instance("convolution", parts=["size"]).answers) == {"H_out", "W_out"}
    ex = instance("convolution", parts=["output", "pool"], pooling="max", activation="relu")
    assert set(ex.answers) == {"Y", "A", "P_max"}


def test_largest_allowed_input_is_quick():
    rng = np.random.default_rng(0)
    X = rng.integers(-5, 6, size=(3, 12, 12)).tolist()
    K = rng.integers(-2, 3, size=(3, 5, 5)).tolist()
    start = time.perf_counter()
    ex = instance("convolution", input=X, kernel=K, bias=1, stride=1, padding=0, dilation=1)
    for fmt in ("latex", "markdown"):
        render.render_exercise(ex, fmt)
    assert time.perf_counter() - start < 2
    assert ex.answers["Y"].value.shape == (8, 8)
    check_against_reference(ex)


@pytest.mark.parametrize("params, field", [
    (dict(parts=["pool"]), "parts"),
    (dict(parts=["size", "size"]), "parts"),
    (dict(kernel=[[1, 0, 1], [0, 1, 0]]), "kernel"),
    (dict(input=[[1, 2], [3, 4]], kernel=[[[1]], [[1]]]), "kernel"),
    (dict(input=[[1, 2, 3]] * 3, height=4), "height"),
    (dict(input=[[1, 2, 3]] * 3, kernel=UFLDL_KERNEL, padding=0, dilation=2), "kernel"),
    (dict(input=[[1] * 12] * 12, kernel=[[1]], stride=1, padding=0, dilation=1), "kernel"),
    (dict(input=[[1] * 13] * 13), "input"),
    (dict(input=[[200, 1], [1, 1]]), "input"),
    (dict(kernel=[[1] * 6] * 6), "kernel"),
    (dict(input_grid=[-200, 0, 1]), "input_grid"),
    (dict(kernel_grid=[1, 0, 1]), "kernel_grid"),
    (dict(rf_kernels=[3, 3], rf_strides=[1, 1, 2]), "rf_strides"),
    (dict(rf_layers=2, rf_dilations=[1]), "rf_dilations"),
    (dict(pool_size=4, input=[[1, 2, 3]] * 3, kernel=[[1, 1], [1, 1]], padding=0, dilation=1), "pool_size"),
    (dict(stride=5), "stride"),
    (dict(activation="tanh"), "activation"),
])
def test_bad_input_names_the_field(params, field):
    with pytest.raises(WorksheetError) as err:
        instance("convolution", **params)
    assert err.value.field == f"params.{field}"


def test_records_are_declared():
    fam = get_family("convolution")
    ex = instance("convolution", seed=2)
    assert isinstance(ex.given, type(fam).Given) and isinstance(ex.data, type(fam).Data)
    assert not hasattr(fam, "rejection")


# -- quality (issue 10): the draws teach ------------------------------------------------------------

@pytest.mark.slow
def test_quality_gate_over_200_seeds():
    assert_gate_passes("convolution", 300)
    assert_gate_passes("convolution", 100, activation="relu")


@pytest.mark.parametrize("params, flags", [
    (dict(parts=["output"], input=[[0, 0], [0, 0]], kernel=[[1]]), {"output all 0", "constant output"}),
    (dict(parts=["output"], input=[[1, 1], [1, 1]], kernel=[[1]]), {"constant output"}),
    (dict(parts=["output"], input=[[1, 2], [3, 1]], kernel=[[1]], activation="relu", bias=-10),
     {"ReLU zeroes everything or nothing"}),
    (dict(parts=["output", "pool"], input=[[1, 1], [1, 1]], kernel=[[1]], pool_size=2, pool_stride=1),
     {"every pooling window constant"}),
    # Y = [[0, -1], [-1, 0]]: the one window's maximum is 0
    (dict(parts=["output", "pool"], input=[[0, 1], [1, 0]], kernel=[[-1]], pooling="max", pool_size=2,
          pool_stride=1), {"pooled map all 0"}),
    (dict(parts=["receptive"], rf_kernels=[3, 3, 3], rf_strides=[1, 1, 1], rf_dilations=[1, 1, 1]),
     {"the jump does not grow"}),
])
def test_each_quality_flag_fires(params, flags):
    sizes = PINNED_SIZES if "output" in params["parts"] else {}
    assert flags <= raised(instance("convolution", **{**sizes, **params}))


def test_a_good_draw_raises_no_flag():
    for seed in range(3):
        assert not raised(instance("convolution", seed=seed))
