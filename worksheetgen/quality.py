"""The exam's quality report: distinct instances per exercise, and who shares numbers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from worksheetgen.documents import SolvedVariant
from worksheetgen.errors import WorksheetError
from worksheetgen.instance import fingerprint
from worksheetgen.plan import Plan


@dataclass
class Row:
    index: int
    id: str
    family: str
    pool: str
    title: str
    drawn: int
    distinct: int
    groups: list[list[str]]  # variant ids that share numbers, per group

    @property
    def sharing(self) -> int:
        return sum(len(g) for g in self.groups)


@dataclass
class Quality:
    variants: int
    who: str  # "students" or "versions"
    rows: list[Row]
    totals: list[int]  # the distinct total points (one value when pools are fair)

    @property
    def collisions(self) -> list[tuple[Row, list[str]]]:
        return [(row, group) for row in self.rows for group in row.groups]

    def lines(self, name: str, seed: int) -> list[str]:
        out = [f"{name}: {self.variants} {self.who}, seed {seed}"]
        for row in self.rows:
            pool = f", pool {row.pool}" if row.pool else ""
            out.append(f"  exercise {row.index} ({row.family}{pool}): {row.distinct} distinct of {row.drawn}"
                       + (f"; {row.sharing} {self.who} share numbers" if row.sharing else ""))
        return out


def quality(plan: Plan, solved: Sequence[SolvedVariant]) -> Quality:
    rows = []
    for index, exercise in enumerate(plan.spec.exercises, start=1):
        by_given: dict[str, list[str]] = {}
        for sv in solved:
            for q in sv.questions:
                if q.exercise.id == exercise.id:
                    by_given.setdefault(fingerprint(q.instance.given), []).append(sv.variant.id)
        rows.append(Row(index, exercise.id, exercise.family, exercise.pool, exercise.title,
                        sum(len(ids) for ids in by_given.values()), len(by_given),
                        [ids for ids in by_given.values() if len(ids) > 1]))
    who = "students" if plan.exam is not None and plan.exam.students else "versions"
    totals = sorted({sum(q.instance.points or 0 for q in sv.questions) for sv in solved})
    return Quality(len(solved), who, rows, totals)


def names(ids: Sequence[str], limit: int = 6) -> str:
    shown = list(ids[:limit])
    more = f" and {len(ids) - limit} more" if len(ids) > limit else ""
    return (", ".join(shown[:-1]) + " and " + shown[-1] if len(shown) > 1 and not more
            else ", ".join(shown) + more)


def require_distinct(plan: Plan, report: Quality) -> None:
    collisions = report.collisions
    if not collisions:
        return
    row, group = collisions[0]
    raise WorksheetError(
        f"{names(group)} have identical numbers on exercise {row.index} ({row.family})"
        + (f"; {len(collisions) - 1} more such groups" if len(collisions) > 1 else ""),
        source=plan.spec.source, field="exam.require_distinct",
        allowed="another seed (seed = ... or --seed N), wider parameter grids, or require_distinct = false",
    )


def as_dict(report: Quality) -> dict[str, Any]:
    return {"variants": report.variants, "rows": [vars(r) for r in report.rows]}
