"""The instructor key's long tables come out right in one pdflatex pass: a \\kill row at each
table's head is as wide, column by column, as its widest cell (worksheetgen/widecells.py), and
the pass is the last when longtable reached every width in that first chunk (pdf.py)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import require_tex
from worksheetgen import pdf, widecells
from worksheetgen.cli import main

LONGTABLE_ASKS = "Package longtable Warning: Table widths have changed. Rerun LaTeX.\n"
SETTLED = b"\\gdef \\LT@i {\\LT@entry \n    {1}{24.9pt}\\LT@entry \n    {1}{84.7pt}}\n"
UNSETTLED = b"\\gdef \\LT@i {\\LT@entry \n    {1}{24.9pt}\\LT@entry \n    {3}{84.7pt}}\n"


def test_a_log_that_asks_nothing_needs_no_pass() -> None:
    assert not pdf._asks_another_pass("Output written on key.pdf (3 pages).", None)


def test_other_reasons_always_ask_for_a_pass() -> None:
    for reason in ("LaTeX Warning: Label(s) may have changed. Rerun to get cross-references right.",
                   "LaTeX Warning: There were undefined references."):
        assert pdf._asks_another_pass(reason, SETTLED)
        assert pdf._asks_another_pass(LONGTABLE_ASKS + reason, SETTLED)


def test_longtable_is_settled_only_when_every_width_came_from_the_first_chunk() -> None:
    assert not pdf._asks_another_pass(LONGTABLE_ASKS, SETTLED)
    assert pdf._asks_another_pass(LONGTABLE_ASKS, UNSETTLED)
    assert pdf._asks_another_pass(LONGTABLE_ASKS, None)  # no .aux written: nothing known
    assert pdf._asks_another_pass(LONGTABLE_ASKS, b"\\relax \n")


def test_the_kill_row_measures_the_widest_candidates_of_each_column() -> None:
    rows = [["ID", "Name", "$x$"],
            ["\\texttt{S1}", "Al", "$-0.5$"],
            ["\\texttt{S2}", "Maximilian Wolkenstein", "$12.25$"],
            ["\\texttt{S3}", "Bo", "$3$"]]
    row = widecells.kill_row(rows)
    assert len(row) == 3
    for cell, widest in zip(row, ["\\texttt{S1}", "Maximilian Wolkenstein", "$12.25$"]):
        assert f"\\KeyCand{{{widest}}}" in cell
        assert cell.startswith("\\KeyWidest=0pt") and cell.endswith("\\KeyCell")
    # No more than CANDIDATES are measured; a column of one distinct cell is that cell.
    many = [[f"$-{i}.{i}$"] for i in range(1, 40)]
    assert widecells.kill_row(many)[0].count("\\KeyCand") == widecells.CANDIDATES
    assert widecells.kill_row([["$1$"], ["$1$"]]) == ["$1$"]


def test_a_column_of_fixed_width_gets_an_empty_kill_cell() -> None:
    rows = [["ID", "Answer"], ["S1", "a long sentence"], ["S2", "short"]]
    assert widecells.kill_row(rows, [False, True])[1] == ""


def _images(path: Path) -> list[bytes]:
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run(["pdftoppm", "-r", "30", "-png", str(path), f"{folder}/p"], check=True)
        return [p.read_bytes() for p in sorted(Path(folder).glob("p-*.png"))]


@pytest.mark.pdf
def test_the_key_in_one_pass_prints_what_two_passes_without_the_kill_rows_print(tmp_path: Path) -> None:
    require_tex()
    example = Path(__file__).resolve().parent.parent / "examples" / "exam.toml"
    assert main(["build", str(example), "--out", str(tmp_path / "out"), "--format", "tex"]) == 0
    key = (tmp_path / "out" / "exam" / "instructor-key.tex").read_text(encoding="utf-8")
    kill_rows = [line for line in key.split("\n") if line.endswith("\\kill")]
    assert len(kill_rows) == key.count("\\begin{longtable}") > 0
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    (one / "key.tex").write_text(key, encoding="utf-8")
    (two / "key.tex").write_text("\n".join(line for line in key.split("\n") if not line.endswith("\\kill")),
                                 encoding="utf-8")
    runs = pdf.tex_runs()
    first = pdf.compile_pdf(one / "key.tex")
    assert pdf.tex_runs() - runs == 1
    runs = pdf.tex_runs()
    second = pdf.compile_pdf(two / "key.tex")
    assert pdf.tex_runs() - runs == 2  # longtable's own way: the widths from the first pass's .aux
    assert _images(first) == _images(second)
