"""Moodle XML: one file for the whole sheet or exam (every variant), one question per exercise
and variant, in a category per exercise so that a quiz can draw a random variant.

What Moodle's importer (question/format/xml, qtype_multianswer) accepts decides the shape:

- question text and the worked solution (``generalfeedback``) are HTML in CDATA, math as
  ``\\(…\\)`` / ``\\[…\\]`` (the MathJax and TeX filters read no ``$…$``);
- an exercise asking one thing (its statement says what) is a ``numerical`` question, one choice ``multichoice``
  (several right options: ``single`` false), one true/false ``truefalse``, only worded answers
  ``essay`` (the model answers go to the grader information); anything else - several answers,
  a matrix - is one ``cloze`` question with a gap per value: ``{w:NUMERICAL:=value:tolerance}``
  (decimals only; absolute tolerance only, so a relative rule becomes max(abs, rel·|x|) per
  gap), a matrix one gap per entry, a choice ``MULTICHOICE`` (``MULTICHOICE_V``, radio buttons,
  when its options hold math a drop-down cannot show), a multi-select one yes/no gap per option
  (scored per option, as the key scores it), a Boolean a true/false gap;
- grade fractions come from Moodle's fixed list;
- figures are ``@@PLUGINFILE@@/name`` with the SVG as a base64 ``<file>`` of the text that
  shows it.

Answers a platform cannot score (text) are named in a cloze question's answer block and left
to the worked solution: a cloze question has no essay gap.
"""

from __future__ import annotations

import base64
import html
import math
from fractions import Fraction
from typing import TYPE_CHECKING

from worksheetgen.formats.lms import (
    LETTERS, Ask, CData, Html, LmsFormat, Node, QuizQuestion, Raw, X, math_label, matrix_table,
    model_answer, number_text, tex_math, text_el, to_html, xml_document,
)

if TYPE_CHECKING:
    from worksheetgen.plan import Plan

PLUGINFILE = "@@PLUGINFILE@@/"

# question_bank::fraction_options_full, in percent: an imported fraction must be one of these.
GRADES = (100.0, 90.0, 83.33333, 80.0, 75.0, 70.0, 66.66667, 60.0, 50.0, 40.0, 33.33333, 30.0, 25.0,
          20.0, 16.66667, 14.28571, 12.5, 11.11111, 10.0, 5.0, 0.0)


def grade(percent: float) -> str | None:
    """``percent`` as Moodle writes it on its grade list (sign kept), or None if it is not on it."""
    for g in GRADES:
        if abs(abs(percent) - g) < 1e-3:
            return ("-" if percent < 0 and g else "") + (f"{g:g}" if g == int(g) else f"{g:.5f}")
    return None


def gap_option(option_html: str) -> str:
    """A choice option inside a gap. Moodle entity-decodes a gap's answer text and then undoes
    only ``\\}`` and ``\\#`` (not ``\\~``): so the option HTML is escaped once more (its ``&lt;``
    survives as ``&lt;``), a ``~`` (a non-breaking space in TeX) becomes that space, and a
    trailing backslash gets a space so that it cannot escape the next separator."""
    text = option_html.replace("\n", " ").replace("~", "\u00a0")
    text = html.escape(text, quote=False)
    text = text.replace("}", "\\}").replace("#", "\\#")
    return text + " " if text.endswith("\\") else text


def numerical_gap(weight: int, value: float, tolerance: float) -> str:
    return "{%d:NUMERICAL:=%s:%s}" % (weight, number_text(value), number_text(tolerance))


def choice_gap(weight: int, options: list[str], correct: int) -> str:
    htmls = [to_html([tex_math(o, "a choice option")]) for o in options]
    kind = "MULTICHOICE_V" if any("\\(" in h or "\\[" in h for h in htmls) else "MULTICHOICE"
    alts = [("=" if i == correct else "") + gap_option(h) for i, h in enumerate(htmls)]
    return "{%d:%s:%s}" % (weight, kind, "~".join(alts))


def yes_no_gap(weight: int, yes: bool, words: tuple[str, str] = ("yes", "no")) -> str:
    first, second = words
    return "{%d:MULTICHOICE:%s%s~%s%s}" % (weight, "=" if yes else "", first, "" if yes else "=", second)


def gap_weights(asks: list[Ask], points: list[Fraction]) -> list[int]:
    """Integer gap weights (Moodle's ``{w:…}``, one per field) in the proportion of the answers'
    points, an answer of n fields (matrix entries, multi-select options) sharing its points
    among them. Text answers have no gap."""
    per_field = [Fraction(p) / a.fields if a.scored else Fraction(0) for a, p in zip(asks, points)]
    if not any(per_field):  # every scored answer is worth 0: weigh them the same
        per_field = [Fraction(1, a.fields) if a.scored else Fraction(0) for a in asks]
    scale = math.lcm(*(f.denominator for f in per_field))
    weights = [int(f * scale) for f in per_field]
    common = math.gcd(*weights) or 1
    return [w // common for w in weights]


class Moodle(LmsFormat):
    name = "moodle"
    description = "Moodle XML question bank (quiz-moodle.xml): a category per exercise, a question per variant"
    suffix = "xml"

    def write(self, plan: "Plan", questions: list[QuizQuestion]) -> str:
        quiz = X("quiz")
        top = f"$course$/top/{_category(plan.spec.title or plan.spec.name)}"
        for index in sorted({q.index for q in questions}):
            members = [q for q in questions if q.index == index]
            name = f"{index:02d} {members[0].title}"
            quiz.add(X("question", {"type": "category"},
                       X("category", None, text_el("text", f"{top}/{_category(name)}")),
                       X("info", {"format": "html"}, text_el("text", ""))))
            for q in members:
                quiz.add(self.question(q))
        return xml_document(quiz)

    def question(self, q: QuizQuestion) -> X:
        asks = q.asks
        scored = [a for a in asks if a.scored]
        if not scored:
            return self._essay(q)
        if len(asks) == 1:
            (a,) = asks
            if a.role == "numbers" and a.shape is None:
                return self._numerical(q, a)
            if a.role == "choice":
                return self._multichoice(q, a, [a.correct[0]])
            if a.role == "multi" and a.correct and grade(100 / len(a.correct)) is not None:
                return self._multichoice(q, a, a.correct)
            if a.role == "boolean":
                return self._truefalse(q, a)
        return self._cloze(q)

    # -- the parts every question has ---------------------------------------------------------------
    def _head(self, q: QuizQuestion, kind: str, body: list[Node]) -> X:
        text = Html(q.problem.nodes + body, q.problem.figures)
        return X("question", {"type": kind},
                 X("name", None, text_el("text", q.name)),
                 self._text("questiontext", text),
                 self._text("generalfeedback", q.solution))

    def _text(self, tag: str, content: Html) -> X:
        markup = to_html(content.nodes, lambda name: PLUGINFILE + name)
        el = X(tag, {"format": "html"}, X("text", None, CData(markup)))
        for f in content.figures:
            if PLUGINFILE + f.name in markup:
                el.add(X("file", {"name": f.name, "path": "/", "encoding": "base64"},
                         base64.b64encode(f.content.encode("utf-8")).decode("ascii")))
        return el

    def _grading(self, el: X, q: QuizQuestion) -> X:
        return el.add(text_el("defaultgrade", number_text(q.points)), text_el("penalty", "0"),
                      text_el("hidden", "0"), text_el("idnumber", ""))

    # -- one value, one choice, one truth value, worded answers ----------------------------------------
    def _numerical(self, q: QuizQuestion, a: Ask) -> X:
        (cell,) = a.cells
        el = self._grading(self._head(q, "numerical", []), q)
        el.add(X("answer", {"fraction": "100", "format": "moodle_auto_format"},
                 text_el("text", number_text(cell.value)),
                 X("feedback", {"format": "html"}, text_el("text", "")),
                 text_el("tolerance", number_text(cell.tolerance))))
        return el.add(text_el("unitgradingtype", "0"), text_el("unitpenalty", "0.1"),
                      text_el("showunits", "3"), text_el("unitsleft", "0"))

    def _multichoice(self, q: QuizQuestion, a: Ask, correct: list[int]) -> X:
        single = a.role == "choice"
        right = 100.0 / len(correct)
        wrong = 0.0 if single else -right  # each wrong pick cancels one right one
        el = self._grading(self._head(q, "multichoice", []), q)
        el.add(text_el("single", "true" if single else "false"), text_el("shuffleanswers", "false"),
               text_el("answernumbering", "ABCD"), text_el("showstandardinstruction", "0"))
        for tag in ("correctfeedback", "partiallycorrectfeedback", "incorrectfeedback"):
            el.add(X(tag, {"format": "html"}, text_el("text", "")))
        for i, option in enumerate(a.options):
            el.add(X("answer", {"fraction": grade(right if i in correct else wrong), "format": "html"},
                     X("text", None, CData(to_html([tex_math(option, "a choice option")]))),
                     X("feedback", {"format": "html"}, text_el("text", ""))))
        return el

    def _truefalse(self, q: QuizQuestion, a: Ask) -> X:
        el = self._grading(self._head(q, "truefalse", []), q)
        truth = bool(a.entry["exact"])
        for word, fraction in (("true", truth), ("false", not truth)):
            el.add(X("answer", {"fraction": "100" if fraction else "0", "format": "moodle_auto_format"},
                     text_el("text", word), X("feedback", {"format": "html"}, text_el("text", ""))))
        return el

    def _essay(self, q: QuizQuestion) -> X:
        el = self._grading(self._head(q, "essay", []), q)
        model = [Node("p", {}, [math_label(a.label), ": ", *model_answer(a)]) for a in q.asks]
        el.add(text_el("responseformat", "editor"), text_el("responserequired", "1"),
               text_el("responsefieldlines", "15"), text_el("attachments", "0"),
               text_el("attachmentsrequired", "0"),
               X("graderinfo", {"format": "html"}, X("text", None, CData(to_html(model)))),
               X("responsetemplate", {"format": "html"}, text_el("text", "")))
        return el

    # -- everything else: one cloze question -------------------------------------------------------------
    def _cloze(self, q: QuizQuestion) -> X:
        block = Node("div", {"class": "answers"}, [Node("h4", {}, ["Answers"])])
        for a, w in zip(q.asks, gap_weights(q.asks, q.answer_points)):
            block.children.extend(_gaps(a, w))
        el = self._head(q, "cloze", [block])
        return el.add(text_el("penalty", "0"), text_el("hidden", "0"), text_el("idnumber", ""))


def _gaps(a: Ask, weight: int) -> list[Node]:
    label = math_label(a.label)
    if a.role == "numbers" and a.shape is None:
        (cell,) = a.cells
        return [Node("p", {}, [label, " = ", Raw(numerical_gap(weight, cell.value, cell.tolerance))])]
    if a.role == "numbers":
        cells = {(c.row, c.col): c for c in a.cells}
        table = matrix_table(a.shape, lambda i, j: Raw(numerical_gap(weight, cells[i, j].value, cells[i, j].tolerance)))
        return [Node("p", {}, [label, " ="]), table]
    if a.role == "choice":
        return [Node("p", {}, [label, ": ", Raw(choice_gap(weight, a.options, a.correct[0]))])]
    if a.role == "multi":
        right = set(a.correct)
        rows = [Node("tr", {}, [Node("td", {}, [Node("strong", {}, [f"{LETTERS[i]}."]), " ", tex_math(o, "a choice option")]),
                                Node("td", {}, [Raw(yes_no_gap(weight, i in right))])])
                for i, o in enumerate(a.options)]
        return [Node("p", {}, [label, ": does each option apply?"]),
                Node("table", {"class": "options"}, [Node("tbody", {}, rows)])]
    if a.role == "boolean":
        return [Node("p", {}, [label, ": ", Raw(yes_no_gap(weight, bool(a.entry["exact"]), ("true", "false")))])]
    return [Node("p", {}, [label, ": ", Node("em", {}, ["not collected here; compare your answer with the worked solution."])])]


def _category(name: str) -> str:
    """A category name in a Moodle path: '/' separates levels, so a slash in a name is doubled."""
    return " ".join(str(name).split()).replace("/", "//")
