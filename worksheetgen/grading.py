"""Grade typed responses against an answer key: ``worksheetgen grade KEY.json RESPONSES.csv``.

The key is an exam's ``instructor-key.json`` (every student's exercises) or a sheet variant's
``key.json`` (the same exercises for everybody). The responses are a CSV with one row per student
(column ``id``; for an exam in versions A, B, C also ``version``) and one column per asked value, named as the instructor key's CSV names them:
``<exercise id>:<answer key>``. Other columns (``name``, ``email``, ``<exercise id>:question``)
are read or ignored, never graded.

Each cell is graded by its answer kind from the key entry alone (``answers.grade_entry``: the
entry's tolerance, matrices entry by entry, choices by letter). A number's tolerance records the
rule it was asked by: ``{"kind": "decimals", "digits": 4}`` accepts one unit of the 4th decimal
around the exact value, ``{"kind": "significant", "digits": 2}`` one unit of the 2nd significant
digit of each entry, ``either`` a spec's explicit {relative, absolute}; keys written before the
rounding rule (``relative``, ``absolute``) are graded as they say. Points: an exercise's points are
split over its answers evenly, or, when the key gives ``part_points`` and says which part each
answer belongs to (an answer entry's ``part``), each part's points over the answers of that part.
An answer without points in the key (a sheet without points) is worth one point.

Text answers (``text``, ``expression``) are for a person: a non-blank one earns 0 in ``total``,
its points are listed under ``pending`` and the cell is flagged for review (so ``total`` is what
the machine could grade and ``total + pending`` is the most a student can reach). A blank cell
earns 0. An unreadable cell (not a number, a letter that is no option, …) stops grading with one
line naming its line and column, unless ``lenient``: then it earns 0 and is flagged.

Everything is counted in exact fractions; the CSV shows points rounded to 4 decimals.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterable, Sequence

from worksheetgen.answers import LETTERS, grade_entry, kind_of
from worksheetgen import answerkey
from worksheetgen.errors import WorksheetError

REVIEW_KINDS = ("text", "expression")  # graded by a person (their grade() returns None)
COMMON_WRONG = 3  # most common wrong answers listed per asked value


@dataclass(frozen=True)
class Slot:
    """One asked value of one exercise: a column of the responses."""

    exercise: str  # exercise id
    entry: dict[str, Any]  # the answer's key entry
    points: Fraction

    @property
    def key(self) -> str:
        return str(self.entry["key"])

    @property
    def column(self) -> str:
        return f"{self.exercise}:{self.key}"

    @property
    def kind(self) -> str:
        return str(self.entry["kind"])


@dataclass(frozen=True)
class ExerciseKey:
    id: str
    title: str
    points: Fraction
    slots: tuple[Slot, ...]
    note: str = ""  # how its points were split, when not as the key says


@dataclass
class Key:
    source: str
    title: str
    exercises: dict[str, ExerciseKey]  # every exercise id of the key (first entry seen)
    students: dict[str, list[ExerciseKey]] | None  # None: a sheet key, the same for everybody
    names: dict[str, str] = field(default_factory=dict)
    versions: bool = False  # an exam in versions A, B, C (no roster): rows name their version

    def of(self, student: str) -> list[ExerciseKey]:
        if self.students is None:
            return list(self.exercises.values())
        return self.students[student]

    @property
    def columns(self) -> list[str]:
        """Answer columns as the instructor key's CSV orders them: by exercise, each exercise's
        answers in the order first met (students of a pool exercise may be asked different ones)."""
        by_exercise: dict[str, dict[str, None]] = {ex: {} for ex in self.exercises}
        groups = [list(self.exercises.values())] if self.students is None else list(self.students.values())
        for exercises in groups:
            for ex in exercises:
                for slot in ex.slots:
                    by_exercise[ex.id].setdefault(slot.column, None)
        return [c for columns in by_exercise.values() for c in columns]


@dataclass
class Cell:
    slot: Slot
    response: str
    credit: Fraction | None  # None: a person grades it
    status: str  # right, partial, wrong, blank, review, unreadable

    @property
    def earned(self) -> Fraction:
        return self.slot.points * self.credit if self.credit is not None else Fraction(0)


@dataclass
class StudentResult:
    id: str
    name: str
    line: int
    cells: dict[str, Cell]
    exercises: list[ExerciseKey]

    def exercise_points(self, exercise: ExerciseKey) -> Fraction:
        return sum((self.cells[s.column].earned for s in exercise.slots), Fraction(0))

    @property
    def total(self) -> Fraction:
        return sum((c.earned for c in self.cells.values()), Fraction(0))

    @property
    def maximum(self) -> Fraction:
        return sum((ex.points for ex in self.exercises), Fraction(0))

    @property
    def pending(self) -> Fraction:
        return sum((c.slot.points for c in self.cells.values() if c.status == "review"), Fraction(0))

    @property
    def flags(self) -> list[str]:
        return [f"{c.status}:{c.slot.column}" for c in self.cells.values() if c.status in ("review", "unreadable")]


@dataclass
class Grading:
    key: Key
    responses: str
    students: list[StudentResult]
    notes: list[str] = field(default_factory=list)
    header: list[str] = field(default_factory=list)

    def columns(self) -> list[str]:
        """The graded columns in the responses' order (columns nobody needed come last)."""
        place = {h: i for i, h in enumerate(self.header)}
        return sorted(self.key.columns, key=lambda c: place.get(c, len(place)))

    def exercise_ids(self) -> list[str]:
        return list(dict.fromkeys(c.rsplit(":", 1)[0] for c in self.columns())) + [
            e for e in self.key.exercises if not self.key.exercises[e].slots]


# -- the key -------------------------------------------------------------------------------------

def _fraction(value: Any) -> Fraction:
    return Fraction(str(value))


def split_points(exercise: dict[str, Any]) -> tuple[list[Fraction], str]:
    """Points of each answer of a key entry (same order), and a note when the key's
    part_points could not be applied."""
    answers = exercise.get("answers") or []
    if not answers:
        return [], ""
    if exercise.get("points") is None:
        return [Fraction(1)] * len(answers), ""
    total = _fraction(exercise["points"])
    parts = exercise.get("part_points") or []
    if parts and all(isinstance(a.get("part"), int) for a in answers):
        members: dict[int, int] = Counter(a["part"] for a in answers)
        bad = [p for p in members if not 1 <= p <= len(parts)]
        if bad:
            raise WorksheetError(f"exercise {exercise.get('id')!r}: an answer belongs to part {bad[0]} "
                                 f"but part_points lists {len(parts)} parts")
        out = [_fraction(parts[a["part"] - 1]) / members[a["part"]] for a in answers]
        empty = [i + 1 for i in range(len(parts)) if i + 1 not in members]
        note = (f"exercise {exercise.get('id')!r}: part{'s' if len(empty) > 1 else ''} "
                f"{', '.join(map(str, empty))} ask{'' if len(empty) > 1 else 's'} for no typed value; "
                f"{sum(_fraction(parts[i - 1]) for i in empty)} points are left to a person") if empty else ""
        return out, note
    note = ""
    if parts:
        note = (f"exercise {exercise.get('id')!r}: the key does not say which answer belongs to which part, "
                f"so its {_show(total)} points are split evenly over its {len(answers)} answers "
                f"(part_points {list(parts)} not applied)")
    return [total / len(answers)] * len(answers), note


def exercise_key(exercise: dict[str, Any], source: str) -> ExerciseKey:
    ex_id = str(exercise["id"])
    for a in exercise["answers"]:
        kind_of(a)  # ValueError: a kind this version does not know
        if "key" not in a:
            raise KeyError("answer key")
    try:
        points, note = split_points(exercise)
    except WorksheetError as exc:
        raise exc.at(source=source) from None
    slots = tuple(Slot(ex_id, a, p) for a, p in zip(exercise["answers"], points))
    total = _fraction(exercise["points"]) if exercise.get("points") is not None else Fraction(len(slots))
    return ExerciseKey(ex_id, str(exercise.get("title", ex_id)), total, slots, note)


def load_key(path: str | Path) -> Key:
    return key_from_doc(answerkey.read(path), str(path))


def key_from_doc(doc: Any, source: str) -> Key:
    """A key from the parsed JSON of key.json or instructor-key.json."""
    try:
        return _key_from_doc(doc, source)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        what = f"no {exc}" if isinstance(exc, KeyError) else str(exc)
        raise WorksheetError(f"a malformed answer key ({what})", source=source,
                             allowed="key.json or instructor-key.json as worksheetgen writes them") from None


def _key_from_doc(doc: Any, source: str) -> Key:
    if not isinstance(doc, dict):
        raise WorksheetError("not an answer key", source=source, allowed="key.json or instructor-key.json")
    title = str((doc.get("sheet") or {}).get("title", ""))
    if isinstance(doc.get("students"), list):
        students: dict[str, list[ExerciseKey]] = {}
        names: dict[str, str] = {}
        exercises: dict[str, ExerciseKey] = {}
        for s in doc["students"]:
            sid = str(s["id"])
            students[sid] = [exercise_key(e, source) for e in s["exercises"]]
            names[sid] = str(s.get("name", ""))
            for ex in students[sid]:
                exercises.setdefault(ex.id, ex)
        return Key(source, title, exercises, students, names, versions=not doc.get("roster"))
    if isinstance(doc.get("exercises"), list):
        exercises = {}
        for e in doc["exercises"]:
            ex = exercise_key(e, source)
            exercises[ex.id] = ex
        return Key(source, title, exercises, None)
    raise WorksheetError("neither an exam's instructor key nor a sheet's key", source=source,
                         allowed="instructor-key.json (with 'students') or key.json (with 'exercises')")


# -- one cell ------------------------------------------------------------------------------------

def _letters(entry: dict[str, Any]) -> set[str]:
    return set(LETTERS[: len(entry.get("options") or [])])


def readable(entry: dict[str, Any], response: str) -> None:
    """ValueError when a choice response names no option (numbers: grade() says so itself)."""
    kind = entry["kind"]
    if kind == "choice":
        letter = response.strip().strip("().").upper()
        if letter not in _letters(entry):
            raise ValueError(f"not one of the options {', '.join(sorted(_letters(entry)))}: {response!r}")
    elif kind == "multi":
        chosen = {c for c in re.split(r"[\s,;]+", response.strip().upper()) if c}
        if chosen != {"NONE"} and not chosen <= _letters(entry):
            raise ValueError(f"not a list of the options {', '.join(sorted(_letters(entry)))} "
                             f"(or 'none'): {response!r}")


def grade_cell(slot: Slot, response: str) -> Cell:
    """Credit for one response; ValueError if it cannot be read."""
    text = (response or "").strip()
    if not text:
        return Cell(slot, text, Fraction(0), "blank")
    readable(slot.entry, text)
    credit = grade_entry(slot.entry, text)
    if credit is None:
        return Cell(slot, text, None, "review")
    exact = Fraction(credit).limit_denominator(10**6)  # k/n of a matrix or a multi-select
    status = "right" if exact == 1 else "wrong" if exact == 0 else "partial"
    return Cell(slot, text, exact, status)


# -- the responses -------------------------------------------------------------------------------

def read_responses(path: str | Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """(header, [(line number, row)]) of a responses CSV (UTF-8, with or without a BOM)."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise WorksheetError("no such file", source=source) from None
    except UnicodeDecodeError:
        raise WorksheetError("not UTF-8 text", source=source, allowed="a CSV saved as UTF-8") from None
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise WorksheetError("empty file", source=source, allowed="a header row with an 'id' column") from None
    except csv.Error as exc:
        raise WorksheetError(f"line 1: {exc}", source=source) from None
    if "id" not in header:
        raise WorksheetError("no 'id' column", source=source,
                             allowed="a header row naming 'id' and one '<exercise id>:<answer key>' column per answer")
    repeated = [h for h, n in Counter(header).items() if n > 1 and h]
    if repeated:
        raise WorksheetError(f"column {repeated[0]!r} appears twice", source=source)
    rows = []
    try:
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            if len(cells) > len(header):
                raise WorksheetError(f"line {reader.line_num}: {len(cells)} cells under {len(header)} columns",
                                     source=source, allowed="quote cells that contain commas")
            rows.append((reader.line_num, {h: c for h, c in zip(header, cells)}))
    except csv.Error as exc:
        raise WorksheetError(f"line {reader.line_num}: {exc}", source=source) from None
    return header, rows


def grade(key: Key, header: Sequence[str], rows: Iterable[tuple[int, dict[str, str]]], source: str,
          lenient: bool = False) -> Grading:
    notes = [ex.note for ex in key.exercises.values() if ex.note]
    rows = list(rows)
    known_columns = set(key.columns)
    present = set(header)
    if key.versions and "version" not in present:
        raise WorksheetError("no 'version' column: the key is an exam in versions", source=source,
                             allowed=f"a 'version' column naming each row's version ({_sample(key.students or {})})")

    results: list[StudentResult] = []
    seen: dict[str, int] = {}
    stray: list[str] = []  # answers to exercises the student was not given
    needed: set[str] = set()
    for line, row in rows:
        sid = row.get("id", "").strip()
        if not sid:
            raise WorksheetError(f"line {line}: no student id", source=source, field="id")
        if sid in seen:
            raise WorksheetError(f"line {line}: student {sid!r} appears again (first on line {seen[sid]})",
                                 source=source, field="id", allowed="one row per student")
        seen[sid] = line
        who, column = sid, "id"
        if key.versions and "version" in row:  # versions A, B, C: the row says which one it answers
            who, column = row["version"].strip(), "version"
        if key.students is not None and who not in key.students:
            what = "version" if column == "version" else "student"
            raise WorksheetError(f"line {line}: unknown {what} {who!r}", source=source, field=column,
                                 allowed=f"the {what}s of {Path(key.source).name} ({_sample(key.students)})")
        exercises = key.of(who)
        given = {s.column for ex in exercises for s in ex.slots}
        needed |= given
        missing = [c for c in sorted(given, key=key.columns.index) if c not in present]
        if missing:
            raise WorksheetError(f"no column {missing[0]!r} (student {sid!r} on line {line} was asked for it)",
                                 source=source, allowed="one column per answer, named as in the instructor key's CSV")
        stray += [f"{sid}: {c}" for c in known_columns - given if (row.get(c) or "").strip()]
        cells: dict[str, Cell] = {}
        for ex in exercises:
            for slot in ex.slots:
                try:
                    cells[slot.column] = grade_cell(slot, row.get(slot.column, ""))
                except ValueError as exc:
                    if not lenient:
                        raise WorksheetError(f"line {line} (student {sid!r}), column {slot.column!r}: unreadable "
                                             f"{_kind_word(slot.kind)} {row.get(slot.column, '').strip()!r}",
                                             source=source, allowed=_allowed(slot.kind)) from None
                    cells[slot.column] = Cell(slot, row.get(slot.column, "").strip(), Fraction(0), "unreadable")
                    notes.append(f"line {line} (student {sid}), column {slot.column}: unreadable ({exc}); scored 0")
        name = row.get("name", "").strip() or ("" if key.versions else key.names.get(sid, ""))
        results.append(StudentResult(sid, name, line, cells, exercises))
    if stray:
        notes.append(f"ignored {len(stray)} answers to exercises the student was not given: "
                     + "; ".join(sorted(stray)[:10]) + (" …" if len(stray) > 10 else ""))
    if key.students is not None and not key.versions:
        absent = [s for s in key.students if s not in seen]
        if absent:
            notes.append(f"{len(absent)} students of the key have no row: {', '.join(absent)}")
    return Grading(key, source, results, notes, list(header))


def _sample(ids: Iterable[str]) -> str:
    ids = list(ids)
    return ", ".join(ids[:3]) + (f", … {len(ids)} in all" if len(ids) > 3 else "")


def _kind_word(kind: str) -> str:
    return {"number": "number", "integer": "integer", "matrix": "matrix", "boolean": "true/false",
            "choice": "choice", "multi": "choice list"}.get(kind, "answer")


def _allowed(kind: str) -> str:
    return {
        "number": "a decimal (0.25, -1.5e-3, 0,25) or a fraction (-9/10)",
        "integer": "a whole number",
        "matrix": "the entries row by row, e.g. [0.1; -2] or [1, 2; 3, 4]",
        "boolean": "true/false (yes/no, 1/0)",
        "choice": "one option letter",
        "multi": "option letters separated by commas, or 'none'",
    }.get(kind, "text")


# -- output --------------------------------------------------------------------------------------

def _show(x: Fraction | None, places: int = 4) -> str:
    if x is None:
        return ""
    text = f"{float(x):.{places}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def scores_csv(grading: Grading) -> str:
    columns = grading.columns()
    exercise_ids = grading.exercise_ids()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["id", "name", *columns, *exercise_ids, "total", "max", "pending", "flags"])
    for r in grading.students:
        given = {ex.id: ex for ex in r.exercises}
        writer.writerow([
            r.id, r.name,
            *(_show(r.cells[c].earned) if c in r.cells and r.cells[c].status != "review" else "" for c in columns),
            *(_show(r.exercise_points(given[e])) if e in given else "" for e in exercise_ids),
            _show(r.total), _show(r.maximum), _show(r.pending), " ".join(r.flags),
        ])
    return buffer.getvalue()


def _md(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("`", "'").replace("\n", " ")


def _code(text: str) -> str:
    """A code span in a table cell (no backslash escapes there, but a bar still ends the cell)."""
    return "`" + (text.replace("`", "'").replace("|", "\\|").replace("\n", " ") or " ") + "`"


def report_md(grading: Grading) -> str:
    key, students = grading.key, grading.students
    lines = [f"# Grading report{': ' + _md(key.title) if key.title else ''}", ""]
    lines.append(f"Key `{Path(key.source).name}`, responses `{Path(grading.responses).name}`: "
                 f"{len(students)} student{'s' if len(students) != 1 else ''} graded.")
    if students:
        mean_total = sum((s.total for s in students), Fraction(0)) / len(students)
        mean_max = sum((s.maximum for s in students), Fraction(0)) / len(students)
        pending = sum((s.pending for s in students), Fraction(0))
        lines.append(f"Mean total {_show(mean_total, 2)} of {_show(mean_max, 2)} points"
                     + (f"; {_show(pending, 2)} points of written answers wait for a person" if pending else "") + ".")
    lines += ["", "Difficulty is the mean score as a fraction of the points (1 = everybody right). "
                  "Blank cells count as 0.", ""]
    if grading.notes:
        lines += ["## Notes", ""] + [f"- {_md(n)}" for n in grading.notes] + [""]
    for ex in (key.exercises[e] for e in grading.exercise_ids()):
        takers = [s for s in students if any(e.id == ex.id for e in s.exercises)]
        lines.append(f"## {_md(ex.title)} (`{ex.id}`, {_show(ex.points)} points)")
        lines.append("")
        if not takers:
            lines += ["Nobody who handed in responses was given this exercise.", ""]
            continue
        mine = [next(e for e in s.exercises if e.id == ex.id) for s in takers]
        mean = sum((s.exercise_points(e) for s, e in zip(takers, mine)), Fraction(0)) / len(takers)
        lines.append(f"{len(takers)} student{'s' if len(takers) != 1 else ''}; mean {_show(mean, 2)} of "
                     f"{_show(ex.points)} points, difficulty {_show(mean / ex.points if ex.points else Fraction(0), 2)}.")
        lines += ["", "| Asked | Column | Points | Difficulty | Right | Blank | Most common wrong answers |",
                  "| --- | --- | ---: | ---: | ---: | ---: | --- |"]
        slots: dict[str, Slot] = {}
        for e in mine:
            for slot in e.slots:
                slots.setdefault(slot.column, slot)
        for column, slot in slots.items():
            cells = [s.cells[column] for s in takers if column in s.cells]
            label = f"${str(slot.entry['label']).replace('|', chr(92) + '|')}$" if slot.entry.get("label") else slot.key
            if slot.kind in REVIEW_KINDS:
                review = sum(c.status == "review" for c in cells)
                blank = sum(c.status == "blank" for c in cells)
                lines.append(f"| {label} | `{column}` | {_show(slot.points)} | by hand | | {blank} | "
                             f"{review} to read (written answer) |")
                continue
            graded = [c for c in cells if c.credit is not None]
            difficulty = sum((c.credit for c in graded), Fraction(0)) / len(graded) if graded else Fraction(0)
            wrong = Counter(" ".join(c.response.split()) for c in cells
                            if c.status in ("wrong", "partial", "unreadable"))
            common = ", ".join(f"{_code(r)} ({n})" for r, n in wrong.most_common(COMMON_WRONG))
            lines.append(f"| {label} | `{column}` | {_show(slot.points)} | {_show(difficulty, 2)} | "
                         f"{sum(c.status == 'right' for c in cells)} | {sum(c.status == 'blank' for c in cells)} | "
                         f"{common} |")
        lines.append("")
    review = [(s, c) for s in students for c in s.cells.values() if c.status == "review"]
    if review:
        lines += ["## To read by hand", "", "Written answers earn 0 in `total` until a person grades them; "
                  "their points are in `pending`.", "", "| Student | Column | Points | Answer | Model answer |",
                  "| --- | --- | ---: | --- | --- |"]
        for s, c in review:
            lines.append(f"| `{s.id}` | `{c.slot.column}` | {_show(c.slot.points)} | {_md(c.response)} | "
                         f"{_md(str(c.slot.entry.get('shown', '')))} |")
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def grade_files(key_path: str | Path, responses_path: str | Path, out_dir: str | Path | None = None,
                lenient: bool = False) -> tuple[Grading, list[Path]]:
    """Grade a responses CSV against a key and write ``scores.csv`` and ``grading-report.md``
    into ``out_dir`` (default: the responses' folder)."""
    key = load_key(key_path)
    header, rows = read_responses(responses_path)
    result = grade(key, header, rows, str(responses_path), lenient=lenient)
    folder = Path(out_dir) if out_dir is not None else Path(responses_path).resolve().parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        paths = [folder / "scores.csv", folder / "grading-report.md"]
        paths[0].write_text(scores_csv(result), encoding="utf-8")
        paths[1].write_text(report_md(result), encoding="utf-8")
    except OSError as exc:
        raise WorksheetError(f"cannot write the results ({exc.strerror})", source=str(folder), field="--out") from None
    return result, paths


def shown_response(entry: dict[str, Any]) -> str:
    """What a student types for the key's shown value (the instructor key's CSV cell)."""
    shown = entry.get("shown")
    if entry["kind"] == "matrix":
        return "[" + "; ".join(", ".join(row) for row in shown) + "]"
    return str(shown)
