import math
import re

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

NUMERIC = ["scores", "weights", "output", "masked"]


# -- an independent reference: plain Python loops, no NumPy linear algebra ---------------------

def ref_attention(Q, K, V, causal=False):
    d_k = len(Q[0])
    S = [[sum(a * b for a, b in zip(q, k)) / math.sqrt(d_k) for k in K] for q in Q]
    A = []
    for i, row in enumerate(S):
        keep = [not causal or j <= i for j in range(len(row))]
        top = max(s for s, ok in zip(row, keep) if ok)
        e = [math.exp(s - top) if ok else 0.0 for s, ok in zip(row, keep)]
        A.append([x / sum(e) for x in e])
    O = [[sum(a * v[c] for a, v in zip(arow, V)) for c in range(len(V[0]))] for arow in A]
    return S, A, O


def ref_counts(d, h, T, f):
    """As PyTorch counts nn.MultiheadAttention (in_proj_weight 3d×d, in_proj_bias 3d, out_proj
    Linear(d, d)), nn.Linear and nn.LayerNorm."""
    in_proj, out_proj = 3 * d * d, d * d
    return {
        "head_dim": d // h,
        "mha_nobias": in_proj + out_proj,
        "mha_bias": in_proj + 3 * d + out_proj + d,
        "attn_weights": h * T * T,
        "ffn": (d * f + f) + (f * d + d),
        "layernorm": 2 * (d + d),
    }


def arr(ex, key):
    return np.array(value(ex, key), dtype=float)


def floats(M):
    return [[float(v) for v in row] for row in sp.Matrix(M).tolist()]


def check_against_reference(ex):
    g = ex.given
    if any(p in g.parts for p in NUMERIC):
        Q, K, V = floats(g.Q), floats(g.K), floats(g.V)
        S, A, O = ref_attention(Q, K, V)
        if "scores" in g.parts:
            assert arr(ex, "scores") == pytest.approx(np.array(S), rel=1e-12, abs=1e-14)
        if "weights" in g.parts:
            assert arr(ex, "weights") == pytest.approx(np.array(A), rel=1e-12, abs=1e-14)
            for row in arr(ex, "weights"):
                assert sum(row) == pytest.approx(1, rel=1e-14)
        if "output" in g.parts:
            assert arr(ex, "output") == pytest.approx(np.array(O), rel=1e-11, abs=1e-13)
        if "masked" in g.parts:
            _, Am, Om = ref_attention(Q, K, V, causal=True)
            assert arr(ex, "masked_weights") == pytest.approx(np.array(Am), rel=1e-12, abs=1e-14)
            assert arr(ex, "masked_output") == pytest.approx(np.array(Om), rel=1e-11, abs=1e-13)
            assert arr(ex, "masked_output")[0] == pytest.approx(V[0])  # the first token sees itself
    if any(p in g.parts for p in ("heads", "block")):
        ref = ref_counts(g.d_model, g.heads, g.seq_len, g.d_ff)
        keys = [k for k in ref if k in ex.answers]
        for k in keys:
            assert ex.answers[k].value == ref[k], k
        if "block" in g.parts:
            assert ex.answers["block"].value == ref["mha_bias"] + ref["ffn"] + ref["layernorm"]


# -- hand-worked values -----------------------------------------------------------------------

def test_hand_worked_instance():
    # d_k = 4: scores are q·k / 2. q1·k1 = 2, q1·k2 = 0, q2·k1 = 0, q2·k2 = -2.
    ex = instance("attention", Q=[[1, 1, 0, 0], [0, 0, 1, -1]], K=[[1, 1, 0, 0], [0, 0, -1, 1]],
                  V=[[2, 0], [0, 4]], parts=NUMERIC)
    assert value(ex, "scores") == [[1, 0], [0, -1]]
    e = math.e
    a1 = [e / (e + 1), 1 / (e + 1)]  # softmax(1, 0) = (0.7311, 0.2689)
    a2 = [1 / (1 + 1 / e), (1 / e) / (1 + 1 / e)]  # softmax(0, -1) = (0.7311, 0.2689)
    assert arr(ex, "weights") == pytest.approx(np.array([a1, a2]), rel=1e-14)
    assert arr(ex, "weights")[0][0] == pytest.approx(0.7311, abs=5e-5)
    assert arr(ex, "output") == pytest.approx(np.array([[2 * a1[0], 4 * a1[1]], [2 * a2[0], 4 * a2[1]]]), rel=1e-14)
    # Causal: token 1 sees only itself, token 2 is unchanged (it sees both keys).
    assert arr(ex, "masked_weights") == pytest.approx(np.array([[1, 0], a2]), rel=1e-14)
    assert value(ex, "masked_output")[0] == [2, 0]


def test_the_transformer_paper_counts():
    # "Attention is all you need", base model: d_model 512, 8 heads, d_ff 2048.
    ex = instance("attention", parts=["heads", "block"], d_model=512, heads=8, seq_len=10, d_ff=2048)
    assert ex.answers["head_dim"].value == 64
    assert ex.answers["mha_nobias"].value == 4 * 512 * 512 == 1_048_576
    assert ex.answers["mha_bias"].value == 1_050_624
    assert ex.answers["attn_weights"].value == 8 * 100
    assert ex.answers["ffn"].value == 2_099_712
    assert ex.answers["layernorm"].value == 2048
    # One encoder layer of the base model: 3,152,384 parameters.
    assert ex.answers["block"].value == 3_152_384


def test_non_square_dk_is_exact():
    ex = instance("attention", seed=3, d_k=2, parts=["scores", "weights"])
    S = sp.Matrix(ex.answers["scores"].value)
    assert any(not v.is_Rational for v in S)  # multiples of 1/√2
    check_against_reference(ex)
    _, solution = render.render_exercise(ex, "markdown")
    assert r"\sqrt{2}" in solution and r"S \approx" in solution


def test_solution_shows_the_stages():
    ex = instance("attention", Q=[[1, 1, 0, 0], [0, 0, 1, -1]], K=[[1, 1, 0, 0], [0, 0, -1, 1]],
                  V=[[2, 0], [0, 4]])
    problem, solution = render.render_exercise(ex, "markdown")
    assert r"\operatorname{softmax}\left(\frac{QK^T}{\sqrt{d_k}}\right) V" in problem
    assert r"s_{11} &= \frac{1 \cdot 1 + 1 \cdot 1 + 0 \cdot 0 + 0 \cdot 0}{2} = \frac{2}{2} = 1" in solution
    assert r"Z_{1} &= e^{1} + e^{0} \approx 3.7183" in solution
    assert r"a'_{12} &= \frac{e^{-\infty}}{Z'_{1}} = 0" in solution
    assert r"M = \begin{bmatrix} 0 & -\infty \\ 0 & 0 \end{bmatrix}" in solution
    for text in (problem, solution):
        assert not re.search(r"\bseed\b|\bfamily\b|worksheetgen", text, re.I)


@pytest.mark.parametrize("parts", [["scores"], ["weights"], ["output"], ["masked"], ["heads"], ["block"],
                                   ["output", "block"]])
def test_parts_are_selectable(parts):
    ex = instance("attention", seed=1, parts=parts)
    keys = {"scores": {"scores"}, "weights": {"weights"}, "output": {"output"},
            "masked": {"masked_weights", "masked_output"},
            "heads": {"head_dim", "mha_nobias", "mha_bias", "attn_weights"},
            "block": {"ffn", "layernorm", "block"}}
    assert set(ex.answers) == set().union(*(keys[p] for p in parts))
    for fmt in ("latex", "markdown"):
        problem, solution = render.render_exercise(ex, fmt)
        assert problem.strip() and solution.strip() and "None" not in problem + solution
    check_against_reference(ex)


def test_random_instances_against_a_reference():
    for seed in range(5):
        ex = instance("attention", seed=seed)
        check_against_reference(ex)
        S = sp.Matrix(ex.given.Q) * sp.Matrix(ex.given.K).T
        assert all(len(set(S.row(i))) > 1 for i in range(S.rows)), "no uniform attention row"


@pytest.mark.slow
def test_random_instances_against_a_reference_many_seeds():
    for seed in range(200):
        check_against_reference(instance("attention", seed=seed))
    for seed in range(40):
        check_against_reference(instance("attention", seed=seed, d_k=3, d_v=3, n=4, m=4,
                                         qk_grid=[-2, 2, 0.5], v_grid=[-10, 10, 0.5]))


def test_drawn_count_settings_divide():
    for seed in range(20):
        g = instance("attention", seed=seed, parts=["heads"]).given
        assert g.d_model % g.heads == 0 and g.d_model // g.heads >= 8
    g = instance("attention", seed=1, parts=["heads"], d_model=97).given
    assert g.heads == 1  # a prime width: one head


def test_a_real_disagreement_stops_the_build():
    ex = instance("attention", seed=4)
    cross_check(ex)
    answer = ex.answers["output"]
    answer.value = answer.value * (1 + sp.Rational(1, 10**7))
    with pytest.raises(CheckError, match="output"):
        cross_check(ex)
    ex = instance("attention", seed=4)
    ex.answers["mha_bias"].value += 1
    with pytest.raises(CheckError, match="mha_bias"):
        cross_check(ex)


def test_largest_allowed_inputs_are_cheap_and_agree():
    ex = instance("attention", Q=[[10] * 8] * 5, K=[[10] * 8, [-10] * 8, [10, -10] * 4, [-10, 10] * 4, [10] * 4 + [-10] * 4],
                  V=[[10, -10, 10, -10]] * 4 + [[-10, 10, -10, 10]], parts=NUMERIC,
                  d_model=100_000, heads=1024 if 100_000 % 1024 == 0 else 1000)
    check_against_reference(ex)


def test_records_are_declared():
    fam = get_family("attention")
    ex = instance("attention", seed=1)
    assert isinstance(ex.given, type(fam).Given) and isinstance(ex.data, type(fam).Data)
    assert not hasattr(fam, "rejection")


def _help(param):
    return next(p.help for p in get_family("attention").params if p.name == param)


def test_limits_are_the_help_texts():
    assert "from -10 to 10" in _help("Q") and "1 to 8" in _help("d_k") and "1 to 5" in _help("n")
    instance("attention", Q=[[10, -10]], K=[[1, 2], [2, 1]], V=[[1], [2]], parts=["scores"])
    with pytest.raises(WorksheetError) as err:
        instance("attention", Q=[[10.5, 1]], K=[[1, 2], [2, 1]], V=[[1], [2]])
    assert err.value.field == "params.Q" and "from -10 to 10" in err.value.allowed


def test_limits_are_checked_before_any_draw(monkeypatch):
    fam = get_family("attention")
    monkeypatch.setattr(fam, "sample", lambda *a: pytest.fail("sample() ran"))
    with pytest.raises(WorksheetError) as err:
        parse_params(fam.params, {"d_model": 10, "heads": 3}, validate=fam.validate)
    assert err.value.field == "params.heads"


@pytest.mark.parametrize("params, field", [
    (dict(Q=[[1, 2]], K=[[1, 2, 3]]), "K"),
    (dict(Q=[[1, 2]], d_k=3), "Q"),
    (dict(K=[[1, 2], [3, 4]], V=[[1], [2], [3]]), "V"),
    (dict(Q=[[1, 2]] * 6), "Q"),
    (dict(V=[[1] * 5]), "V"),
    (dict(n=2, m=3), "m"),  # a causal mask needs n = m
    (dict(n=1, parts=["masked"]), "n"),
    (dict(d_model=64, heads=5), "heads"),
    (dict(qk_grid=[0, 0, 1]), "qk_grid"),
    (dict(qk_grid=[-11, 1, 1]), "qk_grid"),
    (dict(parts=["scores", "scores"]), "parts"),
    (dict(d_k=9), "d_k"),
])
def test_bad_input_names_the_field(params, field):
    with pytest.raises(WorksheetError) as err:
        instance("attention", **params)
    assert err.value.field == f"params.{field}"


def test_cross_attention_without_mask():
    ex = instance("attention", seed=2, n=2, m=3, parts=["scores", "weights", "output"])
    assert arr(ex, "weights").shape == (2, 3)
    check_against_reference(ex)


def test_pinned_example():
    from pathlib import Path

    from worksheetgen.spec import load_spec

    spec = load_spec(Path(__file__).resolve().parent.parent / "examples" / "pinned_attention.toml")
    numeric, counts = (instance("attention", **e.params) for e in spec.exercises)
    assert value(numeric, "scores") == [[1, 0], [0, -1]]
    check_against_reference(numeric)
    assert counts.answers["block"].value == 3_152_384


# -- quality (issue 10): the draws teach ----------------------------------------------------------

@pytest.mark.slow
def test_quality_gate_over_200_seeds():
    report = assert_gate_passes("attention", 200)
    assert report.draws < 1.1 * 200  # the sampler's cheap pass leaves little to the rules
    assert_gate_passes("attention", 60, n=3, m=3, d_k=2, qk_grid=[-2, 2, 1])


@pytest.mark.parametrize("params, flags", [
    (dict(Q=[[1, 0], [0, 1]], K=[[0, 1], [0, -1]], V=[[1, 2], [3, 4]]), {"uniform attention row"}),
    (dict(Q=[[1, 1], [1, 1]], K=[[1, 0], [0, 1]], V=[[1, 2], [3, 4]]), {"repeated query or key"}),
    (dict(Q=[[1, 0], [0, 1]], K=[[1, 0], [0, 1]], V=[[1, 2], [1, 2]]), {"all value vectors equal"}),
    # scores ±8/√2: the first query puts 0.99999 on the first key
    (dict(Q=[[4, 4], [1, 0]], K=[[1, 1], [-1, -1]], V=[[1, 2], [3, 4]]),
     {"attention weights nearly one-hot", "attention weight below 0.001"}),
    # scores 0.5 and 0.7 beside -9.5: the third key is ignored though no weight reaches 0.95
    (dict(Q=[[2, 0, 0, 0]], K=[[0.5, 0, 0, 0], [0.7, 0, 0, 0], [-9.5, 0, 0, 0]], V=[[1], [2], [3]]),
     {"attention weight below 0.001"}),
])
def test_each_quality_flag_fires(params, flags):
    assert flags <= raised(instance("attention", parts=["scores", "weights", "output"], **params))


def test_good_draws_raise_no_flag():
    assert not raised(instance("attention", parts=["scores", "weights", "output"], Q=[[1, 0], [0, 1]],
                               K=[[1, 0], [0, 1]], V=[[1, 2], [3, 4]]))
    for seed in range(3):
        ex = instance("attention", seed=seed)
        assert not raised(ex)
        assert max(float(w) for r in ex.data.rows for w in r.weights) < 0.95
