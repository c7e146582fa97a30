import numpy as np
import pytest

from helpers import instance, value
from worksheetgen.errors import WorksheetError

SEED_003_EX2 = dict(width=1920, height=1080, channels=3, hidden=256, outputs=10, conv_layers=10,
                    filters=64, kernel=4, stride=2, padding=2)


def ints(ex):
    return {k: int(a.value) for k, a in ex.answers.items() if a.kind == "integer"}


def test_seed_003_ex2_values():
    ex = instance("cnn_params", **SEED_003_EX2)
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
    from worksheetgen import render

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


def test_small_random_against_real_arrays():
    rng = np.random.default_rng(3)
    for seed in range(80):
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


def test_default_draws():
    for seed in range(80):
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
