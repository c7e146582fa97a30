"""The Moodle XML export: Moodle's own import checks (moodle_lint.php) pass, every family
appears, and every cloze gap holds the key's value and tolerance."""

from __future__ import annotations

import base64
import html
import json
import math
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from worksheetgen.build import BuildResult, build
from worksheetgen.cli import main
from worksheetgen.formats.lms import parse, tag, end, to_html
from worksheetgen.formats.moodle import GRADES, choice_gap, gap_weights, grade
from worksheetgen.registry import load_families
from worksheetgen.spec import parse_spec

ROOT = Path(__file__).resolve().parent.parent
VALIDATORS = ROOT.parent / "shared" / "validators"

# One exercise of each kind of Moodle question: numerical, multichoice (one and several right
# options), truefalse, essay, and cloze (matrices).
TYPES = [
    {"family": "bce_loss", "params": {"gradient": False, "m": 1}, "points": 2},
    {"family": "concepts", "params": {"kinds": ["single"], "count": 1}},
    {"family": "concepts", "params": {"kinds": ["truefalse"], "count": 1}},
    {"family": "concepts", "params": {"kinds": ["short"], "count": 1}},
    {"family": "concepts", "params": {"kinds": ["multi"], "count": 1}},
    {"family": "activation_table", "params": {"values": False, "properties": ["vanishing"]}},
    {"family": "activation_table", "params": {"functions": ["relu", "tanh"], "properties": ["nonlinear"]}},
    # No option applies: Moodle's multichoice cannot say so (a cloze with yes/no gaps can).
    {"family": "activation_table", "params": {"functions": ["relu", "identity"], "properties": ["vanishing"],
                                              "values": False}},
]
EXPECTED_TYPES = ["numerical", "multichoice", "truefalse", "essay", "multichoice", "multichoice", "cloze", "cloze"]


def build_sheet(tmp_path: Path, exercises: list[dict[str, Any]], formats: list[str], variants: int = 2,
                seed: int = 7) -> BuildResult:
    spec = parse_spec({"title": "LMS export / test", "name": "lms", "seed": seed, "variants": variants,
                       "exercise": exercises})
    return build(spec, tmp_path, formats=formats)


def every_family() -> list[dict[str, Any]]:
    return [{"family": name} for name in sorted(load_families())]


def lint(path: Path) -> str:
    php, script = shutil.which("php"), VALIDATORS / "moodle_lint.php"
    if php is None or not script.is_file():
        pytest.fail(f"moodle_lint.php needs php-cli, php-xml and {script} (the CI script installs them)")
    run = subprocess.run([php, str(script), str(path)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stdout.startswith("ok:"), run.stdout + run.stderr
    return run.stdout


def keys(result: BuildResult) -> list[dict[str, Any]]:
    """The key entries in the quiz's order: exercise by exercise, variant by variant."""
    per_variant = [json.loads((result.target / sv.variant.folder / "key.json").read_text())["exercises"]
                   for sv in result.variants]
    ids = [e["id"] for e in per_variant[0]]
    return [next(e for e in exercises if e["id"] == i) for i in ids for exercises in per_variant]


def margin(answer: dict[str, Any], value: float, rule_absolute: float = 1e-4) -> float:
    """The key's tolerance as one absolute margin, as the issue asks (relative: max(abs, rel·|x|))."""
    tol = answer["tolerance"]
    return {"exact": lambda: 0.0, "absolute": lambda: tol["value"],
            "relative": lambda: max(rule_absolute, tol["value"] * abs(value)),
            "either": lambda: max(tol["absolute"], tol["relative"] * abs(value)),
            # one unit of the last asked decimal / significant digit
            "decimals": lambda: 10.0 ** -tol["digits"],
            "significant": lambda: 10.0 ** (math.floor(math.log10(abs(value))) - tol["digits"] + 1) if value else 0.0,
            }[tol["kind"]]()


def expected_gaps(entry: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    out: list[tuple[str, Any, Any]] = []
    for a in entry["answers"]:
        if a["kind"] in ("number", "integer"):
            out.append(("number", a["float"], margin(a, a["float"])))
        elif a["kind"] == "matrix":
            out.extend(("number", v, margin(a, v)) for row in a["float"] for v in row)
        elif a["kind"] == "choice":
            out.append(("choice", a["correct_index"], [o["text"] for o in a["options"]]))
        elif a["kind"] == "multi":
            out.extend(("yes/no", i in a["correct_index"], ("yes", "no")) for i in range(len(a["options"])))
        elif a["kind"] == "boolean":
            out.append(("yes/no", a["exact"], ("true", "false")))
    return out


GAP = re.compile(r"\{(\d+):([A-Z_]+):((?:\\.|[^\\}])*)\}")


def gaps(text: str) -> list[tuple[int, str, list[str]]]:
    return [(int(w), kind, re.split(r"(?<!\\)~", body)) for w, kind, body in GAP.findall(text)]


def shown(option_tex: str) -> str:
    """What a browser shows for a choice option: $…$ math as \\(…\\)."""
    return re.sub(r"\$(.+?)\$", r"\\(\1\\)", option_tex)


def moodle_decoded(alternative: str) -> str:
    """An alternative's text as Moodle stores it (entity-decoded, \\} and \\# undone), then as
    the browser renders that HTML."""
    text = html.unescape(alternative.lstrip("=")).replace("\\}", "}").replace("\\#", "#")
    return html.unescape(text).replace("\u00a0", "~").strip()


def check_questions(path: Path, entries: list[dict[str, Any]]) -> list[str]:
    """Every question against its key entry; returns the question types in order."""
    root = ET.parse(path).getroot()
    questions = [q for q in root.findall("question") if q.get("type") != "category"]
    assert len(questions) == len(entries)
    kinds = []
    for q, entry in zip(questions, entries):
        kind = q.get("type")
        kinds.append(kind)
        text = q.findtext("questiontext/text")
        feedback = q.findtext("generalfeedback/text")
        assert feedback.strip(), "the worked solution is the general feedback"
        for body in (text, feedback):
            assert "$" not in body.replace("$course$", ""), "math only as \\(…\\) / \\[…\\]"
        for holder in (q.find("questiontext"), q.find("generalfeedback")):
            files = {f.get("name"): base64.b64decode(f.text).decode("utf-8") for f in holder.findall("file")}
            for name in re.findall(r"@@PLUGINFILE@@/([^\"]+)", holder.findtext("text")):
                assert files[name].startswith("<svg"), f"{name} is embedded with the text that shows it"
        expected = expected_gaps(entry)
        if kind == "cloze":
            found = gaps(text)
            assert len(found) == len(expected), (entry["family"], len(found), len(expected))
            for (weight, gap_kind, alts), (what, value, extra) in zip(found, expected):
                assert weight >= 1
                if what == "number":
                    assert gap_kind == "NUMERICAL" and len(alts) == 1 and alts[0].startswith("=")
                    v, t = (float(x) for x in alts[0][1:].split(":"))
                    assert math.isclose(v, value, rel_tol=1e-13, abs_tol=1e-300), (entry["family"], v, value)
                    assert math.isclose(t, extra, rel_tol=1e-13, abs_tol=1e-300), (entry["family"], t, extra)
                elif what == "choice":
                    assert gap_kind in ("MULTICHOICE", "MULTICHOICE_V")
                    assert [a.startswith("=") for a in alts] == [i == value for i in range(len(extra))]
                    assert [moodle_decoded(a) for a in alts] == [shown(o) for o in extra]
                    assert gap_kind == "MULTICHOICE_V" or not any("$" in o for o in extra)
                else:
                    assert gap_kind == "MULTICHOICE" and [moodle_decoded(a) for a in alts] == list(extra)
                    assert [a.startswith("=") for a in alts] == [value, not value]
        elif kind == "numerical":
            ((what, value, tol),) = expected
            assert math.isclose(float(q.findtext("answer/text")), value, rel_tol=1e-13)
            assert math.isclose(float(q.findtext("answer/tolerance")), tol, rel_tol=1e-13)
            assert q.find("answer").get("fraction") == "100"
        elif kind == "multichoice":
            (answer,) = entry["answers"]
            right = answer["correct_index"] if isinstance(answer["correct_index"], list) else [answer["correct_index"]]
            fractions = [float(a.get("fraction")) for a in q.findall("answer")]
            assert [f > 0 for f in fractions] == [i in right for i in range(len(answer["options"]))]
            assert math.isclose(sum(f for f in fractions if f > 0), 100, abs_tol=1e-3)
            assert all(any(abs(abs(f) - g) < 1e-3 for g in GRADES) for f in fractions)
            assert [html.unescape(a.findtext("text")) for a in q.findall("answer")] == \
                [shown(o["text"]) for o in answer["options"]]
        elif kind == "truefalse":
            (answer,) = entry["answers"]
            right = [a.findtext("text") for a in q.findall("answer") if a.get("fraction") == "100"]
            assert right == ["true" if answer["exact"] else "false"]
        elif kind == "essay":
            assert not expected and all(a["kind"] in ("text", "expression") for a in entry["answers"])
            assert q.findtext("graderinfo/text").strip()
    return kinds


# -- fast -----------------------------------------------------------------------------------------


def test_moodle_grade_list():
    assert grade(100) == "100" and grade(100 / 3) == "33.33333" and grade(-100 / 7) == "-14.28571"
    assert grade(100 / 11) is None and grade(0) == "0"


def test_gap_weights_follow_the_answers_points():
    class A:
        def __init__(self, fields: int, scored: bool = True) -> None:
            self.fields, self.scored = fields, scored

    asks = [A(1), A(4), A(6), A(3, scored=False)]
    even = gap_weights(asks, [Fraction(3, 2)] * 4)  # type: ignore[arg-type]
    assert even == [12, 3, 2, 0], "an answer's fields share its weight; a text answer has no gap"
    by_part = gap_weights(asks, [Fraction(2), Fraction(1), Fraction(1, 2), Fraction(1)])  # type: ignore[arg-type]
    assert by_part == [24, 3, 1, 0]
    assert gap_weights(asks, [Fraction(0)] * 4) == even  # type: ignore[arg-type]


def test_markers_become_an_escaped_tree():
    text = (f"Let $a < b$ & more.\n\n{tag('div', cls='parts')}{tag('div', cls='part')}"
            f"{tag('strong')}(a){end('strong')} x{end('div')}{end('div')}\nTail $$x$$")
    out = to_html(parse(text))
    assert out.startswith("<p>Let \\(a &lt; b\\) &amp; more.</p>")
    assert '<div class="parts"><div class="part"><strong>(a)</strong> x</div>' in out
    assert out.endswith("<p>Tail \\[x\\]</p>")


def test_choice_gaps_survive_moodles_parser(tmp_path):
    """Options with every character Moodle's cloze syntax or its entity decoding touches come
    back, through Moodle's own regular expressions and decoding (run in PHP), as written."""
    options = ["$a}b$ #1", "x ~ y & z", "$a < b$", "back\\", "$\\{x\\}$ and \\#", "$\\frac{a}{b}$"]
    gap = choice_gap(1, options, 2)
    source = tmp_path / "gap.html"
    source.write_text(f"<p>before {gap} after</p>", encoding="utf-8")
    script = tmp_path / "parse.php"
    script.write_text(MOODLE_CLOZE_PARSER, encoding="utf-8")
    php = shutil.which("php")
    if php is None:
        pytest.fail("php-cli is needed (the CI script installs it)")
    run = subprocess.run([php, str(script), str(source)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    (alternatives,) = json.loads(run.stdout)
    assert [fraction for fraction, _ in alternatives] == ["", "", "=", "", "", ""]
    stored = [html.unescape(answer).replace("\u00a0", "~").strip() for _, answer in alternatives]
    assert stored == [shown(o).strip() for o in options]


def test_every_question_type_against_the_key(tmp_path):
    result = build_sheet(tmp_path, TYPES, ["moodle", "json"])
    path = result.target / "quiz-moodle.xml"
    assert "2 numerical, 6 multichoice, 2 truefalse, 2 essay, 4 cloze" in lint(path)
    kinds = check_questions(path, keys(result))
    assert kinds == [k for k in EXPECTED_TYPES for _ in range(2)]
    root = ET.parse(path).getroot()
    categories = [q.findtext("category/text") for q in root.findall("question") if q.get("type") == "category"]
    assert len(categories) == len(TYPES)
    assert all(c.startswith("$course$/top/LMS export // test/") for c in categories), "a slash in a name is doubled"


def test_an_exam_in_versions_with_part_points(tmp_path):
    spec = parse_spec({"title": "Exam", "name": "exam", "seed": 3, "exam": {"versions": 2},
                       "exercise": [{"family": "scalar_chain", "points": 6, "part_points": [2, 1, 3]},
                                    {"family": "bce_loss", "points": 4}]})
    result = build(spec, tmp_path, formats=["moodle", "json"])
    path = result.target / "quiz-moodle.xml"
    lint(path)
    root = ET.parse(path).getroot()
    questions = [q for q in root.findall("question") if q.get("type") != "category"]
    names = [q.findtext("name/text") for q in questions]
    assert [(n[:3], n[-11:]) for n in names] == [("01 ", "(Version A)"), ("01 ", "(Version B)"),
                                                 ("02 ", "(Version A)"), ("02 ", "(Version B)")]
    assert all("<em>3 pt</em>" in q.findtext("questiontext/text") for q in questions[:2]), "parts show their points"


# -- the whole registry -------------------------------------------------------------------------------


@pytest.mark.slow
def test_every_family_in_moodle(tmp_path):
    result = build_sheet(tmp_path, every_family(), ["moodle", "json"], variants=3, seed=31)
    path = result.target / "quiz-moodle.xml"
    report = lint(path)
    families = sorted(load_families())
    assert f"{len(families)} category" in report
    entries = keys(result)
    assert sorted({e["family"] for e in entries}) == families
    check_questions(path, entries)


@pytest.mark.slow
def test_course_example_builds_every_lms_format(tmp_path):
    assert main(["build", str(ROOT / "examples" / "course.toml"), "--out", str(tmp_path),
                 "--format", "moodle,qti21,canvas"]) == 0
    folder = tmp_path / "course"
    assert sorted(p.name for p in folder.iterdir()) == ["quiz-canvas.zip", "quiz-moodle.xml", "quiz-qti21.zip"]
    lint(folder / "quiz-moodle.xml")


# Moodle's cloze parsing of a choice gap (qtype_multianswer_extract_question, Moodle 4.x):
# ANSWER_REGEX and the alternative regex, then the decoding of each alternative's text.
MOODLE_CLOZE_PARSER = r"""<?php
$ALT_FRACTION = '=|%(-?[0-9]+(?:[.,][0-9]*)?)%';
$ALT_ANSWER = '.+?(?<!\\\\|&|&amp;)(?=[~#}]|$)';
$ALT_FEEDBACK = '.*?(?<!\\\\)(?=[~}]|$)';
$ALT = '(' . $ALT_FRACTION . ')?(' . $ALT_ANSWER . ')(#(' . $ALT_FEEDBACK . '))?';
$ANSWER = '\{([0-9]*):(MULTICHOICE_V|MULTICHOICE):(' . $ALT . '(~' . $ALT . ')*)\}';
$text = file_get_contents($argv[1]);
$out = [];
while (preg_match('/' . $ANSWER . '/s', $text, $m)) {
    $alts = $m[3];
    $answers = [];
    while (preg_match('/~?' . $ALT . '/s', $alts, $a)) {
        $answer = html_entity_decode($a[3], ENT_QUOTES, 'UTF-8');
        $answer = str_replace('\}', '}', $answer);
        $answers[] = [$a[1], str_replace('\#', '#', $answer)];
        $alts = explode($a[0], $alts, 2)[1];
    }
    $out[] = $answers;
    $text = implode('', explode($m[0], $text, 2));
}
echo json_encode($out);
"""
