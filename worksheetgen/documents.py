"""The documents a plan produces, and what each template is given.

A document is a template layout rendered in one view for one variant (problems, solutions,
key.json) or once for the whole class (instructor key, quality report, the combined print
PDF). Every chosen format renders every document it has a layout for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

from worksheetgen.errors import WorksheetError
from worksheetgen.figures.scene import Axes
from worksheetgen.instance import Instance
from worksheetgen.plan import Plan, Variant
from worksheetgen.spec import ExerciseSpec, SheetSpec

if TYPE_CHECKING:
    from worksheetgen.formats import Format
    from worksheetgen.quality import Quality

KEY_COLUMNS = 6  # answers per table in the instructor key, so a table fits a landscape page


@dataclass(frozen=True)
class Document:
    name: str  # file stem
    layout: str  # template: templates/formats/<folder>/<layout>.<suffix>.j2
    view: str
    always_in: str = ""  # a format that renders it even when not chosen (the report)
    after_pdf: bool = False  # made from the variants' finished files (none at present)
    renders_exercises: bool = False  # a class document holding every variant's questions


SHEET = (Document("problems", "sheet", "problems"), Document("solutions", "sheet", "solutions"),
         Document("key", "key", "key"))
EXAM = (Document("problems", "exam", "problems"), Document("solutions", "exam", "solutions"),
        Document("key", "key", "key"))
# Every variant in one file: what an LMS imports (a question per exercise and variant).
QUIZ = Document("quiz", "quiz", "quiz", renders_exercises=True)
EXAM_CLASS = (Document("instructor-key", "exam-key", "key"), Document("report", "report", "report", "md"),
              Document("all-problems", "exam-print", "print"), QUIZ)


def variant_documents(plan: Plan) -> tuple[Document, ...]:
    return EXAM if plan.exam is not None else SHEET


def class_documents(plan: Plan) -> tuple[Document, ...]:
    if plan.only is not None:
        return ()
    return EXAM_CLASS if plan.exam is not None else (QUIZ,)


@dataclass
class Question:
    number: int  # as printed on this variant's sheet
    exercise: ExerciseSpec
    instance: Instance


@dataclass
class SolvedVariant:
    variant: Variant
    questions: list[Question] = field(default_factory=list)
    # Per format name: the rendered questions, made once for the variant's documents.
    rendered: dict[str, list[dict[str, Any]]] = field(default_factory=dict, repr=False)
    # The variant's files as the build wrote them (name → text): the combined print document
    # repeats each student's problems.tex (texbatch.unit_text), so its pages are theirs.
    texts: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def instances(self) -> list[Instance]:
        return [q.instance for q in self.questions]


# -- what the templates are given --------------------------------------------------------------

def sheet_info(spec: SheetSpec) -> dict[str, Any]:
    return {"title": spec.title, "course": spec.course, "date": spec.date,
            "instructions": spec.instructions, "seed": spec.seed, "name": spec.name}


def student_info(sv: SolvedVariant) -> dict[str, str]:
    student = sv.variant.student
    if student is not None:
        return {"id": student.id, "name": student.name, "version": ""}
    return {"id": "", "name": "", "version": sv.variant.id}


def exam_info(plan: Plan, sv: SolvedVariant | None = None) -> dict[str, Any]:
    exam = plan.exam
    info: dict[str, Any] = {}
    if exam is not None:
        info = {"duration": exam.duration, "page_per_question": exam.page_per_question,
                "answer_space": exam.answer_space,
                "roster": bool(exam.students), "roster_file": exam.roster, "pools": bool(exam.pools),
                "variants": len(plan.variants), "duplex": exam.duplex,
                "require_distinct": exam.require_distinct}
    if sv is not None:
        points = [q.instance.points for q in sv.questions]
        info.update(total_points=sum(p or 0 for p in points), has_points=any(p is not None for p in points))
    return info


class PartPoints:
    """The format's macros, with each part's points taken from the spec's part_points."""

    def __init__(self, macros: Any, exercise: ExerciseSpec) -> None:
        self._macros = macros
        self._points = exercise.part_points
        self._where = exercise.where
        self.used: set[int] = set()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._macros, name)

    def part(self, i: int, points: Any = None, caller: Any = None) -> Any:
        if not 1 <= i <= len(self._points):
            raise WorksheetError(
                f"the exercise has a part ({chr(ord('a') + i - 1)}) but part_points lists "
                f"{len(self._points)} values", field=f"{self._where}.part_points", allowed="one value per part")
        self.used.add(i)
        if caller is None:
            return self._macros.part(i, self._points[i - 1])
        return self._macros.part(i, self._points[i - 1], caller=caller)


def render_question(fmt: "Format", question: Question) -> tuple[str, str]:
    """(problem, solution) of one question; with part_points, the parts show their points."""
    exercise = question.exercise
    if not exercise.part_points:
        return fmt.render_exercise(question.instance)
    layout = PartPoints(fmt.macros(), exercise)
    problem, solution = fmt.render_exercise(question.instance, layout=layout)
    if len(layout.used) != len(exercise.part_points):
        raise WorksheetError(
            f"part_points lists {len(exercise.part_points)} values but the exercise "
            f"({question.instance.family.name}) has {len(layout.used)} parts",
            field=f"{exercise.where}.part_points", allowed="one value per part")
    return problem, solution


def needs(solved: Sequence[SolvedVariant]) -> dict[str, bool]:
    """What the questions draw: figures at all, and plots among them (a format loads the
    packages they need only then; LaTeX: TikZ, pgfplots)."""
    figures = [fig for sv in solved for q in sv.questions for fig in q.instance.solved.figures]
    plots = any(isinstance(element, Axes) for fig in figures for element in fig.scene.elements)
    return {"figures": bool(figures), "plots": plots}


def rendered_questions(sv: SolvedVariant, fmt: "Format") -> list[dict[str, Any]]:
    if fmt.name not in sv.rendered:
        items = []
        if fmt.folder is not None:
            for q in sv.questions:
                problem, solution = render_question(fmt, q)
                items.append({"instance": q.instance, "problem": problem, "solution": solution,
                              "number": q.number, "points": q.instance.points,
                              "part_points": list(q.exercise.part_points)})
        sv.rendered[fmt.name] = items
    return sv.rendered[fmt.name]


# Room to answer an exam question, from its worked solution: handwriting takes more room than
# type, so ANSWER_FACTOR times the solution's typeset lines, within these bounds (lines of 13.6 pt).
ANSWER_FACTOR = 1.3
ANSWER_MIN_LINES = 6
ANSWER_MAX_LINES = 150  # three pages


def answer_lines(plan: Plan, item: dict[str, Any], fmt: "Format") -> int:
    """Blank lines left below a question on an exam's problem sheet (0 on a sheet, and in a
    format that cannot tell how long its text comes out)."""
    exam = plan.exam
    if exam is None or exam.answer_space == "none":
        return 0
    if isinstance(exam.answer_space, int):
        return exam.answer_space
    measure = getattr(fmt, "text_lines", None)
    if measure is None:
        return 0
    if "solution_lines" not in item:  # measured once per question, whatever documents use it
        item["solution_lines"] = measure(item["solution"])
    lines = item["solution_lines"]
    return max(ANSWER_MIN_LINES, min(ANSWER_MAX_LINES, math.ceil(ANSWER_FACTOR * lines)))


def variant_context(plan: Plan, sv: SolvedVariant, fmt: "Format") -> dict[str, Any]:
    """What a variant's documents are rendered from, in one format."""
    exercises = [dict(item, answer_lines=answer_lines(plan, item, fmt)) for item in rendered_questions(sv, fmt)]
    return {"sheet": sheet_info(plan.spec), "exam": exam_info(plan, sv), "student": student_info(sv),
            "exercises": exercises, "variant_label": sv.variant.label, "solved": sv,
            "plan": plan, "tolerance": plan.spec.tolerance, "needs": needs([sv])}


def class_context(plan: Plan, solved: Sequence[SolvedVariant], quality: "Quality | None") -> dict[str, Any]:
    """What the class documents are rendered from (the same in every format)."""
    from worksheetgen.texbatch import unit_text

    return {"sheet": sheet_info(plan.spec), "exam": exam_info(plan), "key_exercises": key_exercises(plan, solved),
            "quality": quality, "solved": list(solved), "plan": plan, "tolerance": plan.spec.tolerance,
            "digits": plan.spec.digits,
            "files": [f"{sv.variant.folder}/problems.pdf" for sv in solved],
            "duplex": plan.exam.duplex if plan.exam is not None else False,
            "needs": needs(solved),
            # the body of a variant's LaTeX file (the print document repeats each student's)
            "unit": lambda sv, name: unit_text(sv.texts[name])}


def key_exercises(plan: Plan, solved: Sequence[SolvedVariant]) -> list[dict[str, Any]]:
    """Per spec exercise: who got it (and as which question) and their answers, in tables of
    at most KEY_COLUMNS answers."""
    out = []
    for index, exercise in enumerate(plan.spec.exercises, start=1):
        rows = [(sv, q) for sv in solved for q in sv.questions if q.exercise.id == exercise.id]
        if not rows:
            continue
        labels: dict[str, str] = {}
        wide: set[str] = set()  # answers given as sentences get a paragraph column
        for _, q in rows:
            for a in q.instance.solved.answers:
                labels.setdefault(a.key, a.label)
                if a.kind in ("text", "expression"):
                    wide.add(a.key)
        keys = list(labels)
        chunks = []
        for start in range(0, len(keys), KEY_COLUMNS):
            part = keys[start: start + KEY_COLUMNS]
            table = [{"student": student_info(sv), "number": q.number, "digits": q.instance.digits,
                      "answers": [q.instance.answers.get(k) for k in part]} for sv, q in rows]
            chunks.append({"labels": [labels[k] for k in part], "wide": [k in wide for k in part],
                           "rows": table})
        out.append({"index": index, "id": exercise.id, "family": exercise.family,
                    "title": rows[0][1].instance.title, "points": exercise.points, "pool": exercise.pool,
                    "count": len(rows), "chunks": chunks})
    return out
