"""One exercise drawn, solved and cross-checked: sample → solve → (reject?) → check."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp

from worksheetgen.errors import CheckError, WorksheetError
from worksheetgen.family import Answer, Family, Solved, to_float
from worksheetgen.seeding import derive_seed, exercise_stream

RTOL = 1e-9
ATOL = 1e-12


@dataclass
class Instance:
    family: Family
    position: int  # 1-based place on the sheet
    variant: str
    sheet_seed: int
    given: dict[str, Any]
    solved: Solved
    points: int | None = None
    title: str = ""
    digits: int = 4
    draws: int = 1
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.family.name

    @property
    def data(self) -> dict[str, Any]:
        return self.solved.data

    @property
    def answers(self) -> dict[str, Answer]:
        return {a.key: a for a in self.solved.answers}

    @property
    def seed(self) -> int:
        """The exercise's own stream seed, reported with failures so they can be replayed."""
        return derive_seed(self.sheet_seed, self.variant, self.position, self.family.name)


def _fingerprint(given: dict[str, Any]) -> str:
    return repr(sorted((k, sp.srepr(v) if isinstance(v, sp.Basic) else repr(v)) for k, v in given.items()))


def make_instance(
    family: Family,
    options: dict[str, Any],
    *,
    sheet_seed: int,
    variant: str = "1",
    position: int = 1,
    points: int | None = None,
    title: str = "",
    digits: int = 4,
    where: str = "exercise",
) -> Instance:
    """Draw until the family's teaching constraints hold (bounded), then cross-check.

    When the options pin every given (two different streams draw the same thing), the
    instructor asked for exactly this exercise and the teaching constraints are not applied:
    seed 004 Ex2 uses an all-dead ReLU layer as its lesson.
    """
    rng = exercise_stream(sheet_seed, variant, position, family.name)
    given = family.sample(rng, options)
    probe = family.sample(exercise_stream(sheet_seed, variant, position, family.name, 1), options)
    pinned = _fingerprint(given) == _fingerprint(probe)
    last_reason = ""
    for draw in range(1, family.max_draws + 1):
        if draw > 1:
            given = family.sample(rng, options)
        solved = family.solve(given)
        reason = None if pinned else family.rejection(given, solved)
        if reason is None:
            instance = Instance(
                family, position, variant, sheet_seed, given, solved,
                points=points, title=title or family.title, digits=digits, draws=draw,
            )
            cross_check(instance)
            return instance
        last_reason = reason
    raise WorksheetError(
        f"no draw met the constraint {last_reason!r} in {family.max_draws} draws",
        field=where,
        allowed="parameters that leave room for such a draw (widen the grids or fix fewer values)",
    )


def cross_check(instance: Instance) -> None:
    """Compare every exact answer with the family's independent recomputation."""
    family = instance.family
    independent = family.check(instance.given)
    answers = instance.answers
    missing = sorted(set(answers) - set(independent))
    extra = sorted(set(independent) - set(answers))
    context = (
        f"{family.name} (exercise {instance.position}, variant {instance.variant}, "
        f"sheet seed {instance.sheet_seed})"
    )
    if missing or extra:
        raise CheckError(f"{context}: check() does not cover answers {missing} / knows {extra}")
    for key, answer in answers.items():
        other = independent[key]
        if not _agree(answer, other):
            raise CheckError(
                f"{context}: answer {key!r}: exact solver gives {to_float(answer.value)!r} "
                f"but the independent computation gives {other!r}"
            )


def _agree(answer: Answer, other: Any) -> bool:
    if answer.kind in ("number", "matrix"):
        exact = np.asarray(to_float(answer.value), dtype=float)
        try:
            independent = np.asarray(other, dtype=float)
        except (TypeError, ValueError):
            return False
        if exact.size != independent.size:
            return False
        independent = independent.reshape(exact.shape)
        return bool(np.allclose(exact, independent, rtol=RTOL, atol=ATOL))
    if answer.kind == "integer":
        return int(answer.value) == int(other) and float(other) == int(other)
    return answer.value == other
