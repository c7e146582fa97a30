"""The PDF stage (worksheetgen/texbatch.py): students typeset in batches on a dumped preamble
format, cut into per-student PDFs at the pages the run records. Byte-identical whatever --jobs
is and for a one-student reprint; page counts and names right on every student's pages; no TikZ
or pgfplots without a figure or a plot; a TeX error names the student's file and line."""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from conftest import require_tex
from worksheetgen import pdf, texbatch
from worksheetgen.build import progress_bar
from worksheetgen.cli import main
from worksheetgen.errors import TexError
from worksheetgen.formats import get_format
from worksheetgen.formats.pdf import Pdf

ROSTER = ("id,name\nS1,Ana García\nS2,Bob O'Brien\nS3,Chen Li\nS4,Dana Smith\nS5,Émile Zola\n"
          "S6,Farah Khan\nS7,Gus Grissom\n")
NAMES = {"S1": "Ana García", "S2": "Bob O'Brien", "S3": "Chen Li", "S4": "Dana Smith", "S5": "Émile Zola",
         "S6": "Farah Khan", "S7": "Gus Grissom"}
EXAM = """title = "Quiz 9"
course = "Deep Neural Networks"
seed = 9

[exam]
roster = "roster.csv"
page_per_question = true

[exam.pools]
short = 2

[[exercise]]
family = "forward_pass"
points = 6
params = { layers = [2, 2, 1] }

[[exercise]]
family = "scalar_chain"
points = 4
part_points = [1, 1, 2]

[[exercise]]
family = "bce_loss"
pool = "short"
points = 2

[[exercise]]
family = "gradient_check"
pool = "short"
points = 2

[[exercise]]
family = "preprocessing"
pool = "short"
points = 2
"""
BATCH = 3  # students per TeX run in these tests, on average
# Where the boundaries fall for these names (texbatch.Boundaries: a hash of the folder names).
BATCHES = [["S1", "S2"], ["S3", "S4", "S5"], ["S6"], ["S7"]]
# A student added after S5 joins S6's batch; the others keep theirs.
INSERTED = ("S5b", "Hana Sato", ["S6"])


def tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def pdf_pages(path: Path) -> list[str]:
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return [" ".join(page.replace("\u2019", "'").split()) for page in text.split("\f")[:-1]]


def page_images(path: Path, first: int | None = None, last: int | None = None) -> list[bytes]:
    """Pages ``first``..``last`` of ``path`` drawn at 30 dpi (PNG bytes)."""
    with tempfile.TemporaryDirectory() as folder:
        pages = ["-f", str(first), "-l", str(last)] if first is not None else []
        subprocess.run(["pdftoppm", "-r", "30", "-png", *pages, str(path), f"{folder}/p"], check=True)
        return [p.read_bytes() for p in sorted(Path(folder).glob("p-*.png"))]


def build(spec: Path, out: Path, *args: str) -> int:
    return main(["build", str(spec), "--out", str(out), *args])


@pytest.fixture(scope="module")
def exam(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two full builds (--jobs 1 and 2), two reprints, and a build of the roster with one more
    student, in batches of about three students."""
    require_tex()
    root = tmp_path_factory.mktemp("pdf_stage")
    (root / "roster.csv").write_text(ROSTER, encoding="utf-8")
    (root / "exam.toml").write_text(EXAM, encoding="utf-8")
    grown = root / "grown"
    grown.mkdir()
    student, name, _ = INSERTED
    (grown / "roster.csv").write_text(ROSTER.replace("S6,", f"{student},{name}\nS6,"), encoding="utf-8")
    (grown / "exam.toml").write_text(EXAM, encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Pdf, "batch", BATCH)
        patch.setenv("XDG_CACHE_HOME", str(root / "cache"))  # formats dumped afresh
        runs = pdf.tex_runs()
        assert build(root / "exam.toml", root / "one", "--jobs", "1") == 0
        (root / "runs").write_text(str(pdf.tex_runs() - runs))
        assert build(root / "exam.toml", root / "two", "--jobs", "2") == 0
        for student in ("S4", "S7"):  # the middle of a batch, a batch of one
            assert build(root / "exam.toml", root / student, "--student", student) == 0
        assert build(grown / "exam.toml", grown / "out") == 0
    return root


def test_a_documents_unit_is_its_setup_and_body() -> None:
    text = "\\documentclass{exam}\n" + texbatch.MARK + "\n\\noprintanswers\n\\header{}\n\\begin{document}\nBody\n\n\\end{document}\n"
    assert texbatch.unit_text(text) == "\\noprintanswers\n\\header{}\nBody"
    assert texbatch.unit_text(text) == texbatch.parse(Path("a.tex"), "a.tex", text).units[0].key
    with pytest.raises(ValueError):
        texbatch.unit_text("\\documentclass{article}\n\\begin{document}\nx\n\\end{document}\n")


def test_the_gate_lets_the_lowest_priority_in_first_then_the_earliest() -> None:
    gate = texbatch.Gate(0)  # nothing runs until every task waits
    order: list[str] = []
    tasks = [("small batch", (3, -7)), ("big batch", (3, -76)), ("key", (1,)), ("other big", (3, -76))]

    def run(name: str, priority: tuple[int, ...]) -> None:
        with gate.slot(lambda: priority):
            order.append(name)

    threads = []
    for name, priority in tasks:
        threads.append(threading.Thread(target=run, args=(name, priority)))
        threads[-1].start()
        while len(gate._waiting) < len(threads):
            time.sleep(0.001)
    gate.set(1)
    for thread in threads:
        thread.join(5)
    assert order == ["key", "big batch", "other big", "small batch"]


def test_batches_are_where_the_tests_expect_them() -> None:
    assert [[f"S{i + 1}" for i in r] for r in texbatch.batches(list(NAMES), BATCH)] == BATCHES
    grown = [*list(NAMES)[:5], INSERTED[0], *list(NAMES)[5:]]
    changed = [batch for batch in BATCHES if batch not in
               [[grown[i] for i in r] for r in texbatch.batches(grown, BATCH)]]
    assert changed == [INSERTED[2]]


def test_an_added_student_moves_no_other_batch() -> None:
    roster = [f"S{i:03d}" for i in range(1, 501)]
    size = Pdf.batch  # the build's
    before = {tuple(roster[i] for i in r) for r in texbatch.batches(roster, size)}
    assert len(before) > 500 // (2 * size) and max(len(b) for b in before) <= size * 3 // 2
    assert sorted(s for b in before for s in b) == roster
    moved = []
    for at in range(0, 500, 25):
        grown = roster[:at] + ["NEW"] + roster[at:]
        after = {tuple(grown[i] for i in r) for r in texbatch.batches(grown, size)}
        moved.append(len(before - after))
    assert max(moved) <= 3 and sum(moved) <= 1.5 * len(moved)  # its own batch, seldom the next


@pytest.mark.pdf
@pytest.mark.slow
def test_rebuilds_and_jobs_give_the_same_bytes(exam: Path) -> None:
    one, two = tree(exam / "one"), tree(exam / "two")
    assert one == two
    assert {f"exam/{s}/{v}.pdf" for s in NAMES for v in ("problems", "solutions")} <= set(one)
    assert {"exam/all-problems.pdf", "exam/instructor-key.pdf"} <= set(one)


@pytest.mark.pdf
@pytest.mark.slow
def test_a_reprint_has_the_full_builds_bytes(exam: Path) -> None:
    for student in ("S4", "S7"):
        alone = tree(exam / student / "exam" / student)
        assert {"problems.pdf", "solutions.pdf", "problems.tex"} <= set(alone)
        assert alone == tree(exam / "one" / "exam" / student), student
        assert sorted(p.name for p in (exam / student / "exam").iterdir()) == [student]


@pytest.mark.pdf
@pytest.mark.slow
def test_tex_runs_per_document(exam: Path) -> None:
    # One format (problems and solutions share their preamble), one pass per batch for both
    # views, one pass for the instructor key (its long tables' widths are set by a \kill row of
    # the widest cells: tests/test_one_pass_tables.py); nothing per student.
    assert int((exam / "runs").read_text()) == 1 + len(BATCHES) + 1


@pytest.mark.pdf
@pytest.mark.slow
def test_a_student_added_to_the_roster_changes_only_their_batchs_pdfs(exam: Path) -> None:
    before, after = tree(exam / "one" / "exam"), tree(exam / "grown" / "out" / "exam")
    student, _, joined = INSERTED
    assert f"{student}/problems.pdf" in after
    for batch in BATCHES:
        for s in batch:
            for view in ("problems", "solutions"):
                same = before[f"{s}/{view}.pdf"] == after[f"{s}/{view}.pdf"]
                assert same == (batch != joined), (s, view)


@pytest.mark.pdf
@pytest.mark.slow
def test_each_students_pages_are_theirs_at_the_recorded_boundaries(exam: Path) -> None:
    folder = exam / "one" / "exam"
    # The combined document, compiled on its own as a person would: the pages it records per
    # student are the pages of that student's own PDF.
    work = exam / "combined"
    work.mkdir()
    shutil.copy(folder / "all-problems.tex", work)
    pdf.compile_pdf(work / "all-problems.tex")
    bounds = [tuple(map(int, line.split())) for line in (work / "all-problems.units").read_text().split("\n") if line]
    printed = pdf_pages(folder / "all-problems.pdf")
    assert len(bounds) == len(NAMES)
    at = 0
    for (first, last), (student, name) in zip(bounds, NAMES.items()):
        own = pdf_pages(folder / student / "problems.pdf")
        assert len(own) == last - first + 1, student
        # The same pages, drawn: text extraction orders the pieces of big brackets by the font
        # subset, which differs between a batch and the combined document compiled alone.
        assert page_images(folder / student / "problems.pdf") == \
            page_images(work / "all-problems.pdf", first, last) == \
            page_images(folder / "all-problems.pdf", at + 1, at + len(own)), student
        at += len(own) + len(own) % 2  # duplex: a blank page after an odd count
        assert all(f"Name: {name}" in page or name in page.split(" Quiz 9 ")[0] for page in own)
        others = [n for n in NAMES.values() if n != name]
        assert not any(other in page for page in own for other in others), student
        count = len(own) - 1  # the cover page has no number
        assert [re.search(r"Page (\d+) of (\d+)", p).groups() for p in own[1:]] == \
            [(str(i), str(count)) for i in range(1, count + 1)]
        assert "Question: 1 2 3 4 Total Points: 6 4 2 2 14 Score:" in own[0]  # from the stated points
        solutions = pdf_pages(folder / student / "solutions.pdf")
        assert any("Solution" in page for page in solutions) and name in solutions[0]
    assert at == len(printed) > sum(len(pdf_pages(folder / s / "problems.pdf")) for s in NAMES)  # blanks


def test_packages_only_when_the_questions_need_them(tmp_path: Path) -> None:
    plain = tmp_path / "plain.toml"
    plain.write_text('title = "T"\nseed = 1\n[[exercise]]\nfamily = "scalar_chain"\n', encoding="utf-8")
    drawn = tmp_path / "drawn.toml"
    drawn.write_text('title = "T"\nseed = 1\n[[exercise]]\nfamily = "forward_pass"\n', encoding="utf-8")
    plotted = tmp_path / "plotted.toml"
    plotted.write_text('title = "T"\nseed = 1\n[[exercise]]\nfamily = "lr_curves"\n', encoding="utf-8")
    for spec in (plain, drawn, plotted):
        assert build(spec, tmp_path / "out", "--format", "tex") == 0
    def preamble(name: str) -> str:
        text = (tmp_path / "out" / name / "problems.tex").read_text(encoding="utf-8")
        return text[: text.index(texbatch.MARK)]
    assert "tikz" not in preamble("plain") and "pgfplots" not in preamble("plain")
    assert "\\usepackage{tikz}" in preamble("drawn") and "pgfplots" not in preamble("drawn")
    assert "\\usepackage{tikz}" in preamble("plotted") and "\\usepackage{pgfplots}" in preamble("plotted")


@pytest.mark.pdf
def test_a_sheet_without_figures_loads_no_tikz_and_takes_one_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require_tex()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    spec = tmp_path / "plain.toml"
    spec.write_text('title = "T"\nseed = 1\n[[exercise]]\nfamily = "scalar_chain"\npoints = 3\n', encoding="utf-8")
    logs: list[str] = []
    real = pdf.run_tex

    def spy(command: list[str], cwd: Path, timeout: float = 300):  # type: ignore[no-untyped-def]
        result = real(command, cwd, timeout)
        job = next((a.split("=", 1)[1] for a in command if a.startswith("-jobname=")), Path(command[-1]).stem)
        logs.append((Path(cwd) / f"{job}.log").read_text(encoding="utf-8", errors="replace"))
        return result

    monkeypatch.setattr(pdf, "run_tex", spy)
    assert build(spec, tmp_path / "out", "--format", "pdf") == 0
    assert len(logs) == 2  # the format, one pass typesetting problems and solutions
    assert all("exam.cls" in log for log in logs)
    assert not any("tikz.sty" in log or "pgfplots.sty" in log for log in logs)
    pages = pdf_pages(tmp_path / "out" / "plain" / "problems.pdf")
    assert pages and all(f"Page {i} of {len(pages)}" in page for i, page in enumerate(pages, start=1))


@pytest.mark.pdf
def test_a_tex_error_names_the_students_file_and_line(tmp_path: Path) -> None:
    require_tex()
    spec = tmp_path / "exam.toml"
    (tmp_path / "roster.csv").write_text(ROSTER, encoding="utf-8")
    spec.write_text(EXAM, encoding="utf-8")
    assert build(spec, tmp_path / "out", "--format", "tex") == 0
    folder = tmp_path / "out" / "exam"
    broken = folder / "S2" / "problems.tex"
    lines = broken.read_text(encoding="utf-8").split("\n")
    at = lines.index("\\begin{questions}") + 1
    lines.insert(at, "\\undefinedmacro")
    broken.write_text("\n".join(lines), encoding="utf-8")
    sources = [folder / s / f"{v}.tex" for s in NAMES for v in ("problems", "solutions")]
    with pytest.raises(TexError) as err:
        get_format("pdf").make(sources, 2)
    message = str(err.value)
    assert message.startswith("S2/problems.tex: TeX failed")
    assert f"S2/problems.tex:{at + 1}: Undefined control sequence" in message
    assert "\\undefinedmacro" in message


def test_progress_bar_shows_time_left_after_two_seconds() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    now = [100.0]
    stream = Terminal()
    show = progress_bar(stream, clock=lambda: now[0])
    assert show is not None
    now[0] = 101.0
    show("solving", 1, 10)
    assert stream.getvalue() == ""  # a quick build prints nothing
    now[0] = 104.0
    show("solving", 4, 10)  # 4 done in 4 s: 6 s left
    assert "4/10" in stream.getvalue() and "0:06 left" in stream.getvalue()
    now[0] = 110.0
    show("solving", 10, 10)
    assert stream.getvalue().endswith("\n")
    assert progress_bar(io.StringIO()) is None  # not a terminal: silent


@pytest.mark.pdf
def test_a_damaged_cached_format_is_dumped_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    require_tex()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    spec = tmp_path / "plain.toml"
    spec.write_text('title = "T"\nseed = 1\n[[exercise]]\nfamily = "scalar_chain"\npoints = 3\n', encoding="utf-8")
    assert build(spec, tmp_path / "a", "--format", "pdf") == 0
    formats = list((tmp_path / "cache").rglob("*.fmt"))
    assert len(formats) == 1  # problems and solutions share their preamble
    for fmt in formats:
        fmt.write_bytes(fmt.read_bytes()[:100_000])
    assert build(spec, tmp_path / "b", "--format", "pdf") == 0
    assert tree(tmp_path / "a") == tree(tmp_path / "b")
