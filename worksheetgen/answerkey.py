"""The machine-readable answer key: per exercise its identity (id, stream seed, attempt, the
spec's params), the givens, and every asked value as its answer kind stores it (exact text,
float, shown text, tolerance, choice options), so a grader, an exporter or a replay needs
nothing but this file."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Sequence

import sympy as sp

from worksheetgen import __version__, mathfmt, sympyfast
from worksheetgen.answers import Rule
from worksheetgen.instance import Instance

FORMAT_VERSION = 2


def jsonable(value: Any) -> Any:
    """Givens as JSON: exact decimals as numbers, other rationals as text, matrices as rows."""
    if isinstance(value, sp.MatrixBase):
        rows = sympyfast.rational_rows(value)  # read off SymPy's own fractions when it has them
        if rows is not None:
            return [[_fraction_json(p, q) for p, q in row] for row in rows]
        return [[jsonable(v) for v in row] for row in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if hasattr(value, "items") and hasattr(value, "field_names"):  # a Record
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, sp.Integer):
        return int(value)
    if isinstance(value, sp.Rational):
        return float(value) if mathfmt.terminates(value) else str(value)
    if isinstance(value, sp.Basic):
        return str(value)
    if isinstance(value, (int, float, str)):
        return value
    return str(value)


def _fraction_json(p: int, q: int) -> Any:
    """p/q (in lowest terms) as :func:`jsonable` writes ``sp.Rational(p, q)``."""
    if q == 1:
        return p
    if not mathfmt.terminates_denominator(q):
        return f"{p}/{q}"
    try:
        return p / q  # correctly rounded, as float(sp.Rational(p, q))
    except OverflowError:
        return float(sp.Rational(p, q))


def rule_of(tolerance: Any) -> Rule:
    """The grading rule of a spec's Tolerance (explicit tolerance, rounding)."""
    return Rule(relative=tolerance.relative, absolute=tolerance.absolute,
                rounding=getattr(tolerance, "rounding", mathfmt.DECIMALS),
                explicit=bool(getattr(tolerance, "explicit", False)))


def instance_entry(instance: Instance, rule: Rule, number: int | None = None,
                   part_points: Sequence[int] = ()) -> dict[str, Any]:
    # The answers' exact texts each order their sums with fast_ordering: entered once for them
    # all (setting and restoring SymPy's methods for each text costs more than some texts).
    with mathfmt.fast_ordering():
        answers = [a.entry(instance.digits, rule) for a in instance.solved.answers]
    entry: dict[str, Any] = {
        "id": instance.exercise_id,
        "number": number,
        "family": instance.family.name,
        "title": instance.title,
        "points": instance.points,
        **({"part_points": list(part_points)} if part_points else {}),
        "stream_seed": str(instance.stream_seed),
        "attempt": instance.attempt,
        "params": jsonable(instance.params),
        "given": jsonable(instance.given),
        "answers": answers,
    }
    if instance.meta:
        entry["meta"] = jsonable(instance.meta)
    return entry


def variant_key(sheet: dict[str, Any], variant: str, student: dict[str, Any] | None,
                entries: Sequence[Any], rule: Rule, digits: int) -> dict[str, Any]:
    """A variant's key; ``entries``: the exercises' entries, as dicts or as :func:`encoded` text."""
    return {
        "generator": {"name": "worksheetgen", "version": __version__, "key_format": FORMAT_VERSION},
        "sheet": sheet,
        "variant": variant,
        **({"student": student} if student else {}),
        "digits": digits,
        "tolerance": {"relative": rule.relative, "absolute": rule.absolute, "rounding": rule.rounding,
                      "explicit": rule.explicit},
        "exercises": entries,
    }


def read(path: "str | Path") -> Any:
    """A key file's JSON, or one line naming the file (for replay and grading)."""
    from worksheetgen.errors import WorksheetError

    source = str(path)
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise WorksheetError("no such file", source=source) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WorksheetError(f"not a JSON answer key ({exc})", source=source) from None


def dumps(doc: Any) -> str:
    """``json.dumps(doc, indent=2, ensure_ascii=False) + "\\n"``, byte for byte. The standard
    library indents with its pure-Python encoder, which yields every token through a chain of
    generators; this joins the same text directly (strings by the same C escaper), several
    times faster on a key of many answers."""
    return _encode(doc, "\n") + "\n"


class Encoded(str):
    """JSON text written by :func:`encoded`: :func:`dumps` places it as it stands, indented to
    where it goes (an exercise's entry is written once for key.json and the instructor key)."""


def encoded(value: Any) -> Encoded:
    return Encoded(_encode(value, "\n"))


_escape = json.encoder.encode_basestring  # the C function when available, as json.dumps uses
_INF = float("inf")


def _scalar(o: Any) -> str | None:
    """A scalar's JSON text as json.dumps writes it (its order of tests), or None for a
    container or a type json.dumps refuses."""
    if isinstance(o, str):
        return _escape(o)
    if o is None:
        return "null"
    if o is True:
        return "true"
    if o is False:
        return "false"
    if isinstance(o, int):
        return int.__repr__(o)
    if isinstance(o, float):
        if o != o:
            return "NaN"
        if o == _INF:
            return "Infinity"
        if o == -_INF:
            return "-Infinity"
        return float.__repr__(o)
    return None


def _key(k: Any) -> str:
    if isinstance(k, str):
        return _escape(k)
    if isinstance(k, (int, float)) or k is None:  # written as text: 1 -> "1", True -> "true"
        return _escape(_scalar(k))  # type: ignore[arg-type]
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(k).__name__}")


def _encode(o: Any, newline: str) -> str:
    kind = type(o)
    if kind is Encoded:
        return o.replace("\n", newline)
    # The common exact types first; anything else takes json.dumps's order of tests.
    if kind is str:
        return _escape(o)
    if kind is float and o - o == 0:  # finite
        return float.__repr__(o)
    if kind is int:
        return int.__repr__(o)
    if kind is list or kind is tuple or (kind is not dict and isinstance(o, (list, tuple))):
        if not o:
            return "[]"
        inner = newline + "  "
        return "[" + inner + ("," + inner).join([_escape(v) if type(v) is str else _encode(v, inner)
                                                 for v in o]) + newline + "]"
    if kind is dict or isinstance(o, dict):
        if not o:
            return "{}"
        inner = newline + "  "
        return ("{" + inner + ("," + inner).join([
            (_escape(k) if type(k) is str else _key(k)) + ": " + (_escape(v) if type(v) is str else _encode(v, inner))
            for k, v in o.items()]) + newline + "}")
    text = _scalar(o)
    if text is None:
        raise TypeError(f"Object of type {kind.__name__} is not JSON serializable")
    return text


def key_csv(columns: list[tuple[str, str]], rows: list[tuple[list[str], dict[str, str]]]) -> str:
    """A CSV of (fixed cells, answer cells by column key) rows under (column key, heading)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["id", "name", *(head for _, head in columns)])
    for fixed, values in rows:
        writer.writerow([*fixed, *(values.get(key, "") for key, _ in columns)])
    return buffer.getvalue()
