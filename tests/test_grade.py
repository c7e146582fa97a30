"""`worksheetgen grade`: typed responses scored from the key alone.

Round trip (issue 11, item 3): for every family, the key's shown values score full marks and a
value pushed out of its tolerance loses exactly its share of the points; the example exam's 30
students are graded from a responses CSV written here (full, partial, blank and malformed rows).
Expected points are computed here from the key's points (split evenly over the answers), not
taken from the grader.
"""

from __future__ import annotations

import csv
import io
import json
from fractions import Fraction
from pathlib import Path

import pytest

from helpers import instance
from worksheetgen import answerkey
from worksheetgen.answers import LETTERS, Rule, margin
from worksheetgen.build import build
from worksheetgen.cli import main
from worksheetgen.errors import WorksheetError
from worksheetgen.grading import grade, key_from_doc, load_key, read_responses, shown_response
from worksheetgen.registry import load_families
from worksheetgen.spec import load_spec

ROOT = Path(__file__).resolve().parent.parent
FAMILIES = sorted(load_families())
POINTS = 7
TEXT_KINDS = ("text", "expression")


# -- helpers written independently of the grader -------------------------------------------------

def typed(entry: dict) -> str:
    """What a student types for the key's shown value."""
    if entry["kind"] == "matrix":
        return "[" + "; ".join(", ".join(row) for row in entry["shown"]) + "]"
    return str(entry["shown"])


def outside(value: float, tolerance: dict) -> float:
    """A step that takes ``value`` out of its tolerance, whatever its kind."""
    # Three margins out (one margin is accepted), plus 1 for an exact kind; margin() knows every
    # kind (a 4·10^12 ratio asked to 4 significant digits has a margin of 10^9, not 1).
    return 3 * margin(tolerance, value) + 1.0


def perturbed(entry: dict) -> tuple[str, Fraction]:
    """A wrong response to one answer and the credit it must get."""
    kind = entry["kind"]
    if kind == "number":
        return repr(entry["float"] + outside(entry["float"], entry["tolerance"])), Fraction(0)
    if kind == "integer":
        return str(int(entry["exact"]) + 1), Fraction(0)
    if kind == "matrix":
        rows = [list(row) for row in entry["shown"]]
        first = entry["float"][0][0]
        rows[0][0] = repr(first + outside(first, entry["tolerance"]))
        n = sum(len(row) for row in rows)
        return "[" + "; ".join(", ".join(row) for row in rows) + "]", Fraction(n - 1, n)
    if kind == "choice":
        return LETTERS[(entry["correct_index"] + 1) % len(entry["options"])], Fraction(0)
    if kind == "multi":
        chosen = set(entry["exact"]) ^ {"A"}  # one option classified wrongly
        n = len(entry["options"])
        return (", ".join(sorted(chosen)) or "none"), Fraction(n - 1, n)
    if kind == "boolean":
        return ("false" if entry["exact"] else "true"), Fraction(0)
    raise AssertionError(f"no perturbation for {kind}")


def family_entry(name: str, seed: int) -> dict:
    inst = instance(name, seed)
    entry = answerkey.instance_entry(inst, Rule())
    entry["points"] = POINTS
    return entry


def grade_one(entry: dict, responses: dict[str, str]):
    key = key_from_doc({"sheet": {"title": "t"}, "exercises": [entry]}, "key.json")
    row = {"id": "s1", **responses}
    return grade(key, list(row), [(2, row)], "responses.csv").students[0]


def column(entry: dict, answer: dict) -> str:
    return f"{entry['id']}:{answer['key']}"


# -- every family ---------------------------------------------------------------------------------

def check_round_trip(name: str, seed: int) -> None:
    entry = family_entry(name, seed)
    answers = entry["answers"]
    share = Fraction(POINTS, len(answers))
    full = {column(entry, a): typed(a) for a in answers}
    text_points = share * sum(a["kind"] in TEXT_KINDS for a in answers)

    result = grade_one(entry, full)
    assert result.total == POINTS - text_points, f"{name} seed {seed}: shown values lose points"
    assert result.pending == text_points and result.maximum == POINTS
    assert all(c.status == ("review" if c.slot.kind in TEXT_KINDS else "right") for c in result.cells.values())

    for a in answers:
        if a["kind"] in TEXT_KINDS:  # a blank written answer: nothing to read any more
            result = grade_one(entry, {**full, column(entry, a): ""})
            assert result.total == POINTS - text_points and result.pending == text_points - share
            continue
        response, credit = perturbed(a)
        result = grade_one(entry, {**full, column(entry, a): response})
        lost = POINTS - text_points - result.total
        assert lost == share * (1 - credit), (f"{name} seed {seed} {a['key']}: {response!r} lost {lost}, "
                                              f"expected {share * (1 - credit)}")
        assert result.cells[column(entry, a)].earned == share * credit


@pytest.mark.parametrize("name", FAMILIES)
def test_shown_values_score_full_marks_and_perturbed_lose_their_share(name):
    check_round_trip(name, seed=0)


@pytest.mark.slow
@pytest.mark.parametrize("name", FAMILIES)
def test_round_trip_on_many_seeds(name):
    for seed in range(1, 12):
        check_round_trip(name, seed)


def test_every_answer_kind_is_exercised_by_the_round_trip():
    kinds = {a["kind"] for name in FAMILIES for a in family_entry(name, 0)["answers"]}
    assert {"number", "matrix", "integer", "choice", "multi", "boolean"} <= kinds


def test_shown_response_is_the_instructor_csv_cell():
    entry = family_entry("forward_pass", 0)
    for a in entry["answers"]:
        assert shown_response(a) == typed(a)


# -- points -------------------------------------------------------------------------------------

def number_answer(key: str, value: float) -> dict:
    return {"key": key, "label": key, "kind": "number", "exact": str(value), "float": value,
            "shown": str(value), "tolerance": {"kind": "relative", "value": 0.01}}


def test_part_points_follow_the_parts_the_key_names():
    answers = [dict(number_answer(k, v), part=p) for k, v, p in
               (("a", 1.0, 1), ("b", 2.0, 1), ("c", 3.0, 2), ("d", 4.0, 3))]
    entry = {"id": "ex", "points": 6, "part_points": [2, 1, 3], "answers": answers}
    result = grade_one(entry, {"ex:a": "1", "ex:b": "0", "ex:c": "3", "ex:d": "4"})
    assert result.cells["ex:a"].earned == 1 and result.cells["ex:b"].earned == 0
    assert result.cells["ex:c"].earned == 1 and result.cells["ex:d"].earned == 3
    assert result.total == 5


def test_part_points_without_parts_split_evenly_and_say_so():
    entry = {"id": "ex", "points": 6, "part_points": [2, 1, 3],
             "answers": [number_answer(k, v) for k, v in (("a", 1.0), ("b", 2.0), ("c", 3.0), ("d", 4.0))]}
    key = key_from_doc({"exercises": [entry]}, "key.json")
    assert [s.points for s in key.exercises["ex"].slots] == [Fraction(3, 2)] * 4
    row = {"id": "s", "ex:a": "1", "ex:b": "2", "ex:c": "3", "ex:d": "9"}
    result = grade(key, list(row), [(2, row)], "r.csv")
    assert result.students[0].total == Fraction(9, 2)
    assert any("part_points [2, 1, 3] not applied" in n for n in result.notes)


def test_a_sheet_without_points_counts_one_point_an_answer():
    entry = {"id": "ex", "points": None, "answers": [number_answer("a", 1.0), number_answer("b", 2.0)]}
    result = grade_one(entry, {"ex:a": "1", "ex:b": "3"})
    assert (result.total, result.maximum) == (1, 2)


# -- errors -------------------------------------------------------------------------------------

def write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return path


@pytest.fixture
def exam_key(tmp_path: Path) -> Path:
    """A two-student instructor key made of family entries (no build needed)."""
    students = []
    for sid, seed in (("S1", 0), ("S2", 1)):
        fp, ch = family_entry("forward_pass", seed), family_entry("concepts", seed)
        students.append({"id": sid, "name": f"Student {sid}", "exercises": [fp, ch]})
    path = tmp_path / "instructor-key.json"
    path.write_text(json.dumps({"sheet": {"title": "Quiz"}, "roster": "roster.csv", "students": students}))
    return path


def key_rows(key_path: Path) -> tuple[list[str], dict[str, dict[str, str]]]:
    doc = json.loads(key_path.read_text())
    columns: dict[str, None] = {}
    rows = {}
    for s in doc["students"]:
        rows[s["id"]] = {column(e, a): typed(a) for e in s["exercises"] for a in e["answers"]}
        columns.update(dict.fromkeys(rows[s["id"]]))
    return list(columns), rows


def run(capsys, *args: str) -> tuple[int, str]:
    code = main(["grade", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_cli_writes_scores_and_report(tmp_path, exam_key, capsys):
    columns, rows = key_rows(exam_key)
    responses = write(tmp_path / "responses.csv", [["id", *columns]] + [[s, *(rows[s].get(c, "") for c in columns)]
                                                                         for s in ("S1", "S2")])
    code, out = run(capsys, exam_key, responses, "--out", tmp_path / "graded")
    assert code == 0, out
    scores = list(csv.DictReader((tmp_path / "graded" / "scores.csv").open(encoding="utf-8")))
    assert [r["id"] for r in scores] == ["S1", "S2"] and scores[0]["name"] == "Student S1"
    for r in scores:
        assert Fraction(r["total"]) + Fraction(r["pending"]) == Fraction(r["max"]) == 2 * POINTS
    report = (tmp_path / "graded" / "grading-report.md").read_text(encoding="utf-8")
    assert "difficulty" in report.lower() and "`forward_pass:z1`" in report


@pytest.mark.parametrize("change, message", [
    (lambda h, r: (h, r + [["S9"] + [""] * (len(h) - 1)]), "line 4: unknown student 'S9'"),
    (lambda h, r: ([c for c in h if c != "forward_pass:loss"],
                   [[v for c, v in zip(h, row) if c != "forward_pass:loss"] for row in r]), "no column 'forward_pass:loss'"),
    (lambda h, r: (h, [r[0], [("1.2.3" if c == "forward_pass:loss" else v) for c, v in zip(h, r[1])]]),
     "line 3 (student 'S2'), column 'forward_pass:loss': unreadable number '1.2.3'"),
    (lambda h, r: (h, [r[0], r[0]]), "line 3: student 'S1' appears again (first on line 2)"),
    (lambda h, r: ([c if c != "id" else "student" for c in h], r), "no 'id' column"),
])
def test_bad_responses_are_one_line_and_exit_2(tmp_path, exam_key, capsys, change, message):
    columns, rows = key_rows(exam_key)
    header = ["id", *columns]
    body = [[s, *(rows[s].get(c, "") for c in columns)] for s in ("S1", "S2")]
    header, body = change(header, body)
    responses = write(tmp_path / "responses.csv", [header] + body)
    code, out = run(capsys, exam_key, responses, "--out", tmp_path)
    assert code == 2
    assert message in out and out.count("\n") == 1, out
    assert not (tmp_path / "scores.csv").exists()


def test_a_choice_letter_that_is_no_option_is_unreadable(tmp_path, exam_key, capsys):
    columns, rows = key_rows(exam_key)
    choice = next(c for c in columns if c.startswith("concepts:") and rows["S1"].get(c, "") in LETTERS)
    rows["S1"][choice] = "Q"
    responses = write(tmp_path / "r.csv", [["id", *columns]] + [[s, *(rows[s].get(c, "") for c in columns)]
                                                                for s in ("S1", "S2")])
    code, out = run(capsys, exam_key, responses, "--out", tmp_path)
    assert code == 2 and f"column '{choice}': unreadable choice 'Q'" in out


def test_lenient_scores_an_unreadable_cell_zero_and_flags_it(tmp_path, exam_key):
    columns, rows = key_rows(exam_key)
    rows["S2"]["forward_pass:loss"] = "about 3"
    header, parsed = read_responses(write(tmp_path / "r.csv", [["id", *columns]] + [
        [s, *(rows[s].get(c, "") for c in columns)] for s in ("S1", "S2")]))
    key = load_key(exam_key)
    with pytest.raises(WorksheetError, match="unreadable number 'about 3'"):
        grade(key, header, parsed, "r.csv")
    s2 = grade(key, header, parsed, "r.csv", lenient=True).students[1]
    assert s2.cells["forward_pass:loss"].status == "unreadable" and "unreadable:forward_pass:loss" in s2.flags
    share = Fraction(POINTS, len(json.loads(exam_key.read_text())["students"][1]["exercises"][0]["answers"]))
    assert s2.total == s2.maximum - share - s2.pending


# -- the example exam ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def exam_build(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("exam")
    build(load_spec(ROOT / "examples" / "exam.toml"), out, formats=["json"])
    return out / "exam"


GROUPS = (("full", 10), ("partial", 8), ("blank", 5), ("half", 4), ("malformed", 3))


def group_of(i: int) -> str:
    for name, size in GROUPS:
        if i < size:
            return name
        i -= size
    raise AssertionError("more students than groups")


@pytest.mark.slow
def test_example_exam_graded_end_to_end(exam_build, tmp_path, capsys):
    """30 students: 10 full, 8 partial (the first answer of every exercise wrong), 5 blank, 4 with
    the second half of every exercise blank, 3 with an unreadable number."""
    key_path = exam_build / "instructor-key.json"
    doc = json.loads(key_path.read_text(encoding="utf-8"))
    assert len(doc["students"]) == sum(n for _, n in GROUPS) == 30
    header = next(csv.reader(io.StringIO((exam_build / "instructor-key.csv").read_text(encoding="utf-8"))))
    columns = header[2:]

    expected: dict[str, Fraction] = {}
    wrong_answers: list[tuple[str, str]] = []
    malformed: list[tuple[int, str, str]] = []  # (line, student, column)
    body = []
    for i, student in enumerate(doc["students"]):
        group, sid, cells, got = group_of(i), student["id"], {}, Fraction(0)
        for k, e in enumerate(student["exercises"]):
            for j, a in enumerate(e["answers"]):
                if e.get("part_points") and "part" in a:  # the part's points, shared by its answers
                    members = sum(b.get("part") == a["part"] for b in e["answers"])
                    share = Fraction(e["part_points"][a["part"] - 1]) / members
                else:
                    share = Fraction(e["points"]) / len(e["answers"])
                col = column(e, a)
                cells[col], credit = typed(a), Fraction(1)
                if group == "partial" and j == 0:
                    cells[col], credit = perturbed(a)
                    wrong_answers.append((col, cells[col]))
                elif group == "blank" or (group == "half" and j >= len(e["answers"]) // 2):
                    cells[col], credit = "", Fraction(0)
                elif group == "malformed" and k == 0 and j == 0:
                    assert a["kind"] == "number"
                    cells[col], credit = "n/a", Fraction(0)
                    malformed.append((i + 2, sid, col))
                got += share * credit
        expected[sid] = got
        body.append([sid, student["name"], *(cells.get(c, "") for c in columns)])
    responses = write(tmp_path / "responses.csv", [header] + body)

    # an unreadable number stops the grading, naming its line and column
    code, out = run(capsys, key_path, responses, "--out", tmp_path / "graded")
    line, sid, col = malformed[0]
    assert code == 2 and f"line {line} (student '{sid}'), column '{col}': unreadable number 'n/a'" in out, out
    assert not (tmp_path / "graded" / "scores.csv").exists()

    # --lenient scores it 0 and flags it
    code, out = run(capsys, key_path, responses, "--out", tmp_path / "graded", "--lenient")
    assert code == 0, out
    scores = list(csv.DictReader((tmp_path / "graded" / "scores.csv").open(encoding="utf-8")))
    assert [r["id"] for r in scores] == [s["id"] for s in doc["students"]]
    for row, student in zip(scores, doc["students"]):
        sid = row["id"]
        key_points = sum(Fraction(e["points"]) for e in student["exercises"])
        assert Fraction(row["max"]) == key_points
        assert abs(Fraction(row["total"]) - expected[sid]) <= Fraction(1, 10**4), sid
        per_exercise = [Fraction(row[e["id"]]) for e in student["exercises"]]
        assert abs(sum(per_exercise) - Fraction(row["total"])) <= Fraction(len(per_exercise), 10**4)
        for e in student["exercises"]:
            per_answer = [Fraction(row[column(e, a)]) for a in e["answers"]]
            assert abs(sum(per_answer) - Fraction(row[e["id"]])) <= Fraction(len(per_answer), 10**4)
    by_group = {name: [r for i, r in enumerate(scores) if group_of(i) == name] for name, _ in GROUPS}
    assert all(Fraction(r["total"]) == Fraction(r["max"]) for r in by_group["full"]), \
        "full responses add up to the key's points"
    assert all(Fraction(r["total"]) == 0 for r in by_group["blank"])
    assert all(0 < Fraction(r["total"]) < Fraction(r["max"]) for r in by_group["partial"] + by_group["half"])
    for line, sid, col in malformed:
        row = next(r for r in scores if r["id"] == sid)
        assert f"unreadable:{col}" in row["flags"] and Fraction(row[col]) == 0
    report = (tmp_path / "graded" / "grading-report.md").read_text(encoding="utf-8")
    col, response = wrong_answers[0]
    assert f"`{col}`" in report and response in report, "the most common wrong answers are listed"
    assert "unreadable" in report


def test_an_exam_in_versions_matches_rows_by_their_version():
    versions = {v: family_entry("bce_loss", seed) for v, seed in (("A", 0), ("B", 1))}
    key = key_from_doc({"roster": None, "students": [{"id": v, "exercises": [e]} for v, e in versions.items()]},
                       "instructor-key.json")
    rows = [(2 + i, {"id": sid, "version": v, **{column(versions[v], a): typed(a) for a in versions[v]["answers"]}})
            for i, (sid, v) in enumerate((("S1", "B"), ("S2", "A")))]
    header = list(rows[0][1])
    result = grade(key, header, rows, "r.csv")
    assert [(s.id, s.total) for s in result.students] == [("S1", POINTS), ("S2", POINTS)]
    wrong = [(2, {**rows[0][1], "version": "C"})]
    with pytest.raises(WorksheetError, match="line 2: unknown version 'C'"):
        grade(key, header, wrong, "r.csv")
    with pytest.raises(WorksheetError, match="no 'version' column"):
        grade(key, ["id", *header[2:]], [(2, {k: v for k, v in rows[0][1].items() if k != "version"})], "r.csv")


# -- the rounding rule, graded from the key alone -----------------------------------------------

def rounded_answer(key: str, kind: str, exact: float | list, tolerance: dict) -> dict:
    floats = exact if kind == "matrix" else exact
    return {"key": key, "label": key, "kind": kind, "exact": str(exact), "float": floats,
            "shown": str(exact), "tolerance": tolerance}


def test_decimal_places_accept_the_rounded_value_and_refuse_two_units_off():
    places = {"kind": "decimals", "digits": 4}
    # 0.0021753 rounded to 4 decimals is 0.0022 (1.1 % off: a 1 % relative rule refused it).
    entry = {"id": "ex", "points": 5, "answers": [
        rounded_answer("small", "number", 0.0021753, places),
        rounded_answer("big", "number", 22.033533925, places),
        rounded_answer("m", "matrix", [[29.9986, 0.00004187], [-0.00005, 1.5]], places)]}
    right = grade_one(entry, {"ex:small": "0.0022", "ex:big": "22.0335",
                              "ex:m": "[29.9986, 0.0000; -0.0001, 1.5000]"})
    assert right.total == 5
    # 29.9985 is one unit off in the 4th decimal: accepted, whatever the matrix's other entries.
    assert grade_one(entry, {"ex:small": "0.0021", "ex:big": "22.0336",
                             "ex:m": "[29.9985, 0.0001, -0.0000, 1.5001]"}).total == 5
    wrong = grade_one(entry, {"ex:small": "0.0024", "ex:big": "22.0337",
                              "ex:m": "[29.9988, 0.0002, -0.0003, 1.4998]"})
    assert wrong.total == 0


def test_significant_digits_are_graded_entry_by_entry():
    sig = {"kind": "significant", "digits": 2}
    entry = {"id": "ex", "points": 2, "answers": [
        rounded_answer("r", "number", 6.04e-9, sig),
        rounded_answer("m", "matrix", [[0.5, 1234.5]], sig)]}
    assert grade_one(entry, {"ex:r": "6.0e-9", "ex:m": "[0.50, 1200]"}).total == 2
    assert grade_one(entry, {"ex:r": "5.8e-9", "ex:m": "[0.52, 1400]"}).total == 0


def test_keys_of_earlier_versions_still_grade():
    # key_format 2 before the rounding rule: relative / absolute / either tolerances.
    entry = {"id": "ex", "points": 3, "answers": [
        rounded_answer("a", "number", 2.0, {"kind": "relative", "value": 0.01}),
        rounded_answer("b", "number", 0.0004187, {"kind": "absolute", "value": 1e-4}),
        rounded_answer("c", "matrix", [[0.001, 100.0]], {"kind": "either", "relative": 0.01, "absolute": 1e-4})]}
    assert grade_one(entry, {"ex:a": "2.019", "ex:b": "0.0005", "ex:c": "[0.00109, 100.9]"}).total == 3
    assert grade_one(entry, {"ex:a": "2.03", "ex:b": "0.0006", "ex:c": "[0.0012, 101.1]"}).total == 0


def test_a_spec_tolerance_overrides_the_rounding_rule_per_entry():
    from worksheetgen.answers import MatrixAnswer
    import sympy as sp

    a = MatrixAnswer("m", "m", sp.Matrix([[sp.Rational(1, 3), 300]]))
    entry = json.loads(json.dumps(a.entry(4, Rule(relative=0.01, absolute=1e-3, explicit=True))))
    assert entry["tolerance"] == {"kind": "either", "relative": 0.01, "absolute": 1e-3}
    answer_entry = {"id": "ex", "points": 1, "answers": [entry]}
    assert grade_one(answer_entry, {"ex:m": "[0.334, 302.9]"}).total == 1
    assert grade_one(answer_entry, {"ex:m": "[0.338, 300]"}).total == Fraction(1, 2)
    assert a.entry(4, Rule())["tolerance"] == {"kind": "decimals", "digits": 4}
