"""What a build makes: the variants (numbered sheets, exam versions A/B/C, or one per student
of a roster) and, per variant, which exercises its sheet holds (exam pools draw per student).

A sheet and an exam are two plans for the same driver (:mod:`worksheetgen.build`), not two
pipelines.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from worksheetgen.errors import WorksheetError
from worksheetgen.examspec import ExamSpec
from worksheetgen.roster import Student
from worksheetgen.seeding import stream
from worksheetgen.spec import ExerciseSpec, SheetSpec

VERSION_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass(frozen=True)
class Variant:
    id: str  # enters the random streams: never change how it is formed
    label: str = ""  # printed on the sheet (e.g. "Variant 3" or a student's name)
    folder: str = ""  # sub-folder of the build's output ("" for a single sheet)
    student: Student | None = None


@dataclass(frozen=True)
class Slot:
    """One exercise on one variant's sheet."""

    number: int  # as printed on this sheet
    exercise: ExerciseSpec


@dataclass(frozen=True)
class Plan:
    spec: SheetSpec
    variants: tuple[Variant, ...]
    only: str | None = None  # exams: the one student (or version) being reprinted

    @property
    def exam(self) -> ExamSpec | None:
        return self.spec.exam

    @property
    def kind(self) -> str:
        return "exam" if self.exam is not None else "sheet"

    def slots(self, variant: Variant) -> list[Slot]:
        exercises = self.spec.exercises
        if self.exam is None or not self.exam.pools:
            return [Slot(n, e) for n, e in enumerate(exercises, start=1)]
        chosen = {i for i, e in enumerate(exercises) if not e.pool}
        for name, k in sorted(self.exam.pools.items()):
            members = [i for i, e in enumerate(exercises) if e.pool == name]
            chosen.update(members[j] for j in pool_draw(self.spec.seed, variant.id, name, len(members), k))
        return [Slot(n, exercises[i]) for n, i in enumerate(sorted(chosen), start=1)]


def pool_draw(seed: int, variant_id: str, pool: str, n: int, k: int) -> list[int]:
    """Which k of a pool's n exercises (0-based, ascending) this variant gets.

    Its own stream per (seed, student, pool): another student or another pool never shifts it.
    """
    rng = stream("worksheetgen/pool/v1", seed, variant_id, pool)
    return sorted(int(j) for j in rng.choice(n, size=k, replace=False))


def numbered_variants(count: int) -> list[Variant]:
    if count == 1:
        return [Variant("1")]
    width = max(2, len(str(count)))
    return [Variant(str(i), f"Variant {i}", f"v{i:0{width}d}") for i in range(1, count + 1)]


def exam_variants(exam: ExamSpec) -> list[Variant]:
    if exam.students:
        return [Variant(s.id, s.name, s.id, s) for s in exam.students]
    return [Variant(v, f"Version {v}", v) for v in VERSION_LETTERS[: exam.versions]]


def make_plan(spec: SheetSpec, only: str | None = None) -> Plan:
    if spec.exam is None:
        if only is not None:
            raise WorksheetError(f"no [exam] table in {spec.source}", field="--student",
                                 allowed="--student only with an exam spec (roster or versions)")
        return Plan(spec, tuple(numbered_variants(spec.variants)))
    variants = exam_variants(spec.exam)
    if only is not None:
        chosen = [v for v in variants if v.id == only]
        if not chosen:
            sample = ", ".join(v.id for v in variants[:3]) + (", ..." if len(variants) > 3 else "")
            raise WorksheetError(f"no student {only[:60]!r}", field="--student",
                                 allowed=f"an id of {spec.exam.roster or 'the versions'} ({sample})")
        variants = chosen
    return Plan(spec, tuple(variants), only)


def ids(variants: Sequence[Variant]) -> list[str]:
    return [v.id for v in variants]
