import re
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from helpers import instance, value
from worksheetgen import render
from worksheetgen.errors import WorksheetError
from worksheetgen.registry import get_family
from worksheetgen.spec import load_spec

SEED_003_EX2 = dict(width=1920, height=1080, channels=3, hidden=256, outputs=10, conv_layers=10,
                    filters=64, kernel=4, stride=2, padding=2)


def ints(ex):
    return {k: int(a.value) for k, a in ex.answers.items() if a.kind == "integer"}


def test_seed_003_ex2_values():
    ex = instance("cnn_params", **SEED_003_EX2)
    assert ex.answers["ratio"].kind == "number"
    assert all(a.kind == "integer" for k, a in ex.answers.items() if k not in ("ratio", "dense_ratio", "subset"))
    a = ints(ex)
    # (a) seed: 1'592'525'056 + 2570 = 1'592'527'626 (correct).
    assert a["mlp_hidden"] == 1_592_525_056 and a["mlp_output"] == 2570
    assert a["mlp_total"] == 1_592_527_626
    # (b) seed: 3136 + 9 * 65600 = 593'536 (correct).
    assert (a["cnn_first"], a["cnn_rest"], a["cnn_total"]) == (3136, 65600, 593_536)
    # (c) seed: 961 x 541 (correct; the seed's formula omits the floor, harmless here because
    # (1920 + 4 - 4) / 2 and (1080 + 4 - 4) / 2 are whole numbers).
    assert (a["out_w"], a["out_h"]) == (961, 541)
    assert value(ex, "ratio") == pytest.approx(1_592_527_626 / 593_536, rel=1e-15)


def test_seed_rendering_uses_thousands_separators():
    ex = instance("cnn_params", **SEED_003_EX2)
    for fmt in ("markdown", "latex"):
        _, solution = render.render_exercise(ex, fmt)
        assert "1{,}592{,}527{,}626" in solution
        assert "593{,}536" in solution
        assert "961 \\times 541" in solution
        assert "1.6 \\cdot 10^{9}" in solution


def conv_output_shape(height, width, channels, kernel, stride, padding):
    """A real strided convolution of a random image with one random filter, by loops."""
    rng = np.random.default_rng(0)
    image = np.pad(rng.normal(size=(height, width, channels)), ((padding, padding), (padding, padding), (0, 0)))
    filt = rng.normal(size=(kernel, kernel, channels))
    rows = []
    for top in range(0, image.shape[0] - kernel + 1, stride):
        row = [np.sum(image[top:top + kernel, left:left + kernel] * filt)
               for left in range(0, image.shape[1] - kernel + 1, stride)]
        rows.append(row)
    return np.array(rows).shape


def count_by_arrays(p):
    """Parameters as the total size of real weight and bias arrays."""
    d = p["height"] * p["width"] * p["channels"]
    mb, cb = int(p["mlp_bias"]), int(p["conv_bias"])
    mlp = [np.empty((d, p["hidden"])), np.empty(p["hidden"] * mb),
           np.empty((p["hidden"], p["outputs"])), np.empty(p["outputs"] * mb)]
    layers, c_in = [], p["channels"]
    for _ in range(p["conv_layers"]):
        layers.append(np.empty((p["filters"], c_in, p["kernel"], p["kernel"])).size + p["filters"] * cb)
        c_in = p["filters"]
    return sum(a.size for a in mlp), layers


@pytest.mark.parametrize("seeds", [pytest.param(80, marks=pytest.mark.slow), 8])
def test_small_random_against_real_arrays(seeds):
    rng = np.random.default_rng(3)
    for seed in range(seeds):
        p = dict(height=int(rng.integers(6, 33)), width=int(rng.integers(6, 33)),
                 channels=int(rng.choice([1, 3])), hidden=int(rng.integers(1, 50)),
                 outputs=int(rng.integers(1, 12)), conv_layers=int(rng.integers(1, 6)),
                 filters=int(rng.choice([2, 4, 8, 16])), kernel=int(rng.integers(1, 6)),
                 stride=int(rng.integers(1, 5)), mlp_bias=bool(seed % 2), conv_bias=bool(seed % 3),
                 exact_division=False)
        p["padding"] = int(rng.integers(0, p["kernel"]))
        ex = instance("cnn_params", seed=seed, **p)
        a = ints(ex)
        mlp, layers = count_by_arrays(p)
        assert a["mlp_total"] == mlp
        assert a["cnn_first"] == layers[0] and a["cnn_total"] == sum(layers)
        if p["conv_layers"] > 1:
            assert a["cnn_rest"] == layers[1]
        else:
            assert "cnn_rest" not in a
        out = conv_output_shape(p["height"], p["width"], p["channels"], p["kernel"], p["stride"], p["padding"])
        assert (a["out_h"], a["out_w"]) == out
        assert value(ex, "ratio") == pytest.approx(mlp / sum(layers), rel=1e-12)


@pytest.mark.parametrize("seeds", [pytest.param(80, marks=pytest.mark.slow), 8])
def test_default_draws(seeds):
    for seed in range(seeds):
        exact = seed % 4 != 0
        ex = instance("cnn_params", seed=seed, exact_division=exact)
        g, a = ex.given, ints(ex)
        k, s, p = g["kernel"], g["stride"], g["padding"]
        # Output size by counting window positions along each padded side.
        for side, key in (("width", "out_w"), ("height", "out_h")):
            starts = range(0, g[side] + 2 * p - k + 1, s)
            assert a[key] == len(starts) >= 1
            if exact:
                assert starts[-1] + k == g[side] + 2 * p  # the last window ends at the border
        d = g["width"] * g["height"] * g["channels"]
        n, out, f, layers = g["hidden"], g["outputs"], g["filters"], g["conv_layers"]
        assert a["mlp_total"] == (d + 1) * n + (n + 1) * out
        assert a["cnn_total"] == sum((k * k * (g["channels"] if l == 0 else f) + 1) * f for l in range(layers))
        assert p < k
        assert g["channels"] in (1, 3) and 2 <= layers <= 12


@pytest.mark.parametrize("params, field", [
    ({"width": 3, "height": 3, "kernel": 8, "padding": 1}, "kernel"),
    ({"kernel": 0}, "kernel"),
    ({"stride": 0}, "stride"),
    ({"channels": 17}, "channels"),
    ({"mlp_bias": "yes"}, "mlp_bias"),
])
def test_bad_input(params, field):
    with pytest.raises(WorksheetError) as info:
        instance("cnn_params", **params)
    assert field in info.value.field


def test_square_image_side_is_not_a_draw():
    # Only the width given: the height copies it, so with kernel, stride and padding fixed too
    # the divisibility rule reads nothing drawn and is not applied (the floor is printed).
    ex = instance("cnn_params", width=33, kernel=4, stride=2, padding=0)
    assert ex.given.height == 33 and ex.attempt == 1
    assert ints(ex)["out_w"] == len(range(0, 33 - 4 + 1, 2)) == 15
    assert not ex.data.exact_w
    # With the stride drawn the rule applies again.
    for seed in range(4):
        ex = instance("cnn_params", seed=seed, width=33, kernel=4, padding=0)
        assert (33 - 4) % ex.given.stride == 0


LARGEST = dict(width=10000, height=10000, channels=16, hidden=100000, outputs=100000,
               conv_layers=100, filters=1024, kernel=31, stride=16, padding=32)


def test_largest_documented_values_build_at_once_without_memory():
    """100 layers of 1024 filters of 31×31 over 1024 channels and a 10 000² × 16 image: the check
    counts weights from zero-memory array views and window positions from a range."""
    tracemalloc.start()
    start = time.perf_counter()
    ex = instance("cnn_params", **LARGEST)
    for fmt in ("latex", "markdown"):
        render.render_exercise(ex, fmt)
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert elapsed < 2.5
    assert peak < 20 * 2**20  # bytes
    a = ints(ex)
    assert a["mlp_hidden"] == 10000 * 10000 * 16 * 100000 + 100000
    assert a["cnn_rest"] == (31 * 31 * 1024 + 1) * 1024
    assert a["cnn_total"] == (31 * 31 * 16 + 1) * 1024 + 99 * a["cnn_rest"]
    assert a["out_w"] == a["out_h"] == len(range(-32, 10000 + 32 - 31 + 1, 16))


@pytest.mark.parametrize("key, too_big", [
    ("width", 10001), ("channels", 17), ("hidden", 100001), ("conv_layers", 101),
    ("filters", 1025), ("kernel", 32), ("stride", 17), ("padding", 33),
])
def test_beyond_the_largest_is_refused_at_once(key, too_big):
    start = time.perf_counter()
    with pytest.raises(WorksheetError) as info:
        instance("cnn_params", **dict(LARGEST, **{key: too_big}))
    assert time.perf_counter() - start < 0.5
    assert info.value.field == f"params.{key}"


def test_help_states_the_limits():
    params = {p.name: p for p in get_family("cnn_params").params}
    assert "10 000" in params["width"].help and "1 to 1024" in params["filters"].help
    assert "1 to 100" in params["conv_layers"].help and "1 to 31" in params["kernel"].help


# -- seed 003 Ex2 (d)-(e): the convolution as a fully connected linear layer ---------------------

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "pinned_cnn_params.toml"


def test_seed_003_ex2_d_e_values():
    ex = instance("cnn_params", **SEED_003_EX2)
    parts = {k: a.part for k, a in ex.answers.items()}
    assert (parts["out_w"], parts["dense_rows"], parts["subset"], parts["ratio"]) == (3, 4, 5, 6)
    a = ints(ex)
    # (d) The seed proves the equivalence without numbers (and names the filters of output channel i
    # a_{i1}, ..., a_{in}: one per input channel, so a_{i1}, ..., a_{id}); for its layer of (c): A maps the
    # 1920*1080*3 = 6,220,800 inputs to the 961*541 = 519,901 outputs.
    assert (a["dense_rows"], a["dense_cols"]) == (961 * 541, 1920 * 1080 * 3) == (519_901, 6_220_800)
    # Stride 2 with a 4-wide window: every pixel is under exactly 2 windows per side, so
    # 3840 * 2160 * 3 entries of A can be non-zero (the rest are fixed at 0).
    assert a["dense_nonzero"] == 3840 * 2160 * 3 == 24_883_200
    assert a["dense_params"] == 519_901 * 6_220_800 + 519_901 == 3_234_200_660_701
    assert a["conv_params"] == 4 * 4 * 3 + 1 == 49
    assert ex.answers["dense_ratio"].value == sp.Rational(3_234_200_660_701, 49)
    # (e) The seed: "every function that can be expressed with a convolutional layer can also be
    # expressed with a linear layer", and "linear layers might be more expressive". They are:
    # the subset is proper (weights outside the windows, unshared weights), which the model
    # answer states with the counts of (d).
    text = ex.answers["subset"].value
    assert ex.answers["subset"].kind == "text"
    for number in ("24{,}883{,}200", "3{,}234{,}200{,}140{,}800", "$48$", "$49$", "proper"):
        assert number in text
    _, solution = render.render_exercise(ex, "markdown")
    assert r"\approx 6.6 \cdot 10^{10}" in solution
    assert r"A \in \mathbb{R}^{519{,}901 \times 6{,}220{,}800}" in solution


def dense_by_brute_force(g):
    """The convolution of (c) as a matrix: A's column c is the convolution of the c-th unit
    image (a zero bias), b the convolution of the zero image. The filter's weights are random and
    non-zero, so A's non-zero entries are exactly the ones that can be."""
    rng = np.random.default_rng(7)
    H, W, C, k, s, p = g.height, g.width, g.channels, g.kernel, g.stride, g.padding
    filt = rng.uniform(0.5, 1.5, size=(k, k, C)) * rng.choice([-1, 1], size=(k, k, C))
    bias = 0.75 if g.conv_bias else 0.0

    def conv(image, with_bias=True):
        padded = np.pad(image, ((p, p), (p, p), (0, 0)))
        out = [[np.sum(padded[top:top + k, left:left + k] * filt) + (bias if with_bias else 0)
                for left in range(0, W + 2 * p - k + 1, s)]
               for top in range(0, H + 2 * p - k + 1, s)]
        return np.array(out).ravel()

    n_in = H * W * C
    columns = [conv(np.eye(n_in)[i].reshape(H, W, C), with_bias=False) for i in range(n_in)]
    A = np.array(columns).T
    b = conv(np.zeros((H, W, C)))
    x = rng.normal(size=(H, W, C))
    assert np.allclose(A @ x.ravel() + b, conv(x))  # f = Ax + b is the convolution
    return A, b


def check_dense(ex):
    g, a = ex.given, ints(ex)
    A, b = dense_by_brute_force(g)
    assert (a["dense_rows"], a["dense_cols"]) == A.shape
    assert a["dense_nonzero"] == np.count_nonzero(A)
    assert a["dense_params"] == A.size + b.size
    conv_params = g.kernel * g.kernel * g.channels + int(g.conv_bias)
    assert a["conv_params"] == conv_params
    assert value(ex, "dense_ratio") == pytest.approx((A.size + b.size) / conv_params, rel=1e-14)
    # Weight sharing: the non-zero entries take at most k*k*C distinct values.
    assert len(np.unique(np.round(A[A != 0], 12))) <= g.kernel * g.kernel * g.channels


def small(rng, seed):
    p = dict(height=int(rng.integers(3, 9)), width=int(rng.integers(3, 9)),
             channels=int(rng.choice([1, 2, 3])), kernel=int(rng.integers(1, 5)),
             stride=int(rng.integers(1, 4)), conv_bias=bool(seed % 2), exact_division=bool(seed % 3),
             parts=["conv_output", "dense_equivalent", "subset"])
    p["kernel"] = min(p["kernel"], p["height"], p["width"])
    p["padding"] = int(rng.integers(0, p["kernel"]))
    return p


def test_dense_equivalent_against_the_matrix_of_a_real_convolution():
    rng = np.random.default_rng(11)
    for seed in range(4):
        check_dense(instance("cnn_params", seed=seed, **small(rng, seed)))


@pytest.mark.slow
def test_dense_equivalent_against_the_matrix_of_a_real_convolution_many():
    rng = np.random.default_rng(12)
    for seed in range(200):
        check_dense(instance("cnn_params", seed=seed, **small(rng, seed)))


def test_window_coverage_counts_real_pixels():
    from worksheetgen.exercises.cnn_params import window_coverage

    # 5 pixels, window 3, stride 2, padding 1: windows [-1,1], [1,3], [3,5] hold 2 + 3 + 2 real pixels.
    assert window_coverage(5, 3, 2, 1) == 7
    # Stride larger than the window skips pixels: [0,0], [2,2], [4,4] of 5.
    assert window_coverage(5, 1, 2, 0) == 3


@pytest.mark.slow
def test_default_draws_have_no_quality_flag():
    for seed in range(200):
        ex = instance("cnn_params", seed=seed)
        flags = ex.family.quality(ex.given, ex.solved)
        assert not any(flags.values()), (seed, flags)
        assert value(ex, "ratio") >= 10 and ex.given.stride <= ex.given.kernel


@pytest.mark.parametrize("flag, params", [
    ("stride does not divide (size + 2p - k)", dict(width=33, height=33, kernel=4, stride=2, padding=0)),
    ("padding not smaller than the filter", dict(kernel=3, padding=3, stride=1)),
    ("stride larger than the filter (pixels skipped)", dict(kernel=3, stride=4, padding=1, width=64, height=64)),
    ("MLP below 10 times the CNN's parameters", dict(width=32, height=32, channels=1, hidden=64,
                                                     outputs=10, conv_layers=12, filters=256, kernel=7)),
])
def test_each_quality_flag_fires_on_pinned_values(flag, params):
    ex = instance("cnn_params", seed=1, **params)
    assert ex.family.quality(ex.given, ex.solved)[flag]


def test_parts_and_what_they_need():
    ex = instance("cnn_params", seed=2, parts=["conv_output", "dense_equivalent"])
    assert set(ex.answers) == {"out_w", "out_h", "dense_rows", "dense_cols", "dense_nonzero",
                               "dense_params", "conv_params", "dense_ratio"}
    ex = instance("cnn_params", seed=2, parts=["dense_equivalent"])
    problem, _ = render.render_exercise(ex, "markdown")
    assert f"stride ${ex.given.stride}$" in problem  # the layer is described where it is first used
    for parts in (["ratio"], ["mlp", "ratio"], ["subset"], ["mlp", "mlp"]):
        with pytest.raises(WorksheetError) as info:
            instance("cnn_params", parts=parts)
        assert info.value.field == "params.parts"


def test_pinned_example_asks_the_seed_parts():
    spec = load_spec(EXAMPLE)
    (e,) = spec.exercises
    ex = instance("cnn_params", **e.params)
    assert not re.search(r"\bseeds?\b", spec.title, re.I)
    assert ints(ex)["dense_nonzero"] == 24_883_200 and ints(ex)["cnn_total"] == 593_536
    assert [a.part for a in ex.solved.answers if a.key in ("dense_rows", "subset")] == [4, 5]
