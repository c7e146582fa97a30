"""Hostile text from users (roster names and ids, spec texts): printed literally or refused naming
the line or field; never read from disk by TeX, never written outside the output folder."""

from __future__ import annotations

import csv
import io
import subprocess
from pathlib import Path

import pytest

from conftest import require_tex
from worksheetgen.cli import main

SECRET = "CANARY-7f3a-SECRET"
HOSTILE_NAMES = [
    r"\input{CANARY}",
    r"^^5cinput{CANARY}",
    r"\csname input\endcsname{CANARY}",
    r"\immediate\write18{touch PWNED}",
    r"\openin5=CANARY \read5 to\x \x",
    r"$\def\a{\a}\a$",
    "}{\\end{document}",
    "Robert'); DROP TABLE--",
    '"Smith, Jr." <a@b>',
    "100% _#&~^ {x}",
]


def spec_text(title: str, roster: str = "roster.csv") -> str:
    return (f'title = "{title}"\ncourse = "A & B"\ninstructions = "Use \\\\verb|x| ^^M; 50% off"\n'
            f'seed = 4\n[exam]\nroster = "{roster}"\nduration = "\\\\input{{CANARY}}"\n'
            '[[exercise]]\nfamily = "scalar_chain"\npoints = 6\ntitle = "\\\\write18{touch PWNED2}"\n')


def write_roster(folder: Path, names: list[str], ids: list[str] | None = None, bom: bool = False,
                 crlf: bool = False) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n" if crlf else "\n")
    writer.writerow(["id", "name"])
    for i, name in enumerate(names):
        writer.writerow([ids[i] if ids else f"S{i + 1:02d}", name])
    (folder / "roster.csv").write_bytes(buffer.getvalue().encode("utf-8-sig" if bom else "utf-8"))


def snapshot(folder: Path, skip: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if skip not in p.parents and p != skip}


@pytest.mark.pdf
def test_hostile_names_and_spec_text_print_literally(tmp_path: Path) -> None:
    require_tex()
    (tmp_path / "CANARY.tex").write_text(SECRET + "\n", encoding="utf-8")
    write_roster(tmp_path, HOSTILE_NAMES, bom=True, crlf=True)
    spec = tmp_path / "exam.toml"
    spec.write_text(spec_text("Quiz \\\\include{CANARY} ^^5c"), encoding="utf-8")
    out = tmp_path / "out"
    before = snapshot(tmp_path, out)
    assert main(["build", str(spec), "--out", str(out), "--format", "tex,pdf,md,json"]) == 0
    assert snapshot(tmp_path, out) == before, "nothing is written outside the output folder"
    for i, name in enumerate(HOSTILE_NAMES, start=1):
        pdf = out / "exam" / f"S{i:02d}" / "problems.pdf"
        text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                              check=True).stdout
        assert SECRET not in text, f"TeX read the canary for {name!r}"
        flat = " ".join(text.replace("\u2019", "'").split())  # the font's apostrophe is curly
        assert " ".join(name.split())[:12] in flat, (name, flat[:400])
        assert "\\input{CANARY}" in flat or i > 1  # the duration line prints literally too
    assert not list(tmp_path.rglob("PWNED*")), "shell escape is off"
    md = (out / "exam" / "S01" / "problems.md").read_text(encoding="utf-8")
    assert "\\\\input\\{CANARY\\}" in md or "\\input\\{CANARY\\}" in md


@pytest.mark.parametrize("name, expected", [
    ("evil\u202egnp.exe", "(U+202E) cannot be typeset"),
    ("zero\u200bwidth", "(U+200B) cannot be typeset"),
    ("漢字", "(U+6F22) cannot be typeset"),
])
def test_unprintable_names_are_refused_naming_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       name: str, expected: str) -> None:
    write_roster(tmp_path, [name])
    (tmp_path / "exam.toml").write_text(spec_text("Quiz"), encoding="utf-8")
    assert main(["build", str(tmp_path / "exam.toml"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "roster.csv: line 2: name:" in err and expected in err, err
    assert not (tmp_path / "out" / "exam").exists()


@pytest.mark.parametrize("student_id", ["../escape", "/etc/x", "a/b", "..", ".hidden", "S1\\x",
                                        "instructor-key.json", "a b", "CON:"])
def test_path_tricks_in_ids_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str], student_id: str) -> None:
    write_roster(tmp_path, ["Ana"], ids=[student_id])
    (tmp_path / "exam.toml").write_text(spec_text("Quiz"), encoding="utf-8")
    assert main(["build", str(tmp_path / "exam.toml"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "line 2: id:" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exam.toml", "roster.csv"] or \
        not any((tmp_path / "out").rglob("*.md"))


def test_a_roster_path_outside_the_spec_folder_is_read_as_given_but_never_written(tmp_path: Path,
                                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "exam.toml").write_text(spec_text("Quiz", roster="/etc/passwd"), encoding="utf-8")
    assert main(["build", str(tmp_path / "exam.toml"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "/etc/passwd" in err, err
