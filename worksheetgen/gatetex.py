"""The quality gate's TeX checks: every drawn instance typeset with the real sheet layout in one
pdflatex run, then its log and its pages read back.

Each instance becomes two documents as the build writes them (``sheet.tex.j2``): its problem
sheet and its solution sheet, one question each, with the running header and footer. They are
typeset as *units* of one batch (:mod:`worksheetgen.texbatch`: each unit has its own page
numbers and "Page X of Y"), on the dumped format of their shared preamble (each sheet's own
first line, ``\\printanswers`` or ``\\noprintanswers``, says which view it is). Every unit starts
with ``\\typeout{GATE-UNIT k}``: a log message belongs to the unit whose marker precedes it, and
the run's ``.units`` listing maps pages to units.

- overfull: ``Overfull \\hbox`` wider than 1 pt and every ``Overfull \\vbox``;
- collisions: ``pdftotext -bbox`` word boxes against the page geometry TeX reports (paper,
  margins, text area, header and footer baselines). Words in the header band made of the running
  header's text are the header (and must not overprint each other); words in the footer band
  made of "Page X of Y" are the footer; every other word is body text and must lie inside the
  text area (a little slack for glyph boxes).
"""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from worksheetgen import pdf, texbatch, texfit
from worksheetgen.errors import TexError
from worksheetgen.qualitygate import Check

if TYPE_CHECKING:
    from worksheetgen.qualitygate import Rendered

HBOX_FUZZ = 1.0  # pt: narrower overfull boxes are invisible
SLACK_X = 3.0  # bp: word boxes are advance widths; italic and accent overhang
# Vertically, pdftotext's boxes are the fonts' ascent and descent, not the ink: a radical's box
# reaches well above its line, a subscript's below. A body word is out of the text area only when
# its whole box is: above the top, or below the bottom plus \maxdepth (the depth TeX lets the
# last line have), or when it overlaps a header or footer word.
SLACK_Y = 1.0
PT_TO_BP = 72 / 72.27

SHEET = {"title": "Week 5: Practice sheet", "course": "Deep Neural Networks", "date": "Week 5",
         "instructions": "Show every step.", "seed": 0, "name": "gate"}

GEOMETRY = ("paperwidth", "paperheight", "hoffset", "voffset", "oddsidemargin", "topmargin",
            "headheight", "headsep", "textwidth", "textheight", "footskip", "maxdepth")

_MARK = re.compile(r"^GATE-UNIT (\d+)")
_GEOMETRY = re.compile(r"^GATE-GEOMETRY (.*)$")
_OVERFULL = re.compile(r"^Overfull \\([hv])box \((-?[\d.]+)pt too (?:wide|high)\)(.*)$")
_ERROR = re.compile(r"^(?:! |.*\.tex:\d+: )(.*)$")
_WORD = re.compile(r'<word xMin="([\d.-]+)" yMin="([\d.-]+)" xMax="([\d.-]+)" yMax="([\d.-]+)">(.*?)</word>')
_PAGE = re.compile(r"<page width=\"([\d.]+)\" height=\"([\d.]+)\">")


@dataclass(frozen=True)
class Word:
    x0: float
    y0: float  # top (pdftotext measures y downwards from the top of the page)
    x1: float
    y1: float
    text: str


@dataclass(frozen=True)
class Geometry:
    """The page in PDF points, y downwards from the top edge."""

    width: float
    height: float
    left: float  # text area
    right: float
    top: float
    bottom: float
    head: float  # the running header's baseline
    foot: float  # the footer's baseline
    maxdepth: float = 5.0  # below the bottom: the last line's depth

    @classmethod
    def from_tex(cls, values: dict[str, float]) -> "Geometry":
        """From TeX's lengths (pt): the standard output routine's placement of head, body and
        foot (the exam class uses it)."""
        v = {k: x * PT_TO_BP for k, x in values.items()}
        inch = 72.0
        left = inch + v["hoffset"] + v["oddsidemargin"]
        head_top = inch + v["voffset"] + v["topmargin"]
        top = head_top + v["headheight"] + v["headsep"]
        bottom = top + v["textheight"]
        return cls(v["paperwidth"], v["paperheight"], left, left + v["textwidth"], top, bottom,
                   head_top + v["headheight"], bottom + v["footskip"], v.get("maxdepth", 5.0))


@dataclass
class UnitInfo:
    seed: int
    view: str  # "problems" or "solutions"


# -- the log ----------------------------------------------------------------------------------

@dataclass
class LogFinding:
    unit: int | None
    kind: str  # "hbox", "vbox", "error"
    size: float  # pt (0 for errors)
    text: str


def parse_log(text: str) -> tuple[list[LogFinding], dict[str, float]]:
    """Overfull boxes (hbox above HBOX_FUZZ, every vbox) and errors, each with the unit whose
    marker precedes it; and the geometry the run reported (pt)."""
    unit: int | None = None
    found: list[LogFinding] = []
    geometry: dict[str, float] = {}
    for line in text.splitlines():
        m = _MARK.match(line)
        if m:
            unit = int(m.group(1))
            continue
        m = _OVERFULL.match(line)
        if m:
            kind, size = m.group(1) + "box", float(m.group(2))
            if kind == "vbox" or size > HBOX_FUZZ:
                found.append(LogFinding(unit, kind, size, m.group(3).strip()))
            continue
        m = _GEOMETRY.match(line)
        if m:
            parts = m.group(1).split(",")
            geometry = {k: float(x.strip().removesuffix("pt")) for k, x in zip(GEOMETRY, parts)}
            continue
        m = _ERROR.match(line)
        if m and not line.startswith("!  ==>"):
            found.append(LogFinding(unit, "error", 0.0, m.group(1).strip()))
    return found, geometry


# -- the pages --------------------------------------------------------------------------------

def parse_bbox(html: str) -> list[list[Word]]:
    """Words per page of ``pdftotext -bbox`` output."""
    pages: list[list[Word]] = []
    for chunk in html.split("<page ")[1:]:
        words = [Word(float(a), float(b), float(c), float(d), _unescape(t)) for a, b, c, d, t in _WORD.findall(chunk)]
        pages.append(words)
    return pages


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&")


def _tokens(*texts: str) -> set[str]:
    return {t for text in texts for t in text.split() if t}


def page_collisions(words: Sequence[Word], geo: Geometry, header_text: Sequence[str],
                    footer_text: Sequence[str] = ("Page", "of")) -> list[tuple[str, Word]]:
    """(kind, word) for every word out of place on one page: "footer" (body text in the
    footer band, or over a footer word), "header" (the same above), "margin" (left or right
    of the text area, or off the paper), "header overprint" (two header words on top of each
    other: a running title too long for its place)."""
    head_tokens = _tokens(*header_text)
    foot_tokens = set(footer_text)
    header: list[Word] = []
    footer: list[Word] = []
    body: list[Word] = []
    # The footer is one line, "Page X of Y": its words sit on the baseline of its "Page".
    lines = {round(w.y1, 1) for w in words if w.text == footer_text[0] and w.y0 >= geo.foot - 14}
    for w in words:
        if w.y1 <= geo.top and w.text in head_tokens and w.y1 <= geo.head + 4:
            header.append(w)
        elif (w.y0 >= geo.bottom and (w.text in foot_tokens or w.text.isdigit())
              and any(abs(w.y1 - y) < 1 for y in lines)):
            footer.append(w)
        else:
            body.append(w)
    out: list[tuple[str, Word]] = []
    for w in body:
        if w.y0 > geo.bottom + geo.maxdepth + SLACK_Y or any(_overlap(w, f) for f in footer):
            out.append(("footer", w))
        elif w.y1 < geo.top - SLACK_Y or any(_overlap(w, h) for h in header):
            out.append(("header", w))
        elif w.x0 < geo.left - SLACK_X or w.x1 > geo.right + SLACK_X:
            out.append(("margin", w))
    for w in header + footer:
        if w.x0 < geo.left - SLACK_X or w.x1 > geo.right + SLACK_X or w.y0 < 0 or w.y1 > geo.height:
            out.append(("margin", w))
    ordered = sorted(header, key=lambda w: (round(w.y1), w.x0))
    for a, b in zip(ordered, ordered[1:]):
        if abs(a.y1 - b.y1) < 3 and b.x0 < a.x1 - 0.5:
            out.append(("header overprint", b))
    return out


def _overlap(a: Word, b: Word) -> bool:
    return min(a.x1, b.x1) - max(a.x0, b.x0) > 0.5 and min(a.y1, b.y1) - max(a.y0, b.y0) > 0.5


# -- the run ----------------------------------------------------------------------------------

def _documents(rendered: Sequence["Rendered"], sheet: dict[str, str]) -> tuple[str, list[texbatch.Unit], list[UnitInfo]]:
    """Each instance's problem and solution sheet as a build writes them (a one-exercise spec,
    its plan and the documents' own context), as units of one batch."""
    from worksheetgen.documents import SHEET, Question, SolvedVariant, needs, variant_context
    from worksheetgen.formats import get_format
    from worksheetgen.plan import make_plan
    from worksheetgen.spec import parse_spec

    fmt = get_format("tex")
    first = rendered[0].instance
    spec = parse_spec({**sheet, "digits": first.digits,
                       "exercise": [{"family": first.family.name, "points": first.points or 10}]})
    plan = make_plan(spec)
    variant = plan.variants[0]
    solved = []
    for r in rendered:
        sv = SolvedVariant(variant, [Question(1, spec.exercises[0], r.instance)])
        problem, solution = r.texts["tex"]
        # The text already rendered for the other checks is the text the sheet holds.
        sv.rendered[fmt.name] = [{"instance": r.instance, "problem": problem, "solution": solution,
                                  "number": 1, "points": r.instance.points, "part_points": []}]
        solved.append(sv)
    shared_needs = needs(solved)  # one preamble for all: TikZ when any instance has a figure
    documents = {d.view: d for d in SHEET}
    preamble = ""
    units: list[texbatch.Unit] = []
    infos: list[UnitInfo] = []
    for r, sv in zip(rendered, solved):
        context = variant_context(plan, sv, fmt)
        context["needs"] = shared_needs
        for view in ("problems", "solutions"):
            (text,) = fmt.render_document(documents[view], context).values()
            doc = texbatch.parse(Path(f"{r.seed}-{view}.tex"), f"seed {r.seed} {view}", text)
            if doc.kind != "single":
                raise TexError(f"seed {r.seed}: the {view} sheet is not one document")
            preamble = doc.preamble
            k = len(units)
            head = [f"\\typeout{{GATE-UNIT {k}}}"]
            if k == 0:
                head.append("\\typeout{GATE-GEOMETRY " + ",".join(f"\\the\\{g}" for g in GEOMETRY) + "}")
            unit = doc.units[0]
            units.append(texbatch.Unit(head + unit.lines, unit.label, [0] * len(head) + unit.numbers))
            infos.append(UnitInfo(r.seed, view))
    return preamble, units, infos


def typeset_and_inspect(rendered: Sequence["Rendered"], *, sheet_title: str = "",
                        keep: Path | None = None) -> tuple[list[Check], int]:
    """The checks "overfull", "collisions" and "TeX errors" (an error TeX recovered from, in
    nonstopmode) for the instances, from one pdflatex run, and the number of pages.
    ``keep``: a folder to leave the .tex, .log and .pdf in (for a look)."""
    from worksheetgen.formats.pdf import Pdf

    n = len(rendered)
    overfull = Check("overfull", total=n)
    collisions = Check("collisions", total=n)
    errors = Check("TeX errors", total=n)
    checks = [overfull, collisions, errors]
    if not rendered:
        return checks, 0
    sheet = dict(SHEET, title=sheet_title or SHEET["title"])
    preamble, units, infos = _documents(rendered, sheet)
    fmt = texbatch.format_for(preamble, "the quality gate's sheets")
    source = _batch_text(preamble, units, infos, fmt, Pdf.units_support())
    work = Path(tempfile.mkdtemp(prefix="worksheetgen-gate-"))
    try:
        (work / "gate.tex").write_text(source, encoding="utf-8")
        env = dict(pdf.environment(), max_print_line="100000", error_line="254", half_error_line="238")
        timeout = 600 + 3 * len(units)  # a loaded machine: figures cost ~0.3 s a unit there
        # No -halt-on-error: every problem of every instance is reported, not the first.
        command = ["pdflatex", "-no-shell-escape", "-interaction=nonstopmode", "-file-line-error",
                   f"-fmt={fmt}", "gate.tex"]
        try:
            result = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True,
                                    errors="replace", timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise TexError(f"the quality gate's TeX run did not finish within {timeout} s") from None
        log = (work / "gate.log").read_text(encoding="utf-8", errors="replace") if (work / "gate.log").exists() else result.stdout
        findings, geometry = parse_log(log)
        pdf_path = work / "gate.pdf"
        if not pdf_path.exists() or not geometry:
            raise TexError("the quality gate's TeX run made no PDF:\n" + pdf.log_excerpt(work / "gate.log", result.stdout))
        pages = [tuple(int(x) for x in line.split()) for line in (work / "gate.units").read_text().splitlines() if line.strip()]
        if len(pages) != len(units):
            raise TexError(f"the quality gate's TeX run recorded {len(pages)} of {len(units)} documents")
        html = subprocess.run(["pdftotext", "-bbox", str(pdf_path), "-"], capture_output=True, text=True,
                              errors="replace", check=True).stdout
        words = parse_bbox(html)
        total_pages = len(words)
        attribute_log(findings, infos, overfull)
        attribute_pages(words, pages, infos, Geometry.from_tex(geometry), sheet, collisions)
        for f in findings:
            seed = infos[f.unit].seed if f.unit is not None else -1
            if f.kind == "error" and seed not in errors.seeds:
                errors.add(seed)
                errors.detail = errors.detail or f"{_where(f, infos)}: {f.text}"
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            for name in ("gate.tex", "gate.log", "gate.pdf"):
                shutil.copyfile(work / name, keep / name)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return checks, total_pages


_FREE = (r"\makeatletter\def\GateFree#1{\global\setbox\csname unit@fig@#1\endcsname\box\voidb@x}"
         r"\makeatother")


def _batch_text(preamble: str, units: Sequence[texbatch.Unit], infos: Sequence[UnitInfo], fmt: Path,
                support: str) -> str:
    """texbatch's batch document, each figure typeset once (as a build's batch does): a figure
    drawn for several seeds is kept for the whole run; one that recurs only within a seed (its
    problem and solution sheets) is dropped after that seed's sheets, or TeX's memory would
    fill up (pgfplots figures, 400 units)."""
    texts = ["\n".join(u.lines) for u in units]
    seeds_of: dict[str, set[int]] = {}
    for text, info in zip(texts, infos):
        for code in texbatch._FIGURE.findall(text):
            seeds_of.setdefault(code, set()).add(info.seed)
    ids: dict[str, int] = {}  # figures typeset once and placed again, by box number
    numbers = itertools.count(1)
    made: set[str] = set()
    out = [f"%&{fmt}", *preamble.rstrip("\n").split("\n"), "\\pdftrailerid{}", "\\nofiles",
           *support.rstrip("\n").split("\n"), _FREE, "\\begin{document}"]

    def replace(match: re.Match[str]) -> str:
        code = match.group(0)
        if code not in ids:  # occurs once: typeset in place
            return code
        if code not in made:
            made.add(code)
            return f"\\FigureStart{code}\\FigureEnd{{{ids[code]}}}"
        return f"\\FigureUse{{{ids[code]}}}%\n" + "%\n" * code.count("\n") + "{}"

    for k, (text, info) in enumerate(zip(texts, infos)):
        counts = Counter(texbatch._FIGURE.findall(text))
        if k + 1 < len(infos) and infos[k + 1].seed == info.seed:
            counts.update(texbatch._FIGURE.findall(texts[k + 1]))
        for code, count in counts.items():
            if code not in ids and (count > 1 or len(seeds_of[code]) > 1):
                ids[code] = next(numbers)
        out += ["\\StartUnit", *(texbatch._FIGURE.sub(replace, text) if ids else text).split("\n"), "\\EndUnit"]
        if k + 1 == len(infos) or infos[k + 1].seed != info.seed:
            for code, i in list(ids.items()):
                if len(seeds_of[code]) == 1 and code in made:
                    out.append(f"\\GateFree{{{i}}}")
                    del ids[code]
                    made.discard(code)
    out.append("\\end{document}")
    return "\n".join(out) + "\n"


def _where(f: LogFinding, infos: Sequence[UnitInfo]) -> str:
    return "before the first instance" if f.unit is None else f"seed {infos[f.unit].seed} {infos[f.unit].view}"


def attribute_log(findings: Sequence[LogFinding], infos: Sequence[UnitInfo], check: Check) -> None:
    """Count the seeds with an overfull box; the detail names the widest and the views."""
    boxes = [f for f in findings if f.kind in ("hbox", "vbox")]
    if not boxes:
        return
    seeds: dict[int, float] = {}
    views: Counter[str] = Counter()
    for f in boxes:
        seed = infos[f.unit].seed if f.unit is not None else -1
        seeds[seed] = max(seeds.get(seed, 0.0), f.size)
        views[f"{f.kind} in {infos[f.unit].view}" if f.unit is not None else f.kind] += 1
    for seed in sorted(seeds, key=lambda s: -seeds[s]):
        check.add(seed)
    widest = max(boxes, key=lambda f: f.size)
    check.detail = (f"{len(boxes)} boxes, widest {widest.size:.0f}pt at {_where(widest, infos)}; "
                    + ", ".join(f"{k} ×{v}" for k, v in views.most_common()))


def attribute_pages(words: Sequence[Sequence[Word]], pages: Sequence[tuple[int, ...]], infos: Sequence[UnitInfo],
                    geo: Geometry, sheet: dict[str, str], check: Check) -> None:
    """Count the seeds with a word out of place on any of their pages."""
    header_text = [sheet["course"], sheet["title"], sheet["date"]]
    # the running head as printed: a title too long for it is shortened with an ellipsis,
    # which pdftotext reads as ". . ."
    header_text += [part.replace("\u2026", ". . .") for part in texfit.fit_header(sheet["course"], sheet["title"], "")]
    kinds: Counter[str] = Counter()
    example = ""
    for k, (first, last) in enumerate(pages):
        bad = False
        for page in range(first, last + 1):
            for kind, w in page_collisions(words[page - 1], geo, header_text):
                kinds[f"{kind} in {infos[k].view}"] += 1
                bad = True
                if not example:
                    example = f"seed {infos[k].seed} {infos[k].view} page {page - first + 1}: {kind} {w.text!r} at x {w.x0:.0f}–{w.x1:.0f}, y {w.y0:.0f}–{w.y1:.0f}"
        if bad and (not check.seeds or check.seeds[-1] != infos[k].seed):
            check.add(infos[k].seed)
    if kinds:
        check.detail = ", ".join(f"{k} ×{v}" for k, v in kinds.most_common()) + "; " + example
