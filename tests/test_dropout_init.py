"""dropout_init: inverted dropout, Xavier/He initialization and the variance through a deep
stack, against references written here (exact enumeration with Fractions, SymPy integration of
the uniform density, and a seeded Monte Carlo run of real layers)."""

import functools
import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp

from helpers import instance, value
from quality_helpers import assert_gate_passes, raised
from worksheetgen import render
from worksheetgen.errors import CheckError, WorksheetError
from worksheetgen.instance import cross_check
from worksheetgen.params import parse_params
from worksheetgen.registry import get_family

PINNED = dict(p=0.5, activations=[1, 2, 0.5, 3], mask=[1, 0, 1, 0], fan_in=128, fan_out=256, scheme="xavier",
              width=256, depth=10, layer_activation="relu", input_variance=1)


def _fr(v):
    r = sp.Rational(v)
    return Fraction(int(r.p), int(r.q))


def _dropout_reference(g):
    """Output for the given mask, and the moments over all 2^n masks, in exact Fractions."""
    p = _fr(g.p)
    a = [_fr(v) for v in g.activations]
    n = len(a)
    output = [m * v / (1 - p) for m, v in zip(g.mask, a)]
    mean = [Fraction(0)] * n
    second = [Fraction(0)] * n
    plain = Fraction(0)
    for bits in itertools.product((0, 1), repeat=n):
        prob = Fraction(1)
        for bit in bits:
            prob *= (1 - p) if bit else p
        for i, bit in enumerate(bits):
            mean[i] += prob * bit * a[i] / (1 - p)
            second[i] += prob * (bit * a[i] / (1 - p)) ** 2
        plain += prob * bits[0]
    return {"output": output, "expected": mean, "variance": [s - e**2 for s, e in zip(second, mean)],
            "test_scale": plain}


A = sp.Symbol("a", positive=True)


@functools.lru_cache(maxsize=None)
def _uniform_variance():
    w = sp.Symbol("w", real=True)
    return sp.integrate(w**2 / (2 * A), (w, -A, A))


def _init_reference(fan_in, fan_out):
    """Glorot: the mean of the forward and backward conditions; the uniform bound from the
    variance of the uniform density, integrated by SymPy."""
    xavier = sp.Rational(1) / ((sp.Integer(fan_in) + fan_out) / 2)
    limit = [s for s in sp.solve(sp.Eq(_uniform_variance(), xavier), A) if s > 0][0]
    he = sp.Rational(2, fan_in)
    return {"xavier_var": xavier, "xavier_limit": limit, "he_var": he, "he_std": sp.sqrt(he)}


def _stack_reference(g):
    """Var(z) layer by layer: Var(Σ w_i a_i) = n Var(w) E[a²], E[ReLU(z)²] = Var(z)/2."""
    n, v = sp.Integer(g.width), sp.Rational(g.input_variance)
    var_w = {"xavier": sp.Rational(2) / (2 * n), "he": 2 / n, "small": sp.Rational(1, 10**4)}[g.scheme]
    second = v
    variances = []
    for _ in range(g.depth):
        z = n * var_w * second
        variances.append(z)
        second = z / 2 if g.layer_activation == "relu" else z
    return {"var_w": var_w, "var_z1": variances[0], "gain": variances[1] / variances[0], "var_zL": variances[-1]}


def _compare(ex):
    g = ex.given
    ref = {}
    if g.p is not None:
        ref.update(_dropout_reference(g))
    if g.fan_in is not None:
        ref.update(_init_reference(g.fan_in, g.fan_out))
    if g.scheme is not None:
        ref.update(_stack_reference(g))
    for key, a in ex.answers.items():
        expected = ref[key]
        if isinstance(expected, list):
            assert [_fr(v) for v in a.value] == expected, key  # rationals: exactly
        else:
            assert a.value == expected or sp.simplify(a.value - expected) == 0, key


# -- pinned values -------------------------------------------------------------------------------

def test_pinned_example():
    ex = instance("dropout_init", **PINNED)
    a = ex.answers
    assert list(a["output"].value) == [2, 0, 1, 0]
    assert list(a["expected"].value) == [1, 2, sp.Rational(1, 2), 3]
    assert list(a["variance"].value) == [1, 4, sp.Rational(1, 4), 9]  # a² p/(1 - p) with p/(1 - p) = 1
    assert a["test_scale"].value == sp.Rational(1, 2)
    assert a["xavier_limit"].value == sp.Rational(1, 8) and a["he_std"].value == sp.Rational(1, 8)
    assert a["gain"].value == sp.Rational(1, 2)  # Xavier with ReLU halves the variance
    assert a["var_zL"].value == sp.Rational(1, 2**9)
    _compare(ex)


def test_he_keeps_the_variance_and_small_weights_lose_it():
    he = instance("dropout_init", parts=["layer_variance"], scheme="he", width=512, depth=5, input_variance=2)
    assert he.answers["gain"].value == 1 and he.answers["var_zL"].value == 4
    small = instance("dropout_init", parts=["layer_variance"], scheme="small", width=100, depth=10, input_variance=1)
    assert small.answers["gain"].value == sp.Rational(1, 200)
    lin = instance("dropout_init", parts=["layer_variance"], scheme="he", width=64, depth=3, input_variance=1,
                   layer_activation="linear")
    assert lin.answers["gain"].value == 2
    for ex in (he, small, lin):
        _compare(ex)
        _, solution = render.render_exercise(ex, "markdown")
        assert ("stays the same" in solution) == (ex.data.gain == 1)
        assert ("explodes" in solution) == (ex.data.gain > 1)


@pytest.mark.slow
def test_monte_carlo_of_real_layers_agrees():
    """Real weight matrices and inputs (a fixed generator), averaged over independent networks:
    the derived variances are what the layers produce, to sampling accuracy."""
    rng = np.random.default_rng(7)
    n, depth, networks = 256, 4, 12
    for scheme, act in (("xavier", "relu"), ("he", "relu"), ("xavier", "linear")):
        ex = instance("dropout_init", parts=["layer_variance"], scheme=scheme, width=n, depth=depth,
                      input_variance=2, layer_activation=act)
        var_w = float(ex.answers["var_w"].value)
        first, last = [], []
        for _ in range(networks):
            a = rng.normal(0, math.sqrt(2), size=(n, 300))
            for layer in range(depth):
                z = rng.normal(0, math.sqrt(var_w), size=(n, n)) @ a
                if layer == 0:
                    first.append(np.mean(z**2))
                a = np.maximum(z, 0) if act == "relu" else z
            last.append(np.mean(z**2))
        assert np.mean(first) == pytest.approx(value(ex, "var_z1"), rel=0.05)
        assert np.mean(last) == pytest.approx(value(ex, "var_zL"), rel=0.15)


def test_solution_states_the_conventions():
    problem, solution = render.render_exercise(instance("dropout_init", **PINNED), "markdown")
    assert r"\tilde{a}_i = \frac{m_i a_i}{1 - p}" in problem and "P(m_i = 1) = 1 - p" in problem
    assert r"\operatorname{Var}(w) = \frac{2}{\text{fan}_{\text{in}} + \text{fan}_{\text{out}}}" in problem
    assert r"\operatorname{Var}(w) = \frac{2}{\text{fan}_{\text{in}}}" in problem
    assert r"a &= \sqrt{\frac{6}{384}} = 0.125" in solution
    assert r"\frac{a^2}{3}" in solution


# -- random instances ---------------------------------------------------------------------------

@pytest.mark.parametrize("params", [{}, dict(units=8), dict(scheme="small", layer_activation="linear")])
def test_random_instances_against_the_reference(params):
    for seed in range(4):
        _compare(instance("dropout_init", seed=seed, **params))


@pytest.mark.slow
@pytest.mark.parametrize("params", [{}, dict(units=8, fan_in=300), dict(layer_activation="linear", depth=20)])
def test_random_instances_against_the_reference_many_seeds(params):
    for seed in range(200):
        _compare(instance("dropout_init", seed=seed, **params))


def test_masks_keep_some_and_drop_some_without_redraws():
    kept = []
    for seed in range(40):
        ex = instance("dropout_init", seed=seed, parts=["dropout"])
        assert ex.attempt == 1 and 0 < sum(ex.given.mask) < len(ex.given.mask)
        assert all(v != 0 for v in ex.given.activations)
        kept.append(sum(ex.given.mask) / len(ex.given.mask))
    assert 0.2 < np.mean(kept) < 0.8


def test_drawn_layer_sizes_give_exact_roots():
    for seed in range(10):
        ex = instance("dropout_init", seed=seed, parts=["init"])
        assert ex.given.fan_in != ex.given.fan_out
        assert ex.answers["xavier_limit"].value.is_Rational and ex.answers["he_std"].value.is_Rational


def test_parts_are_selectable():
    ex = instance("dropout_init", seed=3, parts=["init"])
    assert set(ex.answers) == {"xavier_var", "xavier_limit", "he_var", "he_std"}
    problem, _ = render.render_exercise(ex, "markdown")
    assert "dropout" not in problem
    ex = instance("dropout_init", seed=3, parts=["expectation"])
    assert set(ex.answers) == {"expected", "variance", "test_scale"}


def test_student_text_names_no_tool():
    for seed in range(3):
        for fmt in ("latex", "markdown"):
            text = " ".join(render.render_exercise(instance("dropout_init", seed=seed), fmt)).lower()
            for word in ("seed", "family", "worksheetgen"):
                assert word not in text


def test_a_real_disagreement_stops_the_build():
    ex = instance("dropout_init", seed=1)
    cross_check(ex)
    a = ex.answers["xavier_limit"]
    a.value = a.value * (1 + sp.Rational(1, 10**7))
    with pytest.raises(CheckError, match="xavier_limit"):
        cross_check(ex)


def test_records_and_pinned_spec():
    from pathlib import Path

    from worksheetgen.spec import load_spec

    fam = get_family("dropout_init")
    ex = instance("dropout_init", seed=2)
    assert isinstance(ex.given, type(fam).Given) and isinstance(ex.data, type(fam).Data)
    assert not hasattr(fam, "rejection")
    spec = load_spec(Path(__file__).resolve().parent.parent / "examples" / "pinned_dropout_init.toml")
    for e in spec.exercises:
        assert e.family == "dropout_init"
        assert not fam.drawn(parse_params(fam.params, e.params, validate=fam.validate))


def test_a_pinned_mask_that_drops_everything_is_the_instructors_choice():
    ex = instance("dropout_init", parts=["dropout"], p=0.5, activations=[1, 2], mask=[0, 0])
    assert list(ex.answers["output"].value) == [0, 0]


@pytest.mark.parametrize("params, field", [
    (dict(p=1), "p"),
    (dict(p=0), "p"),
    (dict(activations=[1, 2, 3], mask=[1, 0]), "mask"),
    (dict(units=3, activations=[1, 2]), "activations"),
    (dict(activation_grid=[0, 0, 1]), "activation_grid"),
    (dict(activations=[2000, 1]), "activations"),
    (dict(input_variance=5000), "input_variance"),
    (dict(depth=1), "depth"),
    (dict(scheme="lecun"), "scheme"),
    (dict(parts=["init", "init"]), "parts"),
])
def test_bad_input_names_the_field(params, field):
    with pytest.raises(WorksheetError) as err:
        instance("dropout_init", **params)
    assert err.value.field == f"params.{field}"


# -- quality (issue 10): the draws teach ----------------------------------------------------------

@pytest.mark.slow
def test_quality_gate_over_200_seeds():
    assert_gate_passes("dropout_init", 200)
    assert_gate_passes("dropout_init", 60, scheme="xavier")  # depth 10 halves 9 times: not drawn
    assert_gate_passes("dropout_init", 60, scheme="small")  # asked in significant digits


def test_drawn_stacks_are_xavier_or_he_and_stay_readable():
    schemes = set()
    for seed in range(12):
        ex = instance("dropout_init", seed=seed, parts=["layer_variance"])
        schemes.add(ex.given.scheme)
        assert ex.data.var_zL >= sp.Rational(1, 100)
    assert schemes == {"xavier", "he"}


@pytest.mark.parametrize("params, flags", [
    (dict(parts=["dropout"], p=0.5, activations=[1, 2, 3], mask=[1, 1, 1]), {"mask keeps every unit or drops every unit"}),
    (dict(parts=["init"], fan_in=64, fan_out=64), {"fan_in equal to fan_out"}),
    # Xavier with ReLU halves the variance per layer: 1/512 after 10 layers
    (dict(parts=["layer_variance"], scheme="xavier", width=100, depth=10, input_variance=1),
     {"Var(z^[L]) below 0.01 in decimals"}),
])
def test_each_quality_flag_fires(params, flags):
    assert flags <= raised(instance("dropout_init", **params))


def test_a_good_draw_raises_no_flag():
    assert not raised(instance("dropout_init", seed=0))
    assert not raised(instance("dropout_init", parts=["layer_variance"], scheme="he", width=100, depth=10,
                               input_variance=1))


def test_small_random_numbers_vanish_in_significant_digits():
    # Var(z^[3]) = 256 · 10^-4 · 4 · 0.0128² ≈ 1.678·10^-5: asked (and printed) in significant digits.
    ex = instance("dropout_init", parts=["layer_variance"], scheme="small", width=256, depth=3, input_variance=4)
    answer = ex.answers["var_zL"]
    assert answer.value == sp.Rational(16777216, 10**12) and answer.rounding.mode == "significant"
    problem, solution = render.render_exercise(ex, "markdown")
    assert "4 significant digits" in problem and r"1.678 \times 10^{-5}" in solution
    assert not raised(ex)
    for seed in range(4):  # drawn around a chosen scheme: three layers of 128 to 512 units
        drawn = instance("dropout_init", seed=seed, parts=["layer_variance"], scheme="small")
        assert drawn.given.depth == 3 and drawn.given.width in (128, 256, 512)
