"""The quality gate (issue 10): is every draw of a family classroom-ready?

``gate(family, options, n)`` draws ``n`` seeds at the given options, renders each instance in
every text format and (with ``tex=True``) typesets all of them in one pdflatex run with the real
sheet layout, then counts, per check, the draws that an instructor could not hand out unread:

===============  =============================================================================
zero             an asked number/integer exactly 0, or a matrix all of whose entries are 0
                 (answer keys in ``Family.zero_ok`` excepted; entries there may be
                 ``fnmatch`` patterns such as ``"dL_dW*"``)
tiny             an asked value or matrix entry that is non-zero but prints as 0 at the
                 sheet's rounding: |v| < 0.5·10^-digits (digits = decimal places)
flag: <name>     ``Family.quality(given, solved)`` said True; bound
                 ``Family.quality_bounds[name]`` (a rate), else 0
none of these    rate of single choices whose correct option is "none of these" (among the
                 choices offering it); bound ``quality_bounds["none of these"]``, default 0.25
longest option   rate at which the correct option of a choice with k >= 3 options is the unique
                 longest (TeX commands stripped); bound mean(1/k) + 0.10
mixed forms      an exact value (answer, or SymPy value in the Data record) with a Float inside
                 a larger expression (e^{1.5 x}); a plain Float alone is a decimal and fine
forbidden words  seed(s), famil(y|ies), worksheetgen, generator, "the tool" in the title or the
                 problem/solution text of any text format
spread           per asked numeric answer, decades between the 5th and 95th percentile of |v|
                 over the seeds (a matrix counts by its largest |entry|; zeros left out); bound
                 ``quality_bounds["spread"]``, default 3
overfull         Overfull \\hbox wider than 1 pt, or any Overfull \\vbox, in the TeX log
collisions       body words in the running header/footer band or outside the text area (word
                 boxes of ``pdftotext -bbox`` against the page geometry TeX reports)
===============  =============================================================================

Every defect is attributed to its seed, so the report names example seeds to look at with
``worksheetgen preview FAMILY --seed N``. The TeX part lives in :mod:`worksheetgen.gatetex`.
"""

from __future__ import annotations

import fnmatch
import math
import re
import time
from collections import Counter
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np
import sympy as sp

from worksheetgen import mathfmt
from worksheetgen.answers import Answer, ChoiceAnswer, IntegerAnswer, MatrixAnswer, NumberAnswer, to_float
from worksheetgen.errors import CheckError, TexError, WorksheetError
from worksheetgen.family import Family
from worksheetgen.instance import Instance, make_instance

EXAMPLES = 5  # example seeds shown per check
SPREAD_BOUND = 3.0
NONE_OF_THESE_BOUND = 0.25
LONGEST_MARGIN = 0.10
FORBIDDEN = re.compile(r"\bseeds?\b|\bfamil(?:y|ies)\b|worksheetgen|\bgenerator\b|\bthe tool\b", re.I)
_NONE_OF_THESE = re.compile(r"none of (?:these|the above)", re.I)


# -- one check's result -------------------------------------------------------------------------

@dataclass
class Check:
    """One line of the report. ``count`` defects among ``total`` items; the check passes when
    the rate count/total is within ``bound`` (bound 0: no defect at all). A measured check
    (spread) compares ``value`` with ``bound`` instead."""

    name: str
    count: int = 0
    total: int = 0
    bound: float = 0.0
    seeds: list[int] = field(default_factory=list)
    detail: str = ""
    value: float | None = None  # measured checks: the measure (e.g. decades)
    unit: str = ""  # of value and bound, e.g. "decades"
    skipped: str = ""  # why the check was not run (no TeX)

    @property
    def rate(self) -> float:
        return self.count / self.total if self.total else 0.0

    @property
    def passed(self) -> bool:
        if self.skipped:
            return True
        if self.value is not None:
            return self.value <= self.bound + 1e-12
        if self.bound <= 0:
            return self.count == 0
        return self.rate <= self.bound + 1e-12

    def add(self, seed: int, what: str = "") -> None:
        self.count += 1
        if seed not in self.seeds:
            self.seeds.append(seed)

    def cells(self) -> tuple[str, str, str, str, str]:
        """(measured, rate, bound, result, examples) as printed."""
        if self.skipped:
            return "-", "-", "-", "skipped", self.skipped
        if self.value is not None:
            measured = f"{self.value:.2f} {self.unit}".strip()
            rate = ""
            bound = f"{self.bound:g} {self.unit}".strip()
        else:
            measured = f"{self.count}/{self.total}"
            rate = f"{100 * self.rate:.1f}%" if self.total else "-"
            bound = "0" if self.bound <= 0 else f"{100 * self.bound:.1f}%"
        examples = ", ".join(str(s) for s in self.seeds[:EXAMPLES])
        if self.detail:
            examples = (examples + "  " if examples else "") + f"({self.detail})"
        return measured, rate, bound, "pass" if self.passed else "FAIL", examples


@dataclass
class GateReport:
    family: str
    options: dict[str, Any]
    n: int
    first_seed: int
    checks: list[Check] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)  # seeds that did not build
    draws: int = 0
    seconds_draw: float = 0.0  # sample, solve, check
    seconds_render: float = 0.0  # every text format, and the quality checks
    seconds_tex: float = 0.0  # the one pdflatex run (and reading its results)
    pages: int = 0

    @property
    def instances(self) -> int:
        return self.n - len(self.errors)

    @property
    def passed(self) -> bool:
        return not self.errors and all(c.passed for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def check(self, name: str) -> Check:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)

    def lines(self) -> list[str]:
        pinned = ", ".join(f"{k}={_short(v)}" for k, v in self.options.items() if v is not None) or "defaults"
        n = self.instances
        out = [f"quality gate: {self.family} ({pinned}), seeds {self.first_seed}..{self.first_seed + self.n - 1}: "
               f"{n} instances" + (f", {len(self.errors)} failed to build" if self.errors else ""),
               f"cost: {1000 * self.seconds_draw / max(1, self.n):.1f} ms/instance to draw, solve and check, "
               f"{1000 * self.seconds_render / max(1, self.n):.1f} ms/instance to render and inspect"
               + (f", TeX {self.seconds_tex:.1f} s for {self.pages} pages" if self.pages else "")
               + f"; {self.draws} draws for {n} instances", ""]
        rows = [("check", "measured", "rate", "bound", "result", "example seeds")]
        rows += [(c.name, *c.cells()) for c in self.checks]
        if self.errors:
            rows.append(("build errors", f"{len(self.errors)}/{self.n}", "", "0", "FAIL",
                         ", ".join(str(s) for s, _ in self.errors[:EXAMPLES])))
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        for r in rows:
            out.append("  ".join([r[0].ljust(widths[0]), r[1].rjust(widths[1]), r[2].rjust(widths[2]),
                                  r[3].rjust(widths[3]), r[4].ljust(widths[4]), r[5]]).rstrip())
        for seed, message in self.errors[:EXAMPLES]:
            out.append(f"seed {seed} failed: {message}")
        failed = self.failed
        out.append("")
        out.append("PASS: every check within its bound" if self.passed else
                   f"FAIL: {', '.join(c.name for c in failed) or 'build errors'}")
        return out


def _short(value: Any) -> str:
    text = str(value).replace(" ", "")
    return text if len(text) <= 40 else text[:37] + "..."


# -- the detectors (each a plain function, tested on its own) -----------------------------------

def is_zero_ok(key: str, zero_ok: Iterable[str]) -> bool:
    return any(key == pattern or fnmatch.fnmatchcase(key, pattern) for pattern in zero_ok)


def _floats(answer: Answer) -> list[float]:
    if isinstance(answer, MatrixAnswer):
        return [float(v) for row in to_float(answer.value) for v in row]
    if isinstance(answer, IntegerAnswer):
        return [float(int(answer.value))]
    return [float(to_float(answer.value))]


def numeric(answers: Iterable[Answer]) -> Iterator[tuple[Answer, list[float]]]:
    """The asked numeric answers with their values as floats (matrix entries row by row)."""
    for a in answers:
        if isinstance(a, (NumberAnswer, MatrixAnswer, IntegerAnswer)):
            yield a, _floats(a)


def zero_answers(answers: Iterable[Answer], zero_ok: Iterable[str] = ()) -> list[str]:
    """Keys of asked values that are exactly 0 (a matrix: every entry), except ``zero_ok``."""
    zero_ok = tuple(zero_ok)
    out = []
    for a in answers:
        if not isinstance(a, (NumberAnswer, MatrixAnswer, IntegerAnswer)) or is_zero_ok(a.key, zero_ok):
            continue
        if isinstance(a, MatrixAnswer):
            entries = list(a.value)
            if entries and all(sp.sympify(v) == 0 for v in entries):
                out.append(a.key)
        elif sp.sympify(a.value) == 0:
            out.append(a.key)
    return out


def tiny_floor(digits: int) -> float:
    return 0.5 * 10.0 ** (-digits)


def tiny_answers(answers: Iterable[Answer], digits: int = 4) -> list[str]:
    """Keys of asked values (or matrix entries) that are not 0 but round to 0 at ``digits``
    decimal places."""
    def floor(a: Answer) -> float:
        # An answer the exercise asks to its own precision (Answer.rounding) prints as 0 only
        # below half a unit of its own decimals; in significant digits never.
        own = getattr(a, "rounding", None)
        if own is None:
            return tiny_floor(digits)
        return tiny_floor(own.digits or digits) if own.mode == "decimals" else 0.0

    return [a.key for a, values in numeric(answers) if any(0 < abs(v) < floor(a) for v in values)]


def is_mixed(value: Any) -> bool:
    """An exact value holding a sympy Float inside a larger expression (a lone Float is a
    decimal, and fine)."""
    if isinstance(value, sp.MatrixBase):
        return any(is_mixed(v) for v in value)
    if not isinstance(value, sp.Basic) or isinstance(value, (sp.Float, sp.Rational)):
        return False
    if value.atoms(sp.Float):
        return True
    # Printed in two notations at once (e^{3e^{-1}/2 - 1.5}): a decimal beside a fraction of
    # integers. The printer chooses one notation per closed form; this guards templates and
    # printers that assemble their own.
    text = mathfmt.exact(value)
    return bool(_DECIMAL_NUMBER.search(text) and _INTEGER_FRACTION.search(text))


_DECIMAL_NUMBER = re.compile(r"\d\.\d")
_INTEGER_FRACTION = re.compile(r"\}\{\d+\}")  # a fraction with an integer denominator: 3/2, 3e^{-1}/2


def _walk(value: Any, where: str, depth: int = 0) -> Iterator[tuple[str, Any]]:
    """(location, SymPy value) of everything exact inside a record's field."""
    if depth > 8:
        return
    if isinstance(value, sp.MatrixBase):
        for i, v in enumerate(value):
            yield f"{where}[{i}]", v
    elif isinstance(value, sp.Basic):
        yield where, value
    elif isinstance(value, (str, bytes, bool, int, float, type(None))):
        return
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, f"{where}[{k!r}]", depth + 1)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _walk(v, f"{where}[{i}]", depth + 1)
    elif is_dataclass(value) and not isinstance(value, type):
        for f in fields(value):
            yield from _walk(getattr(value, f.name), f"{where}.{f.name}", depth + 1)


def mixed_values(answers: Iterable[Answer], data: Any) -> list[str]:
    """Where exact values mix a decimal into a closed form: answer keys, and Data fields
    (``d.<field>``; indices dropped so one field counts once)."""
    out = [f"answer {a.key}" for a in answers if isinstance(a.value, sp.Basic) and is_mixed(a.value)]
    if data is not None:
        for where, value in _walk(data, "d"):
            if is_mixed(value):
                name = re.sub(r"\[[^\]]*\]", "", where)
                if name not in out:
                    out.append(name)
    return out


_MARKUP = re.compile(r"<[^<>]*>|\\[A-Za-z]+")  # tags with their attributes (font-family=...), TeX commands


def forbidden_words(text: str) -> list[str]:
    """Each forbidden word a reader of ``text`` would see, with a little context (markup, such
    as an SVG's font-family attribute or a TeX command, is not read)."""
    text = _MARKUP.sub(" ", text)
    return [text[max(0, m.start() - 40): m.end() + 20].replace("\n", " ") for m in FORBIDDEN.finditer(text)]


_TEX_COMMAND = re.compile(r"\\(?:[A-Za-z]+\*?|.)")


def visible_length(tex: str) -> int:
    """Length of an option's text as a reader sees it: TeX commands, braces, $, ^ and _ and
    spaces dropped."""
    text = _TEX_COMMAND.sub("", tex)
    return len(re.sub(r"[{}$^_\s~]", "", text))


def is_none_of_these(tex: str) -> bool:
    return bool(_NONE_OF_THESE.search(_TEX_COMMAND.sub(" ", tex)))


def correct_is_longest(options: Iterable[str], correct: int) -> bool:
    lengths = [visible_length(o) for o in options]
    top = lengths[correct]
    return sum(1 for n in lengths if n >= top) == 1


def spread_decades(values: Iterable[float]) -> float | None:
    """Decades between the 5th and 95th percentile of |v| (zeros left out); None for fewer than
    ten non-zero values."""
    mags = np.array([abs(v) for v in values if v != 0 and math.isfinite(v)])
    if mags.size < 10:
        return None
    lo, hi = np.percentile(mags, [5, 95])
    return float(math.log10(hi / lo))


# -- the run ------------------------------------------------------------------------------------

@dataclass
class Rendered:
    seed: int
    instance: Instance
    texts: dict[str, tuple[str, str]]  # format name → (problem, solution)


def _text_formats() -> list[Any]:
    from worksheetgen.formats import load_formats

    # One format per template folder: the LMS formats (moodle, qti21, canvas) share their text.
    chosen: dict[str, Any] = {}
    for name, cls in sorted(load_formats().items(), key=lambda item: (item[0] != "tex", item[0])):
        if cls.folder is not None and cls.folder not in chosen:
            chosen[cls.folder] = cls()
    return list(chosen.values())


def gate(family: Family, options: dict[str, Any], n: int = 200, first_seed: int = 0, tex: bool = True,
         *, digits: int = 4, title: str = "", sheet_title: str = "", keep: Path | None = None) -> "GateReport":
    """Draw ``n`` seeds of ``family`` at ``options`` and run every check (the TeX ones when
    ``tex``). ``title`` replaces the exercise's title, ``sheet_title`` the sheet's (the running
    header), to try long ones; ``keep`` is a folder to leave the TeX run's files in."""
    report = GateReport(family.name, dict(options), n, first_seed)
    formats = _text_formats()
    rendered: list[Rendered] = []
    start = time.perf_counter()
    for seed in range(first_seed, first_seed + n):
        t0 = time.perf_counter()
        try:
            instance = make_instance(family, options, sheet_seed=seed, digits=digits, title=title)
        except (CheckError, WorksheetError, Exception) as exc:  # noqa: BLE001 - reported per seed
            report.errors.append((seed, f"{type(exc).__name__}: {exc}"))
            report.seconds_draw += time.perf_counter() - t0
            continue
        report.draws += instance.attempt
        report.seconds_draw += time.perf_counter() - t0
        try:
            texts = {fmt.name: fmt.render_exercise(instance) for fmt in formats}
        except Exception as exc:  # noqa: BLE001 - reported per seed
            report.errors.append((seed, f"rendering: {type(exc).__name__}: {exc}"))
            continue
        rendered.append(Rendered(seed, instance, texts))
    report.checks = inspect(family, rendered, digits=digits)
    report.seconds_render = time.perf_counter() - start - report.seconds_draw
    if tex:
        from worksheetgen import gatetex

        t0 = time.perf_counter()
        try:
            checks, pages = gatetex.typeset_and_inspect(rendered, sheet_title=sheet_title, keep=keep)
        except TexError as exc:  # the run made no PDF: the other checks still stand
            first = str(exc).strip().split("\n")
            checks = [Check(name, len(rendered), len(rendered), detail="no PDF: see TeX errors")
                      for name in ("overfull", "collisions")]
            checks.append(Check("TeX errors", len(rendered), len(rendered), detail=" ".join(first[:3])[:300]))
            pages = 0
        report.checks += checks
        report.pages = pages
        report.seconds_tex = time.perf_counter() - t0
    else:
        report.checks += [Check("overfull", skipped="--no-tex"), Check("collisions", skipped="--no-tex")]
    return report


def _top(counter: Counter[str], k: int = 3) -> str:
    return ", ".join(f"{name} ×{count}" for name, count in counter.most_common(k))


def inspect(family: Family, rendered: list[Rendered], digits: int = 4) -> list[Check]:
    """Every check that needs no TeX, over the rendered instances."""
    n = len(rendered)
    zero = Check("zero", total=n)
    tiny = Check("tiny", total=n)
    mixed = Check("mixed forms", total=n)
    words = Check("forbidden words", total=n)
    bounds = dict(family.quality_bounds)
    none_check = Check("none of these", bound=bounds.get("none of these", NONE_OF_THESE_BOUND))
    longest = Check("longest option")
    inverse_k: list[float] = []
    flags: dict[str, Check] = {}
    flag_errors = Check("quality() errors", total=n)
    zero_keys: Counter[str] = Counter()
    tiny_keys: Counter[str] = Counter()
    mixed_where: Counter[str] = Counter()
    word_hits: Counter[str] = Counter()
    magnitudes: dict[str, list[tuple[float, int]]] = {}
    for r in rendered:
        answers = r.instance.solved.answers
        found = zero_answers(answers, family.zero_ok)
        if found:
            zero.add(r.seed)
            zero_keys.update(found)
        found = tiny_answers(answers, digits)
        if found:
            tiny.add(r.seed)
            tiny_keys.update(found)
        found = mixed_values(answers, r.instance.solved.data)
        if found:
            mixed.add(r.seed)
            mixed_where.update(found)
        hits = forbidden_words(r.instance.title)
        for name, (problem, solution) in r.texts.items():
            hits += forbidden_words(problem) + forbidden_words(solution)
        if hits:
            words.add(r.seed)
            word_hits.update(FORBIDDEN.search(h).group(0).lower() for h in hits)  # type: ignore[union-attr]
            if not words.detail:
                words.detail = f"…{hits[0].strip()}…"
        try:
            flagged = family.quality(r.instance.given, r.instance.solved)
        except Exception as exc:  # noqa: BLE001 - a broken hook is a defect of its own
            flag_errors.add(r.seed)
            flag_errors.detail = f"{type(exc).__name__}: {exc}"
            flagged = {}
        for name, bad in flagged.items():
            check = flags.setdefault(name, Check(f"flag: {name}", total=n, bound=bounds.get(name, 0.0)))
            if bad:
                check.add(r.seed)
        for a in answers:
            if isinstance(a, ChoiceAnswer):
                if any(is_none_of_these(o) for o in a.options):
                    none_check.total += 1
                    if is_none_of_these(a.options[a.correct]):
                        none_check.add(r.seed)
                if len(a.options) >= 3:
                    longest.total += 1
                    inverse_k.append(1 / len(a.options))
                    if correct_is_longest(a.options, a.correct):
                        longest.add(r.seed)
        for a, values in numeric(answers):
            top = max((abs(v) for v in values), default=0.0)
            magnitudes.setdefault(a.key, []).append((top, r.seed))
    zero.detail = _top(zero_keys)
    tiny.detail = _top(tiny_keys)
    mixed.detail = _top(mixed_where)
    if word_hits:
        words.detail = _top(word_hits) + "; " + words.detail
    longest.bound = (sum(inverse_k) / len(inverse_k) + LONGEST_MARGIN) if inverse_k else 1.0
    spread = spread_check(magnitudes, bounds.get("spread", SPREAD_BOUND))
    checks = [zero, tiny, *flags.values()]
    if flag_errors.count:
        checks.append(flag_errors)
    checks += [none_check, longest, mixed, words, spread]
    return checks


def spread_check(magnitudes: dict[str, list[tuple[float, int]]], bound: float) -> Check:
    """The widest spread over the answer keys; the seeds named are the smallest non-zero
    values of that key (and the largest)."""
    check = Check("spread", bound=bound, unit="decades", value=0.0)
    worst: tuple[float, str] | None = None
    per_key = []
    for key, pairs in magnitudes.items():
        decades = spread_decades(v for v, _ in pairs)
        if decades is None:
            continue
        per_key.append((decades, key))
        if worst is None or decades > worst[0]:
            worst = (decades, key)
    check.total = len(per_key)
    if worst is None:
        check.detail = "fewer than 10 non-zero values per answer"
        return check
    check.value = worst[0]
    pairs = sorted((p for p in magnitudes[worst[1]] if p[0] > 0), key=lambda p: p[0])
    check.seeds = [s for _, s in pairs[:3]] + [s for _, s in pairs[-2:]]
    above = sorted((p for p in per_key if p[0] > bound), reverse=True)
    listed = above[:3] if above else per_key and [max(per_key)]
    check.count = len(above)
    lo, hi = pairs[0][0], pairs[-1][0]
    check.detail = ", ".join(f"{k} {d:.1f}" for d, k in listed) + f"; {worst[1]} from {lo:.3g} to {hi:.3g}"
    return check
