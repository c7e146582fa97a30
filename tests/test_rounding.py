"""One rounding rule, printed and graded alike (issue 10, item 3).

``digits`` counts decimal places: a value whose exact decimal fits prints exactly, any other is
rounded half up from its exact value. Every asked number carries a tolerance derived from what
the instructions ask (one unit of the last asked digit), entry by entry. The round trip below
rounds each exact value here, independently of the printer, as a student following the printed
instructions would, and grades it from the key entry alone (JSON): it must pass, and the same
value two units off in its last digit must fail.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
import sympy as sp

from worksheetgen import mathfmt as mf
from worksheetgen.answers import (
    IntegerAnswer, MatrixAnswer, NumberAnswer, Rounding, Rule, exact_text, grade_entry, margin,
)
from worksheetgen.instance import make_instance
from worksheetgen.params import parse_params
from worksheetgen.registry import get_family, load_families

FAMILIES = sorted(load_families())
DIGITS = 4


# -- num(): the printed rule --------------------------------------------------------------------

@pytest.mark.parametrize("value, text", [
    (sp.Rational("0.0004187"), "0.0004"),          # no switch to significant figures below 0.1
    (sp.Rational("22.033533925"), "22.0335"),      # a long terminating decimal is rounded
    (sp.Rational(3, 2), "1.5"),                    # a short one prints exactly
    (sp.Rational("-0.00005"), "-0.0001"),          # half up, away from zero, on the exact value
    (sp.Rational("-0.00004"), "0.0000"),           # non-zero but below half a unit: the gate's 'tiny'
    (sp.Rational("0.12345"), "0.1235"),            # a tie of the exact value rounds up
    (sp.Rational("2.00005"), "2.0001"),
    (sp.Rational(1, 3), "0.3333"),
    (sp.Integer(-7), "-7"),
    (sp.Integer(10**20), "100000000000000000000"),
    (sp.exp(-2) - 1, "-0.8647"),
])
def test_num_rounds_to_decimal_places(value, text):
    assert mf.num(value, DIGITS) == text


def test_exact_when_it_fits_and_approximate_otherwise():
    assert mf.relation(sp.Rational("0.4795")) == "="
    assert mf.relation(sp.Rational("0.47951")) == r"\approx"
    assert mf.equals(sp.Rational("22.033533925")) == r"= 22.033533925 \approx 22.0335"
    assert mf.value(sp.Rational("0.0004187")) == r"0.0004187 \approx 0.0004"
    assert mf.equals(sp.Rational("-1.5")) == "= -1.5"
    assert mf.num(sp.Rational("0.123456"), 6) == "0.123456" and mf.relation(sp.Rational("0.123456"), 6) == "="


def test_significant_digits_when_the_sheet_or_the_question_says_so():
    assert mf.num(sp.Rational("0.0004187"), 4, "significant") == "0.0004187"
    assert mf.num(sp.Rational("22.033533925"), 4, "significant") == "22.03"
    assert mf.num(sp.Rational("9.99996"), 4, "significant") == "10.00"
    assert mf.num(sp.pi / 10**7, 2, "significant") == r"3.1 \times 10^{-7}"
    assert mf.num(sp.Rational(123456, 10), 4, "significant") == r"1.235 \times 10^{4}"
    with mf.rounding_mode("significant"):
        assert mf.num(sp.Rational("0.0021753")) == "0.002175"
        assert mf.instruction(4).startswith("Give numerical answers to 4 significant digits")
    assert mf.num(sp.Rational("0.0021753")) == "0.0022"  # the mode is restored
    assert mf.instruction(4) == ("Give numerical answers to 4 decimal places unless a question says "
                                 "otherwise; keep full precision in intermediate steps.")


# -- the canonical term order -------------------------------------------------------------------

def test_a_positive_term_comes_first():
    half = sp.Rational(1, 2)
    x = sp.Symbol("x")
    assert mf.exact(sp.exp(half) - sp.exp(-half)) == "e^{0.5} - e^{-0.5}"
    assert exact_text(sp.exp(half) - sp.exp(-half)) == "exp(1/2) - exp(-1/2)"
    assert mf.exact(x - 1) == "x - 1" and mf.exact(1 - x) == "1 - x"
    assert mf.exact(3 - sp.sqrt(2)) == r"3 - \sqrt{2}"
    assert mf.exact(3 * sp.exp(-2) - 3) == "3 e^{-2} - 3"
    assert mf.exact(-sp.exp(-2) - 1) == "- e^{-2} - 1"  # no positive term: the order stays
    ratio = (sp.exp(half) - sp.exp(-half)) / (sp.exp(half) + sp.exp(-half))
    assert mf.exact(ratio) == r"\frac{e^{0.5} - e^{-0.5}}{e^{-0.5} + e^{0.5}}"
    assert mf.value(1 - sp.exp(sp.Rational(1, 3))).startswith(r"1 - e^{\frac{1}{3}} \approx")


# -- tolerances, entry by entry ------------------------------------------------------------------

def _entry(answer, rule=None):
    return json.loads(json.dumps(answer.entry(DIGITS, rule or Rule())))


def test_matrix_tolerance_is_per_entry_and_not_matrix_wide():
    m = MatrixAnswer("m", "m", sp.Matrix([[sp.Rational("29.9986"), sp.Rational("0.00004187")],
                                          [sp.Rational("0.0021753"), sp.Rational("-1234.56789")]]))
    entry = _entry(m)
    assert entry["tolerance"] == {"kind": "decimals", "digits": 4}
    assert entry["shown"] == [["29.9986", "0.0000"], ["0.0022", "-1234.5679"]]
    assert grade_entry(entry, "[29.9985, 0.0000; 0.0022, -1234.5679]") == 1
    # One entry two units off in its 4th decimal costs that entry only, whatever its size.
    assert grade_entry(entry, "[29.9988, 0.0000; 0.0022, -1234.5679]") == 0.75
    assert grade_entry(entry, "[29.9986, 0.0002; 0.0022, -1234.5677]") == 0.5
    # The relative rule of earlier keys refused 0.0022 for 0.0021753 (1.1 % off).
    assert grade_entry(entry, "[29.9986, 0, 0.0022, -1234.5679]") == 1


def test_significant_tolerance_scales_with_each_entry():
    m = MatrixAnswer("m", "m", sp.Matrix([[sp.Rational("0.0021753"), 300, sp.Rational(-1, 3) / 10**6]]),
                     rounding=Rounding("significant", 3))
    entry = _entry(m)
    assert entry["tolerance"] == {"kind": "significant", "digits": 3}
    assert entry["shown"] == [["0.00218", "300", "-3.33e-7"]]
    assert grade_entry(entry, "0.00218, 300, -3.33e-7") == 1
    assert grade_entry(entry, "0.00220, 302, -3.31e-7") == 0
    assert margin(entry["tolerance"], 0.0) == 0.0


def test_an_answers_own_precision_wins_over_the_sheets():
    a = NumberAnswer("r", "r", sp.Rational(6, 10**9), rounding=Rounding("significant", 2))
    entry = _entry(a, Rule(explicit=True))
    assert entry["tolerance"] == {"kind": "significant", "digits": 2} and entry["shown"] == "6e-9"
    plain = _entry(NumberAnswer("x", "x", sp.Rational(1, 3)), Rule(explicit=True, relative=0.02, absolute=0.001))
    assert plain["tolerance"] == {"kind": "either", "relative": 0.02, "absolute": 0.001}


# -- the round trip over the registered families -------------------------------------------------

def _exact_decimal(value) -> Decimal:
    """The exact value as a Decimal: exactly for a rational that terminates, else 60 digits."""
    if isinstance(value, sp.Rational):
        f = Fraction(int(value.p), int(value.q))
        q = f.denominator
        k = 0
        while q % 2 == 0 or q % 5 == 0:
            q //= 2 if q % 2 == 0 else 5
            k += 1
        if q == 1:
            return Decimal(f.numerator * 10**k // f.denominator).scaleb(-k)
    return Decimal(str(sp.N(value, 60)).replace("*^", "E"))


def _student(value, asked: Rounding) -> tuple[Decimal, Decimal]:
    """(what a student writes, one unit of the last printed digit) for an exact value. Printed:
    an integer to its units; under decimals a value of 10^12 or more that is not an integer in
    scientific notation, to its digits-th significant digit."""
    d = _exact_decimal(value)
    if asked.mode == "decimals":
        unit = Decimal(1).scaleb(-asked.digits)
        written = d.quantize(unit, rounding=ROUND_HALF_UP)
        if d == d.to_integral_value():
            unit = Decimal(1)
        elif abs(d) >= Decimal(10) ** 12:
            unit = Decimal(1).scaleb(d.adjusted() - asked.digits + 1)
        return written, unit
    if d == 0:
        return d, Decimal(0)
    unit = Decimal(1).scaleb(d.adjusted() - asked.digits + 1)
    written = d.quantize(unit, rounding=ROUND_HALF_UP)
    if written.adjusted() > d.adjusted():  # 9.99996 → 10.00: the last digit is one place up
        unit *= 10
        written = written.quantize(unit)
    return written, unit


def _text(d: Decimal) -> str:
    return format(d, "f") if -25 < d.adjusted() < 25 else format(d, "e")


def round_trip(instance, counts: Counter, failures: list[str], limit: int = 20) -> None:
    for answer in instance.solved.answers:
        if not isinstance(answer, (NumberAnswer, MatrixAnswer, IntegerAnswer)):
            continue
        entry = json.loads(json.dumps(answer.entry(instance.digits, Rule())))
        asked = answer.asked(instance.digits, "decimals")
        where = f"{instance.family.name} seed {instance.sheet_seed} {answer.key}"
        values = list(answer.value) if isinstance(answer, MatrixAnswer) else [answer.value]
        written = [_student(v, asked) for v in values]

        def response(texts: list[str]) -> str:
            return ", ".join(texts) if isinstance(answer, MatrixAnswer) else texts[0]

        right = [_text(w) for w, _ in written]
        n = len(values)
        counts["entries"] += n
        counts["matrix entries" if isinstance(answer, MatrixAnswer) else "numbers"] += n
        if grade_entry(entry, response(right)) != 1:
            counts["rounded value refused"] += 1
            if len(failures) < limit:
                failures.append(f"{where}: {response(right)} refused ({entry['tolerance']})")
        for i, (w, unit) in enumerate(written):
            if unit == 0:  # an exact 0 asked in significant digits has no last digit
                counts["no last digit"] += 1
                continue
            for sign in (2, -2):
                off = list(right)
                off[i] = _text(w + sign * unit)
                credit = grade_entry(entry, response(off))
                if credit != (n - 1) / n:
                    counts["two units off accepted"] += 1
                    if len(failures) < limit:
                        failures.append(f"{where}[{i}]: {off[i]} for {right[i]} got {credit} ({entry['tolerance']})")


def sample(n: int, first_seed: int = 0) -> tuple[Counter, list[str]]:
    counts: Counter = Counter()
    failures: list[str] = []
    options = {name: parse_params(get_family(name).params, {}, validate=get_family(name).validate)
               for name in FAMILIES}
    for i in range(n):
        name = FAMILIES[i % len(FAMILIES)]
        family = get_family(name)
        instance = make_instance(family, options[name], sheet_seed=first_seed + i // len(FAMILIES),
                                 digits=DIGITS)
        counts["instances"] += 1
        counts[f"family {name}"] += 1
        round_trip(instance, counts, failures)
    return counts, failures


def _report(counts: Counter, seconds: float) -> None:
    print(f"\n{counts['instances']} instances of {len(FAMILIES)} families in {seconds:.1f} s: "
          f"{counts['numbers']} numbers and {counts['matrix entries']} matrix entries; "
          f"rounded value refused {counts['rounded value refused']}, two units off accepted "
          f"{counts['two units off accepted']}, exact zeros in significant digits {counts['no last digit']}")


def test_rounding_round_trip_fast_sample():
    start = time.process_time()
    counts, failures = sample(len(FAMILIES) * 3, first_seed=5000)
    _report(counts, time.process_time() - start)
    assert not failures, "\n".join(failures)
    assert counts["entries"] > 400 and all(counts[f"family {f}"] == 3 for f in FAMILIES)


@pytest.mark.slow
def test_rounding_round_trip_10000_instances():
    start = time.process_time()
    counts, failures = sample(10_000)
    _report(counts, time.process_time() - start)
    assert not failures, "\n".join(failures)
    assert counts["instances"] == 10_000


# -- the spec option ------------------------------------------------------------------------------

def test_spec_rounding_option_and_explicit_tolerance():
    from worksheetgen.answerkey import rule_of
    from worksheetgen.errors import WorksheetError
    from worksheetgen.spec import parse_spec

    base = {"title": "t", "exercise": [{"family": "scalar_chain"}]}
    spec = parse_spec(dict(base))
    assert spec.tolerance.rounding == "decimals" and not spec.tolerance.explicit
    assert spec.tolerance.instruction.startswith("Give numerical answers to 4 decimal places")
    sig = parse_spec(dict(base, rounding="significant", digits=3, tolerance={"relative": 0.02}))
    assert rule_of(sig.tolerance) == Rule(relative=0.02, absolute=1e-4, rounding="significant", explicit=True)
    assert sig.tolerance.instruction.startswith("Give numerical answers to 3 significant digits")
    with pytest.raises(WorksheetError) as err:
        parse_spec(dict(base, rounding="sig"))
    assert err.value.field == "rounding" and "significant" in err.value.allowed


def test_a_sheet_in_significant_digits_prints_and_grades_them(tmp_path):
    from worksheetgen.build import build
    from worksheetgen.spec import parse_spec

    spec = parse_spec({"title": "t", "rounding": "significant", "instructions": "Show every step.",
                       "exercise": [{"family": "scalar_chain",
                                     "params": {"w1": 2, "w2": 3, "x": -1, "y": -1.4255}}]})
    build(spec, tmp_path, formats=["md", "json"], jobs=1)
    problems = (tmp_path / "sheet" / "problems.md").read_text()
    solutions = (tmp_path / "sheet" / "solutions.md").read_text()
    assert "Show every step\\. Give numerical answers to 4 significant digits" in problems
    assert "shown rounded to 4 significant digits" in solutions and "-0.06464" in solutions
    key = json.loads((tmp_path / "sheet" / "key.json").read_text())
    assert key["tolerance"]["rounding"] == "significant"
    numbers = [a for a in key["exercises"][0]["answers"] if a["kind"] == "number"]
    assert numbers and all(a["tolerance"] == {"kind": "significant", "digits": 4} for a in numbers)
    assert mf.current_mode() == "decimals"  # the build's mode does not leak


def test_huge_values_print_and_grade_in_significant_digits():
    big = NumberAnswer("r", "r", sp.Rational(29505792352943, 7))  # 4215113193277.571...
    entry = _entry(big)
    assert mf.num(big.value) == r"4.215 \times 10^{12}" and entry["shown"] == "4.215e12"
    assert entry["tolerance"] == {"kind": "significant", "digits": 4}
    assert grade_entry(entry, "4215113193277.5714") == 1 and grade_entry(entry, "4.215e12") == 1
    assert grade_entry(entry, "4.217e12") == 0
    exact = NumberAnswer("n", "n", sp.Integer(12824902874416))
    assert _entry(exact)["tolerance"] == {"kind": "decimals", "digits": 4}
    assert grade_entry(_entry(exact), "12824902874416") == 1 and grade_entry(_entry(exact), "12824902874418") == 0
