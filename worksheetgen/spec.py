"""Sheet specs: TOML → frozen dataclasses, validated completely before anything is drawn."""

from __future__ import annotations

import tomllib
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from worksheetgen.errors import WorksheetError
from worksheetgen.examspec import ExamSpec, parse_exam
from worksheetgen.roster import check_text
from worksheetgen.params import parse_params
from worksheetgen.registry import get_family

_TOP_LEVEL = {
    "title": "text (required)",
    "course": "text",
    "date": "text",
    "instructions": "text",
    "seed": "integer",
    "variants": "integer from 1 to 2000",
    "digits": "integer from 2 to 10",
    "rounding": "decimals (digits counts decimal places, the default) or significant",
    "name": "output folder name",
    "tolerance": "table {relative, absolute}",
    "exercise": "array of tables [[exercise]]",
    "exam": "table [exam]",
}
_EXERCISE_KEYS = {"id", "family", "points", "params", "title", "pool", "part_points"}
ROUNDINGS = ("decimals", "significant")
ID_ALLOWED = "ASCII letters, digits, '-' and '_' (at most 40), unique within the spec"


@dataclass(frozen=True)
class ExerciseSpec:
    family: str
    options: dict[str, Any]
    points: int | None = None
    title: str = ""
    where: str = "exercise[1]"
    pool: str = ""  # exams: the question pool this exercise belongs to ([exam.pools])
    part_points: tuple[int, ...] = ()  # exams: points of the parts (a), (b), ...
    id: str = ""  # stable identity: keys the random streams (the spec's id, else family-N)
    params: dict[str, Any] = field(default_factory=dict)  # as written, for replaying from the key


@dataclass(frozen=True)
class Tolerance:
    """The sheet's grading rule: how numbers are rounded (``rounding`` with ``digits``) and, when
    the spec states ``tolerance = {relative, absolute}`` (``explicit``), the tolerance that
    overrides the one derived from the rounding."""

    relative: float = 0.01
    absolute: float = 1e-4
    explicit: bool = False
    rounding: str = "decimals"
    digits: int = 4

    @property
    def instruction(self) -> str:
        """The rule as the problem sheet states it once."""
        from worksheetgen import mathfmt

        return mathfmt.instruction(self.digits, self.rounding)


@dataclass(frozen=True)
class SheetSpec:
    source: str
    name: str
    title: str
    exercises: tuple[ExerciseSpec, ...]
    course: str = ""
    date: str = ""
    instructions: str = ""
    seed: int = 0
    variants: int = 1
    digits: int = 4
    tolerance: Tolerance = field(default_factory=Tolerance)
    exam: ExamSpec | None = None


def load_spec(path: str | Path) -> SheetSpec:
    path = Path(path)
    source = str(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise WorksheetError("no such file", source=source) from None
    except UnicodeDecodeError:
        raise WorksheetError("not UTF-8 text", source=source, allowed="a UTF-8 TOML file") from None
    except tomllib.TOMLDecodeError as exc:
        raise WorksheetError(f"malformed TOML: {exc}", source=source) from None
    try:
        return parse_spec(raw, source=source, default_name=path.stem)
    except WorksheetError as exc:
        raise exc.at(source=source) from None


def parse_spec(raw: dict[str, Any], *, source: str = "<spec>", default_name: str = "sheet") -> SheetSpec:
    unknown = sorted(set(raw) - set(_TOP_LEVEL))
    if unknown:
        raise WorksheetError(
            f"unknown key {unknown[0]!r}", field=unknown[0], allowed=", ".join(_TOP_LEVEL)
        )
    title = _text(raw, "title", required=True)
    name = _text(raw, "name") or default_name
    if not name.replace("-", "").replace("_", "").isalnum() or not name.isascii():
        raise WorksheetError(
            f"invalid name {name!r}", field="name",
            allowed="ASCII letters, digits, '-' and '_' (it names the output folder)",
        )
    seed = _int(raw, "seed", 0, minimum=0, maximum=2**63 - 1)
    variants = _int(raw, "variants", 1, minimum=1, maximum=2000)
    digits = _int(raw, "digits", 4, minimum=2, maximum=10)
    rounding = raw.get("rounding", "decimals")
    if rounding not in ROUNDINGS:
        raise WorksheetError(f"invalid value {str(rounding)[:40]!r}", field="rounding", allowed=", ".join(ROUNDINGS))
    tolerance = _tolerance(raw.get("tolerance", {}), rounding, digits)
    exercises_raw = raw.get("exercise")
    if not isinstance(exercises_raw, list) or not exercises_raw:
        raise WorksheetError(
            "no exercises", field="exercise",
            allowed="one or more [[exercise]] tables with a family",
        )
    exercises = _with_ids(tuple(_exercise(item, i) for i, item in enumerate(exercises_raw, start=1)))
    exam = parse_exam(raw.get("exam"), exercises, variants=variants, spec_dir=Path(source).parent)
    return SheetSpec(
        source=source, name=name, title=title, exercises=exercises,
        course=_text(raw, "course"), date=_text(raw, "date"),
        instructions=_text(raw, "instructions", max_length=2000),
        seed=seed, variants=variants, digits=digits, tolerance=tolerance, exam=exam,
    )


def _exercise(item: Any, index: int) -> ExerciseSpec:
    where = f"exercise[{index}]"
    if not isinstance(item, dict):
        raise WorksheetError("not a table", field=where, allowed="[[exercise]] tables")
    unknown = sorted(set(item) - _EXERCISE_KEYS)
    if unknown:
        raise WorksheetError(
            f"unknown key {unknown[0]!r}", field=f"{where}.{unknown[0]}",
            allowed=", ".join(sorted(_EXERCISE_KEYS)),
        )
    family_name = item.get("family")
    if not isinstance(family_name, str):
        raise WorksheetError("missing family", field=f"{where}.family", allowed="a family name (see 'worksheetgen list')")
    family = get_family(family_name, where=f"{where}.family")
    params = item.get("params", {})
    if not isinstance(params, dict):
        raise WorksheetError("not a table", field=f"{where}.params", allowed="a table of parameters")
    options = parse_params(family.params, params, where=f"{where}.params", validate=family.validate)
    points = item.get("points")
    if points is not None and (isinstance(points, bool) or not isinstance(points, int) or not 0 <= points <= 1000):
        raise WorksheetError(f"invalid points {points!r}", field=f"{where}.points", allowed="an integer from 0 to 1000")
    title = _text(item, "title", field_prefix=where)
    pool = _text(item, "pool", max_length=60, field_prefix=where)
    part_points = item.get("part_points", [])
    if not isinstance(part_points, list) or not all(
        isinstance(p, int) and not isinstance(p, bool) and 0 <= p <= 1000 for p in part_points
    ):
        raise WorksheetError(f"invalid part_points {part_points!r}", field=f"{where}.part_points",
                             allowed="a list of integers from 0 to 1000, one per part (a), (b), ...")
    if part_points and points is not None and sum(part_points) != points:
        raise WorksheetError(f"part_points add up to {sum(part_points)}, not to points = {points}",
                             field=f"{where}.part_points", allowed="parts that add up to points (or leave points out)")
    if part_points and points is None:
        points = sum(part_points)
    exercise_id = item.get("id", "")
    if exercise_id != "" and (not isinstance(exercise_id, str) or not exercise_id.isascii() or not
                              exercise_id.replace("-", "").replace("_", "").isalnum() or len(exercise_id) > 40):
        raise WorksheetError(f"invalid id {str(exercise_id)[:40]!r}", field=f"{where}.id", allowed=ID_ALLOWED)
    return ExerciseSpec(family_name, options, points, title, where, pool, tuple(part_points),
                        id=exercise_id, params=params)


def _with_ids(exercises: tuple[ExerciseSpec, ...]) -> tuple[ExerciseSpec, ...]:
    """Every exercise gets a stable id: its own, else the family name numbered by occurrence
    (forward_pass, forward_pass-2, ...), so moving other families' exercises changes nothing."""
    from dataclasses import replace

    taken = {e.id for e in exercises if e.id}
    seen: dict[str, int] = {}
    out = []
    for e in exercises:
        if e.id:
            if sum(other.id == e.id for other in exercises) > 1:
                raise WorksheetError(f"id {e.id!r} is used twice", field=f"{e.where}.id", allowed=ID_ALLOWED)
            out.append(e)
            continue
        seen[e.family] = seen.get(e.family, 0) + 1
        n = seen[e.family]
        candidate = e.family if n == 1 else f"{e.family}-{n}"
        while candidate in taken:
            n += 1
            candidate = f"{e.family}-{n}"
        taken.add(candidate)
        out.append(replace(e, id=candidate))
    return tuple(out)


def _text(raw: dict[str, Any], key: str, *, required: bool = False, max_length: int = 300,
          field_prefix: str = "") -> str:
    where = f"{field_prefix}.{key}" if field_prefix else key
    if key not in raw:
        if required:
            raise WorksheetError("missing", field=where, allowed="a text")
        return ""
    value = raw[key]
    if not isinstance(value, str) or len(value) > max_length:
        raise WorksheetError(f"invalid value {str(value)[:40]!r}", field=where,
                             allowed=f"a text of at most {max_length} characters")
    value = unicodedata.normalize("NFC", value)
    check_text(value, where)
    return value


def _int(raw: dict[str, Any], key: str, default: int, *, minimum: int, maximum: int) -> int:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise WorksheetError(f"invalid value {value!r}", field=key,
                             allowed=f"an integer from {minimum} to {maximum}")
    return value


def _tolerance(raw: Any, rounding: str = "decimals", digits: int = 4) -> Tolerance:
    if not isinstance(raw, dict) or set(raw) - {"relative", "absolute"}:
        raise WorksheetError("invalid tolerance", field="tolerance",
                             allowed="a table with 'relative' and/or 'absolute' (positive numbers)")
    values = {}
    for key in ("relative", "absolute"):
        if key in raw:
            v = raw[key]
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
                raise WorksheetError(f"invalid value {v!r}", field=f"tolerance.{key}",
                                     allowed="a positive number")
            values[key] = float(v)
    return Tolerance(**values, explicit=bool(values), rounding=rounding, digits=digits)
