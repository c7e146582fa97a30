"""Class rosters: a CSV file with at least the columns ``id`` and ``name``.

A student's id names the student's output folder and enters the random streams, so it is held
to a small alphabet; a name is arbitrary text that is only ever printed (escaped per format).
Every problem is refused with one line naming the file, the line and the column, before
anything is drawn or written.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from worksheetgen.errors import WorksheetError
from worksheetgen.mathfmt import LATEX_UNSUPPORTED_HINT

MAX_STUDENTS = 2000
MAX_ID_LENGTH = 64
MAX_NAME_LENGTH = 200
ID_ALLOWED = "ASCII letters, digits, '-', '_' and '.', starting with a letter or digit, no '..'"
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")

# Characters beyond ASCII that pdflatex with \usepackage[T1]{fontenc}, [utf8]{inputenc} and
# textcomp (the sheets' preamble) can typeset: the union of the characters declared in
# t1enc.dfu, ts1enc.dfu, ot1enc.dfu, omsenc.dfu and utf8.def (TeX Live 2023), every one of them
# compiled with the preamble and checked. Anything else (CJK, Cyrillic, emoji, combining marks
# that do not compose) stops TeX with "Unicode character not set up", so it is refused here.
_TEX_RANGES = (
    "00A0-0125 0128-0137 0139-013E 0141-0148 014A-0165 0168-017E 0192 01C4-01D4 01E2-01E3 "
    "01E6-01EB 01F0 01F4-01F5 0218-021B 0232-0233 0237 02C6-02C7 02D8-02D9 02DB-02DD "
    "1E02-1E03 1E0D 1E1E-1E21 1E25 1E30-1E31 1E37 1E43 1E45 1E47 1E5B 1E63 1E6D 1E8E-1E91 1E9E "
    "1EF2-1EF3 2010-2016 2018-201A 201C-201E 2020-2022 2026 2030-2031 2039-203B 203D 2044 "
    "20AC 2122 FB00-FB06"
)


def _ranges(text: str) -> frozenset[str]:
    chars: set[str] = {chr(c) for c in range(32, 127)}
    for item in text.split():
        lo, _, hi = item.partition("-")
        chars.update(chr(c) for c in range(int(lo, 16), int(hi or lo, 16) + 1))
    return frozenset(chars)


TEX_CHARACTERS = _ranges(_TEX_RANGES)


@dataclass(frozen=True)
class Student:
    id: str
    name: str
    line: int  # where the student is in the roster file, for messages


def id_problem(student_id: str) -> str | None:
    """Why ``student_id`` cannot name a folder and a random stream, or None."""
    if not student_id:
        return "empty id"
    if len(student_id) > MAX_ID_LENGTH:
        return f"id longer than {MAX_ID_LENGTH} characters"
    if not _ID.fullmatch(student_id) or ".." in student_id:
        bad = next((c for c in student_id if not (c.isascii() and (c.isalnum() or c in "._-"))), None)
        if bad is not None:
            return f"invalid id {student_id!r}: character {bad!r} is not allowed"
        return f"invalid id {student_id!r}"
    return None


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be printed by pdflatex, or None (escaping handles everything else)."""
    for ch in name:
        if ch not in TEX_CHARACTERS:
            return (f"name {name!r}: character {ch!r} (U+{ord(ch):04X}) cannot be typeset by "
                    f"pdflatex; write the name in Latin script")
    return None


def clean_name(text: str) -> str:
    """NFC (so 'e' + combining acute becomes 'é', which TeX knows), no control characters,
    single spaces."""
    text = unicodedata.normalize("NFC", text)
    text = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in text)
    return " ".join(text.split())


def load_roster(path: str | Path, reserved: frozenset[str] = frozenset()) -> tuple[Student, ...]:
    """Read and validate a roster; ``reserved`` are names (lowercase) no id may take."""
    path = Path(path)
    source = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise WorksheetError("no such roster file", source=source,
                             allowed="a CSV file with columns id,name (relative to the spec)") from None
    except IsADirectoryError:
        raise WorksheetError("a folder, not a roster file", source=source) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise WorksheetError("not UTF-8 text", source=source, field=f"line {line}",
                             allowed="a UTF-8 CSV file (save as 'CSV UTF-8')") from None
    return parse_roster(text, source=source, reserved=reserved)


def parse_roster(text: str, *, source: str = "<roster>",
                 reserved: frozenset[str] = frozenset()) -> tuple[Student, ...]:
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise WorksheetError("empty roster", source=source,
                             allowed="a header line 'id,name' and one line per student")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[tuple[int, list[str]]] = []
    try:
        while True:
            start = reader.line_num + 1  # a quoted name may span lines: report where it starts
            try:
                rows.append((start, next(reader)))
            except StopIteration:
                break
    except csv.Error as exc:
        raise WorksheetError(f"malformed CSV: {exc}", source=source, field=f"line {start}") from None
    rows = [(n, row) for n, row in rows if any(cell.strip() for cell in row)]
    header_line, header = rows[0]
    columns = [cell.strip().lstrip("\ufeff").lower() for cell in header]
    for column in ("id", "name"):
        if column not in columns:
            hint = " (the header looks ';'-separated)" if len(header) == 1 and ";" in header[0] else ""
            raise WorksheetError(
                f"missing column {column!r}{hint}", source=source, field=f"line {header_line}",
                allowed="a comma-separated header with at least the columns id,name "
                        "(other columns are ignored)",
            )
        if columns.count(column) > 1:
            raise WorksheetError(f"column {column!r} appears twice", source=source,
                                 field=f"line {header_line}")
    id_col, name_col = columns.index("id"), columns.index("name")
    if len(rows) == 1:
        raise WorksheetError("no students", source=source,
                             allowed="one line per student after the header")
    if len(rows) - 1 > MAX_STUDENTS:
        raise WorksheetError(f"{len(rows) - 1} students", source=source,
                             allowed=f"at most {MAX_STUDENTS} students")
    students: list[Student] = []
    seen: dict[str, int] = {}
    for line, row in rows[1:]:
        where = f"line {line}"
        if len(row) <= max(id_col, name_col):
            missing = "id" if len(row) <= id_col else "name"
            raise WorksheetError(f"no value in column {missing!r}", source=source,
                                 field=f"{where}: {missing}",
                                 allowed=f"{len(columns)} comma-separated values as in the header")
        student_id = row[id_col].strip()
        problem = id_problem(student_id)
        if problem:
            raise WorksheetError(problem, source=source, field=f"{where}: id", allowed=ID_ALLOWED)
        folded = student_id.lower()  # folders on macOS and Windows ignore case
        if folded in seen:
            raise WorksheetError(
                f"duplicate id {student_id!r} (also on line {seen[folded]})", source=source,
                field=f"{where}: id", allowed="one line per student, ids unique (ignoring case)",
            )
        if folded in reserved:
            raise WorksheetError(f"id {student_id!r} is the name of an exam output file",
                                 source=source, field=f"{where}: id",
                                 allowed=f"{ID_ALLOWED}, not one of {', '.join(sorted(reserved))}")
        seen[folded] = line
        name = clean_name(row[name_col])
        if not name or len(name) > MAX_NAME_LENGTH:
            raise WorksheetError("empty name" if not name else "name too long", source=source,
                                 field=f"{where}: name",
                                 allowed=f"the student's name, 1 to {MAX_NAME_LENGTH} characters")
        problem = name_problem(name)
        if problem:
            raise WorksheetError(problem, source=source, field=f"{where}: name",
                                 allowed=LATEX_UNSUPPORTED_HINT)
        students.append(Student(student_id, name, line))
    return tuple(students)


def check_text(value: str, where: str) -> None:
    """Escaping makes any text safe for TeX, but pdflatex still stops on characters its fonts
    lack (CJK, emoji): refuse them here, naming the field, rather than fail in TeX later."""
    bad = next((ch for ch in value if ch not in TEX_CHARACTERS and ch not in "\n\r\t"), None)
    if bad is not None:
        raise WorksheetError(f"character {bad!r} (U+{ord(bad):04X}) cannot be typeset by pdflatex",
                             field=where, allowed=LATEX_UNSUPPORTED_HINT)
