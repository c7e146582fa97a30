"""Exams: per-student reproducibility, pools, versions, escaping of names, the instructor key,
the quality report, validation of the [exam] table and byte-identical rebuilds (PDFs too)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import subprocess
from pathlib import Path

import pytest

from conftest import require_tex
from worksheetgen import plan as plans
from worksheetgen.build import build as build_spec
from worksheetgen.cli import main
from worksheetgen.errors import WorksheetError
from worksheetgen.spec import load_spec

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "exam.toml"

HEADER = """title = "Quiz 3"
course = "Deep Neural Networks"
date = "2025-06-12"
instructions = "Show your work."
seed = 11
"""
CHAIN = """
[[exercise]]
family = "scalar_chain"
points = 6
part_points = [2, 1, 3]
"""
POOL = """
[exam.pools]
chains = 2

[[exercise]]
family = "scalar_chain"
pool = "chains"
points = 4
params = { activation = "sigmoid" }

[[exercise]]
family = "scalar_chain"
pool = "chains"
points = 4
params = { activation = "tanh" }

[[exercise]]
family = "scalar_chain"
pool = "chains"
points = 4
params = { activation = "relu" }
"""
ROSTER = "id,name\nS1,Ana García\nS2,Bob O'Brien\nS3,Chen Li\nS4,Dana Smith\n"
# The ids also try the characters that reach file names and \includepdf: '_', '.', '-'.
HOSTILE = ('id,name,email\n'
           'S_1,"\\input{/etc/passwd} & $\\def$",x@y\n'
           'S.2-b,"Zoë O\'Brien #1 {x} ~tilde^ 50% Anna_Maria",z@y\n')


def write(tmp_path: Path, roster: str = ROSTER, exam: str = "", body: str = CHAIN + POOL,
          name: str = "exam.toml") -> Path:
    (tmp_path / "roster.csv").write_text(roster, encoding="utf-8")
    # [exam] keys first, then the sub-tables and exercises of ``body``.
    spec = HEADER + '[exam]\nroster = "roster.csv"\n' + exam + body
    path = tmp_path / name
    path.write_text(spec, encoding="utf-8")
    return path


def build(spec: Path, out: Path, *args: str) -> int:
    return main(["build", str(spec), "--out", str(out), *args])


def tree(folder: Path) -> dict[str, str]:
    """Relative path → sha256 of every file below ``folder``."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# -- one student's exam depends on (seed, id, spec) only ------------------------------------

def test_student_rebuild_is_byte_identical(tmp_path: Path) -> None:
    spec = write(tmp_path)
    assert build(spec, tmp_path / "full", "--format", "tex,md,json") == 0
    assert build(spec, tmp_path / "one", "--format", "tex,md,json", "--student", "S3") == 0
    full = tree(tmp_path / "full" / "exam" / "S3")
    assert set(full) == {"problems.tex", "solutions.tex", "problems.md", "solutions.md", "key.json"}
    assert tree(tmp_path / "one" / "exam" / "S3") == full
    assert sorted(p.name for p in (tmp_path / "one" / "exam").iterdir()) == ["S3"]


def test_student_rebuild_in_place_replaces_only_that_folder(tmp_path: Path) -> None:
    spec = write(tmp_path)
    out = tmp_path / "out"
    assert build(spec, out, "--format", "md,json") == 0
    before = tree(out / "exam")
    (out / "exam" / "S2" / "problems.md").write_text("scribbled", encoding="utf-8")
    assert build(spec, out, "--format", "md,json", "--student", "S2") == 0
    assert tree(out / "exam") == before
    assert not [p for p in (out / "exam").iterdir() if p.name.startswith(".")]


def test_adding_a_student_changes_nobody_elses_exam(tmp_path: Path) -> None:
    rosters = {"a": "id,name\nS1,Ana\nS3,Chen\nS4,Dana\n",
               "b": "id,name\nS0,Zed\nS1,Ana\nS2,Bob\nS3,Chen\nS4,Dana\n"}
    for folder, roster in rosters.items():
        (tmp_path / folder).mkdir()
        assert build(write(tmp_path / folder, roster=roster), tmp_path / folder / "out",
                     "--format", "tex,md,json") == 0
    for student in ("S1", "S3", "S4"):
        assert tree(tmp_path / "a" / "out" / "exam" / student) == \
            tree(tmp_path / "b" / "out" / "exam" / student), student


def test_example_student_s017_matches_the_full_build(tmp_path: Path) -> None:
    """`worksheetgen build examples/exam.toml --student S017` = S017's files of the full build
    (key.json holds every given and answer; the small tests above cover .tex/.md/.pdf)."""
    assert build(EXAMPLE, tmp_path / "full", "--format", "json") == 0
    assert build(EXAMPLE, tmp_path / "one", "--format", "json", "--student", "S017") == 0
    full = tree(tmp_path / "full" / "exam" / "S017")
    assert full and tree(tmp_path / "one" / "exam" / "S017") == full
    students = [p.name for p in (tmp_path / "full" / "exam").iterdir() if p.is_dir()]
    assert len(students) == 30
    report = (tmp_path / "full" / "exam" / "report.md").read_text(encoding="utf-8")
    assert "No two students have identical numbers" in report  # require_distinct holds


# -- pools -----------------------------------------------------------------------------------

def test_pool_draw_takes_k_distinct_of_n_and_uses_every_member() -> None:
    seen = set()
    for i in range(300):
        draw = plans.pool_draw(7, f"S{i:03d}", "p", 5, 2)
        assert len(draw) == 2 and draw == sorted(set(draw)) and all(0 <= j < 5 for j in draw)
        seen.update(draw)
        assert plans.pool_draw(7, f"S{i:03d}", "p", 5, 2) == draw  # a pure function
    assert seen == set(range(5))
    # Other seeds / pool names are other streams.
    assert any(plans.pool_draw(7, f"S{i}", "p", 5, 2) != plans.pool_draw(8, f"S{i}", "p", 5, 2)
               for i in range(20))
    assert any(plans.pool_draw(7, f"S{i}", "p", 5, 2) != plans.pool_draw(7, f"S{i}", "q", 5, 2)
               for i in range(20))


def test_pool_questions_on_the_sheets(tmp_path: Path) -> None:
    spec = write(tmp_path, roster="id,name\n" + "".join(f"S{i},Student {i}\n" for i in range(12)))
    assert build(spec, tmp_path / "out", "--format", "json,md") == 0
    loaded = load_spec(spec)
    plan = plans.make_plan(loaded)
    ids = [e.id for e in loaded.exercises]
    assert ids == ["scalar_chain", "scalar_chain-2", "scalar_chain-3", "scalar_chain-4"]
    used = set()
    for i in range(12):
        key = json.loads((tmp_path / "out" / "exam" / f"S{i}" / "key.json").read_text(encoding="utf-8"))
        got = [e["id"] for e in key["exercises"]]
        assert got[0] == ids[0] and len(got) == 3  # the fixed exercise + 2 of the pool
        assert got[1:] == [ids[p + 1] for p in plans.pool_draw(11, f"S{i}", "chains", 3, 2)]
        assert got == [s.exercise.id for s in plan.slots(plans.Variant(f"S{i}"))]
        assert [e["number"] for e in key["exercises"]] == [1, 2, 3]
        assert [e.get("meta", {}).get("pool") for e in key["exercises"]] == [None, "chains", "chains"]
        assert sum(e["points"] for e in key["exercises"]) == 14  # pools keep totals equal
        md = (tmp_path / "out" / "exam" / f"S{i}" / "problems.md").read_text(encoding="utf-8")
        assert "## Question 3:" in md and "## Question 4:" not in md
        used.update(got)
    assert used == set(ids)
    report = (tmp_path / "out" / "exam" / "report.md").read_text(encoding="utf-8")
    assert "- Pools: chains: 2 of 3" in report


MORE = """
[[exercise]]
family = "scalar_chain"
pool = "more"
params = { activation = "elu" }

[[exercise]]
family = "scalar_chain"
pool = "more"
params = { activation = "leaky_relu" }
"""


def test_a_new_pool_does_not_change_the_draws_of_another(tmp_path: Path) -> None:
    first = load_spec(write(tmp_path, name="a.toml"))
    second = load_spec(write(tmp_path, name="b.toml",
                             body=CHAIN + POOL.replace("chains = 2", "chains = 2\nmore = 1") + MORE))
    assert second.exam.pools == {"chains": 2, "more": 1}
    a, b = plans.make_plan(first), plans.make_plan(second)
    for i in range(20):
        with_more = [s.exercise.id for s in b.slots(plans.Variant(f"S{i}"))]
        assert len(with_more) == 4 and with_more[-1] in ("scalar_chain-5", "scalar_chain-6")
        assert [s.exercise.id for s in a.slots(plans.Variant(f"S{i}"))] == with_more[:3]


# -- versions --------------------------------------------------------------------------------

def test_versions_a_b_c(tmp_path: Path) -> None:
    spec = tmp_path / "v.toml"
    spec.write_text(HEADER + "[exam]\nversions = 3\n" + CHAIN, encoding="utf-8")
    assert build(spec, tmp_path / "out", "--format", "md,json,tex") == 0
    folder = tmp_path / "out" / "v"
    assert sorted(p.name for p in folder.iterdir() if p.is_dir()) == ["A", "B", "C"]
    md = (folder / "B" / "problems.md").read_text(encoding="utf-8")
    assert "| **Version** | **B** |" in md and "| **Name** | |" in md
    assert "Version: & \\textbf{B}" in (folder / "B" / "problems.tex").read_text(encoding="utf-8")
    keys = [json.loads((folder / v / "key.json").read_text(encoding="utf-8")) for v in "ABC"]
    assert [k["variant"] for k in keys] == ["A", "B", "C"]
    assert len({json.dumps(k["exercises"][0]["given"]) for k in keys}) == 3
    rows = list(csv.reader(io.StringIO((folder / "instructor-key.csv").read_text(encoding="utf-8"))))
    assert [r[0] for r in rows[1:]] == ["A", "B", "C"]
    assert main(["build", str(spec), "--out", str(tmp_path / "one"), "--format", "json",
                 "--student", "B"]) == 0
    assert tree(tmp_path / "one" / "v" / "B") == {"key.json": tree(folder / "B")["key.json"]}


# -- the instructor key and the report ------------------------------------------------------

def test_instructor_key_has_every_students_answers(tmp_path: Path) -> None:
    spec = write(tmp_path)
    assert build(spec, tmp_path / "out", "--format", "md,json,tex") == 0
    folder = tmp_path / "out" / "exam"
    rows = list(csv.DictReader(io.StringIO((folder / "instructor-key.csv").read_text(encoding="utf-8"))))
    assert [r["id"] for r in rows] == ["S1", "S2", "S3", "S4"]
    assert rows[1]["name"] == "Bob O'Brien"
    full = json.loads((folder / "instructor-key.json").read_text(encoding="utf-8"))
    assert [s["id"] for s in full["students"]] == ["S1", "S2", "S3", "S4"]
    for row, student in zip(rows, full["students"]):
        key = json.loads((folder / row["id"] / "key.json").read_text(encoding="utf-8"))
        assert student["exercises"] == key["exercises"]
        for exercise in key["exercises"]:
            if exercise["id"] != "scalar_chain":  # pooled: the CSV says which question it was
                assert row[f"{exercise['id']}:question"] == str(exercise["number"])
            for answer in exercise["answers"]:
                assert row[f"{exercise['id']}:{answer['key']}"] == (
                    answer["shown"] if isinstance(answer["shown"], str) else row[f"{exercise['id']}:{answer['key']}"])
        missing = {"scalar_chain-2", "scalar_chain-3", "scalar_chain-4"} - {e["id"] for e in key["exercises"]}
        assert all(row[c] == "" for c in row if any(c.startswith(f"{m}:") for m in missing))
    md = (folder / "instructor-key.md").read_text(encoding="utf-8")
    assert md.count("| `S1` | Ana García |") == 3  # exercise 1 and both pool exercises drawn
    tex = (folder / "instructor-key.tex").read_text(encoding="utf-8")
    assert "\\begin{longtable}" in tex and "Bob O'Brien" in tex


def test_report_counts_distinct_instances(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = write(tmp_path, exam="require_distinct = true\n", body=CHAIN)
    assert build(spec, tmp_path / "out", "--format", "json") == 0
    err = capsys.readouterr().err
    assert "note: exam: 4 students, seed 11" in err
    assert "exercise 1 (scalar_chain): 4 distinct of 4" in err
    report = (tmp_path / "out" / "exam" / "report.md").read_text(encoding="utf-8")
    assert "| 1 | `scalar_chain` | scalar_chain | - | 4 | 4 | 0 |" in report


PINNED = """
[[exercise]]
family = "scalar_chain"
points = 6

[[exercise]]
family = "scalar_chain"
points = 6
params = { activation = "elu", alpha = 1, w1 = 2, w2 = 3, x = -1, y = -1.4255 }
"""


def test_identical_numbers_are_reported(tmp_path: Path) -> None:
    spec = write(tmp_path, body=PINNED)
    assert build(spec, tmp_path / "out", "--format", "json") == 0
    report = (tmp_path / "out" / "exam" / "report.md").read_text(encoding="utf-8")
    assert "| 2 | `scalar_chain-2` | scalar_chain | - | 4 | 1 | 4 |" in report
    assert "- Exercise 2 (scalar_chain): S1, S2, S3, S4" in report


def test_require_distinct_refuses_naming_students_and_exercise(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = write(tmp_path, exam="require_distinct = true\n", body=PINNED)
    assert build(spec, tmp_path / "out") == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"worksheetgen: error: {spec}: exam.require_distinct: S1, S2, S3 and S4 have identical "
        "numbers on exercise 2 (scalar_chain) (allowed: another seed (seed = ... or --seed N), "
        "wider parameter grids, or require_distinct = false)"
    )
    assert not (tmp_path / "out").exists()


def test_distinct_check_finds_a_collision_between_two_students(tmp_path: Path) -> None:
    # Tiny grids: w1, w2, x, y each from {1} or {1, 2}: with 12 students collisions are certain.
    body = """
[[exercise]]
family = "scalar_chain"
params = { activation = "sigmoid", weight_grid = [1, 2, 1], input_grid = [1, 1, 1], target_grid = [1, 1, 1] }
"""
    spec = write(tmp_path, roster="id,name\n" + "".join(f"S{i},N{i}\n" for i in range(12)),
                 exam="require_distinct = true\n", body=body)
    with pytest.raises(WorksheetError) as info:
        build_spec(load_spec(spec), tmp_path / "out", formats=["json"])
    assert re.search(r"S\d+ and S\d+ have identical numbers on exercise 1 \(scalar_chain\)|"
                     r"S\d+(, S\d+)+ and (S\d+|\d+ more) have", str(info.value))
    assert "another seed" in str(info.value)


# -- validation --------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "exam, body, expected",
    [
        ("colour = 1\n", CHAIN, "exam.colour: unknown key 'colour'"),
        ("versions = 2\n", CHAIN, "exam: give either roster or versions"),
        ("require_distinct = 1\n", CHAIN, "exam.require_distinct: invalid value 1"),
        ("", CHAIN + POOL.replace("chains = 2", "chains = 4"), "exam.pools.chains: invalid value 4"),
        ("", CHAIN + POOL.replace("chains = 2", "chains = 0"), "exam.pools.chains: invalid value 0"),
        ("", CHAIN + POOL.replace("chains = 2", "chains = 2\nother = 1"),
         "exam.pools.other: no exercise has pool = 'other'"),
        ("", CHAIN + POOL.replace('pool = "chains"\npoints = 4\nparams = { activation = "tanh" }',
                                  'pool = "chain"\npoints = 4\nparams = { activation = "tanh" }'),
         "exercise[3].pool: unknown pool 'chain'"),
        ("", CHAIN + POOL.replace("points = 4\nparams = { activation = \"relu\" }",
                                  "points = 5\nparams = { activation = \"relu\" }"),
         "exam.pools.chains: the exercises of pool 'chains' have different points (4, 5)"),
        ("", CHAIN.replace("[2, 1, 3]", "[2, 2, 3]"),
         "exercise[1].part_points: part_points add up to 7, not to points = 6"),
        ("", CHAIN.replace("[2, 1, 3]", "[2, 'x']"), "exercise[1].part_points: invalid part_points"),
    ],
)
def test_exam_table_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str], exam: str, body: str,
                           expected: str) -> None:
    spec = write(tmp_path, exam=exam, body=body)
    assert build(spec, tmp_path / "out") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"worksheetgen: error: {spec}: {expected}"), err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "text, expected",
    [
        (HEADER + "[exam]\n" + CHAIN, "exam: an exam needs a roster or versions"),
        (HEADER + "[exam]\nversions = 27\n" + CHAIN, "exam.versions: invalid value 27"),
        (HEADER + "variants = 3\n[exam]\nversions = 2\n" + CHAIN, "variants: variants = 3 in an exam"),
        (HEADER + CHAIN, "exercise[1].part_points: part_points is only used by exams"),
        (HEADER + '[[exercise]]\nfamily = "scalar_chain"\npool = "p"\n',
         "exercise[1].pool: pool is only used by exams"),
    ],
)
def test_spec_errors_without_roster(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str,
                                    expected: str) -> None:
    spec = tmp_path / "x.toml"
    spec.write_text(text, encoding="utf-8")
    assert build(spec, tmp_path / "out") == 2
    assert capsys.readouterr().err.strip().startswith(f"worksheetgen: error: {spec}: {expected}")
    assert not (tmp_path / "out").exists()


def test_part_points_must_match_the_parts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = write(tmp_path, body=CHAIN.replace("points = 6\npart_points = [2, 1, 3]",
                                              "points = 5\npart_points = [2, 3]"))
    assert build(spec, tmp_path / "out", "--format", "md") == 2
    err = capsys.readouterr().err
    assert f"{spec}: exercise[1].part_points: the exercise has a part (c) but part_points lists 2 values" in err
    spec = write(tmp_path, body=CHAIN.replace("points = 6\npart_points = [2, 1, 3]",
                                              "points = 7\npart_points = [2, 1, 3, 1]"))
    assert build(spec, tmp_path / "out", "--format", "tex") == 2
    err = capsys.readouterr().err
    assert "exercise[1].part_points: part_points lists 4 values but the exercise (scalar_chain) has 3 parts" in err
    assert not (tmp_path / "out").exists()


def test_student_option_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = write(tmp_path)
    assert build(spec, tmp_path / "out", "--student", "S9") == 2
    assert "--student: no student 'S9' (allowed: an id of roster.csv (S1, S2, S3, ...))" in capsys.readouterr().err
    sheet = tmp_path / "sheet.toml"
    sheet.write_text(HEADER + '[[exercise]]\nfamily = "scalar_chain"\n', encoding="utf-8")
    assert build(sheet, tmp_path / "out", "--student", "S1") == 2
    assert "--student: no [exam] table" in capsys.readouterr().err
    assert build(spec, tmp_path / "out", "--variants", "3") == 2
    assert "--variants: --variants 3 with an exam spec" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_layout_points_and_cover(tmp_path: Path) -> None:
    spec = write(tmp_path, exam='duration = "45 minutes"\npage_per_question = true\n')
    assert build(spec, tmp_path / "out", "--format", "tex,md") == 0
    tex = (tmp_path / "out" / "exam" / "S2" / "problems.tex").read_text(encoding="utf-8")
    assert "\\begin{coverpages}" in tex and "\\gradetable[h][questions]" in tex
    assert "Name: & \\textbf{Bob O'Brien}" in tex and "Student ID: & \\texttt{S2}" in tex
    assert "45 minutes" in tex and "14 points in total" in tex
    assert "\\part[2] Calculate $a^{[1]}$" in tex and "\\part[3] Calculate" in tex
    assert "\\question \\textbf{Backpropagation through a two-layer chain} \\hfill (6 points)" in tex
    assert tex.count("\\question[4]") == 2 and tex.count("\\newpage") == 2
    solutions = (tmp_path / "out" / "exam" / "S2" / "solutions.tex").read_text(encoding="utf-8")
    assert "\\printanswers\n" in solutions and "\\begin{solution}" in solutions
    assert "\\noprintanswers\n" in tex
    md = (tmp_path / "out" / "exam" / "S2" / "problems.md").read_text(encoding="utf-8")
    assert "| **Name** | Bob O'Brien |" in md and "| **Student ID** | `S2` |" in md
    assert "| **Total** | **14** | |" in md and "*2 pt*" in md
    assert "## Question 1: Backpropagation through a two\\-layer chain · 6 points" in md


# -- PDFs: escaping, combined PDF, byte-identical rebuild ------------------------------------

@pytest.fixture(scope="module")
def pdf_builds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_tex()
    root = tmp_path_factory.mktemp("exam_pdf")
    spec = write(root, roster=HOSTILE, exam="page_per_question = true\n")
    for out, jobs in (("one", "1"), ("two", "2")):
        assert build(spec, root / out, "--jobs", jobs) == 0
    return root


def pdf_text(path: Path) -> str:
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout
    return " ".join(text.replace("\u2019", "'").split())


@pytest.mark.pdf
def test_rebuild_is_byte_identical_with_pdfs(pdf_builds: Path) -> None:
    first, second = tree(pdf_builds / "one"), tree(pdf_builds / "two")
    assert first == second
    expected = {f"exam/{s}/{f}" for s in ("S_1", "S.2-b") for f in (
        "problems.tex", "problems.md", "problems.pdf", "solutions.tex", "solutions.md",
        "solutions.pdf", "key.json")}
    expected |= {f"exam/{f}" for f in ("all-problems.tex", "all-problems.pdf", "instructor-key.md",
                                       "instructor-key.tex", "instructor-key.pdf",
                                       "instructor-key.csv", "instructor-key.json", "report.md")}
    assert set(first) == expected


@pytest.mark.pdf
def test_names_print_literally_and_execute_nothing(pdf_builds: Path) -> None:
    folder = pdf_builds / "one" / "exam"
    names = {"S_1": "\\input{/etc/passwd} & $\\def$", "S.2-b": "Zoë O'Brien #1 {x} ~tilde^ 50% Anna_Maria"}
    for student, name in names.items():
        for view in ("problems", "solutions"):
            tex = (folder / student / f"{view}.tex").read_text(encoding="utf-8")
            # Every backslash that comes from a name is \textbackslash{}; no command survives.
            assert "\\input" not in tex and "\\def" not in tex and "/etc/passwd}" not in tex
            assert "\\textbf{\\textbackslash{}input\\{/etc/passwd\\} \\& \\$\\textbackslash{}def\\$}" in tex \
                or student == "S.2-b"
            text = pdf_text(folder / student / f"{view}.pdf")
            assert f"Name: {name}" in text
            assert f"Student ID: {student}" in text
            assert text.count(name) >= 2  # the cover and the running header of the questions
    assert "Zoë O'Brien \\#1 \\{x\\} \\~tilde^ 50% Anna\\_Maria" in (folder / "S.2-b" / "problems.md").read_text(encoding="utf-8")
    key_text = pdf_text(folder / "instructor-key.pdf")
    assert all(name in key_text for name in names.values())


@pytest.mark.pdf
def test_combined_pdf_has_every_exam_in_roster_order(pdf_builds: Path) -> None:
    folder = pdf_builds / "one" / "exam"

    def pages(path: Path) -> int:
        info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
        return int(re.search(r"Pages:\s+(\d+)", info).group(1))

    each = [pages(folder / s / "problems.pdf") for s in ("S_1", "S.2-b")]
    # Duplex (the default): every exam starts on a front side.
    assert pages(folder / "all-problems.pdf") == sum(n + n % 2 for n in each)
    text = pdf_text(folder / "all-problems.pdf")
    assert text.index("Name: \\input{/etc/passwd}") < text.index("Name: Zoë O'Brien")
    assert "S_1/problems.pdf" in (folder / "all-problems.tex").read_text(encoding="utf-8")
