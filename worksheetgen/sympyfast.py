"""Fast paths through SymPy that give SymPy's own results: the sign of a rational read off its
numerator, and matrices of rationals built without SymPy's domain inference.

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

from typing import Any, Callable, Sequence

import sympy as sp
from sympy.external.pythonmpq import PythonMPQ
from sympy.polys.domains import EXRAW, QQ, ZZ
from sympy.polys.matrices.domainmatrix import DomainMatrix
from sympy.polys.matrices.sdm import SDM

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


_installed = False


def install() -> None:
    """Define the sign facts of ``sympy.Rational`` and its subclasses by the numerator (a class
    whose fact is a constant, as ``Zero.is_zero``, keeps it). Each module that relies on it
    asks for it; it is done once."""
    global _installed
    if _installed:
        return
    _installed = True
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


def matrix(rows: int, cols: int, flat: Sequence[Any]) -> sp.Matrix:
    """``sp.Matrix._new(rows, cols, flat, copy=False)`` for SymPy values (row by row): the same
    matrix, with the same representation (SymPy's sparse DomainMatrix over ZZ, QQ or EXRAW,
    holding the non-zero entries in the same order). SymPy stores every entry as a raw
    expression first, testing each against 0 through sympify, and then converts the whole
    matrix to ZZ or QQ when all are rationals: a few times the cost of converting each rational
    once, as here. Anything but SymPy expressions goes to SymPy."""
    types = set(map(type, flat))
    dod: dict[int, dict[int, Any]] = {}
    if all(issubclass(t, sp.Rational) for t in types):
        domain = ZZ if all(issubclass(t, sp.Integer) for t in types) else QQ
        convert = _from_rational if domain is QQ and QQ.dtype is PythonMPQ else domain.from_sympy
        for n, v in enumerate(flat):
            if v.p:
                i, j = divmod(n, cols)
                row = dod.get(i)
                if row is None:
                    row = dod[i] = {}
                row[j] = convert(v)
    elif all(issubclass(t, sp.Expr) for t in types):
        domain = EXRAW
        for n, v in enumerate(flat):
            if v != 0:
                i, j = divmod(n, cols)
                row = dod.get(i)
                if row is None:
                    row = dod[i] = {}
                row[j] = v
    else:
        return sp.Matrix._new(rows, cols, flat, copy=False)  # SymPy warns about these
    return sp.Matrix._fromrep(DomainMatrix.from_rep(SDM(dod, (rows, cols), domain)))


def _from_rational(v: sp.Rational) -> PythonMPQ:
    """``QQ.from_sympy(v)``: SymPy's rationals are already in lowest terms with a positive
    denominator, which is what the fraction's constructor makes of them at the cost of a gcd."""
    return PythonMPQ._new(v.p, v.q)


def is_zero(v: Any) -> bool:
    """``v == 0`` without SymPy's comparison machinery, which decides it by structure: of SymPy
    values only the integer 0 (one object) equals 0; a Float 0.0 does not."""
    return v is sp.S.Zero if isinstance(v, sp.Basic) else v == 0


def at_kink(v: Any, kinks: Sequence[int]) -> bool:
    """``v in kinks`` for integer kinks (an activation's non-differentiable points)."""
    return any(is_zero(v) if k == 0 else v == k for k in kinks)


def _rational_rep(m: sp.MatrixBase) -> Any:
    """The representation of a matrix of rationals (SymPy's DomainMatrix over ZZ or QQ, which
    holds the entries as plain fractions), or None for a matrix of other values."""
    rep = getattr(m, "_rep", None)
    return rep if rep is not None and (rep.domain.is_ZZ or rep.domain.is_QQ) else None


def rational_rows(m: sp.MatrixBase) -> list[list[tuple[int, int]]] | None:
    """A matrix of rationals' rows of (numerator, denominator), read off its representation
    (``tolist`` would make a SymPy number of each entry first); None for a matrix of other
    values."""
    rep = _rational_rep(m)
    if rep is None:
        return None
    return [[(int(v.numerator), int(v.denominator)) for v in row] for row in rep.to_list()]


def rational_zero(m: sp.MatrixBase) -> bool | None:
    """Whether a matrix of rationals is all 0, read off its representation (which holds its
    non-zero entries, exactly), without making a SymPy number of each entry; None for a matrix
    of other values."""
    rep = _rational_rep(m)
    return None if rep is None else rep.is_zero_matrix
