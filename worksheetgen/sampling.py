"""Drawing numbers on grids that keep hand computation pleasant.

Values are exact rationals on the grid the moment they are drawn, so the number printed is the
number solved with and stored in the key (PrairieLearn's rule: round when you draw).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable

import numpy as np
import sympy as sp

from worksheetgen import sympyfast
from worksheetgen.params import ListOf, Number, Param


def grid_values(
    rng: np.random.Generator, lo: Any, hi: Any, step: Any, size: int | tuple[int, ...] = ()
) -> Any:
    """Uniform draws from {lo, lo+step, ..., hi} as SymPy rationals (a matrix for 2-D sizes)."""
    grid = _grid(_rational(lo), _rational(hi), _rational(step))
    if grid.count < 1:
        raise ValueError("empty grid")
    shape = _shape(size)
    return _shaped(rng.integers(0, grid.count, size=shape), shape, grid.point)


def nonzero_grid_values(
    rng: np.random.Generator, lo: Any, hi: Any, step: Any, size: int | tuple[int, ...] = ()
) -> Any:
    """Like :func:`grid_values` but never 0 (a zero weight rarely teaches anything).

    Each entry is drawn from the grid's non-zero points directly, so the cost is bounded
    whatever the grid; a grid whose only point is 0 is refused (validate with
    ``require_grid(..., nonzero=True)`` to name the parameter at load time)."""
    grid = _grid(_rational(lo), _rational(hi), _rational(step))
    zero = grid.zero
    points = grid.count - (1 if zero is not None else 0)
    if points < 1:
        raise ValueError("the grid holds no non-zero value")

    def value(k: int) -> sp.Rational:
        if zero is not None and k >= zero:
            k += 1  # skip the zero point
        return grid.point(k)

    shape = _shape(size)
    listed = grid.nonzero  # the same points, looked up without skipping the zero each time
    return _shaped(rng.integers(0, points, size=shape), shape, listed.__getitem__ if listed is not None else value)


def _rational(v: Any) -> sp.Rational:
    """``sp.Rational(v)``, which gives a rational itself back."""
    return v if isinstance(v, sp.Rational) else sp.Rational(v)


def _shape(size: int | tuple[int, ...]) -> tuple[int, ...]:
    return (size,) if isinstance(size, int) else size


def _shaped(ks: Any, shape: tuple[int, ...], value: Callable[[int], sp.Rational]) -> Any:
    """The drawn indices as values: one, a list, or a matrix for 2-D draws."""
    if shape == ():
        return value(int(ks))
    if len(shape) == 1:
        return [value(k) for k in ks.tolist()]  # Python ints, as int() of each entry
    rows, cols = shape
    # sp.Matrix(rows of values) without its general input parsing: the same matrix.
    return sympyfast.matrix(rows, cols, [value(k) for row in ks.tolist() for k in row])


@dataclass(frozen=True)
class _Grid:
    lo: sp.Rational
    step: sp.Rational
    count: int  # points lo, lo + step, ..., up to hi
    zero: int | None  # the index of the point 0, if the grid holds it
    listed: tuple[sp.Rational, ...] | None  # every point, for grids of up to _LISTED points
    nonzero: tuple[sp.Rational, ...] | None  # every point but 0, likewise

    def point(self, k: int) -> sp.Rational:
        return self.listed[k] if self.listed is not None else self.lo + self.step * k


_LISTED = 1 << 12


@lru_cache(maxsize=1024)
def _grid(lo: sp.Rational, hi: sp.Rational, step: sp.Rational) -> _Grid:
    """A grid's points, worked out once: the same grids are drawn from for every student, and
    each point costs SymPy arithmetic."""
    count = int(sp.floor((hi - lo) / step)) + 1
    zero = int(-lo / step) if lo <= 0 <= hi and ((-lo / step).q == 1) else None
    listed = tuple(lo + step * k for k in range(count)) if 0 < count <= _LISTED else None
    nonzero = tuple(p for k, p in enumerate(listed) if k != zero) if listed is not None else None
    return _Grid(lo, step, count, zero, listed, nonzero)


def grid_param(name: str, default: tuple[Any, Any, Any], help: str) -> Param:
    """A ``[lo, hi, step]`` grid parameter (e.g. ``weight_grid = [-1, 1, 0.1]``)."""
    return Param(
        name,
        ListOf(Number(), min_length=3, max_length=3),
        [sp.Rational(str(v)) for v in default],
        help,
    )


def require_grid(options: dict[str, Any], key: str, *, nonzero: bool = False) -> None:
    """Refuse an unusable ``[lo, hi, step]`` grid parameter, naming it (None means unused).
    ``nonzero``: the family draws non-zero values from it, so it needs a non-zero point."""
    from worksheetgen.errors import WorksheetError

    if options.get(key) is None:
        return
    problem = check_grid(options[key])
    if problem:
        raise WorksheetError(problem, field=key, allowed="[lo, hi, step] with lo <= hi, step > 0")
    lo, hi, step = options[key]
    if nonzero and lo == hi == 0:
        raise WorksheetError(f"the grid {_grid_text(options[key])} holds only 0", field=key,
                             allowed="a grid with a non-zero point, e.g. [-1, 1, 0.5]")


def _grid_text(values: list[Any]) -> str:
    return "[" + ", ".join(str(v) for v in values) + "]"


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
