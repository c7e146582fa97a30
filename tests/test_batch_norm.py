"""batch_norm: forward pass, running statistics, inference mode and backward pass, against a
reference written here (exact Fractions for the forward pass, central differences of a plain
Python forward pass for the gradients)."""

import math
import re
from fractions import Fraction

import pytest
import sympy as sp

from helpers import instance, value
from quality_helpers import assert_gate_passes, raised
from worksheetgen import render
from worksheetgen.errors import CheckError, WorksheetError
from worksheetgen.instance import cross_check
from worksheetgen.params import parse_params
from worksheetgen.registry import get_family

TEXTBOOK = dict(X=[2, 4, 4, 4, 5, 5, 7, 9], gamma=[2], beta=[1], running_mean=[0], running_var=[1], x_test=[6],
                upstream=[0.5, -0.5, 0, 1, -1, 0.5, 0.5, -0.5])


def _fr(v):
    r = sp.Rational(v)
    return Fraction(int(r.p), int(r.q))


def _column(M, j):
    return [M[i, j] for i in range(M.shape[0])]


def _forward(x, gamma, beta, eps):
    """Plain-Python training-mode batch normalization of one feature (floats)."""
    m = len(x)
    mu = sum(x) / m
    var = sum((v - mu) ** 2 for v in x) / m
    return [gamma * (v - mu) / math.sqrt(var + eps) + beta for v in x]


def _reference(g):
    """Every answer of an instance from its givens, computed here: exact Fractions where the
    values are rational, central differences of _forward for the gradients."""
    X, (m, d) = g.X, g.X.shape
    eps, rho = _fr(g.epsilon), _fr(g.momentum)
    out = {k: [] for k in ("mean", "var", "xhat", "y", "running_mean", "running_var", "y_inference",
                           "y_batch_stats", "dgamma", "dbeta", "dx")}
    for j in range(d):
        x = [_fr(v) for v in _column(X, j)]
        gamma, beta = _fr(g.gamma[j]), _fr(g.beta[j])
        mu = sum(x, Fraction(0)) / m
        ss = sum(((v - mu) ** 2 for v in x), Fraction(0))
        var = ss / m
        std = math.sqrt(var + eps)
        out["mean"].append(mu)
        out["var"].append(var)
        out["xhat"].append([float(v - mu) / std for v in x])
        out["y"].append([float(gamma) * float(v - mu) / std + float(beta) for v in x])
        if g.running_mean is not None:
            batch = ss / (m - 1) if g.running_variance == "unbiased" else var
            rm = (1 - rho) * _fr(g.running_mean[j]) + rho * mu
            rv = (1 - rho) * _fr(g.running_var[j]) + rho * batch
            out["running_mean"].append(rm)
            out["running_var"].append(rv)
            if g.x_test is not None:
                mu_i, var_i = (rm, rv) if "running" in g.parts else (_fr(g.running_mean[j]), _fr(g.running_var[j]))
                xt = _fr(g.x_test[j])
                out["y_inference"].append(float(gamma) * float(xt - mu_i) / math.sqrt(var_i + eps) + float(beta))
                out["y_batch_stats"].append(float(gamma) * float(xt - mu) / std + float(beta))
        if g.upstream is not None:
            G = [float(v) for v in _column(g.upstream, j)]
            xf = [float(v) for v in x]
            loss = lambda xs, ga=float(gamma), be=float(beta): sum(  # noqa: E731
                a * b for a, b in zip(G, _forward(xs, ga, be, float(eps))))
            h = 1e-6
            dx = []
            for i in range(m):
                up, down = list(xf), list(xf)
                up[i] += h
                down[i] -= h
                dx.append((loss(up) - loss(down)) / (2 * h))
            out["dx"].append(dx)
            out["dgamma"].append((loss(xf, float(gamma) + h) - loss(xf, float(gamma) - h)) / (2 * h))
            out["dbeta"].append(sum(G))
    return out


def _compare(ex):
    ref = _reference(ex.given)
    d = ex.given.X.shape[1]
    for key, a in ex.answers.items():
        got = value(ex, key)
        expected = ref[key]
        if key in ("xhat", "y", "dx"):
            flat_got = [got[i][j] for j in range(d) for i in range(len(got))]
            flat_expected = [v for column in expected for v in column]
            tol = 1e-6 if key == "dx" else 1e-12
            assert flat_got == pytest.approx(flat_expected, rel=tol, abs=tol), key
        else:
            flat_got = [got] if d == 1 else got[0]
            tol = 1e-6 if key == "dgamma" else 1e-12
            assert flat_got == pytest.approx([float(v) for v in expected], rel=tol, abs=tol), key
            if key in ("mean", "var", "running_mean", "running_var"):  # rational: exactly
                exact = [a.value] if d == 1 else list(a.value)
                assert [_fr(v) for v in exact] == expected, key


# -- a pinned textbook batch -------------------------------------------------------------------

def test_textbook_batch_is_exact():
    ex = instance("batch_norm", **TEXTBOOK)
    a = ex.answers
    # The population-σ textbook example: mean 5, variance 4.
    assert a["mean"].value == 5 and a["var"].value == 4
    assert list(a["xhat"].value) == [sp.Rational(v) for v in ("-1.5", "-0.5", "-0.5", "-0.5", "0", "0", "1", "2")]
    assert list(a["y"].value) == [2 * v + 1 for v in a["xhat"].value]
    # Running estimates from PyTorch's start (0, 1), momentum 0.1, unbiased variance 32/7.
    assert a["running_mean"].value == sp.Rational(1, 2)
    assert a["running_var"].value == sp.Rational(9, 10) + sp.Rational(1, 10) * sp.Rational(32, 7)
    assert a["y_batch_stats"].value == 2  # 2 · (6 - 5)/2 + 1
    assert a["dbeta"].value == sp.Rational(1, 2)
    assert sum(a["dx"].value) == 0  # shifting the batch changes nothing
    _compare(ex)


def test_textbook_solution_text():
    problem, solution = render.render_exercise(instance("batch_norm", **TEXTBOOK), "markdown")
    assert r"\sqrt{\sigma_B^2 + \varepsilon} &= \sqrt{4} = 2" in solution
    assert r"\frac{32}{7} \approx 4.5714" in solution
    # Conventions are stated: biased normalization, unbiased running update, momentum, ε.
    assert "biased batch variance (divided by $m$, not by $m - 1$)" in problem
    assert "unbiased batch variance (divided by $m - 1$" in problem
    assert r"momentum $\rho = 0.1$" in problem and r"\varepsilon = 0" in problem


def test_pinned_example_spec_matches():
    from pathlib import Path

    from worksheetgen.spec import load_spec

    spec = load_spec(Path(__file__).resolve().parent.parent / "examples" / "pinned_batch_norm.toml")
    assert [e.family for e in spec.exercises] == ["batch_norm", "batch_norm"]
    fam = get_family("batch_norm")
    for e in spec.exercises:
        assert not fam.drawn(parse_params(fam.params, e.params, validate=fam.validate)), "every value is pinned"


# -- random instances against the reference -----------------------------------------------------

@pytest.mark.parametrize("params", [{}, dict(features=2), dict(epsilon="0.00001", running_variance="biased")])
def test_random_instances_against_the_reference(params):
    for seed in range(3):
        _compare(instance("batch_norm", seed=seed, **params))


@pytest.mark.slow
@pytest.mark.parametrize("params", [{}, dict(features=3, batch_size=6, epsilon="0.001"),
                                    dict(parts=["inference", "backward"], pleasant=False)])
def test_random_instances_against_the_reference_many_seeds(params):
    for seed in range(200):
        _compare(instance("batch_norm", seed=seed, **params))


def test_draws_teach():
    pleasant = 0
    for seed in range(12):
        ex = instance("batch_norm", seed=seed)
        for f in ex.data.features:
            assert f.var != 0 and len(set(f.g)) > 1
            assert any(v != 0 for v in f.dx) and f.dgamma != 0 and f.dbeta != 0
        assert any(abs(v) != 1 for f in ex.data.features for v in f.xhat)
        pleasant += ex.data.exact_std
    assert pleasant >= 10, "the sampler prefers a terminating √(σ² + ε)"


def test_parts_are_selectable():
    ex = instance("batch_norm", seed=1, parts=["backward"])
    assert set(ex.answers) == {"dgamma", "dbeta", "dx"}
    ex = instance("batch_norm", seed=1, parts=["inference"], running_mean=[1], running_var=[2])
    assert set(ex.answers) == {"y_inference", "y_batch_stats"}
    problem, solution = render.render_exercise(ex, "markdown")
    assert r"\mu_{\text{run}} = 1" in problem  # the estimates inference uses are given
    _compare(ex)


def test_several_features_render_per_feature():
    ex = instance("batch_norm", seed=3, features=2)
    assert ex.answers["mean"].value.shape == (1, 2) and ex.answers["dx"].value.shape == (ex.given.X.shape[0], 2)
    for fmt in ("latex", "markdown"):
        problem, solution = render.render_exercise(ex, fmt)
        assert "Feature 2:" in solution


def test_student_text_names_no_tool():
    for seed in range(3):
        for fmt in ("latex", "markdown"):
            text = " ".join(render.render_exercise(instance("batch_norm", seed=seed), fmt)).lower()
            for word in ("seed", "family", "worksheetgen"):
                assert word not in text


def test_a_real_disagreement_stops_the_build():
    ex = instance("batch_norm", seed=5)
    cross_check(ex)
    a = ex.answers["dx"]
    a.value = a.value.applyfunc(lambda v: v * (1 + sp.Rational(1, 10**7)))
    with pytest.raises(CheckError, match="dx"):
        cross_check(ex)


def test_records_are_declared():
    fam = get_family("batch_norm")
    ex = instance("batch_norm", seed=2)
    assert isinstance(ex.given, type(fam).Given) and isinstance(ex.data, type(fam).Data)
    assert not hasattr(fam, "rejection")


def test_fully_pinned_degenerate_batch_is_the_instructors_choice():
    # m = 2 always normalizes to ±1; pinned, the rule is not applied.
    ex = instance("batch_norm", X=[1, 3], gamma=[1], beta=[0], parts=["forward"])
    assert list(ex.answers["xhat"].value) == [-1, 1]


# -- limits ---------------------------------------------------------------------------------------

def _help(name):
    return next(p.help for p in get_family("batch_norm").params if p.name == name)


def test_limits_are_the_help_texts():
    assert "-1000 to 1000" in _help("X") and "2 to 8 rows" in _help("X")
    instance("batch_norm", X=[[1000], [-1000], [0]], gamma=[1], beta=[0], parts=["forward"])
    with pytest.raises(WorksheetError) as err:
        instance("batch_norm", X=[1001, 0, 1], parts=["forward"])
    assert err.value.field == "params.X" and "-1000 to 1000" in err.value.allowed
    m = re.search(r"(\d+) to (\d+) rows", _help("X"))
    with pytest.raises(WorksheetError):
        instance("batch_norm", X=list(range(int(m.group(2)) + 1)), parts=["forward"])


def test_limits_are_checked_before_any_draw(monkeypatch):
    fam = get_family("batch_norm")
    monkeypatch.setattr(fam, "sample", lambda *a: pytest.fail("sample() ran"))
    with pytest.raises(WorksheetError) as err:
        parse_params(fam.params, {"X": [1, 1, 1]}, validate=fam.validate)
    assert err.value.field == "params.X" and "constant" in str(err.value)


@pytest.mark.parametrize("params, field", [
    (dict(parts=["forward", "forward"]), "parts"),
    (dict(X=[[1, 2], [3, 4]], gamma=[1]), "gamma"),
    (dict(X=[1, 2, 3], batch_size=4), "batch_size"),
    (dict(running_var=[0]), "running_var"),
    (dict(momentum=0), "momentum"),
    (dict(momentum=2), "momentum"),
    (dict(epsilon=-1), "epsilon"),
    (dict(X=[1, 2, 3], upstream=[1, 2]), "upstream"),
    (dict(gamma_grid=[0, 0, 1]), "gamma_grid"),
    (dict(running_var_grid=[0, 1, 0.5]), "running_var_grid"),
    (dict(value_grid=[1, 1, 1]), "value_grid"),
    (dict(batch_size=9), "batch_size"),
])
def test_bad_input_names_the_field(params, field):
    with pytest.raises(WorksheetError) as err:
        instance("batch_norm", **params)
    assert err.value.field == f"params.{field}"


# -- quality (issue 10): the draws teach ----------------------------------------------------------

@pytest.mark.slow
def test_quality_gate_over_200_seeds():
    assert_gate_passes("batch_norm", 200)
    assert_gate_passes("batch_norm", 60, features=3)
    assert_gate_passes("batch_norm", 60, pleasant=False, epsilon=0.00001)


@pytest.mark.parametrize("params, flags", [
    (dict(parts=["forward"], X=[-1, 1, 3, -3]), {"zero batch mean"}),
    (dict(parts=["forward"], X=[2, 2, 2], epsilon=0.1), {"constant feature (variance 0)", "variance dominated by ε"}),
    (dict(parts=["forward"], X=[1, 2, 3], epsilon=0.1), {"variance dominated by ε"}),  # σ² = 2/3 < 10 ε
    (dict(parts=["forward"], X=[1, 3]), {"normalized values all ±1"}),
    # 0.9 · (-1) + 0.1 · 9 = 0
    (dict(parts=["forward", "running"], X=[6, 9, 12], running_mean=[-1], running_var=[1]), {"zero running mean"}),
    # x̂ = (3 - 1)/√4 = 1, y = 1 · 1 - 1 = 0
    (dict(parts=["forward", "inference"], X=[1, 2, 3, 6], beta=[-1], running_mean=[1], running_var=[4], x_test=[3]),
     {"zero inference output"}),
    (dict(parts=["forward", "inference"], X=[1, 3, 5, 7], beta=[1], running_mean=[4], running_var=[5], x_test=[3]),
     {"inference and batch statistics agree"}),
    (dict(parts=["forward", "backward"], X=[1, 2, 3, 6], upstream=[1, -1, 1, -1]), {"zero gradient"}),
    (dict(parts=["forward", "backward"], X=[1, 2, 3, 6], upstream=[1, 1, 1, 1]),
     {"upstream gradient constant over the batch"}),
    # ∂L/∂y linear in x: ∂L/∂x = 0 exactly at ε = 0, ±9.2·10^-6 with ε = 10^-5
    (dict(parts=["forward", "backward"], X=[1, 2, 3], epsilon=0.00001, upstream=[1, 0.5, 0]),
     {"entry within 0.001 of 0 but not 0"}),
])
def test_each_quality_flag_fires(params, flags):
    assert flags <= raised(instance("batch_norm", **{"gamma": [1], "beta": [0], **params}))


def test_good_draws_raise_no_flag():
    assert not raised(instance("batch_norm", **TEXTBOOK))
    for seed in range(3):
        assert not raised(instance("batch_norm", seed=seed))
