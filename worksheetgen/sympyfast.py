"""The sign of a SymPy rational, read off its numerator.

SymPy answers ``r.is_negative`` (and the other sign facts) of a number through its assumption
system: the first question asked of a new object copies its class's fact base and deduces every
consequence, ~45 µs for a Rational. Exact arithmetic makes new rationals all the time, and
SymPy's own code asks their sign at every turn (splitting a product's coefficient when printing
it, ordering terms, building products), so these questions were a large share of solving and of
writing the key. A rational's sign facts are its numerator's sign (its denominator is positive
and it is finite), so :func:`install` defines them on ``Rational`` as that: the same answers,
and the fact base is built only for the questions that need it.
"""

from __future__ import annotations

from typing import Callable

import sympy as sp

SIGN_FACTS: dict[str, Callable[[sp.Rational], bool]] = {
    "negative": lambda r: r.p < 0,
    "extended_negative": lambda r: r.p < 0,
    "positive": lambda r: r.p > 0,
    "extended_positive": lambda r: r.p > 0,
    "nonnegative": lambda r: r.p >= 0,
    "extended_nonnegative": lambda r: r.p >= 0,
    "nonpositive": lambda r: r.p <= 0,
    "extended_nonpositive": lambda r: r.p <= 0,
    "zero": lambda r: r.p == 0,
    "nonzero": lambda r: r.p != 0,
    "extended_nonzero": lambda r: r.p != 0,
}


def install() -> None:
    """Define the sign facts of ``sympy.Rational`` and its subclasses by the numerator (a class
    whose fact is a constant, as ``Zero.is_zero``, keeps it)."""
    for cls in _with_subclasses(sp.Rational):
        for fact, holds in SIGN_FACTS.items():
            name = f"is_{fact}"
            if cls is sp.Rational or isinstance(cls.__dict__.get(name), property):
                setattr(cls, name, property(holds))


def _with_subclasses(cls: type) -> list[type]:
    found = [cls]
    for sub in cls.__subclasses__():
        found.extend(_with_subclasses(sub))
    return found
