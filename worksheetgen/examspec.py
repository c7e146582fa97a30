"""The ``[exam]`` table, parsed once into a typed :class:`ExamSpec` (the roster read once).

::

    [exam]
    roster = "roster.csv"       # id,name,... (UTF-8); or: versions = 3  (A, B, C)
    require_distinct = true     # two students with the same numbers on an exercise is an error
    duration = "90 minutes"     # on the cover
    page_per_question = true    # every question starts on a new page
    answer_space = "auto"       # room to answer below each question: "auto" (from the length of
                                # its worked solution, the default), "none", or a number of lines
    duplex = true               # the combined PDF starts every exam on a front side (default)
    [exam.pools]
    easy = 1                    # each student gets 1 of the exercises with pool = "easy"

    [[exercise]]
    family = "scalar_chain"
    pool = "easy"               # the exercises of a pool must have equal points
    part_points = [2, 1, 3]     # points of the parts (a), (b), (c); they add up to points
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from worksheetgen.errors import WorksheetError
from worksheetgen.roster import Student, check_text, load_roster

if TYPE_CHECKING:
    from worksheetgen.spec import ExerciseSpec

KEYS = {
    "roster": "a CSV file with columns id,name (path relative to the spec)",
    "versions": "an integer from 1 to 26: versions A, B, C, ... instead of a roster",
    "require_distinct": "true/false: two students with identical numbers on an exercise is an error",
    "pools": "a table: pool name = how many of the pool's exercises each student gets",
    "duration": "a text printed on the cover, e.g. '90 minutes'",
    "page_per_question": "true/false: every question starts on a new page",
    "answer_space": "\"auto\" (room sized from the worked solution's length), \"none\", or lines (0 to 200)",
    "duplex": "true/false: in the combined PDF every exam starts on a front side (default true)",
}
MAX_VERSIONS = 26
MAX_ANSWER_LINES = 200
# Files at the top of an exam's folder: no student id may name its folder like one of them.
CLASS_FILES = ("all-problems", "instructor-key", "report")
RESERVED = frozenset(f"{stem}.{suffix}" for stem in CLASS_FILES
                     for suffix in ("tex", "pdf", "md", "csv", "json", "html", "xml", "zip"))


@dataclass(frozen=True)
class ExamSpec:
    students: tuple[Student, ...]  # empty when the exam has versions
    versions: int = 0
    roster: str = ""  # as written in the spec
    require_distinct: bool = False
    pools: dict[str, int] = field(default_factory=dict)
    duration: str = ""
    page_per_question: bool = False
    duplex: bool = True
    answer_space: str | int = "auto"  # "auto", "none" or a number of blank lines per question


def parse_exam(raw: dict[str, Any] | None, exercises: Sequence["ExerciseSpec"], *, variants: int = 1,
               spec_dir: Path = Path(".")) -> ExamSpec | None:
    """Validate the [exam] table (None: the spec has none, and then no exercise may use exam
    keys) and the exam keys of the exercises; read the roster."""
    if raw is None:
        for exercise in exercises:
            if exercise.pool or exercise.part_points:
                key = "pool" if exercise.pool else "part_points"
                raise WorksheetError(f"{key} is only used by exams", field=f"{exercise.where}.{key}",
                                     allowed="an [exam] table with a roster or versions")
        return None
    if not isinstance(raw, dict):
        raise WorksheetError("not a table", field="exam", allowed="a [exam] table")
    unknown = sorted(set(raw) - set(KEYS))
    if unknown:
        raise WorksheetError(f"unknown key {unknown[0]!r}", field=f"exam.{unknown[0]}",
                             allowed=", ".join(KEYS))
    if not raw:
        raise WorksheetError("an exam needs a roster or versions", field="exam",
                             allowed="roster = 'roster.csv' or versions = 3")
    if variants != 1:
        raise WorksheetError(f"variants = {variants} in an exam", field="variants",
                             allowed="[exam] versions = N or [exam] roster = 'file.csv' instead")
    if ("roster" in raw) == ("versions" in raw):
        raise WorksheetError("give either roster or versions", field="exam",
                             allowed="roster = 'roster.csv' or versions = 3, not both")
    students: tuple[Student, ...] = ()
    versions = 0
    roster = ""
    if "roster" in raw:
        roster = raw["roster"]
        if not isinstance(roster, str) or not roster.strip() or "\x00" in roster:
            raise WorksheetError(f"invalid roster {_short(roster)}", field="exam.roster",
                                 allowed=KEYS["roster"])
        students = load_roster(spec_dir / roster, reserved=RESERVED)
    else:
        versions = raw["versions"]
        if isinstance(versions, bool) or not isinstance(versions, int) or not 1 <= versions <= MAX_VERSIONS:
            raise WorksheetError(f"invalid value {versions!r}", field="exam.versions", allowed=KEYS["versions"])
    flags = {}
    for key, default in (("require_distinct", False), ("page_per_question", False), ("duplex", True)):
        value = raw.get(key, default)
        if not isinstance(value, bool):
            raise WorksheetError(f"invalid value {_short(value)}", field=f"exam.{key}",
                                 allowed="true or false")
        flags[key] = value
    duration = raw.get("duration", "")
    if not isinstance(duration, str) or len(duration) > 100:
        raise WorksheetError(f"invalid value {_short(duration)}", field="exam.duration",
                             allowed="a text of at most 100 characters")
    check_text(duration, "exam.duration")
    pools = _pools(raw.get("pools", {}), exercises)
    space = raw.get("answer_space", "auto")
    if not (space in ("auto", "none") or (isinstance(space, int) and not isinstance(space, bool)
                                          and 0 <= space <= MAX_ANSWER_LINES)):
        raise WorksheetError(f"invalid value {_short(space)}", field="exam.answer_space",
                             allowed=KEYS["answer_space"])
    return ExamSpec(students, versions, roster, pools=pools, duration=duration, answer_space=space, **flags)


def _pools(raw: Any, exercises: Sequence["ExerciseSpec"]) -> dict[str, int]:
    if not isinstance(raw, dict):
        raise WorksheetError("not a table", field="exam.pools", allowed=KEYS["pools"])
    members: dict[str, list["ExerciseSpec"]] = {}
    for exercise in exercises:
        if exercise.pool:
            if exercise.pool not in raw:
                raise WorksheetError(
                    f"unknown pool {exercise.pool!r}", field=f"{exercise.where}.pool",
                    allowed=f"a pool declared in [exam.pools], e.g. {exercise.pool} = 1",
                )
            members.setdefault(exercise.pool, []).append(exercise)
    pools = {}
    for name, k in raw.items():
        where = f"exam.pools.{name}"
        group = members.get(name, [])
        if not group:
            raise WorksheetError(f"no exercise has pool = {name!r}", field=where,
                                 allowed="pool = '<name>' in some [[exercise]] tables")
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= len(group):
            raise WorksheetError(f"invalid value {_short(k)}", field=where,
                                 allowed=f"an integer from 1 to {len(group)} (the pool's exercises)")
        points = sorted({e.points for e in group}, key=lambda p: -1 if p is None else p)
        if len(points) > 1:
            raise WorksheetError(
                f"the exercises of pool {name!r} have different points ({', '.join(map(str, points))})",
                field=where, allowed="equal points within a pool, so every student's total is the same",
            )
        pools[name] = k
    return pools


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
