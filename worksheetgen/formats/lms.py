"""What the LMS formats (moodle, qti21, canvas) share: exercises as an HTML tree, the typed
answers as things a learning platform can score, a small XML writer and reproducible zips.

Text. A family template writes prose with math as TeX in ``$…$`` and its layout through the
macros of ``templates/formats/lms/macros.j2``. Those macros emit structure as private-use
markers (:func:`tag`, :func:`end`, :func:`void`), never as raw tags, and the ``t`` filter
protects a user's dollar signs; :func:`parse` turns a rendered text into a tree of
:class:`Node`, rewrites ``$…$`` as ``\\(…\\)`` (Moodle's MathJax and TeX filters, Canvas and
QTI players read no ``$…$``), and wraps loose prose into paragraphs. Every character a template
wrote is therefore text, escaped exactly once when a format serialises the tree: a ``<`` in a
formula can never open a tag.

XML is written by hand with :class:`X` (standard library only): Moodle wants its HTML in CDATA
sections, which ElementTree cannot write, and all three formats need attribute order, indentation
and bytes that never change between runs; no third-party XML library earns its dependency
for that.

Answers. :func:`asks` reads an instance's typed answers (worksheetgen/answers.py): each becomes
an :class:`Ask` of one role (numbers, choice, multi, boolean, text) decided by the answer's class,
with the key entry (float, tolerance, options) the JSON key holds, so an LMS scores exactly what
the key says. A platform that knows only absolute tolerances gets :func:`absolute_tolerance`.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
import zipfile
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Sequence, Union

import jinja2

from worksheetgen import answerkey
from worksheetgen.answers import (
    Answer, BooleanAnswer, ChoiceAnswer, ExpressionAnswer, IntegerAnswer, MatrixAnswer, MultiChoiceAnswer,
    NumberAnswer, Rule, TextAnswer,
)
from worksheetgen.answers import margin as answers_margin
from worksheetgen.errors import CheckError, WorksheetError
from worksheetgen.figures import tex_to_text, to_svg
from worksheetgen.formats import Format
from worksheetgen.grading import split_points

if TYPE_CHECKING:
    from worksheetgen.documents import Document, SolvedVariant
    from worksheetgen.instance import Instance
    from worksheetgen.plan import Plan, Variant
    from worksheetgen.spec import ExerciseSpec

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

# -- markers the macros write ---------------------------------------------------------------------

_OPEN, _END, _VOID, _STOP = "\ue010", "\ue011", "\ue012", "\ue013"
_DOLLAR = "\ue014"  # a dollar sign of user text: never a math delimiter
_MARKER = re.compile(f"([{_OPEN}{_END}{_VOID}])([^{_STOP}]*){_STOP}")


def tag(name: str, **attrs: Any) -> str:
    """Opens an element (``cls`` is written for the ``class`` attribute)."""
    return _OPEN + _spec(name, attrs) + _STOP


def end(name: str) -> str:
    return _END + name + _STOP


def void(name: str, **attrs: Any) -> str:
    """An element without content (``img``, ``br``)."""
    return _VOID + _spec(name, attrs) + _STOP


def _spec(name: str, attrs: dict[str, Any]) -> str:
    clean = {("class" if k == "cls" else k): str(v) for k, v in attrs.items() if v is not None}
    return json.dumps([name, clean], ensure_ascii=True)


def plain(tex_text: str) -> str:
    """A one-line reading of text with ``$…$`` math (image alt texts)."""
    return _INLINE.sub(lambda m: tex_to_text(m.group(1)), str(tex_text)).replace("$", "")


# -- the tree ---------------------------------------------------------------------------------------


class Raw(str):
    """Markup that goes out as written (a Moodle cloze gap, escaped by its maker)."""


Child = Union["Node", str]


@dataclass
class Node:
    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[Child] = field(default_factory=list)

    def walk(self) -> Any:
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.walk()


@dataclass(frozen=True)
class FigureFile:
    name: str  # unique within a package: <exercise id>-<content hash>.svg
    content: str  # the SVG document


@dataclass
class Html:
    """A rendered text: block nodes and the figure files they show."""

    nodes: list[Node]
    figures: list[FigureFile] = field(default_factory=list)


_DISPLAY = re.compile(r"(?<!\\)\$\$(.+?)(?<!\\)\$\$", re.S)
_INLINE = re.compile(r"(?<!\\)\$(.+?)(?<!\\)\$", re.S)
_BARE_DOLLAR = re.compile(r"(?<!\\)\$")


def tex_math(text: str, where: str = "text") -> str:
    """``$$…$$`` → ``\\[…\\]`` and ``$…$`` → ``\\(…\\)``; a dollar left over means a formula
    the markers cut in two (a template bug)."""
    text = _DISPLAY.sub(lambda m: r"\[" + m.group(1) + r"\]", text)
    text = _INLINE.sub(lambda m: r"\(" + m.group(1) + r"\)", text)
    if _BARE_DOLLAR.search(text):
        raise CheckError(f"lms: an unpaired $ in {where}: {text.strip()[:80]!r}")
    return text.replace(_DOLLAR, "$")


_INLINE_TAGS = frozenset({"strong", "em", "span", "img", "br", "sub", "sup", "a", "code"})
_FLOW = frozenset({"div", "li", "td", "th"})  # containers where prose may become paragraphs
_STRUCTURE = frozenset({"table", "thead", "tbody", "tr", "ul", "ol"})  # hold elements only
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")


def parse(text: str, where: str = "text") -> list[Node]:
    """The block nodes of a text rendered through the LMS macros."""
    root = Node("#root")
    stack = [root]
    pos = 0
    for m in _MARKER.finditer(text):
        if m.start() > pos:
            stack[-1].children.append(tex_math(text[pos:m.start()], where))
        kind, body = m.group(1), m.group(2)
        if kind == _END:
            if len(stack) == 1 or stack[-1].tag != body:
                raise CheckError(f"lms: </{body}> closes <{stack[-1].tag}> in {where}")
            stack.pop()
        else:
            name, attrs = json.loads(body)
            node = Node(name, attrs)
            stack[-1].children.append(node)
            if kind == _OPEN:
                stack.append(node)
        pos = m.end()
    if pos < len(text):
        stack[-1].children.append(tex_math(text[pos:], where))
    if len(stack) != 1:
        raise CheckError(f"lms: <{stack[-1].tag}> is never closed in {where}")
    return _blocks(root.children, force=True)


def _blocks(children: Sequence[Child], force: bool) -> list[Any]:
    """Loose prose and inline elements become paragraphs, split at blank lines; with ``force``
    off, content that is one paragraph stays inline (a list item, a table cell)."""
    out: list[Any] = []
    para: list[Child] = []
    made: list[bool] = []  # out[i] is a paragraph made here

    def flush() -> None:
        items = _trim(para)
        if any(isinstance(c, Node) or c.strip() for c in items):
            out.append(Node("p", {}, items))
            made.append(True)
        para.clear()

    for child in children:
        if isinstance(child, Node) and child.tag not in _INLINE_TAGS:
            flush()
            out.append(_normalize(child))
            made.append(False)
        elif isinstance(child, Node) or isinstance(child, Raw):
            para.append(_normalize(child) if isinstance(child, Node) else child)
        else:
            for k, piece in enumerate(_PARAGRAPH_BREAK.split(child)):
                if k:
                    flush()
                if piece:
                    para.append(piece)
    flush()
    if not force and len(out) == 1 and made[0]:
        return out[0].children
    return out


def _normalize(node: Node) -> Node:
    if node.tag in _FLOW:
        node.children = _blocks(node.children, force=False)
    elif node.tag in _STRUCTURE:
        node.children = [_normalize(c) for c in node.children if isinstance(c, Node)]
    else:
        node.children = [_normalize(c) if isinstance(c, Node) else
                         c if isinstance(c, Raw) else _PARAGRAPH_BREAK.sub("\n", c) for c in node.children]
        if node.tag == "p":
            node.children = _trim(node.children)
    return node


def _trim(items: list[Child]) -> list[Child]:
    items = list(items)
    if items and isinstance(items[0], str) and not isinstance(items[0], Raw):
        items[0] = items[0].lstrip()
    if items and isinstance(items[-1], str) and not isinstance(items[-1], Raw):
        items[-1] = items[-1].rstrip()
    return [c for c in items if not (isinstance(c, str) and c == "")]


# -- HTML (Moodle, Canvas) ---------------------------------------------------------------------------

_VOID_TAGS = frozenset({"img", "br"})
_ALIGN = {"l": "left", "c": "center", "r": "right"}
_NEWLINE_AFTER = frozenset({"p", "div", "ul", "ol", "li", "table", "thead", "tbody", "tr", "h4"})


def html_text(text: str) -> str:
    # A dollar of user text goes out as a character reference: no filter reads it as math.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("$", "&#36;")


def html_attr(text: str) -> str:
    return html_text(text).replace('"', "&quot;")


def to_html(nodes: Sequence[Child], src: Callable[[str], str] = lambda name: name) -> str:
    """HTML of a tree; ``src`` maps a figure file name to where the platform finds it."""
    out: list[str] = []
    for node in nodes:
        _html(node, src, out)
    return "".join(out).strip()


def _html(node: Child, src: Callable[[str], str], out: list[str]) -> None:
    if isinstance(node, Raw):
        out.append(node)
        return
    if isinstance(node, str):
        out.append(html_text(node))
        return
    attrs = dict(node.attrs)
    if "align" in attrs:
        attrs["style"] = f"text-align: {_ALIGN.get(attrs.pop('align'), 'left')}"
    if node.tag == "img":
        attrs["src"] = src(attrs["src"])
    text = "".join(f' {k}="{html_attr(v)}"' for k, v in attrs.items())
    if node.tag in _VOID_TAGS:
        out.append(f"<{node.tag}{text} />")
        return
    out.append(f"<{node.tag}{text}>")
    for child in node.children:
        _html(child, src, out)
    out.append(f"</{node.tag}>")
    if node.tag in _NEWLINE_AFTER:
        out.append("\n")


def math_label(label: str) -> str:
    """An answer's TeX label as inline math."""
    return r"\(" + label + r"\)"


def option_nodes(option: str) -> list[Child]:
    """A choice option (TeX text with ``$…$``, as printed) as inline text."""
    return [tex_math(option, "a choice option")]


def model_answer(ask: "Ask") -> list[Child]:
    """A worded answer's model text: an expression is TeX, a sentence may hold ``$…$``."""
    if isinstance(ask.answer, ExpressionAnswer):
        return [math_label(str(ask.answer.value))]
    return [tex_math(str(ask.answer.value), "a model answer")]


def matrix_table(shape: tuple[int, int], cell: Callable[[int, int], Child]) -> Node:
    """A grid with one answer field per entry."""
    rows, cols = shape
    return Node("table", {"class": "matrix"}, [
        Node("tbody", {}, [Node("tr", {}, [Node("td", {}, [cell(i, j)]) for j in range(cols)])
                           for i in range(rows)])])


# -- answers as an LMS asks them ---------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """One number to type: its value and the absolute tolerance around it."""

    value: float
    tolerance: float
    row: int = 0
    col: int = 0


@dataclass
class Ask:
    answer: Answer
    entry: dict[str, Any]  # the key entry (Answer.entry): float, tolerance, options
    role: str  # numbers | choice | multi | boolean | text
    cells: tuple[Cell, ...] = ()
    shape: tuple[int, int] | None = None  # a matrix: one cell per entry

    @property
    def label(self) -> str:
        return self.answer.label

    @property
    def options(self) -> list[str]:
        return [o["text"] for o in self.entry.get("options", [])]

    @property
    def correct(self) -> list[int]:
        index = self.entry.get("correct_index")
        return list(index) if isinstance(index, list) else [index]

    @property
    def scored(self) -> bool:
        """Whether a platform can score it (text answers need a person)."""
        return self.role != "text"

    @property
    def fields(self) -> int:
        """How many separately scored fields it takes (cells; one per option of a multi)."""
        if self.role == "numbers":
            return len(self.cells)
        if self.role == "multi":
            return len(self.options)
        return 1


def absolute_tolerance(tolerance: dict[str, Any], value: float, rule: Rule) -> float:
    """The key's tolerance as one absolute margin around ``value``: a relative rule becomes
    max(absolute, relative·|x|), so a value shown rounded is not refused near zero."""
    kind = tolerance.get("kind", "exact")
    if kind == "exact":
        return 0.0
    if kind == "absolute":
        return float(tolerance["value"])
    if kind == "relative":
        return max(rule.absolute, float(tolerance["value"]) * abs(value))
    if kind in ("either", "decimals", "significant"):
        return answers_margin(tolerance, value)  # the grader's own margin, entry by entry
    raise WorksheetError(f"an answer has a tolerance of unknown kind {kind!r}", field="tolerance",
                         allowed="exact, absolute, relative, either, decimals, significant")


def asks(instance: "Instance", rule: Rule) -> list[Ask]:
    """The answers of an instance, as an LMS asks them, in the key's order."""
    out = []
    for a in instance.solved.answers:
        entry = a.entry(instance.digits, rule)
        if isinstance(a, (NumberAnswer, IntegerAnswer)):
            value = float(entry["float"])
            out.append(Ask(a, entry, "numbers", (Cell(_finite(value, a), absolute_tolerance(entry["tolerance"], value, rule)),)))
        elif isinstance(a, MatrixAnswer):
            rows = entry["float"]
            cells = tuple(Cell(_finite(float(v), a), absolute_tolerance(entry["tolerance"], float(v), rule), i, j)
                          for i, row in enumerate(rows) for j, v in enumerate(row))
            out.append(Ask(a, entry, "numbers", cells, (len(rows), len(rows[0]) if rows else 0)))
        elif isinstance(a, MultiChoiceAnswer):
            out.append(Ask(a, entry, "multi"))
        elif isinstance(a, ChoiceAnswer):
            out.append(Ask(a, entry, "choice"))
        elif isinstance(a, BooleanAnswer):
            out.append(Ask(a, entry, "boolean"))
        elif isinstance(a, TextAnswer):
            out.append(Ask(a, entry, "text"))
        else:
            raise WorksheetError(f"{instance.family.name}: answers of kind {a.kind!r} cannot be exported to an LMS",
                                 field="--format", allowed="formats without LMS scoring (tex, md, pdf, json)")
    return out


def _finite(value: float, answer: Answer) -> float:
    if not math.isfinite(value):
        raise CheckError(f"lms: answer {answer.key!r} is {value}, which no LMS can score")
    return value


def number_text(x: float) -> str:
    """A decimal an LMS reads: no '+', no fraction, integers without '.0', 15 significant digits."""
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.15g}"


def plain_label(label: str) -> str:
    return tex_to_text(label)


# -- the XML writer ------------------------------------------------------------------------------------


class CData(str):
    """Text written as a CDATA section."""


class X:
    """An XML element: tag, attributes in the order given, children (X, text, CData)."""

    __slots__ = ("tag", "attrs", "children")

    def __init__(self, tag: str, attrs: dict[str, Any] | None = None, *children: Any) -> None:
        self.tag = tag
        self.attrs = {k: str(v) for k, v in (attrs or {}).items() if v is not None}
        self.children = [c for c in children if c is not None]

    def add(self, *children: Any) -> "X":
        self.children.extend(c for c in children if c is not None)
        return self


def xml_escape(text: str, quote: bool = False) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace('"', "&quot;") if quote else text


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def xml_document(root: X) -> str:
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + _xml(root, 0) + "\n"


def _xml(el: X, level: int, inline: bool = False) -> str:
    attrs = "".join(f' {k}="{xml_escape(v, quote=True)}"' for k, v in el.attrs.items())
    if not el.children:
        return f"<{el.tag}{attrs}/>"
    # Mixed content (XHTML prose) is written as it stands: whitespace there is text.
    mixed = inline or any(not isinstance(c, X) for c in el.children)
    parts = []
    for child in el.children:
        if isinstance(child, X):
            parts.append(_xml(child, level + 1, mixed))
        elif isinstance(child, CData):
            parts.append(_cdata(child))
        else:
            parts.append(xml_escape(str(child)))
    if mixed:
        return f"<{el.tag}{attrs}>" + "".join(parts) + f"</{el.tag}>"
    pad = "  " * (level + 1)
    return f"<{el.tag}{attrs}>\n" + "".join(pad + p + "\n" for p in parts) + "  " * level + f"</{el.tag}>"


def text_el(tag: str, text: Any, attrs: dict[str, Any] | None = None) -> X:
    return X(tag, attrs, str(text))


# -- packages --------------------------------------------------------------------------------------------


ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can hold: no build date in the bytes


def zip_bytes(files: dict[str, str | bytes]) -> bytes:
    """A zip whose bytes depend only on ``files``: sorted entries, a fixed time stamp and
    permissions, the same compression level."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            data = files[name]
            archive.writestr(info, data.encode("utf-8") if isinstance(data, str) else data, compresslevel=9)
    return buffer.getvalue()


def ident(prefix: str, *parts: Any, length: int = 16) -> str:
    """A stable identifier (letters and digits after ``prefix``) of ``parts``."""
    digest = hashlib.sha1("\x1f".join(str(p) for p in parts).encode("utf-8")).hexdigest()
    return prefix + digest[:length]


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", str(text)).strip("-") or "x"


# -- the quiz: every variant's exercises -----------------------------------------------------------------


@dataclass
class QuizQuestion:
    """One exercise of one variant, ready for an LMS."""

    variant: "Variant"
    index: int  # the exercise's place in the spec (1-based): its category / section
    number: int  # its number on this variant's sheet
    exercise: "ExerciseSpec"
    instance: "Instance"
    problem: Html
    solution: Html
    asks: list[Ask]
    answer_points: list[Fraction]  # per ask, as the grader splits the exercise's points
    many_variants: bool

    @property
    def title(self) -> str:
        return self.instance.title

    @property
    def variant_name(self) -> str:
        return self.variant.label or f"Version {self.variant.id}"

    @property
    def name(self) -> str:
        """The question's name in a question bank: unique per exercise and variant."""
        base = f"{self.index:02d} {self.title}"
        return f"{base} ({self.variant_name})" if self.many_variants else base

    @property
    def points(self) -> float:
        """What its answers are worth together: the exercise's points (or one per answer when
        the spec gives none), less any part that asks for no typed value."""
        return float(sum(self.answer_points))

    @property
    def figures(self) -> list[FigureFile]:
        seen: dict[str, FigureFile] = {}
        for f in self.problem.figures + self.solution.figures:
            seen.setdefault(f.name, f)
        return list(seen.values())


class LmsFormat(Format):
    """Base of the LMS formats: one class-wide file (the ``quiz`` document), every variant in it."""

    folder = "lms"
    suffix = ""
    default = False  # an LMS export is asked for by name
    figure_suffix = "svg"
    quiz_layout: ClassVar[str] = "quiz"

    def escape(self, text: str) -> str:
        return str(text).replace("$", _DOLLAR)

    def print_figure(self, figure: Any) -> str:
        return to_svg(figure)

    def build_environment(self) -> jinja2.Environment:
        env = super().build_environment()
        env.globals.update(tag=tag, end=end, void=void, plain=plain)
        return env

    def has_layout(self, layout: str) -> bool:
        return layout == self.quiz_layout

    def file_name(self, document: "Document") -> str:
        return f"{document.name}-{self.name}.{self.suffix}"

    def render_document(self, document: "Document", context: dict[str, Any]) -> dict[str, Any]:
        if not self.has_layout(document.layout):
            return {}
        plan: Plan = context["plan"]
        rule = answerkey.rule_of(plan.spec.tolerance)
        questions = self.questions(plan, context["solved"], rule)
        return {self.file_name(document): self.write(plan, questions)}

    def write(self, plan: "Plan", questions: list[QuizQuestion]) -> str | bytes:
        raise NotImplementedError

    # -- exercises -----------------------------------------------------------------------------
    def questions(self, plan: "Plan", solved: Sequence["SolvedVariant"], rule: Rule) -> list[QuizQuestion]:
        from worksheetgen.documents import render_question

        index = {e.id: i for i, e in enumerate(plan.spec.exercises, start=1)}
        many = len(solved) > 1
        out = []
        for sv in solved:
            for q in sv.questions:
                problem, solution = render_question(self, q)
                where = q.instance.context()
                # The grader's split of the points (evenly, or by part_points where answers name
                # their part), so an LMS weighs an answer as `worksheetgen grade` does.
                points, _ = split_points(answerkey.instance_entry(q.instance, rule, q.number, q.exercise.part_points))
                out.append(QuizQuestion(
                    sv.variant, index[q.exercise.id], q.number, q.exercise, q.instance,
                    self.html(problem, q.instance, f"the problem of {where}"),
                    self.html(solution, q.instance, f"the solution of {where}"),
                    asks(q.instance, rule), points, many))
        return out

    def html(self, text: str, instance: "Instance", where: str) -> Html:
        nodes = parse(text, where)
        by_path = {self.figure_path(instance, fig): fig for fig in instance.solved.figures}
        files: dict[str, FigureFile] = {}
        for node in (n for top in nodes for n in top.walk()):
            if node.tag != "img":
                continue
            fig = by_path.get(node.attrs.get("src", ""))
            if fig is None:
                raise CheckError(f"lms: an image in {where} is not one of the exercise's figures")
            svg = self.print_figure(fig)
            name = f"{instance.slug}-{hashlib.sha1(svg.encode('utf-8')).hexdigest()[:12]}.svg"
            files.setdefault(name, FigureFile(name, svg))
            node.attrs["src"] = name
        return Html(nodes, list(files.values()))
