"""The dense-network templates' most called pieces (templates/exercises/_dense.j2 and
backprop.j2: a vector, a row, a unit's weighted sum, the relation of a vector to its printed
entries) written in Python: each is asked several times per exercise, and a Jinja macro that
maps a filter over a vector costs several times the numbers it prints.

Each takes the template's context (``digits``, and ``rounding`` when a template sets one) as the
math filters do (formats._math_filter), so the text is the macro's, character for character.
"""

from __future__ import annotations

from typing import Any, Iterable

import jinja2

from worksheetgen import mathfmt, texfit


def _digits(ctx: Any) -> int:
    return int(ctx["digits"] if "digits" in ctx else mathfmt.DEFAULT_DIGITS)


def _mode(ctx: Any) -> str | None:
    return ctx["rounding"] if "rounding" in ctx else None  # None: the build's rounding mode


def _nums(ctx: Any, values: Iterable[Any]) -> list[str]:
    digits, mode = ctx["digits"], _mode(ctx)  # the macros map "num" with the template's digits
    return [mathfmt.num(v, digits, mode) for v in values]


@jinja2.pass_context
def vec(ctx: Any, values: Iterable[Any]) -> str:
    """A column vector: ``\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}``."""
    return "\\begin{pmatrix} " + " \\\\ ".join(_nums(ctx, values)) + " \\end{pmatrix}"


@jinja2.pass_context
def tvec(ctx: Any, values: Iterable[Any]) -> str:
    """A column written as a transposed row: ``(1, 2)^\\top``."""
    return "(" + ", ".join(_nums(ctx, values)) + ")^\\top"


@jinja2.pass_context
def row(ctx: Any, values: Iterable[Any]) -> str:
    """A row vector: ``\\begin{pmatrix} 1 & 2 \\end{pmatrix}``."""
    return "\\begin{pmatrix} " + " & ".join(_nums(ctx, values)) + " \\end{pmatrix}"


@jinja2.pass_context
def unit_lines(ctx: Any, l: int, u: Any) -> str:  # noqa: E741 - the layer, as the sheets write it
    """One unit's weighted sum, symbols then numbers, as the rows of an aligned display (cut
    where it is too wide)."""
    digits, mode, g = _digits(ctx), _mode(ctx), ctx["g"]

    def pnum(x: Any) -> str:
        return mathfmt.pnum(x, digits, mode)

    terms, sym = [], []
    for w, a, i in u.pairs:
        terms.append(f"{pnum(w)} \\cdot {pnum(a)}")
        if g.convention == "WT":
            sym.append(f"w^{{[{l}]}}_{{{i}{u.index}}} a^{{[{l - 1}]}}_{{{i}}}")
        else:
            sym.append(f"w^{{[{l}]}}_{{{u.index}{i}}} a^{{[{l - 1}]}}_{{{i}}}")
    if g.bias == "row":
        terms.insert(0, f"{pnum(u.bias)} \\cdot 1")
        sym.insert(0, f"w^{{[{l}]}}_{{0{u.index}}}")
    elif g.bias == "vector":
        terms.append(pnum(u.bias))
        sym.append(f"b^{{[{l}]}}_{{{u.index}}}")
    lines = texfit.chain_lines(f"z^{{[{l}]}}_{{{u.index}}}", [
        ("=", sym), ("=", terms), (mathfmt.relation(u.z, digits, mode), [mathfmt.num(u.z, digits, mode)])])
    return " \\\\\n  ".join(lines)


@jinja2.pass_context
def relation(ctx: Any, values: Iterable[Any]) -> str:
    """The relation of a vector or matrix to its printed entries: "=" when every entry prints
    exactly, else "\\approx"."""
    digits, mode = _digits(ctx), _mode(ctx)
    return "=" if all(mathfmt.relation(v, digits, mode) == "=" for v in values) else "\\approx"


GLOBALS = {"dense_vec": vec, "dense_tvec": tvec, "dense_row": row, "dense_unit_lines": unit_lines,
           "dense_relation": relation}
