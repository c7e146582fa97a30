"""The fast paths give what the general ones give: the key's JSON writer, the shown text read off
a key entry, products and integer powers of closed forms, the sign test of count_ops, the signs of
rationals, the matrix cross-check, the draws screened before solving, and the cache of derived
activation properties (kept, stale, damaged, unwritable)."""

from __future__ import annotations

import itertools
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from worksheetgen import answerkey, derivecache, nets
from worksheetgen.activations import add, exp, mul, power
from worksheetgen.answers import MatrixAnswer, NumberAnswer, Rule, make_answer


@pytest.mark.parametrize("doc", [
    {"a": [1, 2.5, -0.0, 1e300, 10**30, True, False, None, "é\"\n\u2028\\x", (1, 2), [], {}]},
    {1: 2, 2.5: 3, False: 4, None: 5, "k": {"x": [[1, [2]], [[]]]}},
    [float("nan"), float("inf"), -float("inf"), np.float64(0.1)],
    [], {}, "s", 3, 0.1,
])
def test_key_json_is_json_dumps_byte_for_byte(doc: object) -> None:
    assert answerkey.dumps(doc) == json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def test_encoded_entries_are_placed_as_json_dumps_would_write_them() -> None:
    entry = {"id": "x", "answers": [{"exact": ["1/3", "2"], "float": [0.1, 2.0]}], "meta": {}}
    for doc in ({"exercises": [entry, entry]}, {"students": [{"id": "S1", "exercises": [entry]}]}, [entry]):
        plain = answerkey.dumps(doc)
        text = json.dumps(doc)
        placed = json.loads(text, object_hook=lambda d: answerkey.encoded(d) if "answers" in d else d)
        assert answerkey.dumps(placed) == plain


@pytest.mark.parametrize("bad", [{"x": np.bool_(True)}, {(1, 2): 3}, {"s": {1, 2}}])
def test_key_json_refuses_what_json_dumps_refuses(bad: object) -> None:
    with pytest.raises(TypeError):
        answerkey.dumps(bad)


def _closed_forms() -> list[sp.Expr]:
    s = add(1, exp(sp.Rational(-3, 10)))
    return [s, add(sp.Rational(1, 2), exp(sp.Rational(7, 10))),
            add(1, exp(add(sp.Rational(-1, 5), mul(sp.Rational(3, 10), sp.Pow(s, -1)))))]


def test_integer_powers_of_powers_are_sympys() -> None:
    for s in _closed_forms():
        for m in (-3, -2, -1, 2, 3):
            for n in (-2, -1, 0, 1, 2, 3):
                base = sp.Pow(s, m)
                fast, slow = power(base, sp.Integer(n)), sp.Pow(base, sp.Integer(n))
                assert sp.srepr(fast) == sp.srepr(slow)


def test_count_ops_is_sympys() -> None:
    values = [v for s in _closed_forms() for v in (s, -s, mul(sp.Rational(-2, 3), s), sp.Pow(s, -2),
                                                   add(sp.Rational(-1, 2), mul(-1, exp(sp.Rational(1, 3)))))]
    for v in values:
        assert nets.count_ops(v) == sp.count_ops(v), v


def test_shown_text_from_the_key_entry_is_shown() -> None:
    s = _closed_forms()[0]
    answers = [NumberAnswer("x", "x", sp.Pow(s, -1)), NumberAnswer("r", "r", sp.Rational(1, 3)),
               MatrixAnswer("m", "m", sp.Matrix([[sp.Rational(1, 7), s], [2, sp.Rational(-1, 8)]])),
               make_answer("i", "i", 3, kind="integer"), make_answer("b", "b", True, kind="boolean")]
    for a in answers:
        assert a.shown_from(a.entry(4, Rule())) == a.shown(4)


def _use_cache(monkeypatch: pytest.MonkeyPatch, base: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(base))
    derivecache.cache_folder.cache_clear()


def test_derived_values_are_kept_and_read_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _use_cache(monkeypatch, tmp_path)
    source = tmp_path / "definition.py"
    source.write_text("one\n")
    calls = []

    def make() -> dict[str, object]:
        calls.append(1)
        return {"lim": sp.exp(-2) / 3, "flag": True, "sides": [{"at": sp.Integer(0)}]}

    first = derivecache.remembered("test", [str(source)], "v", make)
    again = derivecache.remembered("test", [str(source)], "v", make)
    assert len(calls) == 1 and derivecache.structure(again) == derivecache.structure(first)
    # A changed source is a new folder: derived again, the old value never read.
    source.write_text("two\n")
    derivecache.cache_folder.cache_clear()
    derivecache.remembered("test", [str(source)], "v", make)
    assert len(calls) == 2
    # A damaged file is derived again and replaced.
    kept = derivecache.cache_folder("test", (str(source),)) / "v.pickle"
    kept.write_bytes(b"not a pickle")
    value = derivecache.remembered("test", [str(source)], "v", make)
    assert derivecache.structure(value) == derivecache.structure(first) and len(calls) == 3
    assert derivecache.structure(pickle.loads(kept.read_bytes())) == derivecache.structure(first)


def test_an_unwritable_cache_is_no_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder would be")
    _use_cache(monkeypatch, blocker)
    calls = []
    value = derivecache.remembered("test", [__file__], "v", lambda: calls.append(1) or sp.Rational(1, 3))
    value = derivecache.remembered("test", [__file__], "v", lambda: calls.append(1) or sp.Rational(1, 3))
    assert value == sp.Rational(1, 3) and len(calls) == 2


def test_activation_properties_from_the_cache_are_the_derived_ones(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from worksheetgen.exercises import activation_table as at

    _use_cache(monkeypatch, tmp_path)
    for name, alpha in (("elu", sp.Integer(1)), ("leaky_relu", sp.Rational(1, 100)), ("sigmoid", sp.Integer(0))):
        derived = at._derive_properties(name, alpha)
        at.derive_properties.cache_clear()
        kept = at.derive_properties(name, alpha)  # derived and stored
        at.derive_properties.cache_clear()
        read = at.derive_properties(name, alpha)  # read back
        assert derivecache.structure(read) == derivecache.structure(kept) == derivecache.structure(derived)
    assert len(list((tmp_path / "worksheetgen").glob("activation-properties-*/*.pickle"))) == 3
    at.derive_properties.cache_clear()


def test_products_of_powers_of_e_are_sympys() -> None:
    # Powers of e combine in SymPy's Mul only when their exponents differ in the coefficient.
    R = sp.Rational
    e1 = exp(R(-3, 2))
    e2 = exp(mul(R(1, 2), add(e1, -1)))
    pool = [e1, e2, exp(mul(R(3, 10), e2)), exp(mul(R(-7, 10), e2)), exp(R(1, 3)), sp.E, add(1, e1),
            sp.Pow(add(1, e1), -1), mul(R(2, 3), e2), mul(-1, e1), exp(add(R(1, 2), e1)), R(-3, 2), R(2)]
    for k in (2, 3):
        for factors in itertools.combinations(pool, k):
            for order in (factors, factors[::-1]):
                assert sp.srepr(mul(*order)) == sp.srepr(sp.Mul(*order))


def test_rational_signs_are_sympys() -> None:
    from sympy.core.assumptions import _ask

    from worksheetgen import sympyfast

    sympyfast.install()
    values = [sp.Rational(p, q) for p in range(-4, 5) for q in (1, 2, 3)] + [sp.Integer(-10**30), sp.S.Half]
    for v in values:
        for fact in sympyfast.SIGN_FACTS:
            fresh = sp.Integer(v.p) if v.q == 1 else sp.Rational(v.p, v.q)
            if fresh._assumptions is fresh.default_assumptions:
                fresh._assumptions = fresh.default_assumptions.copy()
            assert getattr(v, f"is_{fact}") == _ask(fact, fresh), (v, fact)


def test_matrix_agreement_is_np_allclose() -> None:
    from worksheetgen.answers import CHECK_ATOL, CHECK_RTOL, _allclose, to_float

    rng = np.random.default_rng(5)
    values = [sp.Rational(1, 3), sp.Integer(0), sp.Rational(-7, 10), sp.exp(sp.Rational(1, 2)), sp.Integer(10**20)]
    for trial in range(400):
        rows, cols = [(1, 1), (2, 1), (2, 2), (3, 2)][trial % 4]
        m = sp.Matrix(rows, cols, [values[int(i)] for i in rng.integers(0, len(values), rows * cols)])
        f = np.array(to_float(m), dtype=float)
        b = [f * (1 + 1e-9), f + 1.5e-12, f.T.copy(), f.ravel(), f + rng.normal(size=f.shape) * 1e-9,
             np.where(np.arange(f.size).reshape(f.shape) == 0, np.inf, f)][trial % 6]
        expected = (f.size == b.size and not (b.ndim == 2 and b.shape != f.shape)
                    and bool(np.allclose(f, b.reshape(f.shape), rtol=CHECK_RTOL, atol=CHECK_ATOL)))
        assert _allclose(m, b) == expected


def test_draws_that_plainly_break_a_rule_are_the_ones_the_exact_rules_reject(monkeypatch: pytest.MonkeyPatch) -> None:
    from worksheetgen.family import Family
    from worksheetgen.instance import make_instance
    from worksheetgen.registry import get_family
    from worksheetgen.spec import load_spec

    spec = load_spec(Path(__file__).parent.parent / "examples" / "exam.toml")
    exercises = [e for e in spec.exercises if e.family in ("backprop", "activation_table")]

    def draw_all() -> list[tuple[int, str]]:
        out = []
        for exercise in exercises:
            family = get_family(exercise.family)
            for i in range(12):
                inst = make_instance(family, exercise.options, sheet_seed=spec.seed, variant=f"S{i}",
                                     exercise_id=exercise.id, params=exercise.params)
                out.append((inst.attempt, answerkey.dumps(answerkey.jsonable(inst.given))))
        return out

    screened = draw_all()
    monkeypatch.setattr(Family, "plainly_violated", lambda self, given, drawn: None)
    assert draw_all() == screened


def test_the_chain_passes_the_gradient_when_no_factor_is_zero() -> None:
    from worksheetgen.exercises import scalar_chain
    from worksheetgen.family import Solved
    from worksheetgen.registry import get_family
    from worksheetgen.seeding import generator

    family = get_family("scalar_chain")
    seen = set()
    dead = {"w1": sp.Integer(-1), "x": sp.Integer(1)}  # ReLU(-1) = 0 blocks the chain
    for activation, pinned in (("relu", {}), ("relu", dead), ("elu", {}), ("leaky_relu", {}), ("sigmoid", {})):
        options = {p.name: p.default for p in family.params} | {"activation": activation} | pinned
        for seed in range(20):
            given = family.sample(generator(seed), options)
            d = family.solve(given).data
            product = d.g2 * d.a1 != 0 and d.g2 * given.w2 * d.g1 * given.x != 0
            assert scalar_chain._chain_passes_gradient(given, Solved([], d)) == product
            seen.add(product)
    assert seen == {True, False}


def _same_matrix(fast: sp.Matrix, slow: sp.Matrix) -> None:
    """The same matrix, down to SymPy's representation: domain, entries (their types too) and
    the order in which its sparse rows hold them."""
    assert type(fast) is type(slow) and fast.shape == slow.shape
    a, b = fast._rep, slow._rep
    assert a == b and a.domain == b.domain and type(a.rep) is type(b.rep)
    assert [(i, list(row.items())) for i, row in a.rep.items()] == [(i, list(row.items())) for i, row in b.rep.items()]
    assert [type(v) for row in a.rep.values() for v in row.values()] == \
           [type(v) for row in b.rep.values() for v in row.values()]


def test_matrices_built_fast_are_sympys() -> None:
    from worksheetgen import sympyfast

    R = sp.Rational
    closed = add(1, exp(R(-3, 10)))
    pool = [R(1, 2), R(-3, 10), sp.Integer(0), sp.Integer(2), sp.Integer(-1), R(10**30, 7), closed,
            sp.Float("0.25", 50), sp.Float(0, 50), mul(R(1, 3), closed), sp.S.Zero, sp.S.One]
    rng = np.random.default_rng(3)
    for trial in range(600):
        rows, cols = [(1, 1), (2, 1), (1, 3), (2, 2), (3, 2), (4, 3)][trial % 6]
        # Every kind of mix: integers only, rationals, with closed forms and floats.
        kinds = pool[: [2, 5, 6, len(pool)][trial % 4]] if trial % 8 else [sp.Integer(0)]
        flat = [kinds[int(i)] for i in rng.integers(0, len(kinds), rows * cols)]
        _same_matrix(sympyfast.matrix(rows, cols, flat), sp.Matrix._new(rows, cols, list(flat), copy=False))
        _same_matrix(sympyfast.matrix(rows, cols, flat), sp.Matrix(rows, cols, flat))
        if rows == 1:
            _same_matrix(sympyfast.matrix(rows, cols, flat), sp.Matrix([flat]))
    assert nets.vector([1, R(1, 2)]) == sp.Matrix([1, R(1, 2)])


def test_tanh_derivative_is_one_minus_tanh_squared() -> None:
    from worksheetgen import activations

    R = sp.Rational
    points = [R(k, 4) for k in range(-16, 17)] + [add(R(1, 3), mul(R(-1, 2), exp(R(1, 5)))),
                                                  mul(R(3, 10), power(add(1, exp(R(-1, 2))), sp.Integer(-1)))]
    for z in points:
        t = activations._tanh_exact(z, 0)
        assert sp.srepr(activations._tanh_grad_exact(z, 0)) == sp.srepr(1 - t ** 2), z


def test_remembered_covering_sets_are_the_derived_ones() -> None:
    from worksheetgen.exercises import activation_table as at

    options = {"leaky_alpha": sp.Rational(1, 100), "elu_alpha": sp.Integer(1)}
    for pool in (list(at.ORDER), ["relu", "tanh", "sigmoid", "identity"]):
        for n in (1, 2, 3):
            for properties in (["vanishing", "zero_centered"], list(at.PROPERTIES), []):
                expected = [c for c in itertools.combinations([f for f in at.ORDER if f in pool], n)
                            if at.covers(c, properties, options)]
                assert at.covering_sets(pool, n, properties, options) == expected
                assert at.covering_sets(pool, n, properties, options) == expected  # remembered


def test_an_answers_floats_are_worked_out_once_and_not_pickled() -> None:
    from worksheetgen.answers import to_float

    s = _closed_forms()[0]
    for answer in (NumberAnswer("x", "x", sp.Pow(s, -1)), MatrixAnswer("m", "m", sp.Matrix([[sp.Rational(1, 7), s]]))):
        floats = answer.floats()
        assert floats == to_float(answer.value) and answer.floats() is floats
        copy = pickle.loads(pickle.dumps(answer))
        assert "_floats" not in copy.__dict__ and copy == answer and copy.floats() == floats
        answer.value = answer.value * 2
        assert answer.floats() == to_float(answer.value) != floats


def test_remembered_sampled_properties_are_sampled_ones() -> None:
    from worksheetgen import activations
    from worksheetgen.exercises import activation_table as at

    for name in at.ORDER:
        for alpha in (0.01, 1.0, 2.0):
            g = activations.get(name)
            assert at.sampled_properties_of(name, alpha) == at.sampled_properties(lambda z: g.numeric(z, alpha))


def test_signs_of_rationals_and_known_values_are_sympys() -> None:
    from worksheetgen import activations

    R = sp.Rational
    closed = nets.settle(add(R(-1, 2), exp(R(1, 3))), activations.MP.mpf(-0.5) + activations.MP.exp(activations.MP.mpf(1) / 3))
    for z in [R(k, 3) for k in range(-4, 5)] + [sp.Integer(0), sp.Float("-0.25", 50), closed, -closed]:
        assert activations.positive(z) == bool(z > 0) and activations.nonnegative(z) == bool(z >= 0), z


def test_zero_matrices_of_rationals_are_read_off_their_representation() -> None:
    from worksheetgen import drawrules, sympyfast

    R = sp.Rational
    for flat in ([0, 0, 0, 0], [0, R(1, 3), 0, 0], [R(-1, 2), 2, 0, 1], [0, 0, 0, exp(R(1, 2))], [0, 0, 0, sp.Float(0.5, 50)]):
        m = sp.Matrix(2, 2, flat)
        zero = sympyfast.rational_zero(m)
        assert zero is None or zero == all(v == 0 for v in m)
        assert drawrules.is_zero_answer(MatrixAnswer("m", "m", m)) == all(v == 0 for v in m)
    assert sympyfast.rational_zero(sp.Matrix([[0, exp(R(1, 2))]])) is None


def test_phi_is_printed_as_from_its_40_digit_value() -> None:
    from decimal import ROUND_HALF_UP, Decimal

    from worksheetgen.exercises.activation_table import _phi_text

    for z in [sp.Rational(k, 20) for k in range(-80, 81) if k] + [sp.Rational(1, 3), sp.Rational(-7, 3)]:
        for digits in (2, 4):
            value = Decimal(str(sp.N((1 + sp.erf(z / sp.sqrt(2))) / 2, 40)))
            expected = format(value.quantize(Decimal(1).scaleb(-(digits + 3)), rounding=ROUND_HALF_UP), "f")
            assert _phi_text(z, digits) == expected, (z, digits)
