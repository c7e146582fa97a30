import time
import tracemalloc

import numpy as np
import pytest

from helpers import instance, value
from worksheetgen import render
from worksheetgen.errors import WorksheetError
from worksheetgen.registry import get_family

SEED_003_EX2 = dict(width=1920, height=1080, channels=3, hidden=256, outputs=10, conv_layers=10,
                    filters=64, kernel=4, stride=2, padding=2)


def ints(ex):
    return {k: int(a.value) for k, a in ex.answers.items() if a.kind == "integer"}


def test_seed_003_ex2_values():
    ex = instance("cnn_params", **SEED_003_EX2)
    assert ex.answers["ratio"].kind == "number"
    assert all(a.kind == "integer" for k, a in ex.answers.items() if k != "ratio")
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
