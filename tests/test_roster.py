"""Roster validation: every bad roster is one line naming the file, the line and the column,
exit 2, and nothing written; names are arbitrary text that TeX can typeset."""

from __future__ import annotations

from pathlib import Path

import pytest

from worksheetgen.cli import main
from worksheetgen.errors import WorksheetError
from worksheetgen.roster import TEX_CHARACTERS, load_roster, parse_roster

SPEC = """title = "Quiz"
seed = 1
[exam]
roster = "roster.csv"
[[exercise]]
family = "scalar_chain"
points = 4
"""


def write_exam(tmp_path: Path, roster: str | bytes) -> Path:
    (tmp_path / "exam.toml").write_text(SPEC, encoding="utf-8")
    path = tmp_path / "roster.csv"
    if isinstance(roster, bytes):
        path.write_bytes(roster)
    else:
        path.write_text(roster, encoding="utf-8")
    return tmp_path / "exam.toml"


def refused(text: str) -> str:
    with pytest.raises(WorksheetError) as info:
        parse_roster(text, source="r.csv")
    return str(info.value)


def test_reads_ids_names_and_ignores_extra_columns() -> None:
    students = parse_roster("email,Name,ID\nx@y,Zoë O'Brien,S1\n,  Ana   García ,S2\n")
    assert [(s.id, s.name, s.line) for s in students] == [
        ("S1", "Zoë O'Brien", 2), ("S2", "Ana García", 3)]


def test_byte_order_mark_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes("id,name\r\nS1,José\r\n\r\nS2,Łukasz\r\n".encode("utf-8-sig"))
    assert [(s.id, s.name, s.line) for s in load_roster(path)] == [
        ("S1", "José", 2), ("S2", "Łukasz", 4)]


def test_decomposed_accents_are_composed() -> None:
    (student,) = parse_roster("id,name\nS1,Rene\u0301e\n")
    assert student.name == "Renée"


def test_quoted_names_keep_commas_and_latex() -> None:
    (a, b) = parse_roster('id,name\nS1,"Smith, Jr."\nS2,"\\input{/etc/passwd}"\n')
    assert a.name == "Smith, Jr." and b.name == "\\input{/etc/passwd}"


def test_line_breaks_and_control_characters_in_names_become_spaces() -> None:
    (a, b) = parse_roster('id,name\nS1,"Ana\nMaria"\nS2,"Bob\x07\tLee"\n')
    assert (a.name, a.line, b.name, b.line) == ("Ana Maria", 2, "Bob Lee", 4)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", "r.csv: empty roster"),
        ("\n  \n", "r.csv: empty roster"),
        ("id,name\n", "r.csv: no students"),
        ("name,email\nAna,a@b\n", "r.csv: line 1: missing column 'id'"),
        ("id\nS1\n", "r.csv: line 1: missing column 'name'"),
        ("id;name\nS1;Ana\n", "r.csv: line 1: missing column 'id' (the header looks ';'-separated)"),
        ("id,name,id\nS1,Ana,S2\n", "r.csv: line 1: column 'id' appears twice"),
        ("id,name\nS1,Ana\n,Bob\n", "r.csv: line 3: id: empty id"),
        ("id,name\nS1,Ana\nS2,Bob\nS1,Carl\n", "r.csv: line 4: id: duplicate id 'S1' (also on line 2)"),
        ("id,name\nab,Ana\nAB,Bob\n", "r.csv: line 3: id: duplicate id 'AB' (also on line 2)"),
        ("id,name\n../x,Ana\n", "r.csv: line 2: id: invalid id '../x': character '/' is not allowed"),
        ("id,name\na/b,Ana\n", "r.csv: line 2: id: invalid id 'a/b': character '/' is not allowed"),
        ("id,name\nS 1,Ana\n", "r.csv: line 2: id: invalid id 'S 1': character ' ' is not allowed"),
        ("id,name\na..b,Ana\n", "r.csv: line 2: id: invalid id 'a..b'"),
        ("id,name\n.hidden,Ana\n", "r.csv: line 2: id: invalid id '.hidden'"),
        ("id,name\n-x,Ana\n", "r.csv: line 2: id: invalid id '-x'"),
        ("id,name\nSé,Ana\n", "r.csv: line 2: id: invalid id 'Sé': character 'é' is not allowed"),
        ("id,name\nS1\n", "r.csv: line 2: name: no value in column 'name'"),
        ("id,name\nS1,  \n", "r.csv: line 2: name: empty name"),
        ("id,name\nS1,\"Ana\n", "r.csv: line 2: malformed CSV"),
    ],
)
def test_refusals_name_file_line_and_column(text: str, expected: str) -> None:
    assert refused(text).startswith(expected)


def test_reserved_ids_are_refused() -> None:
    message = str(pytest.raises(WorksheetError, parse_roster, "id,name\nreport.md,Ana\n",
                                source="r.csv", reserved=frozenset({"report.md"})).value)
    assert message.startswith("r.csv: line 2: id: id 'report.md' is the name of an exam output file")


@pytest.mark.parametrize("name, char", [("王芳", "王"), ("Ana 😀", "😀"), ("Иван", "И"),
                                        ("Nguyễn", "ễ")])
def test_names_tex_cannot_typeset_are_refused_naming_the_character(name: str, char: str) -> None:
    # Decision: refuse, do not transliterate. A printed exam with a mangled name is worse than
    # a clear message; the instructor writes the name in Latin script in the roster.
    message = refused(f"id,name\nS1,Ana\nS2,{name}\n")
    assert message.startswith(f"r.csv: line 3: name: name {name!r}: character {char!r} (U+{ord(char):04X})")
    assert "cannot be typeset by pdflatex" in message


def test_latin_names_with_accents_are_typesettable() -> None:
    for name in ("Amélie", "Jürgen", "Søren", "Núñez", "Łukasz", "Dvořák", "İlkay Gündoğan",
                 "Weiß", "Ångström", "O'Brien", "50% Smith", "~tilde^", "#1 {x}", "$\\def$"):
        assert all(ch in TEX_CHARACTERS for ch in name), name


def test_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes(b"id,name\nS1,Ana\nS2,Ren\xe9e\n")
    with pytest.raises(WorksheetError) as info:
        load_roster(path)
    assert str(info.value).startswith(f"{path}: line 3: not UTF-8 text")


@pytest.mark.parametrize(
    "roster, expected",
    [
        ("id,name\nS1,Ana\nS1,Bob\n", "roster.csv: line 3: id: duplicate id 'S1'"),
        ("id,name\nS1,Ana\n,Bob\n", "roster.csv: line 3: id: empty id"),
        ("id,name\nS1/..,Ana\n", "roster.csv: line 2: id: invalid id"),
        ("id\nS1\n", "roster.csv: line 1: missing column 'name'"),
        ("", "roster.csv: empty roster"),
        ("id,name\nS1,王芳\n", "roster.csv: line 2: name: name '王芳'"),
        (b"id,name\nS1,\xff\n", "roster.csv: line 2: not UTF-8 text"),
    ],
)
def test_cli_refuses_bad_rosters_with_exit_2_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], roster: str | bytes, expected: str
) -> None:
    spec = write_exam(tmp_path, roster)
    out = tmp_path / "output"
    assert main(["build", str(spec), "--out", str(out), "--format", "json"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith(f"worksheetgen: error: {tmp_path / expected.split(':')[0]}:")
    assert expected in err
    assert not out.exists()


def test_cli_missing_roster_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "exam.toml").write_text(SPEC, encoding="utf-8")
    assert main(["build", str(tmp_path / "exam.toml"), "--out", str(tmp_path / "o")]) == 2
    assert f"{tmp_path / 'roster.csv'}: no such roster file" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
