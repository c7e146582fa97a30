"""The rendering's fast paths give what the general ones give: the sign of a value a template
asks (mathfmt.nonnegative), the floats of a key entry, powers of sums while a closed form's
powers of e become symbols, a given's matrix of rationals in the key, an aligned row cut at its
&, the dense-network templates' pieces written in Python, the macro texts a recording's play
keeps, and exact texts remembered at any level."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import sympy as sp
from sympy.printing.str import StrPrinter

from worksheetgen import answerkey, mathfmt, texfit
from worksheetgen.activations import add, exp, mul, power
from worksheetgen.answers import MatrixAnswer, NumberAnswer, Rule, to_float


def _values() -> list[sp.Basic]:
    rationals = [sp.Rational(p, q) for p, q in itertools.product((-7, -1, 0, 1, 3, 22), (1, 2, 3, 10))]
    forms = []
    for r in rationals[:12]:
        e = exp(r)
        forms += [e, add(e, -1), add(sp.Rational(-1, 2), e), mul(r, e), power(add(1, e), sp.S.NegativeOne),
                  add(1, mul(-1, power(add(1, exp(add(r, mul(sp.Rational(3, 10), e)))), sp.S.NegativeOne))),
                  sp.log(sp.Rational(13, 20)) * r, add(sp.log(sp.Rational(22, 25)), sp.Rational(1, 8))]
    return rationals + forms + [sp.Float("0.25", 30), sp.Float("-1e-20", 30), sp.sqrt(2) - 1, 1 - sp.sqrt(2)]


def test_signs_of_shown_values_are_sympys() -> None:
    for value in _values():
        mathfmt.num(value)  # as in a template: the value printed, then its sign asked
        assert mathfmt.nonnegative(value) is bool(value >= 0), value
        assert mathfmt.nonnegative.__wrapped__(value) is bool(value >= 0), value  # not printed first


def test_key_floats_are_the_values_floats() -> None:
    values = [v for v in _values() if v.is_number]
    for value in values:
        entry = NumberAnswer("x", "x", value).entry(4, Rule())
        assert entry["float"] == to_float(value)
    matrix = sp.Matrix([values[:3], values[-3:]])
    assert MatrixAnswer("m", "m", matrix).entry(4, Rule())["float"] == to_float(matrix)


def test_powers_of_symbolic_sums_are_sympys() -> None:
    # The closed-form printer's walk puts symbols in place of powers of e; Pow of such sums
    # skips Add._eval_power's search while it runs (mathfmt._symbolic_sum_power).
    s, t = sp.Symbol("e^{-1}"), sp.Symbol("e^{0.3}")
    sums = [add(1, s), add(s, t), add(sp.Rational(-3, 10), mul(2, s)), add(s, sp.I), add(1, sp.I),
            add(sp.Rational(1, 2), exp(sp.Rational(1, 3))), add(1, sp.sqrt(2)), add(s, sp.oo), add(3, mul(s, t))]
    exponents = [sp.Integer(n) for n in (-3, -2, -1, 0, 1, 2, 3)] + [sp.Rational(1, 2), sp.Rational(-3, 2), s]
    for base in sums:
        for e in exponents:
            assert mathfmt._symbolic_sum_power(base, e) == mathfmt._ADD_EVAL_POWER(base, e), (base, e)


def test_closed_forms_print_as_with_sympys_powers(monkeypatch: pytest.MonkeyPatch) -> None:
    values = [v for v in _values() if not isinstance(v, sp.Rational)]
    fast = [(mathfmt._exp_as_power(v), mathfmt.exact.__wrapped__(v)) for v in values]
    monkeypatch.setattr(mathfmt, "_symbolic_sum_power", mathfmt._ADD_EVAL_POWER)
    sp.core.cache.clear_cache()
    for v, (walked, text) in zip(values, fast):
        assert sp.srepr(mathfmt._exp_as_power(v)) == sp.srepr(walked)
        assert mathfmt.exact.__wrapped__(v) == text


def test_givens_matrices_of_rationals_are_written_as_their_entries() -> None:
    rng = np.random.default_rng(7)
    entries = [sp.Rational(int(p), int(q)) for p, q in zip(rng.integers(-10**6, 10**6, 300), rng.integers(1, 2000, 300))]
    entries += [sp.Integer(0), sp.Integer(-3), sp.Rational(1, 3), sp.Rational(10**400, 2**5), sp.Rational(-1, 2**60),
                sp.Rational(7, 10**13), sp.Rational(3**50, 5**30)]
    matrices = [sp.Matrix(3, 4, entries[k:k + 12]) for k in range(0, len(entries) - 12, 5)]
    matrices += [sp.Matrix([[1, 2], [3, 4]]), sp.ImmutableMatrix([[sp.Rational(1, 8)]]), sp.zeros(2, 3),
                 sp.Matrix([[sp.Rational(1, 2), exp(sp.Rational(1, 3))]])]
    for m in matrices:
        fast = answerkey.jsonable(m)
        slow = [[answerkey.jsonable(v) for v in row] for row in m.tolist()]
        assert fast == slow and [[type(v) for v in row] for row in fast] == [[type(v) for v in row] for row in slow]


def test_aligned_rows_are_cut_as_by_their_tokens() -> None:
    rng = np.random.default_rng(11)
    pieces = ["{", "}", "&", "\\", "a", " ", "\\begin{pmatrix}", "\\end{pmatrix}", "\\frac", "=", "\\&", "\\{"]
    rows = ["".join(rng.choice(pieces, size=int(rng.integers(0, 12)))) for _ in range(20000)]
    rows += ["z^{[1]}_{1} &= w_{11} x_1", "\\frac{a}{b} &\\approx 0.5", "{a & b}", "} & {", "a \\\\{ & b"]
    for row in rows:
        for sep in ("&", "\\\\"):
            assert texfit._split_top(row, sep) == texfit._split_tokens(row, sep), (row, sep)


# templates/exercises/_dense.j2's macros before worksheetgen/densetext.py wrote them in Python.
_DENSE_MACROS = r'''((* macro vec(values) *))\begin{pmatrix} ((( values | map("num", digits) | join(" \\\\ ") ))) \end{pmatrix}((* endmacro *))
((* macro tvec(values) *))((( "(" ~ (values | map("num", digits) | join(", ")) ~ ")^\\top" )))((* endmacro *))
((* macro row(values) *))\begin{pmatrix} ((( values | map("num", digits) | join(" & ") ))) \end{pmatrix}((* endmacro *))
((* macro unit_lines(l, u) *))
((* set terms = [] *))
((* set sym = [] *))
((* for w, a, i in u.pairs *))
((* do terms.append((w | pnum) ~ " \\cdot " ~ (a | pnum)) *))
((* if g.convention == "WT" *))
((* do sym.append("w^{[" ~ l ~ "]}_{" ~ i ~ u.index ~ "} a^{[" ~ (l - 1) ~ "]}_{" ~ i ~ "}") *))
((* else *))
((* do sym.append("w^{[" ~ l ~ "]}_{" ~ u.index ~ i ~ "} a^{[" ~ (l - 1) ~ "]}_{" ~ i ~ "}") *))
((* endif *))
((* endfor *))
((* if g.bias == "row" *))
((* do terms.insert(0, (u.bias | pnum) ~ " \\cdot 1") *))
((* do sym.insert(0, "w^{[" ~ l ~ "]}_{0" ~ u.index ~ "}") *))
((* elif g.bias == "vector" *))
((* do terms.append(u.bias | pnum) *))
((* do sym.append("b^{[" ~ l ~ "]}_{" ~ u.index ~ "}") *))
((* endif *))
((( chain_lines("z^{[" ~ l ~ "]}_{" ~ u.index ~ "}", [("=", sym), ("=", terms), (u.z | rel, [u.z | num])]) | join(" \\\\\n  ") )))((* endmacro *))
'''


def test_dense_template_pieces_are_the_macros_they_replace() -> None:
    from types import SimpleNamespace

    from worksheetgen.exercises.forward_pass import UnitSum
    from worksheetgen.formats import Format

    env = Format().build_environment()
    calls = ("((( vec(v) )))|((( tvec(v) )))|((( row(v) )))|((( unit_lines(l, u) )))|"
             "((( dense_relation(v) if new else ('=' if v | map('rel') | select('equalto', '=') | list | length "
             "== v | length else '\\\\approx') )))")
    old = env.from_string(_DENSE_MACROS + calls)
    new = env.from_string("((* set vec, tvec, row, unit_lines = dense_vec, dense_tvec, dense_row, dense_unit_lines *))"
                          + calls)
    values = _values()
    for k in range(0, len(values) - 4, 3):
        v = values[k:k + 4]
        many = [(values[(k + j) % len(values)], values[(k + 2 * j + 1) % len(values)], j + 1) for j in range(1 + k % 9)]
        u = UnitSum(index=1 + k % 3, pairs=many, bias=values[(k + 5) % len(values)], z=values[(k + 7) % len(values)])
        for convention, bias, digits, rounding in itertools.product(("W", "WT"), ("row", "vector", "none"), (2, 4),
                                                                    (None, mathfmt.SIGNIFICANT)):
            context = {"v": sp.Matrix(v) if k % 2 else v, "l": 1 + k % 3, "u": u, "digits": digits,
                       "g": SimpleNamespace(convention=convention, bias=bias)}
            if rounding:
                context["rounding"] = rounding
            assert new.render(context, new=True) == old.render(context, new=False)
    exact = [sp.Rational(1, 4), sp.Integer(3)]
    for v in (exact, exact + values[-4:], sp.Matrix(exact)):
        assert new.render(v=v, l=1, u=u, digits=4, g=SimpleNamespace(convention="W", bias="none"), new=True) == \
            old.render(v=v, l=1, u=u, digits=4, g=SimpleNamespace(convention="W", bias="none"), new=False)


def test_macro_texts_are_kept_only_for_macros_of_texts_and_integers() -> None:
    from worksheetgen import formats

    macros = formats.get_format("tex").macros()
    part = macros.part
    assert formats._macro_key(part, (1, "2"), {}, "body") is not None
    for args in ((1.0,), (True,), (sp.Integer(1),), (["a"],)):
        assert formats._macro_key(part, args, {}, None) is None
    assert formats._macro_key(part, (1,), {"points": 2.0}, None) is None
    assert formats._macro_key(lambda *a, **k: "x", (1,), {}, None) is None  # a layout's own method
    first = formats._call_macro(part, (1, 3), {}, "text")
    assert formats._call_macro(part, (1, 3), {}, "text") == first == str(part(1, 3, caller=lambda: "text"))


def test_exact_texts_remembered_at_any_level_are_sympys() -> None:
    from worksheetgen import answers

    f = sp.Float("0.12500000000000000000000000000001", 40)
    parts = [v for v in _values() if not isinstance(v, sp.Integer)] + [f, mul(f, exp(sp.Rational(1, 3))), add(f, 1)]
    wholes = [add(a, mul(sp.Rational(3, 7), b)) for a, b in zip(parts, parts[3:])]
    wholes += [mul(a, power(add(2, b), sp.S.NegativeOne)) for a, b in zip(parts, parts[5:])]

    class Unremembering(answers._MemoStrPrinter):
        _print = StrPrinter._print

    for order in (parts + wholes, wholes + parts, [v for pair in zip(wholes, parts) for v in pair]):
        printer, plain = answers._MemoStrPrinter(), Unremembering()
        with mathfmt.fast_ordering():
            assert [printer.doprint(v) for v in order] == [plain.doprint(v) for v in order]
