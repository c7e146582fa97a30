"""mathfmt's 40-digit decimal of a Float or a sum of logs, and the key's float of one, worked
out without SymPy's evalf and printer, are what those give, on many values (Floats at every
precision they have here)."""

from __future__ import annotations

import random
from decimal import Decimal

import sympy as sp

from worksheetgen import answers, mathfmt


def _floats(rng: random.Random) -> list[sp.Float]:
    values = []
    for _ in range(30000):
        mantissa = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 70)))
        if rng.random() < 0.1:
            mantissa = rng.choice("19") + "9" * rng.randint(1, 60)  # rounds up to a new power of ten
        exponent = rng.choice([rng.randint(-60, 60), rng.randint(-5, 5)])
        text = f"{'-' if rng.random() < 0.5 else ''}{mantissa[0]}.{mantissa[1:]}e{exponent}"
        values.append(sp.Float(text, rng.choice([10, 15, 30, 39, 40, 41, 50, 60, 100])))
    values += [sp.Float(rng.uniform(-1e3, 1e3), 30) for _ in range(3000)]
    return values + [sp.Float(v, 30) for v in (1e-300, -2.5e300, 0.1, 1.0, 1 / 3)]


def test_float_texts_are_sympys() -> None:
    for value in _floats(random.Random(3)):
        if not value._mpf_[1]:
            continue  # zero: SymPy's path (N gives the integer 0)
        assert mathfmt._float_text_40(value._mpf_) == str(sp.N(value, 40)), value


def test_key_floats_of_floats_are_sympys() -> None:
    for value in _floats(random.Random(4)):
        if value._mpf_[1]:
            assert answers._float_of_float(value._mpf_) == float(sp.N(value, 30)), value


def _log_sums(rng: random.Random) -> list[sp.Expr]:
    sums = []
    for _ in range(6000):
        terms = []
        for _ in range(rng.randint(1, 4)):
            q = rng.choice([rng.randint(2, 100), rng.randint(2, 10**6)])
            p = rng.randint(1, 2 * q)
            coeff = sp.Rational(rng.randint(1, 9), rng.choice([1, 2, 3, 7, 10, 200]))
            terms.append(coeff * sp.log(sp.Rational(p, q)) * rng.choice([1, 1, -1]))
        sums.append(rng.choice([1, -1]) * sp.Add(*terms))
    return sums + [sp.log(sp.Rational(20)), -sp.log(sp.Rational(22, 25)), sp.log(1 + sp.Rational(1, 10**15))]


def test_decimals_and_floats_of_sums_of_logs_are_sympys() -> None:
    fast = 0
    for value in _log_sums(random.Random(6)):
        fast += mathfmt.evalf_rounded(value, 136) is not None
        assert mathfmt._decimal.__wrapped__(value) == Decimal(str(sp.N(value, 40))), value
        assert answers._scalar_float.__wrapped__(value) == float(sp.N(value, 30)), value
    assert fast > 1500  # the fast path is taken (for most sums of terms of one sign)
