"""Layouts that fit (issue 10, item 5): wide networks split their formulas, figures are never
wider than the line, the running head cannot overprint itself, exams leave room sized from the
worked solution. The PDF tests typeset real sheets and read pdflatex's log and the page."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from conftest import require_tex
from helpers import instance
from worksheetgen import documents, texfit
from worksheetgen.cli import main
from worksheetgen.errors import WorksheetError
from worksheetgen.examspec import parse_exam
from worksheetgen.figures import Figure
from worksheetgen.figures.scene import Circle, Label, Scene
from worksheetgen.formats import get_format

WIDE = [2, 6, 4, 6, 5]  # the widest allowed kind of network: every unit sums 7 terms
OVERFULL = re.compile(r"^Overfull \\([hv])box \(([\d.]+)pt too (?:wide|high)\)", re.M)
A4_WIDTH, MARGIN = 595.28, 2.2 / 2.54 * 72  # pt (the sheets' geometry)


# -- helpers -----------------------------------------------------------------------------------

def sheet(tmp_path: Path, exercises: str, title: str = "Layout", extra: str = "") -> Path:
    spec = tmp_path / "sheet.toml"
    spec.write_text(f'title = "{title}"\ncourse = "Deep Neural Networks"\ndate = "Week 1"\nseed = 3\n'
                    f"{extra}\n{exercises}", encoding="utf-8")
    assert main(["build", str(spec), "--out", str(tmp_path / "out"), "--format", "tex"]) == 0
    return tmp_path / "out" / "sheet"


def typeset(tex: Path) -> tuple[list[tuple[str, float]], Path]:
    """One pdflatex pass: the overfull boxes of its log (hbox above 1 pt, any vbox) and the PDF."""
    subprocess.run(["pdflatex", "-no-shell-escape", "-interaction=nonstopmode", "-halt-on-error", tex.name],
                   cwd=tex.parent, capture_output=True, text=True, timeout=300)
    log = tex.with_suffix(".log").read_text(encoding="utf-8", errors="replace")
    assert "Output written" in log, log[-2000:]
    boxes = [(kind, float(size)) for kind, size in OVERFULL.findall(log) if kind == "v" or float(size) > 1.0]
    return boxes, tex.with_suffix(".pdf")


def words(pdf: Path, page: int) -> list[tuple[float, float, float, float, str]]:
    """(xmin, ymin, xmax, ymax, text) of every word on a page, in pt from the top left."""
    html = subprocess.run(["pdftotext", "-bbox", "-f", str(page), "-l", str(page), str(pdf), "-"],
                          capture_output=True, text=True, check=True).stdout
    pattern = r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>'
    return [(float(a), float(b), float(c), float(d), w) for a, b, c, d, w in re.findall(pattern, html)]


def exercise(family: str, ident: str, params: str = "") -> str:
    return f'[[exercise]]\nfamily = "{family}"\nid = "{ident}"\npoints = 4\n' + (f"params = {{ {params} }}\n" if params else "")


# -- width estimates and splitting (fast) ------------------------------------------------------

def test_chain_fits_on_one_line_when_it_can() -> None:
    lines = texfit.chain_lines("z_1", [("=", ["a", "b"]), ("=", ["1", "2"]), ("\\approx", ["3"])])
    assert lines == ["z_1 &= a + b = 1 + 2 \\approx 3"]


def test_a_long_chain_is_split_into_lines_that_fit() -> None:
    terms = [f"(-0.{k}) \\cdot 1.25" for k in range(1, 8)]
    sym = [f"w^{{[2]}}_{{{k}1}} a^{{[1]}}_{{{k}}}" for k in range(7)]
    lines = texfit.chain_lines("z^{[2]}_{1}", [("=", sym), ("=", terms), ("\\approx", ["-0.8235"])], width=250)
    assert len(lines) > 2
    assert all(texfit.math_width(line.replace("&", "")) <= 250 + texfit.math_width("z^{[2]}_{1}") for line in lines)
    # every term is still there, in order, and each line after the first continues at the "&"
    joined = " ".join(lines)
    assert [t for t in terms if t in joined] == terms and all(s in joined for s in sym)
    assert lines[0].startswith("z^{[2]}_{1} &= ") and all(line.startswith("&") for line in lines[1:])
    assert any(line.startswith("&\\quad {} + ") for line in lines)


def test_split_parentheses_become_bigl_bigr() -> None:
    lines = texfit.chain_lines("\\delta_1", [("=", [f"w_{k} \\delta_{k}" for k in range(9)], "g'(z) \\left(", "\\right)")],
                               width=150)
    text = " ".join(lines)
    assert "\\left" not in text and "\\bigl(" in text and text.count("\\bigr)") == 1


def test_matrix_columns_count_in_the_width() -> None:
    narrow = texfit.math_width("\\begin{bmatrix} 0.1234 \\\\ 0.5 \\end{bmatrix}")
    wide = texfit.math_width("\\begin{bmatrix} 0.1234 & 0.1234 & 0.1234 & 0.1234 \\\\ 0.5 & 0.5 & 0.5 & 0.5 \\end{bmatrix}")
    assert wide > 3 * narrow * 0.9


def test_wide_network_solution_lines_fit_the_display_width() -> None:
    for layers in ([4, 5, 6], [3, 6, 6, 2]):  # backprop's solution holds the forward pass's too
        inst = instance("backprop", seed=4, layers=layers)
        _, solution = get_format("tex").render_exercise(inst)
        rows = re.findall(r"\\begin\{align\*\}\n(.*?)\n\\end\{align\*\}", solution, re.S)
        assert rows
        for block in rows:
            for row in texfit._split_top(block, "\\\\"):
                assert texfit.math_width("".join(texfit._split_top(row, "&"))) <= texfit.DISPLAY_WIDTH + 1, row[:80]


def test_small_networks_keep_one_line_per_unit() -> None:
    inst = instance("forward_pass", seed=4, layers=[2, 2, 2])
    _, solution = get_format("tex").render_exercise(inst)
    assert "\\quad {}" not in solution and solution.count("z^{[1]}_{1} &= w^{[1]}_{01}") == 1
    assert re.search(r"z\^\{\[1\]\}_\{1\} &= [^\n]*= [^\n]*\\\\\n", solution)  # symbols, numbers, value on one line


def test_long_header_title_is_shortened_to_fit() -> None:
    title = "Week 12: Forward propagation, backpropagation and the chain rule through very deep networks"
    left, center, right = texfit.fit_header("Deep Neural Networks", title, "")
    assert left == "Deep Neural Networks" and center.endswith("\u2026") and title.startswith(center[:-1])
    room = texfit.TEXT_WIDTH - 2 * (texfit.text_width(left) + 14)
    assert texfit.text_width(center) <= room
    assert texfit.fit_header("Deep Neural Networks", "Week 1", "") == ("Deep Neural Networks", "Week 1", "")


def test_a_table_too_wide_is_dealt_out_with_its_key_column() -> None:
    header = ["$z$"] + [f"$\\operatorname{{LeakyReLU}}_{k}'(z)$" for k in range(8)]
    rows = [[f"${z}$"] + [f"$-0.{k}{z}45$" for k in range(8)] for z in range(1, 6)]
    chunks = texfit.table_chunks(header, rows, "r" * 9)
    assert len(chunks) >= 2
    assert sorted(h for head, _, _ in chunks for h in head[1:]) == sorted(header[1:])
    for head, body, cols in chunks:
        assert head[0] == "$z$" and [r[0] for r in body] == [r[0] for r in rows] and cols == "r" * len(head)
        assert sum(max(texfit.text_width(c) for c in col) + 12 for col in zip(head, *body)) <= texfit.DISPLAY_WIDTH
    small = texfit.table_chunks(["$i$", "$x_i$", "$y_i$"], [["1", "2", "3"]], "rcr")
    assert small == [(["$i$", "$x_i$", "$y_i$"], [["1", "2", "3"]], "rcr")]


def test_figures_are_scaled_to_the_line_in_latex() -> None:
    scene = Scene([Circle((0, 0), 0.3), Label((30, 0), "x")], bounds=(-1, -1, 31, 1))
    text = str(get_format("tex").macros().figure(Figure("wide", scene)))
    assert "\\resizebox{\\ifdim\\width>\\linewidth\\linewidth\\else\\width\\fi}{!}{%" in text
    assert "\\begin{tikzpicture}" in text


# -- exams: room to answer (fast) --------------------------------------------------------------

class _Exam:
    def __init__(self, space: str | int) -> None:
        self.exam = parse_exam({"versions": 1, "answer_space": space}, [])


def test_answer_space_grows_with_the_solution() -> None:
    fmt = get_format("tex")
    short = instance("bce_loss", seed=1, m=1)
    long = instance("backprop", seed=1, layers=[3, 6, 6, 2])
    items = [{"solution": fmt.render_exercise(i)[1]} for i in (short, long)]
    auto = [documents.answer_lines(_Exam("auto"), item, fmt) for item in items]  # type: ignore[arg-type]
    assert documents.ANSWER_MIN_LINES <= auto[0] < auto[1] <= documents.ANSWER_MAX_LINES
    assert auto[1] > 2 * auto[0]
    assert [documents.answer_lines(_Exam(12), item, fmt) for item in items] == [12, 12]  # type: ignore[arg-type]
    assert [documents.answer_lines(_Exam("none"), item, fmt) for item in items] == [0, 0]  # type: ignore[arg-type]
    assert documents.answer_lines(_Exam("auto"), items[0], get_format("md")) == 0  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["big", -1, 201, True, 2.5])
def test_answer_space_rejects_bad_values(value: object) -> None:
    with pytest.raises(WorksheetError) as err:
        parse_exam({"versions": 1, "answer_space": value}, [])
    assert err.value.field == "exam.answer_space"


def test_exam_problems_leave_the_room_and_solutions_do_not(tmp_path: Path) -> None:
    spec = tmp_path / "exam.toml"
    spec.write_text('title = "Quiz"\nseed = 5\n[exam]\nversions = 1\npage_per_question = true\n'
                    + exercise("bce_loss", "short", "m = 1") + exercise("backprop", "long", "layers = [3, 6, 6, 2]"),
                    encoding="utf-8")
    assert main(["build", str(spec), "--out", str(tmp_path / "out"), "--format", "tex"]) == 0
    problems = (tmp_path / "out" / "exam" / "A" / "problems.tex").read_text(encoding="utf-8")
    solutions = (tmp_path / "out" / "exam" / "A" / "solutions.tex").read_text(encoding="utf-8")
    lines = [int(n) for n in re.findall(r"^\\answerspace\{(\d+)\}$", problems, re.M)]
    assert len(lines) == 2 and lines[0] < lines[1]
    assert "\\answerspace{" not in solutions.split("\\begin{document}")[1]
    assert problems.count("\\newpage") == 1  # page_per_question still starts each question anew


# -- real TeX ----------------------------------------------------------------------------------

@pytest.mark.pdf
def test_wide_networks_typeset_without_overfull_boxes(tmp_path: Path) -> None:
    require_tex()
    folder = sheet(tmp_path, exercise("forward_pass", "fp", f"layers = {WIDE}")
                   + exercise("backprop", "bp", f"layers = {WIDE}")
                   + exercise("backprop", "bp2", "layers = [4, 5, 6], bias = \"vector\", convention = \"W\""))
    for view in ("problems", "solutions"):
        boxes, _ = typeset(folder / f"{view}.tex")
        assert boxes == [], (view, boxes)


@pytest.mark.pdf
def test_a_figure_wider_than_the_line_is_scaled_into_the_margins(tmp_path: Path) -> None:
    require_tex()
    folder = sheet(tmp_path, exercise("activation_match", "am"))  # three plots side by side: 29 pt too wide unscaled
    boxes, pdf = typeset(folder / "problems.tex")
    assert boxes == []
    page = words(pdf, 1)
    assert page and max(w[2] for w in page) <= A4_WIDTH - MARGIN + 1
    assert min(w[0] for w in page) >= MARGIN - 1


@pytest.mark.pdf
def test_a_long_title_stays_inside_the_running_head(tmp_path: Path) -> None:
    require_tex()
    title = "Week 12: Forward propagation, backpropagation and the chain rule through very deep networks"
    folder = sheet(tmp_path, exercise("backprop", "bp", "layers = [3, 6, 6, 2]"), title=title)
    boxes, pdf = typeset(folder / "solutions.tex")
    assert boxes == []
    head = sorted(w for w in words(pdf, 2) if w[3] < MARGIN)  # above the text block
    text = " ".join(w[4] for w in head)
    assert text.startswith("Deep Neural Networks Week 12: Forward") and text.replace(" ", "").endswith(("\u2026", "..."))
    assert all(a[2] < b[0] for a, b in zip(head, head[1:]))  # no word overprints the next
    assert head[-1][2] <= A4_WIDTH - MARGIN
    body = [w for w in words(pdf, 2) if w[1] > MARGIN]
    assert body and min(w[1] for w in body) > max(w[3] for w in head)


@pytest.mark.pdf
def test_long_answer_space_runs_over_pages_without_overfull_boxes(tmp_path: Path) -> None:
    require_tex()
    spec = tmp_path / "exam.toml"
    spec.write_text('title = "Quiz"\nseed = 5\n[exam]\nversions = 1\n'
                    + exercise("backprop", "long", "layers = [3, 6, 6, 2]") + exercise("bce_loss", "short", "m = 1"),
                    encoding="utf-8")
    assert main(["build", str(spec), "--out", str(tmp_path / "out"), "--format", "tex"]) == 0
    folder = tmp_path / "out" / "exam" / "A"
    space = int(re.search(r"\\answerspace\{(\d+)\}", (folder / "problems.tex").read_text(encoding="utf-8")).group(1))
    assert space > 50  # more than a page
    boxes, pdf = typeset(folder / "problems.tex")
    assert boxes == []
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True).stdout
    pages = text.split("\f")
    # the second question starts after the first one's room: pages with no text but head and foot between
    start = next(k for k, p in enumerate(pages) if "Binary cross-entropy" in p)
    first = next(k for k, p in enumerate(pages) if "Backpropagation" in p and k > 0)
    assert start - first >= 2


@pytest.mark.pdf
def test_width_estimates_err_on_the_wide_side(tmp_path: Path) -> None:
    require_tex()
    samples = []
    for family in ("forward_pass", "backprop", "softmax_ce", "batch_norm"):
        _, solution = get_format("tex").render_exercise(instance(family, seed=2))
        for block in re.findall(r"\\\[(.*?)\\\]|\\begin\{align\*\}\n(.*?)\n\\end\{align\*\}", solution, re.S):
            for row in texfit._split_top(block[0] or block[1], "\\\\"):
                row = "".join(texfit._split_top(row.strip(), "&"))
                if row:
                    samples.append(row)
    body = "\n".join(rf"\setbox0\hbox{{$\displaystyle {s}$}}\typeout{{W{k}=\the\wd0}}" for k, s in enumerate(samples))
    tex = tmp_path / "w.tex"
    tex.write_text("\\documentclass[11pt]{article}\\usepackage[T1]{fontenc}\\usepackage{lmodern}"
                   "\\usepackage{amsmath,amssymb}\\begin{document}\n" + body + "\nx\n\\end{document}\n", encoding="utf-8")
    typeset(tex)
    real = {int(k): float(v) for k, v in re.findall(r"W(\d+)=([\d.]+)pt", tex.with_suffix(".log").read_text())}
    assert len(real) == len(samples) > 20
    for k, s in enumerate(samples):
        if real[k] > 100:
            assert texfit.math_width(s) >= 0.95 * real[k], s
            assert texfit.math_width(s) <= 1.25 * real[k], s
