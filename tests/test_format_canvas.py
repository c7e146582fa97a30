"""The Canvas package (QTI 1.2 as Canvas classic quizzes import it): it parses, the manifest
lists every file, there is one quiz per variant, every family appears, each value is a
numerical question with the key's value and margin, choices mark the key's option, and an
exercise's questions share its points."""

from __future__ import annotations

import html
import io
import json
import math
import re
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from typing import Any

import pytest

from worksheetgen.build import BuildResult, build
from worksheetgen.registry import load_families
from worksheetgen.spec import parse_spec

QTI = "{http://www.imsglobal.org/xsd/ims_qtiasiv1p2}"
CP = "{http://www.imsglobal.org/xsd/imsccv1p1/imscp_v1p1}"
META = "{http://canvas.instructure.com/xsd/cccv1p0}"
FILEBASE = "%24IMS-CC-FILEBASE%24/"

MIXED = [
    {"family": "activation_table", "params": {"functions": ["relu", "tanh"], "properties": ["nonlinear", "vanishing"]}},
    {"family": "activation_table", "params": {"functions": ["relu", "identity"], "properties": ["vanishing"],
                                              "values": False}},  # no option applies
    # One question of each kind, named (the bank grows; a drawn count need not cover every kind).
    {"family": "concepts", "params": {"questions": ["linear-collapse", "conv-dense-practice",
                                                    "nonlinearity-significance", "vanishing-gradient-causes"]},
     "points": 8},
    {"family": "gradient_check", "points": 3},
    {"family": "forward_pass"},
]


def build_sheet(tmp_path: Path, exercises: list[dict[str, Any]], variants: int = 2, seed: int = 7) -> BuildResult:
    spec = parse_spec({"title": "LMS export", "name": "lms", "seed": seed, "variants": variants,
                       "instructions": "Give numbers to 4 decimal places; costs in $ are not asked.",
                       "exercise": exercises})
    return build(spec, tmp_path, formats=["canvas", "json"])


def package(result: BuildResult) -> dict[str, bytes]:
    with zipfile.ZipFile(result.target / "quiz-canvas.zip") as z:
        return {name: z.read(name) for name in z.namelist()}


def margin(answer: dict[str, Any], value: float, rule_absolute: float = 1e-4) -> float:
    tol = answer["tolerance"]
    return {"exact": lambda: 0.0, "absolute": lambda: tol["value"],
            "relative": lambda: max(rule_absolute, tol["value"] * abs(value)),
            "either": lambda: max(tol["absolute"], tol["relative"] * abs(value)),
            # one unit of the last asked decimal / significant digit
            "decimals": lambda: 10.0 ** -tol["digits"],
            "significant": lambda: 10.0 ** (math.floor(math.log10(abs(value))) - tol["digits"] + 1) if value else 0.0,
            }[tol["kind"]]()


def shown(option_tex: str) -> str:
    return re.sub(r"\$(.+?)\$", r"\\(\1\\)", option_tex)


def field(item: ET.Element, label: str) -> str:
    for f in item.iter(f"{QTI}qtimetadatafield"):
        if f.findtext(f"{QTI}fieldlabel") == label:
            return f.findtext(f"{QTI}fieldentry") or ""
    raise AssertionError(f"no {label}")


def text(item: ET.Element) -> str:
    return html.unescape(item.findtext(f"{QTI}presentation/{QTI}material/{QTI}mattext"))


def expected_items(entry: dict[str, Any]) -> list[tuple[str, Any]]:
    """(question type, what it checks) per question of an exercise, after its statement."""
    out: list[tuple[str, Any]] = []
    for a in entry["answers"]:
        kind = a["kind"]
        if kind in ("number", "integer"):
            out.append(("numerical_question", (a["float"], margin(a, a["float"]), 1)))
        elif kind == "matrix":
            cells = [v for row in a["float"] for v in row]
            out.extend(("numerical_question", (v, margin(a, v), len(cells))) for v in cells)
        elif kind == "choice":
            out.append(("multiple_choice_question", ([a["correct_index"]], [shown(o["text"]) for o in a["options"]])))
        elif kind == "multi" and a["correct_index"]:
            out.append(("multiple_answers_question", (a["correct_index"], [shown(o["text"]) for o in a["options"]])))
        elif kind == "multi":
            out.extend(("true_false_question", ([1], ["True", "False"], len(a["options"]))) for _ in a["options"])
        elif kind == "boolean":
            out.append(("true_false_question", ([0 if a["exact"] else 1], ["True", "False"], 1)))
        else:
            out.append(("essay_question", None))
    return out


def check_item(item: ET.Element, kind: str, what: Any, family: str) -> None:
    assert field(item, "question_type") == kind
    conditions = item.findall(f"{QTI}resprocessing/{QTI}respcondition")
    scoring = [c for c in conditions if c.find(f"{QTI}setvar") is not None]
    if kind == "numerical_question":
        value, tol, _ = what
        (c,) = scoring
        assert math.isclose(float(c.findtext(f".//{QTI}varequal")), value, rel_tol=1e-13, abs_tol=1e-300), family
        low, high = float(c.findtext(f".//{QTI}vargte")), float(c.findtext(f".//{QTI}varlte"))
        assert math.isclose(low, value - tol, rel_tol=1e-12, abs_tol=1e-15), (family, low, value, tol)
        assert math.isclose(high, value + tol, rel_tol=1e-12, abs_tol=1e-15), (family, high, value, tol)
        assert item.find(f".//{QTI}render_fib").get("fibtype") == "Decimal"
    elif kind == "essay_question":
        assert not scoring
    else:
        right, options = what[0], what[1]
        labels = item.findall(f".//{QTI}response_label")
        assert [html.unescape(label.findtext(f".//{QTI}mattext")) for label in labels] == options
        idents = [label.get("ident") for label in labels]
        assert field(item, "original_answer_ids") == ",".join(idents)
        (c,) = scoring
        condition = c.find(f"{QTI}conditionvar")
        chosen = {v.text for v in condition.iter(f"{QTI}varequal")}
        negated = {v.text for n in condition.iter(f"{QTI}not") for v in n.iter(f"{QTI}varequal")}
        assert chosen - negated == {idents[i] for i in right}, family
        if kind == "multiple_answers_question":
            assert negated == set(idents) - {idents[i] for i in right}
        assert c.findtext(f"{QTI}setvar") == "100"


def check_package(result: BuildResult) -> dict[str, bytes]:
    files = package(result)
    manifest = ET.fromstring(files["imsmanifest.xml"])
    listed = {f.get("href") for f in manifest.iter(f"{CP}file")}
    assert listed == set(files) - {"imsmanifest.xml"}
    quizzes = [r for r in manifest.iter(f"{CP}resource") if r.get("type") == "imsqti_xmlv1p2"]
    assert len(quizzes) == len(result.variants), "one quiz per variant"
    for resource, sv in zip(quizzes, result.variants):
        quiz_id = resource.get("identifier")
        root = ET.fromstring(files[f"{quiz_id}/{quiz_id}.xml"])
        meta = ET.fromstring(files[f"{quiz_id}/assessment_meta.xml"])
        assert "&#36;" in meta.findtext(f"{META}description"), "a dollar of the instructions is not math"
        entries = json.loads((result.target / sv.variant.folder / "key.json").read_text())["exercises"]
        items = root.findall(f".//{QTI}item")
        for item in items:
            body = text(item)
            assert "$" not in body, "math as \\(…\\)"
            for src in re.findall(r'src="([^"]+)"', body):
                assert src.startswith(FILEBASE) and files[src.removeprefix(FILEBASE)].startswith(b"<svg")
        position = 0
        total = 0.0
        for entry in entries:
            stem = items[position]
            assert field(stem, "question_type") == "text_only_question"
            expected = expected_items(entry)
            questions = items[position + 1: position + 1 + len(expected)]
            assert len(questions) == len(expected), entry["family"]
            points = entry["points"] if entry["points"] is not None else len(entry["answers"])
            got = sum(float(field(q, "points_possible")) for q in questions)
            assert math.isclose(got, points, abs_tol=1e-3 * len(questions)), (entry["family"], got, points)
            total += points
            for question, (kind, what) in zip(questions, expected):
                check_item(question, kind, what, entry["family"])
            solution = questions[-1].find(f"{QTI}itemfeedback[@ident='general_fb']")
            assert solution is not None and solution.findtext(f".//{QTI}mattext").strip(), "the worked solution"
            position += 1 + len(expected)
        assert position == len(items)
        assert math.isclose(float(meta.findtext(f"{META}points_possible")), total, abs_tol=1e-3)
    return files


def test_every_answer_kind_as_canvas_questions(tmp_path):
    result = build_sheet(tmp_path, MIXED)
    files = check_package(result)
    types = {field(i, "question_type") for name, data in files.items() if name.endswith(".xml") and b"questestinterop" in data
             for i in ET.fromstring(data).iter(f"{QTI}item")}
    assert types >= {"text_only_question", "numerical_question", "multiple_choice_question",
                     "multiple_answers_question", "true_false_question", "essay_question"}


def test_the_zip_is_byte_reproducible(tmp_path):
    first = build_sheet(tmp_path / "a", MIXED[2:])
    second = build_sheet(tmp_path / "b", MIXED[2:])
    a, b = ((r.target / "quiz-canvas.zip").read_bytes() for r in (first, second))
    assert a == b
    with zipfile.ZipFile(io.BytesIO(a)) as z:
        assert z.namelist() == sorted(z.namelist())
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}


@pytest.mark.slow
def test_every_family_in_canvas(tmp_path):
    result = build_sheet(tmp_path, [{"family": f} for f in sorted(load_families())], seed=31)
    check_package(result)
    families = {e["family"] for sv in result.variants
                for e in json.loads((result.target / sv.variant.folder / "key.json").read_text())["exercises"]}
    assert families == set(load_families())
