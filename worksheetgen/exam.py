"""Exams: one sheet per student of a roster (or per version A, B, C), with a cover page,
points, question pools, a combined PDF for printing, an instructor key and a quality report.

A student's exam depends only on (exam seed, student id, spec): the exercise streams are those
of :mod:`worksheetgen.build` with the student id as the variant, and each pool draws from its
own stream of (exam seed, student id, pool name). So adding a student changes nobody else's
exam, and ``--student S017`` rebuilds exactly the bytes of S017's folder in the full build.

The [exam] table, and the exam keys of an [[exercise]]::

    [exam]
    roster = "roster.csv"       # id,name,... (UTF-8); or: versions = 3  (A, B, C)
    require_distinct = true     # two students with the same numbers on an exercise is an error
    duration = "90 minutes"     # on the cover
    page_per_question = true    # every question on its own page (room to answer)
    duplex = true               # the combined PDF starts every exam on a front side (default)
    [exam.pools]
    easy = 1                    # each student gets 1 of the exercises with pool = "easy"

    [[exercise]]
    family = "scalar_chain"
    pool = "easy"               # the exercises of a pool must have equal points
    part_points = [2, 1, 3]     # points of the parts (a), (b), (c); they add up to points

Output (``output/<name>/``): ``<id>/`` per student (problems and solutions .tex/.md/.pdf,
key.json), ``all-problems.pdf`` (every problem sheet in roster order, for printing),
``instructor-key.{md,tex,pdf,csv,json}`` and ``report.md`` (distinct instances per exercise,
students sharing numbers).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import sympy as sp

from worksheetgen import __version__, answerkey, mathfmt, pdf, render
from worksheetgen.build import (
    ALL_FORMATS, BuildResult, SolvedVariant, Variant, compile_all, document_formats, drop_unwanted_tex,
    figure_files, sheet_info, staged_folder, usable_formats, write_files,
)
from worksheetgen.errors import WorksheetError
from worksheetgen.instance import Instance, make_instance
from worksheetgen.registry import get_family
from worksheetgen.roster import Student, load_roster
from worksheetgen.seeding import stream
from worksheetgen.spec import ExerciseSpec, SheetSpec

_KEYS = {
    "roster": "a CSV file with columns id,name (path relative to the spec)",
    "versions": "an integer from 1 to 26: versions A, B, C, ... instead of a roster",
    "require_distinct": "true/false: two students with identical numbers on an exercise is an error",
    "pools": "a table: pool name = how many of the pool's exercises each student gets",
    "duration": "a text printed on the cover, e.g. '90 minutes'",
    "page_per_question": "true/false: every question starts on a new page",
    "duplex": "true/false: in the combined PDF every exam starts on a front side (default true)",
}
MAX_VERSIONS = 26
COMBINED = "all-problems"
KEY = "instructor-key"
REPORT = "report.md"
# Files at the top of the exam's folder: no student id may name its folder like one of them.
RESERVED = frozenset(
    [f"{COMBINED}.{s}" for s in ("tex", "pdf")]
    + [f"{KEY}.{s}" for s in ("md", "tex", "pdf", "csv", "json")]
    + [REPORT]
)
KEY_COLUMNS = 6  # answers per table in the instructor key, so a table fits a landscape page


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


@dataclass
class Question:
    number: int  # as printed on this student's sheet
    index: int  # 1-based place in the spec: the exercise's identity and stream position
    exercise: ExerciseSpec
    instance: Instance


@dataclass
class ExamVariant:
    variant: Variant
    student: Student | None
    questions: list[Question]

    @property
    def instances(self) -> list[Instance]:
        return [q.instance for q in self.questions]


@dataclass
class Quality:
    variants: int
    rows: list[dict[str, Any]]  # per spec exercise: index, family, pool, drawn, distinct, groups
    lines: list[str]  # the printed summary

    @property
    def collisions(self) -> list[tuple[dict[str, Any], list[str]]]:
        return [(row, group) for row in self.rows for group in row["groups"]]


# -- the [exam] table ------------------------------------------------------------------------

def parse_exam(raw: dict[str, Any] | None, exercises: Sequence[ExerciseSpec], *, variants: int = 1,
               spec_dir: Path = Path(".")) -> ExamSpec:
    """Validate the [exam] table (None: the spec has none) and the exam keys of the exercises;
    read the roster."""
    if raw is None:
        for exercise in exercises:
            if exercise.pool or exercise.part_points:
                key = "pool" if exercise.pool else "part_points"
                raise WorksheetError(f"{key} is only used by exams", field=f"{exercise.where}.{key}",
                                     allowed="an [exam] table with a roster or versions")
        raw = {}
    unknown = sorted(set(raw) - set(_KEYS))
    if unknown:
        raise WorksheetError(f"unknown key {unknown[0]!r}", field=f"exam.{unknown[0]}",
                             allowed=", ".join(_KEYS))
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
        if not isinstance(roster, str) or not roster.strip():
            raise WorksheetError(f"invalid roster {roster!r}", field="exam.roster", allowed=_KEYS["roster"])
        students = load_roster(spec_dir / roster, reserved=RESERVED)
    else:
        versions = raw["versions"]
        if isinstance(versions, bool) or not isinstance(versions, int) or not 1 <= versions <= MAX_VERSIONS:
            raise WorksheetError(f"invalid value {versions!r}", field="exam.versions",
                                 allowed=_KEYS["versions"])
    flags = {}
    for key, default in (("require_distinct", False), ("page_per_question", False), ("duplex", True)):
        value = raw.get(key, default)
        if not isinstance(value, bool):
            raise WorksheetError(f"invalid value {value!r}", field=f"exam.{key}", allowed="true or false")
        flags[key] = value
    duration = raw.get("duration", "")
    if not isinstance(duration, str) or len(duration) > 100:
        raise WorksheetError(f"invalid value {str(duration)[:40]!r}", field="exam.duration",
                             allowed="a text of at most 100 characters")
    pools = _pools(raw.get("pools", {}), exercises)
    return ExamSpec(students, versions, roster, pools=pools, duration=duration, **flags)


def _pools(raw: Any, exercises: Sequence[ExerciseSpec]) -> dict[str, int]:
    if not isinstance(raw, dict):
        raise WorksheetError("not a table", field="exam.pools", allowed=_KEYS["pools"])
    members: dict[str, list[ExerciseSpec]] = {}
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
            raise WorksheetError(f"invalid value {k!r}", field=where,
                                 allowed=f"an integer from 1 to {len(group)} (the pool's exercises)")
        points = sorted({e.points for e in group}, key=lambda p: -1 if p is None else p)
        if len(points) > 1:
            raise WorksheetError(
                f"the exercises of pool {name!r} have different points ({', '.join(map(str, points))})",
                field=where, allowed="equal points within a pool, so every student's total is the same",
            )
        pools[name] = k
    return pools


def exam_variants(exam: ExamSpec) -> list[Variant]:
    if exam.students:
        return [Variant(s.id, s.name, s.id) for s in exam.students]
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[: exam.versions]
    return [Variant(v, f"Version {v}", v) for v in letters]


# -- drawing and solving ---------------------------------------------------------------------

def pool_draw(seed: int, variant_id: str, pool: str, n: int, k: int) -> list[int]:
    """Which k of a pool's n exercises (0-based, ascending) this variant gets.

    Its own stream per (seed, student, pool): another student or another pool never shifts it.
    """
    rng = stream("worksheetgen/pool/v1", seed, variant_id, pool)
    return sorted(int(j) for j in rng.choice(n, size=k, replace=False))


def selected_exercises(spec: SheetSpec, exam: ExamSpec, variant_id: str) -> list[int]:
    """1-based spec positions of the exercises on this variant's sheet, in spec order."""
    chosen = {i for i, e in enumerate(spec.exercises, start=1) if not e.pool}
    for name, k in sorted(exam.pools.items()):
        members = [i for i, e in enumerate(spec.exercises, start=1) if e.pool == name]
        chosen.update(members[j] for j in pool_draw(spec.seed, variant_id, name, len(members), k))
    return sorted(chosen)


def solve_exam_variant(spec: SheetSpec, exam: ExamSpec, variant: Variant,
                       student: Student | None = None) -> ExamVariant:
    questions = []
    for number, index in enumerate(selected_exercises(spec, exam, variant.id), start=1):
        exercise = spec.exercises[index - 1]
        family = get_family(exercise.family, where=f"{exercise.where}.family")
        try:
            instance = make_instance(
                family, exercise.options, sheet_seed=spec.seed, variant=variant.id,
                position=index, points=exercise.points, title=exercise.title,
                digits=spec.digits, where=f"{exercise.where}.params",
            )
        except WorksheetError as exc:
            raise exc.at(source=spec.source) from None
        instance.meta = {"question": number, **({"pool": exercise.pool} if exercise.pool else {})}
        questions.append(Question(number, index, exercise, instance))
    return ExamVariant(variant, student, questions)


# -- rendering -------------------------------------------------------------------------------

class _PartPoints:
    """The format's macros, with each part's points taken from the spec's part_points."""

    def __init__(self, macros: Any, points: Sequence[int], where: str) -> None:
        self._macros = macros
        self._points = points
        self._where = where
        self.used: set[int] = set()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._macros, name)

    def part(self, i: int, points: Any = None, caller: Any = None) -> Any:
        if not 1 <= i <= len(self._points):
            raise WorksheetError(
                f"the exercise has a part ({chr(ord('a') + i - 1)}) "
                f"but part_points lists {len(self._points)} values", field=f"{self._where}.part_points",
                allowed="one value per part",
            )
        self.used.add(i)
        if caller is None:
            return self._macros.part(i, self._points[i - 1])
        return self._macros.part(i, self._points[i - 1], caller=caller)


def render_question(question: Question, fmt: str) -> tuple[str, str]:
    """(problem, solution) of one question; with part_points, the parts show their points."""
    instance, exercise = question.instance, question.exercise
    if not exercise.part_points:
        return render.render_exercise(instance, fmt)
    m = _PartPoints(render.macros(fmt), exercise.part_points, exercise.where)
    problem, solution = render.render_exercise(instance, fmt, layout=m)
    if len(m.used) != len(exercise.part_points):
        raise WorksheetError(
            f"part_points lists {len(exercise.part_points)} values but the exercise "
            f"({instance.family.name}) has {len(m.used)} parts", field=f"{exercise.where}.part_points",
            allowed="one value per part",
        )
    return problem, solution


def _exam_info(exam: ExamSpec, ev: ExamVariant) -> dict[str, Any]:
    points = [q.instance.points for q in ev.questions]
    return {
        "duration": exam.duration, "page_per_question": exam.page_per_question,
        "total_points": sum(p or 0 for p in points),
        "has_points": any(p is not None for p in points),
        "roster": bool(exam.students),
    }


def _student_info(ev: ExamVariant) -> dict[str, str]:
    if ev.student:
        return {"id": ev.student.id, "name": ev.student.name, "version": ""}
    return {"id": "", "name": "", "version": ev.variant.id}


def render_exam_variant(spec: SheetSpec, exam: ExamSpec, ev: ExamVariant,
                        formats: Iterable[str]) -> dict[str, str]:
    """File name → text for one student's folder (PDFs are made later from the .tex)."""
    formats = set(formats)
    files = figure_files(ev.instances, formats)
    for fmt, suffix in document_formats(formats):
        items = []
        for q in ev.questions:
            problem, solution = render_question(q, fmt)
            items.append({"instance": q.instance, "problem": problem, "solution": solution,
                          "number": q.number, "points": q.instance.points,
                          "part_points": list(q.exercise.part_points)})
        context = {"layout": "exam", "sheet": sheet_info(spec), "exam": _exam_info(exam, ev),
                   "student": _student_info(ev), "exercises": items,
                   "variant_label": ev.variant.label}
        for view in ("problems", "solutions"):
            files[f"{view}.{suffix}"] = render.render_document(fmt, view, context)
    if "json" in formats:
        sheet = {**sheet_info(spec), "exam": _student_info(ev)}
        files["key.json"] = answerkey.key_document(sheet, ev.variant.id, ev.instances, spec.tolerance)
    return files


# -- the instructor key ----------------------------------------------------------------------

def _cell(value: Any, kind: str, digits: int, fmt: str) -> str:
    escape = mathfmt.latex_escape if fmt == "latex" else mathfmt.markdown_escape
    if kind == "number":
        return f"${mathfmt.num(value, digits)}$"
    if kind == "integer":
        return f"${int(value)}$"
    if kind == "matrix":
        if fmt == "latex":
            return f"$\\left[{mathfmt.matrix(value, digits, env='smallmatrix')}\\right]$"
        return f"${mathfmt.matrix(value, digits)}$"
    return escape(str(value))


def _shown_text(value: Any, kind: str, digits: int) -> str:
    if kind == "matrix":
        rows = value.tolist() if isinstance(value, sp.MatrixBase) else value
        return "[" + "; ".join(", ".join(mathfmt.rounded(v, digits) for v in row) for row in rows) + "]"
    if kind == "number":
        return mathfmt.rounded(value, digits)
    if kind == "integer":
        return str(int(value))
    return str(value)


def _label(label: str, fmt: str) -> str:
    """An answer's TeX label as a table heading; a plain phrase is set as text, not as math."""
    if " " in label and not any(c in label for c in "\\^_{}$"):
        escape = mathfmt.latex_escape if fmt == "latex" else mathfmt.markdown_escape
        return escape(label)
    return f"${label}$"


def _key_exercises(spec: SheetSpec, evs: Sequence[ExamVariant], fmt: str) -> list[dict[str, Any]]:
    """Per spec exercise: who got it (and as which question) and their answers, in chunks."""
    out = []
    for index, exercise in enumerate(spec.exercises, start=1):
        rows = [(ev, q) for ev in evs for q in ev.questions if q.index == index]
        if not rows:
            continue
        labels: dict[str, str] = {}
        wide: set[str] = set()  # answers given as sentences get a paragraph column
        for _, q in rows:
            for a in q.instance.solved.answers:
                labels.setdefault(a.key, a.label)
                if a.kind == "text":
                    wide.add(a.key)
        keys = list(labels)
        chunks = []
        for start in range(0, len(keys), KEY_COLUMNS):
            part = keys[start : start + KEY_COLUMNS]
            table_rows = []
            for ev, q in rows:
                answers = q.instance.answers
                cells = [_cell(answers[k].value, answers[k].kind, q.instance.digits, fmt)
                         if k in answers else "" for k in part]
                table_rows.append({"student": _student_info(ev), "number": q.number, "cells": cells})
            heads = [_label(labels[k], fmt) for k in part]
            if fmt == "markdown":  # a bar would end the table cell
                heads = [h.replace("|", "\\|") for h in heads]
                for row in table_rows:
                    row["cells"] = [c.replace("|", "\\|") for c in row["cells"]]
            align = "".join(r">{\raggedright\arraybackslash}p{6cm}" if k in wide else "r" for k in part)
            chunks.append({"labels": heads, "rows": table_rows, "align": align})
        first = rows[0][1]
        out.append({"index": index, "family": exercise.family, "title": first.instance.title,
                    "points": exercise.points, "pool": exercise.pool, "count": len(rows),
                    "chunks": chunks})
    return out


def instructor_key_files(spec: SheetSpec, exam: ExamSpec, evs: Sequence[ExamVariant],
                         formats: Iterable[str]) -> dict[str, str]:
    formats = set(formats)
    files: dict[str, str] = {}
    info = {"roster": bool(exam.students), "variants": len(evs), "pools": bool(exam.pools),
            "roster_file": exam.roster}
    for fmt, suffix, wanted in (("latex", "tex", {"tex", "pdf"}), ("markdown", "md", {"md"})):
        if formats & wanted:
            context = {"layout": "exam-key", "sheet": sheet_info(spec), "exam": info,
                       "exercises": _key_exercises(spec, evs, fmt)}
            files[f"{KEY}.{suffix}"] = render.render_document(fmt, "key", context)
    if "json" in formats:
        files[f"{KEY}.csv"] = _key_csv(spec, evs)
        files[f"{KEY}.json"] = _key_json(spec, exam, evs)
    return files


def _key_csv(spec: SheetSpec, evs: Sequence[ExamVariant]) -> str:
    """One row per student, one column per answer (rounded as printed); empty where a pool
    did not give the student that exercise."""
    columns: dict[tuple[int, str], str] = {}
    for index, exercise in enumerate(spec.exercises, start=1):
        if exercise.pool:
            columns[(index, "")] = f"ex{index}:question"
        for ev in evs:
            for q in ev.questions:
                if q.index == index:
                    for a in q.instance.solved.answers:
                        columns.setdefault((index, a.key), f"ex{index}:{a.key}")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["id", "name", *columns.values()])
    for ev in evs:
        values: dict[tuple[int, str], str] = {}
        for q in ev.questions:
            values[(q.index, "")] = str(q.number)
            for a in q.instance.solved.answers:
                values[(q.index, a.key)] = _shown_text(a.value, a.kind, q.instance.digits)
        student = _student_info(ev)
        writer.writerow([ev.variant.id, student["name"], *(values.get(c, "") for c in columns)])
    return buffer.getvalue()


def _key_json(spec: SheetSpec, exam: ExamSpec, evs: Sequence[ExamVariant]) -> str:
    doc = {
        "generator": {"name": "worksheetgen", "version": __version__},
        "sheet": sheet_info(spec),
        "roster": exam.roster or None,
        "students": [
            {
                "id": ev.variant.id, "name": _student_info(ev)["name"],
                "questions": [
                    {"question": q.number, **answerkey.instance_entry(q.instance, spec.tolerance),
                     "exercise": q.index}
                    for q in ev.questions
                ],
            }
            for ev in evs
        ],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


# -- the quality report ----------------------------------------------------------------------

def _fingerprint(instance: Instance) -> str:
    return repr(sorted((k, sp.srepr(v) if isinstance(v, sp.Basic) else repr(v))
                       for k, v in instance.given.items()))


def quality(spec: SheetSpec, exam: ExamSpec, evs: Sequence[ExamVariant]) -> Quality:
    """Distinct instances per exercise and the groups of students who share numbers."""
    rows = []
    for index, exercise in enumerate(spec.exercises, start=1):
        by_given: dict[str, list[str]] = {}
        for ev in evs:
            for q in ev.questions:
                if q.index == index:
                    by_given.setdefault(_fingerprint(q.instance), []).append(ev.variant.id)
        drawn = sum(len(ids) for ids in by_given.values())
        rows.append({"index": index, "family": exercise.family, "pool": exercise.pool,
                     "title": exercise.title, "drawn": drawn, "distinct": len(by_given),
                     "groups": [ids for ids in by_given.values() if len(ids) > 1]})
    who = "students" if exam.students else "versions"
    lines = [f"{spec.name}: {len(evs)} {who}, seed {spec.seed}"]
    for row in rows:
        pool = f", pool {row['pool']}" if row["pool"] else ""
        shared = sum(len(g) for g in row["groups"])
        lines.append(f"  exercise {row['index']} ({row['family']}{pool}): {row['distinct']} distinct "
                     f"of {row['drawn']}" + (f"; {shared} {who} share numbers" if shared else ""))
    return Quality(len(evs), rows, lines)


def _names(ids: Sequence[str], limit: int = 6) -> str:
    shown = list(ids[:limit])
    more = f" and {len(ids) - limit} more" if len(ids) > limit else ""
    return (", ".join(shown[:-1]) + " and " + shown[-1] if len(shown) > 1 and not more
            else ", ".join(shown) + more)


def check_distinct(spec: SheetSpec, report: Quality) -> None:
    collisions = report.collisions
    if not collisions:
        return
    row, group = collisions[0]
    raise WorksheetError(
        f"{_names(group)} have identical numbers on exercise {row['index']} ({row['family']})"
        + (f"; {len(collisions) - 1} more such groups" if len(collisions) > 1 else ""),
        source=spec.source, field="exam.require_distinct",
        allowed="another seed (seed = ... or --seed N), wider parameter grids, "
                "or require_distinct = false",
    )


def report_markdown(spec: SheetSpec, exam: ExamSpec, evs: Sequence[ExamVariant], report: Quality) -> str:
    esc = mathfmt.markdown_escape
    who = "Students" if exam.students else "Versions"
    lines = [f"# Quality report: {esc(spec.title)}", ""]
    lines.append(f"- {who}: {report.variants}"
                 + (f" (roster `{exam.roster}`)" if exam.roster else ""))
    lines.append(f"- Seed: {spec.seed}")
    if exam.pools:
        pools = ", ".join(f"{esc(name)}: {k} of {sum(e.pool == name for e in spec.exercises)}"
                          for name, k in sorted(exam.pools.items()))
        lines.append(f"- Pools: {pools}")
    totals = sorted({sum(q.instance.points or 0 for q in ev.questions) for ev in evs})
    lines.append(f"- Total points: {', '.join(map(str, totals))}")
    lines.append(f"- require_distinct: {'true' if exam.require_distinct else 'false'}")
    lines += ["", "| Exercise | Family | Pool | Drawn by | Distinct instances | Sharing numbers |",
              "| --- | --- | --- | --- | --- | --- |"]
    for row in report.rows:
        shared = sum(len(g) for g in row["groups"])
        lines.append(f"| {row['index']} | {row['family']} | {esc(row['pool']) or '-'} | {row['drawn']} "
                     f"| {row['distinct']} | {shared} |")
    lines += ["", "## Identical numbers", ""]
    if not report.collisions:
        lines.append(f"No two {who.lower()} have identical numbers on any exercise.")
    for row, group in report.collisions:
        lines.append(f"- Exercise {row['index']} ({row['family']}): {', '.join(group)}")
    return "\n".join(lines) + "\n"


# -- the combined PDF ------------------------------------------------------------------------

def combined_tex(exam: ExamSpec, evs: Sequence[ExamVariant]) -> str:
    context = {"layout": "exam-print", "duplex": exam.duplex,
               "files": [f"{ev.variant.folder}/problems.pdf" for ev in evs]}
    return render.render_document("latex", "print", context)


# -- the build -------------------------------------------------------------------------------

def _spec_dir(spec: SheetSpec) -> Path:
    return Path(spec.source).parent


def build_exam(
    spec: SheetSpec,
    out_dir: Path,
    *,
    formats: Sequence[str] = ALL_FORMATS,
    jobs: int = 1,
    progress: Callable[[str, int, int], None] | None = None,
    require_pdf: bool = False,
    only: str | None = None,
) -> BuildResult:
    """Build every student's exam into ``out_dir/<spec.name>`` (or, with ``only``, one student's
    folder inside it), atomically: nothing is written unless everything succeeded."""
    try:
        exam = parse_exam(spec.exam, spec.exercises, variants=spec.variants, spec_dir=_spec_dir(spec))
    except WorksheetError as exc:
        raise exc.at(source=spec.source) from None
    variants = exam_variants(exam)
    students = {s.id: s for s in exam.students}
    if only is not None:
        chosen = [v for v in variants if v.id == only]
        if not chosen:
            sample = ", ".join(v.id for v in variants[:3]) + (", ..." if len(variants) > 3 else "")
            raise WorksheetError(f"no student {only!r}", field="--student",
                                 allowed=f"an id of {exam.roster or 'the versions'} ({sample})")
        variants = chosen
    formats, notes = usable_formats(formats, require_pdf)

    evs = []
    rendered = []
    for i, variant in enumerate(variants, start=1):
        ev = solve_exam_variant(spec, exam, variant, students.get(variant.id))
        evs.append(ev)
        try:
            rendered.append((ev, render_exam_variant(spec, exam, ev, formats)))
        except WorksheetError as exc:
            raise exc.at(source=spec.source) from None
        if progress:
            progress("solving", i, len(variants))

    top: dict[str, str] = {}
    if only is None:
        report = quality(spec, exam, evs)
        if exam.require_distinct:
            check_distinct(spec, report)
        notes.extend(report.lines)
        top.update(instructor_key_files(spec, exam, evs, formats))
        top[REPORT] = report_markdown(spec, exam, evs, report)

    out_dir = Path(out_dir)
    target = out_dir / spec.name / variants[0].folder if only is not None else out_dir / spec.name
    written: list[Path] = []
    tex_files: list[Path] = []
    with staged_folder(target) as staging:
        for ev, files in rendered:
            folder = staging if only is not None else staging / ev.variant.folder
            write_files(folder, files, formats, written, tex_files)
        write_files(staging, top, formats, written, tex_files)
        if tex_files:
            compile_all(tex_files, jobs, progress)
            written.extend(p.with_suffix(".pdf") for p in tex_files)
            if only is None:
                wrapper = write_files(staging, {f"{COMBINED}.tex": combined_tex(exam, evs)}, formats,
                                      written, tex_files)
                pdf.compile_pdf(wrapper[0])
                written.append(wrapper[0].with_suffix(".pdf"))
        drop_unwanted_tex(tex_files, formats, written)
    files_out = sorted(target / p.relative_to(staging) for p in written)
    return BuildResult(target, files_out, [SolvedVariant(ev.variant, ev.instances) for ev in evs], notes)
