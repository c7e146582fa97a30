"""The machine-readable answer key: every asked value as exact text, float, shown text and
grading tolerance, plus the givens, so a grader needs nothing but this file."""

from __future__ import annotations

import json
from typing import Any, Sequence

import sympy as sp

from worksheetgen import __version__, mathfmt
from worksheetgen.family import Answer, to_float
from worksheetgen.instance import Instance
from worksheetgen.spec import Tolerance


def jsonable(value: Any) -> Any:
    """Givens as JSON: exact decimals as numbers, other rationals as text, matrices as rows."""
    if isinstance(value, sp.MatrixBase):
        return [[jsonable(v) for v in row] for row in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, sp.Integer):
        return int(value)
    if isinstance(value, sp.Rational):
        return float(value) if mathfmt.is_exact_decimal(value) else str(value)
    if isinstance(value, sp.Basic):
        return str(value)
    return value


def _exact_text(value: Any) -> Any:
    if isinstance(value, sp.MatrixBase):
        return [[str(v) for v in row] for row in value.tolist()]
    return str(value)


def _shown(value: Any, digits: int) -> Any:
    if isinstance(value, sp.MatrixBase):
        return [[mathfmt.rounded(v, digits) for v in row] for row in value.tolist()]
    return mathfmt.rounded(value, digits)


def _tolerance(answer: Answer, rule: Tolerance) -> dict[str, Any]:
    if answer.tolerance is not None:
        return answer.tolerance
    if answer.kind in ("integer", "choice", "text", "boolean"):
        return {"kind": "exact"}
    values = to_float(answer.value)
    flat = [v for row in values for v in row] if isinstance(values, list) else [values]
    if all(abs(v) >= rule.absolute * 10 for v in flat):
        return {"kind": "relative", "value": rule.relative}
    return {"kind": "absolute", "value": rule.absolute}


def answer_entry(answer: Answer, digits: int, rule: Tolerance) -> dict[str, Any]:
    entry: dict[str, Any] = {"key": answer.key, "label": answer.label, "kind": answer.kind}
    if answer.kind in ("number", "matrix"):
        entry.update(
            exact=_exact_text(answer.value),
            float=to_float(answer.value),
            shown=_shown(answer.value, digits),
        )
    elif answer.kind == "integer":
        entry.update(exact=str(int(answer.value)), float=float(int(answer.value)),
                     shown=str(int(answer.value)))
    else:
        entry.update(exact=answer.value, shown=str(answer.value))
    entry["tolerance"] = _tolerance(answer, rule)
    return entry


def instance_entry(instance: Instance, rule: Tolerance) -> dict[str, Any]:
    return {
        "position": instance.position,
        "family": instance.family.name,
        "title": instance.title,
        "points": instance.points,
        "seed": str(instance.seed),
        "given": jsonable(instance.given),
        "answers": [answer_entry(a, instance.digits, rule) for a in instance.solved.answers],
        **({"meta": jsonable(instance.meta)} if instance.meta else {}),
    }


def key_document(
    sheet: dict[str, Any], variant: str, instances: Sequence[Instance], rule: Tolerance
) -> str:
    doc = {
        "generator": {"name": "worksheetgen", "version": __version__},
        "sheet": sheet,
        "variant": variant,
        "exercises": [instance_entry(i, rule) for i in instances],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
