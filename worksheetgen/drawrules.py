"""Teaching rules shared by the dense-network families: what makes a random draw worth handing
out (issue 10, "draws that teach"), as plain predicates a family's constraints and its
``quality()`` flags both call, so the rule that rejects a draw and the flag the quality gate
counts are one definition.

- an asked value exactly 0 teaches nothing (a Boolean output or a ReLU entry may be 0: those
  keys are the family's ``zero_ok``; a matrix is "zero" only when every entry is);
- an asked value that is not 0 but smaller than :data:`FLOOR` prints with fewer than two
  significant digits at 4 decimal places (and as 0.0000 below 0.00005);
- a gradient a student is asked for lies in :data:`GRADIENT_BAND`, and a loss in
  :data:`LOSS_BAND`, so the students of one exam get work of one size (no 2·10⁻⁵ beside 5);
- a smooth unit is not saturated: |g'(z)| ≥ :data:`SATURATION` (σ within ±3.9, tanh within ±2.6,
  ELU above -3.9), where the chain rule multiplies by almost nothing.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator

import sympy as sp

from worksheetgen import sympyfast
from worksheetgen.answers import Answer

FLOOR = 0.001  # smallest non-zero asked value (in size)
GRADIENT_BAND = (0.01, 50.0)  # asked gradients, in size
LOSS_BAND = (0.01, 100.0)  # an asked loss: not already on target, not beyond hand computation
SATURATION = 0.02  # |g'(z)| below this: a saturated unit
# g' of SiLU and GELU crosses 0 near z = -1.28 and -0.75 (their minimum): that is not the flat
# tail, so they count as saturated only left of this point.
SILU_GELU_TAIL = -2
SATURATING = ("sigmoid", "tanh", "elu", "silu", "gelu")
NUMERIC_KINDS = ("number", "integer", "matrix")
# A student evaluates every activation with a scientific calculator but GELU, whose Φ needs a
# table: no family here draws an activation, and the help of each activation parameter says so.
GELU_NOTE = ("; GELU needs the normal CDF Φ (a table or software, not a scientific calculator), so it "
             "is never drawn, only used where named")


def entries(answer: Answer) -> list[Any]:
    """The exact values of a numeric answer, entry by entry."""
    value = answer.value
    return list(value) if isinstance(value, sp.MatrixBase) else [value]


def numeric_answers(answers: Iterable[Answer]) -> Iterator[Answer]:
    return (a for a in answers if a.kind in NUMERIC_KINDS)


def is_zero_answer(answer: Answer) -> bool:
    """The quality gate's "zero": a number exactly 0, or a matrix whose every entry is 0."""
    if isinstance(answer.value, sp.MatrixBase):
        zero = sympyfast.rational_zero(answer.value)
        if zero is not None:
            return zero
    return all(map(sympyfast.is_zero, entries(answer)))


def zero_asked(answers: Iterable[Answer], zero_ok: Iterable[str] = ()) -> bool:
    ok = set(zero_ok)
    return any(a.key not in ok and is_zero_answer(a) for a in numeric_answers(answers))


def magnitudes(answer: Answer) -> list[float]:
    value = answer.floats()
    flat = value if isinstance(value, list) else [value]
    out: list[float] = []
    for v in flat:
        out.extend(abs(float(x)) for x in (v if isinstance(v, list) else [v]))
    return out


def below_floor(answers: Iterable[Answer], floor: float = FLOOR) -> bool:
    """Some asked value is not 0 but smaller than ``floor`` in size."""
    return any(0 < m < floor for a in numeric_answers(answers) for m in magnitudes(a))


def gradient_size(answer: Answer) -> float:
    """The size of an asked gradient: |g| of a number, the largest |entry| of a matrix."""
    return max(magnitudes(answer))


def gradient_below(answers: Iterable[Answer], low: float = GRADIENT_BAND[0]) -> bool:
    return any(gradient_size(a) < low for a in answers)


def gradient_above(answers: Iterable[Answer], high: float = GRADIENT_BAND[1]) -> bool:
    return any(gradient_size(a) > high for a in answers)


def saturated(activation: str, z: Any, grad: Any) -> bool:
    """A unit with pre-activation ``z`` and derivative ``grad`` = g'(z) (numbers) on the flat
    part of a smooth activation."""
    if activation not in SATURATING:
        return False
    if activation in ("silu", "gelu") and z > SILU_GELU_TAIL:
        return False
    return abs(grad) < SATURATION
