"""The machine-readable answer key: key.json per variant; for exams the instructor key as
JSON (every student's exercises) and CSV (one row per student, one column per answer)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, ClassVar

from worksheetgen import answerkey, mathfmt
from worksheetgen.formats import Format

if TYPE_CHECKING:
    from worksheetgen.documents import Document


class Json(Format):
    name = "json"
    description = "answer keys (key.json; instructor-key.json and .csv for exams)"
    suffix = "json"

    def has_layout(self, layout: str) -> bool:
        return layout in self._layouts

    def render_document(self, document: "Document", context: dict[str, Any]) -> dict[str, str]:
        make = self._layouts.get(document.layout)
        return make(self, document, context) if make else {}

    def _variant_key(self, document: "Document", context: dict[str, Any]) -> dict[str, str]:
        sv, plan = context["solved"], context["plan"]
        rule = answerkey.rule_of(plan.spec.tolerance)
        entries = [_entry_text(q, rule) for q in sv.questions]
        student = context["student"] if plan.exam is not None else None
        doc = answerkey.variant_key(context["sheet"], sv.variant.id, student, entries, rule, plan.spec.digits)
        return {f"{document.name}.json": answerkey.dumps(doc)}

    def _class_key(self, document: "Document", context: dict[str, Any]) -> dict[str, str]:
        plan, solved = context["plan"], context["solved"]
        rule = answerkey.rule_of(plan.spec.tolerance)
        doc = {
            **answerkey.variant_key(context["sheet"], "", None, [], rule, plan.spec.digits),
            "roster": plan.exam.roster or None,
            "students": [{"id": sv.variant.id, "name": sv.variant.student.name if sv.variant.student else "",
                          "exercises": [_entry_text(q, rule) for q in sv.questions]} for sv in solved],
        }
        del doc["exercises"], doc["variant"]
        columns: dict[str, str] = {}
        for exercise in plan.spec.exercises:
            if exercise.pool:
                columns[f"{exercise.id}:question"] = f"{exercise.id}:question"
            for sv in solved:
                for q in sv.questions:
                    if q.exercise.id == exercise.id:
                        for a in q.instance.solved.answers:
                            columns.setdefault(f"{exercise.id}:{a.key}", f"{exercise.id}:{a.key}")
        # The key entries hold every shown text already, in the sheet's rounding mode.
        from_entries = mathfmt.current_mode() == rule.rounding
        rows = []
        for sv in solved:
            values: dict[str, str] = {}
            for q in sv.questions:
                values[f"{q.exercise.id}:question"] = str(q.number)
                entries = _entry(q, rule)["answers"] if from_entries else None
                for i, a in enumerate(q.instance.solved.answers):
                    values[f"{q.exercise.id}:{a.key}"] = (a.shown_from(entries[i]) if entries is not None
                                                           else a.shown(q.instance.digits))
            name = sv.variant.student.name if sv.variant.student else ""
            rows.append(([sv.variant.id, name], values))
        return {f"{document.name}.json": answerkey.dumps(doc),
                f"{document.name}.csv": answerkey.key_csv(list(columns.items()), rows)}

    _layouts: ClassVar[dict[str, Callable[..., dict[str, str]]]] = {
        "key": _variant_key, "exam-key": _class_key,
    }


def _entry_text(question: Any, rule: Any) -> answerkey.Encoded:
    # Written once, in the worker that made key.json; the instructor key places it again.
    key = ("key entry text", rule, question.number, tuple(question.exercise.part_points), mathfmt.current_mode())
    return question.instance.remembered(key, lambda: answerkey.encoded(_entry(question, rule)))


def _entry(question: Any, rule: Any) -> dict[str, Any]:
    # Once per question: key.json and the instructor key hold the same entry.
    key = ("key entry", rule, question.number, tuple(question.exercise.part_points), mathfmt.current_mode())
    return question.instance.remembered(key, lambda: answerkey.instance_entry(
        question.instance, rule, question.number, question.exercise.part_points))
