"""Drawing numbers on grids that keep hand computation pleasant.

Values are exact rationals on the grid the moment they are drawn, so the number printed is the
number solved with and stored in the key (PrairieLearn's rule: round when you draw).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp

from worksheetgen.params import ListOf, Number, Param


def grid_values(
    rng: np.random.Generator, lo: Any, hi: Any, step: Any, size: int | tuple[int, ...] = ()
) -> Any:
    """Uniform draws from {lo, lo+step, ..., hi} as SymPy rationals (a matrix for 2-D sizes)."""
    lo, hi, step = sp.Rational(lo), sp.Rational(hi), sp.Rational(step)
    count = int(sp.floor((hi - lo) / step)) + 1
    if count < 1:
        raise ValueError("empty grid")
    shape = (size,) if isinstance(size, int) else size
    ks = rng.integers(0, count, size=shape)
    if shape == ():
        return lo + step * int(ks)
    if len(shape) == 1:
        return [lo + step * int(k) for k in ks]
    return sp.Matrix([[lo + step * int(k) for k in row] for row in ks])


def nonzero_grid_values(
    rng: np.random.Generator, lo: Any, hi: Any, step: Any, size: int | tuple[int, ...] = ()
) -> Any:
    """Like :func:`grid_values` but never 0 (a zero weight rarely teaches anything)."""
    while True:
        draw = grid_values(rng, lo, hi, step, size)
        values = draw if isinstance(draw, list) else (
            list(draw) if isinstance(draw, sp.MatrixBase) else [draw]
        )
        if all(v != 0 for v in values):
            return draw


def grid_param(name: str, default: tuple[Any, Any, Any], help: str) -> Param:
    """A ``[lo, hi, step]`` grid parameter (e.g. ``weight_grid = [-1, 1, 0.1]``)."""
    return Param(
        name,
        ListOf(Number(), min_length=3, max_length=3),
        [sp.Rational(str(v)) for v in default],
        help,
    )


def require_grid(options: dict[str, Any], key: str) -> None:
    """Refuse an unusable ``[lo, hi, step]`` grid parameter, naming it (None means unused)."""
    from worksheetgen.errors import WorksheetError

    if options.get(key) is None:
        return
    problem = check_grid(options[key])
    if problem:
        raise WorksheetError(problem, field=key, allowed="[lo, hi, step] with lo <= hi, step > 0")


def check_grid(values: list[sp.Rational]) -> str | None:
    """None if ``[lo, hi, step]`` is usable, else what is wrong."""
    lo, hi, step = values
    if step <= 0:
        return "the step (third number) must be positive"
    if hi < lo:
        return "the upper end (second number) must not be below the lower end"
    if (hi - lo) / step > 10**6:
        return "at most a million grid points"
    return None
