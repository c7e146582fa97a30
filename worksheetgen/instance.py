"""One exercise drawn, solved and cross-checked: sample → solve → constraints → check.

Each attempt draws from its own stream (:func:`worksheetgen.seeding.draw_seed`), so the seed
recorded for the attempt that was kept replays the instance by itself
(:func:`replay_instance`). Attempts are bounded; an exercise whose options fix every value a
constraint reads is not held to that constraint (the instructor chose those numbers).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np
import sympy as sp

from worksheetgen import templatecheck
from worksheetgen.answers import Answer, to_float
from worksheetgen.errors import CheckError, WorksheetError
from worksheetgen.family import Family, Record, Solved
from worksheetgen.seeding import draw_seed, generator


@dataclass
class Instance:
    family: Family
    exercise_id: str  # stable id: the spec's id, else family name + occurrence
    variant: str
    sheet_seed: int
    given: Any  # the family's Given record
    solved: Solved
    points: int | None = None
    title: str = ""
    digits: int = 4
    attempt: int = 1
    stream_seed: int = 0  # the seed of the stream the kept draw came from
    params: dict[str, Any] = field(default_factory=dict)  # the spec's params, as written
    meta: dict[str, Any] = field(default_factory=dict)
    # What is derived from the instance once and read by several documents (the key entry that
    # both key.json and the instructor key hold); travels with it to the build's process.
    memo: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    def remembered(self, key: Any, make: Callable[[], Any]) -> Any:
        """``make()``, computed once per ``key`` for this instance (callers must not change it)."""
        if key not in self.memo:
            self.memo[key] = make()
        return self.memo[key]

    @property
    def name(self) -> str:
        return self.family.name

    @property
    def data(self) -> Any:
        return self.solved.data

    @property
    def answers(self) -> dict[str, Answer]:
        return {a.key: a for a in self.solved.answers}

    @property
    def slug(self) -> str:
        """A file-name-safe form of the id (figures are named after it)."""
        return "".join(c if c.isalnum() or c in "-_" else "-" for c in self.exercise_id)

    def context(self) -> str:
        return (f"{self.family.name} (exercise {self.exercise_id!r}, variant {self.variant}, "
                f"sheet seed {self.sheet_seed}, stream seed {self.stream_seed})")


def fingerprint(given: Any) -> str:
    """Identical text for identical givens: the report's test of 'same numbers'."""
    items = given.items() if isinstance(given, (dict, Record)) else vars(given).items()
    return repr(sorted((k, sp.srepr(v) if isinstance(v, sp.Basic) else repr(v)) for k, v in items))


def make_instance(
    family: Family,
    options: dict[str, Any],
    *,
    sheet_seed: int,
    variant: str = "1",
    exercise_id: str | None = None,
    points: int | None = None,
    title: str = "",
    digits: int = 4,
    params: dict[str, Any] | None = None,
    where: str = "exercise",
) -> Instance:
    """Draw until the family's applicable constraints hold (bounded), then cross-check."""
    exercise_id = exercise_id or family.name
    drawn = family.drawn(options)
    broken = None
    for attempt in range(1, family.max_draws + 1):
        seed = draw_seed(sheet_seed, variant, exercise_id, attempt)
        given = _sample(family, options, seed, where)
        # A draw that plainly breaks a rule is not solved (the last one is, so that the error
        # below names the rule the exact solution breaks first).
        if drawn and attempt < family.max_draws and family.plainly_violated(given, drawn) is not None:
            continue
        solved = _solve(family, given, seed, where)
        broken = family.violated(given, solved, drawn)
        if broken is None:
            instance = Instance(
                family, exercise_id, variant, sheet_seed, given, solved, points=points,
                title=title or family.title, digits=digits, attempt=attempt, stream_seed=seed,
                params=dict(params or {}),
            )
            cross_check(instance)
            return instance
        if not drawn:  # nothing left to redraw: the same numbers would come back every time
            break
    assert broken is not None
    fixed = sorted(set(broken.reads) & set(params or {}))
    problem = f"no draw met the constraint {broken.rule!r} in {family.max_draws} draws"
    if fixed:
        problem += f" with {', '.join(fixed)} fixed by the spec"
    allowed = "wider grids" + (f", or fix {', '.join(sorted(drawn & set(broken.reads)))} too "
                               "(a rule that reads only fixed values is not applied)" if fixed else "")
    raise WorksheetError(problem, field=where, allowed=allowed)


def _draw(family: Family, options: dict[str, Any], seed: int, where: str) -> tuple[Any, Solved]:
    """One draw from the stream ``seed``: sample and solve."""
    given = _sample(family, options, seed, where)
    return given, _solve(family, given, seed, where)


def _sample(family: Family, options: dict[str, Any], seed: int, where: str) -> Any:
    with _family_errors(family, seed, where):
        return family.sample(generator(seed), options)


def _solve(family: Family, given: Any, seed: int, where: str) -> Solved:
    with _family_errors(family, seed, where):
        solved = family.solve(given)
    templatecheck.check_solved(family, given, solved)
    return solved


@contextmanager
def _family_errors(family: Family, seed: int, where: str) -> Iterator[None]:
    """A family's own broken invariant becomes a CheckError naming the family and seed, never a
    traceback; a WorksheetError is placed under ``where``."""
    try:
        yield
    except WorksheetError as exc:
        raise exc.at(field_prefix=where) from None
    except (ArithmeticError, AssertionError, RuntimeError, ValueError, TypeError, KeyError,
            IndexError, AttributeError) as exc:
        raise CheckError(f"{family.name} (stream seed {seed}): {type(exc).__name__}: {exc}") from exc


def replay_instance(family: Family, options: dict[str, Any], *, stream_seed: int, attempt: int,
                    exercise_id: str, variant: str, sheet_seed: int, digits: int = 4,
                    points: int | None = None, title: str = "",
                    params: dict[str, Any] | None = None) -> Instance:
    """The instance drawn from a recorded stream seed (key.json), solved and cross-checked."""
    given, solved = _draw(family, options, stream_seed, "params")
    instance = Instance(family, exercise_id, variant, sheet_seed, given, solved, points=points,
                        title=title or family.title, digits=digits, attempt=attempt,
                        stream_seed=stream_seed, params=dict(params or {}))
    cross_check(instance)
    return instance


def cross_check(instance: Instance) -> None:
    """Compare every exact answer with the family's independent recomputation."""
    family = instance.family
    try:
        independent = family.check(instance.given)
    except (ArithmeticError, AssertionError, RuntimeError, ValueError, TypeError, KeyError,
            IndexError, FloatingPointError) as exc:
        raise CheckError(f"{instance.context()}: the independent check failed: "
                         f"{type(exc).__name__}: {exc}") from exc
    answers = instance.answers
    missing = sorted(set(answers) - set(independent))
    extra = sorted(set(independent) - set(answers))
    if missing or extra:
        raise CheckError(f"{instance.context()}: check() does not cover answers {missing} / knows {extra}")
    for key, answer in answers.items():
        other = independent[key]
        if not answer.agrees(other):
            shown = to_float(answer.value) if answer.kind in ("number", "matrix") else answer.value
            raise CheckError(
                f"{instance.context()}: answer {key!r}: exact solver gives {shown!r} "
                f"but the independent computation gives {_short(other)}"
            )


def _short(value: Any) -> str:
    if isinstance(value, np.ndarray):
        value = value.tolist()
    text = repr(value)
    return text if len(text) < 200 else text[:197] + "..."
