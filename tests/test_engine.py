"""The engine's seams: formats as units, replay from the key, id-keyed streams, pinned exercises
decided from the options, declared records, bounded draws, no format branches outside formats/."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sympy as sp

from worksheetgen import answers as ans
from worksheetgen import templatecheck
from worksheetgen.build import build
from worksheetgen.cli import main
from worksheetgen.errors import CheckError
from worksheetgen.family import Record
from worksheetgen.formats import Format, load_formats
from worksheetgen.instance import make_instance
from worksheetgen.params import parse_params
from worksheetgen.registry import get_family
from worksheetgen.replay import differences, load_key, replay
from worksheetgen.spec import load_spec

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


# -- formats -----------------------------------------------------------------------------------

class Toy(Format):
    """A plain-text format kept in the test suite: one class and one template folder."""

    name = "toy"
    description = "plain text (test)"
    suffix = "txt"
    folder = "toy"
    template_root = Path(__file__).resolve().parent / "toy_format"
    default = False
    figures_as_files = True
    figure_suffix = "fig"

    def escape(self, text: str) -> str:
        return text

    def print_figure(self, figure: Any) -> str:
        return f"figure {figure.name}: {figure.caption}\n"


def test_a_format_is_one_class_and_one_template_folder(tmp_path: Path) -> None:
    assert load_formats()["toy"] is Toy
    spec = load_spec(EXAMPLES / "week1.toml")
    result = build(spec, tmp_path, formats=["toy", "json"])
    names = {p.relative_to(result.target).as_posix() for p in result.files}
    assert {"problems.txt", "solutions.txt", "key.json"} <= names
    assert any(n.startswith("figures/") and n.endswith(".fig") for n in names)
    problems = (result.target / "problems.txt").read_text(encoding="utf-8")
    solutions = (result.target / "solutions.txt").read_text(encoding="utf-8")
    assert problems.startswith("TOY SHEET: Week 1") and "--- Exercise 3:" in problems
    assert "Solution:" in solutions and "Solution:" not in problems
    assert "(a) " in problems, "the family templates wrote their parts through the toy macros"


def test_compiled_templates_are_kept_and_a_lost_cache_is_no_error(tmp_path: Path) -> None:
    import jinja2

    from worksheetgen.formats import _BytecodeCache, jinja_options
    from worksheetgen.resources import template_dir

    folder = tmp_path / "templates"
    folder.mkdir()

    def environment() -> jinja2.Environment:
        return jinja2.Environment(loader=jinja2.FileSystemLoader(str(template_dir())),
                                  bytecode_cache=_BytecodeCache(str(folder)), **jinja_options())

    name = "formats/latex/_units.tex.j2"
    text = environment().get_template(name).render()
    assert len(list(folder.iterdir())) == 1 and "StartUnit" in text  # compiled once, kept
    assert environment().get_template(name).render() == text  # loaded from the cache
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()
    assert environment().get_template(name).render() == text  # no cache folder: compiled again


def test_no_format_branches_outside_the_format_modules() -> None:
    pattern = re.compile(r"\bfmt\s*==|\bformat\s*==\s*['\"]|['\"](latex|markdown|tex|md)['\"]\s*==\s*fmt")
    offenders = []
    for path in (ROOT / "worksheetgen").rglob("*.py"):
        if "formats" in path.relative_to(ROOT / "worksheetgen").parts:
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if pattern.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not offenders, offenders


def test_format_names_are_listed_and_unknown_ones_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["formats"]) == 0
    listing = capsys.readouterr().out
    for name in ("tex", "md", "json", "pdf"):
        assert f"{name}: " in listing
    assert main(["build", str(EXAMPLES / "week1.toml"), "--format", "docx"]) == 2
    assert "--format: unknown format 'docx'" in capsys.readouterr().err


# -- answers -----------------------------------------------------------------------------------

def test_answer_kinds_store_and_grade_from_the_key_alone() -> None:
    rule = ans.Rule()
    number = ans.NumberAnswer("x", "x", sp.Rational(-9, 10)).entry(4, rule)
    assert number["exact"] == "-9/10" and number["shown"] == "-0.9"
    assert ans.grade_entry(number, "-0.9") == 1 and ans.grade_entry(number, "-9/10") == 1
    assert ans.grade_entry(number, "-0.95") == 0
    matrix = ans.MatrixAnswer("W", "W", sp.Matrix([[1, 2], [3, sp.Rational(1, 3)]])).entry(4, rule)
    assert ans.grade_entry(matrix, "[1, 2; 3, 0.3333]") == 1
    assert ans.grade_entry(matrix, "1 2 3 0.5") == 0.75, "graded entry by entry"
    choice = ans.ChoiceAnswer("c", "c", options=("$x$", "$y$", "$z$"), correct=2)
    entry = choice.entry(4, rule)
    assert entry["exact"] == "C" and entry["correct_index"] == 2
    assert [o["text"] for o in entry["options"]] == ["$x$", "$y$", "$z$"]
    assert ans.grade_entry(entry, "c") == 1 and ans.grade_entry(entry, "A") == 0
    multi = ans.MultiChoiceAnswer("m", "m", options=("a", "b", "c", "d"), correct=(0, 2)).entry(4, rule)
    assert multi["exact"] == ["A", "C"] and json.loads(json.dumps(multi))["exact"] == ["A", "C"]
    assert ans.grade_entry(multi, "A, C") == 1 and ans.grade_entry(multi, "A") == 0.75
    boolean = ans.BooleanAnswer("b", "b", False).entry(4, rule)
    assert boolean["exact"] is False and ans.grade_entry(boolean, "false") == 1
    with pytest.raises(TypeError):
        ans.BooleanAnswer("b", "b", "False")
    assert ans.grade_entry(ans.TextAnswer("t", "t", "because").entry(4, rule), "anything") is None


def test_every_answer_in_the_course_key_is_typed(tmp_path: Path) -> None:
    result = build(load_spec(EXAMPLES / "course.toml"), tmp_path, formats=["json"])
    key = json.loads((result.target / "key.json").read_text(encoding="utf-8"))
    kinds = set()
    for exercise in key["exercises"]:
        for answer in exercise["answers"]:
            kinds.add(answer["kind"])
            assert answer["kind"] in ans.Answer.kinds
            if answer["kind"] in ("choice", "multi"):
                assert answer["options"], f"{exercise['id']}.{answer['key']} lists its options"
            if answer["kind"] == "multi":
                assert isinstance(answer["exact"], list)
            if answer["kind"] == "boolean":
                assert isinstance(answer["exact"], bool)
            assert not (isinstance(answer["exact"], str) and answer["exact"].startswith("[")), \
                "no Python list literals in the key"
    assert {"number", "matrix", "integer", "choice", "boolean"} <= kinds


# -- streams and replay ------------------------------------------------------------------------

def _replay_all(key_path: Path) -> int:
    doc = load_key(key_path)
    for entry in doc["exercises"]:
        _, fresh = replay(doc, entry)
        assert not differences(entry, fresh), (key_path, entry["id"], differences(entry, fresh))
    return len(doc["exercises"])


@pytest.mark.slow
def test_every_exercise_of_the_course_and_three_students_replays_from_the_key(tmp_path: Path) -> None:
    course = build(load_spec(EXAMPLES / "course.toml"), tmp_path, formats=["json"])
    assert _replay_all(course.target / "key.json") == len(load_spec(EXAMPLES / "course.toml").exercises)
    for student in ("S001", "S017", "S030"):
        exam = build(load_spec(EXAMPLES / "exam.toml"), tmp_path, formats=["json"], only=student)
        assert _replay_all(exam.target / "key.json") >= 4


def test_replay_command_checks_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", str(EXAMPLES / "week1.toml"), "--out", str(tmp_path), "--format", "json"]) == 0
    key = tmp_path / "week1" / "key.json"
    capsys.readouterr()
    assert main(["replay", str(key), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == ["forward_pass: identical", "backprop: identical", "scalar_chain: identical"]
    assert main(["replay", str(key), "--exercise", "backprop"]) == 0
    assert "key entry identical" in capsys.readouterr().out
    doc = json.loads(key.read_text(encoding="utf-8"))
    doc["exercises"][2]["answers"][0]["float"] += 1
    key.write_text(json.dumps(doc), encoding="utf-8")
    assert main(["replay", str(key), "--exercise", "3"]) == 3
    assert "'scalar_chain' replays with different answers" in capsys.readouterr().err
    assert main(["replay", str(key), "--exercise", "nope"]) == 2


def test_inserting_or_reordering_exercises_keeps_the_others_numbers(tmp_path: Path) -> None:
    original = (EXAMPLES / "week1.toml").read_text(encoding="utf-8")
    head, _, body = original.partition("[[exercise]]")
    inserted = head + '[[exercise]]\nfamily = "cnn_params"\npoints = 4\n\n[[exercise]]' + body
    blocks = body.split("[[exercise]]")
    reordered = head + "[[exercise]]" + "[[exercise]]".join(reversed(blocks))
    keys = {}
    for name, text in (("a", original), ("b", inserted), ("c", reordered)):
        spec = tmp_path / f"{name}.toml"
        spec.write_text(text, encoding="utf-8")
        assert main(["build", str(spec), "--out", str(tmp_path / "out"), "--format", "json"]) == 0
        doc = json.loads((tmp_path / "out" / name / "key.json").read_text(encoding="utf-8"))
        keys[name] = {e["id"]: (e["given"], e["answers"], e["stream_seed"]) for e in doc["exercises"]}
    assert set(keys["b"]) == set(keys["a"]) | {"cnn_params"}
    for exercise_id, entry in keys["a"].items():
        assert keys["b"][exercise_id] == entry
        assert keys["c"][exercise_id] == entry


def test_an_explicit_id_keys_the_stream(tmp_path: Path) -> None:
    spec = tmp_path / "s.toml"
    spec.write_text('title = "t"\nseed = 3\n[[exercise]]\nid = "chain"\nfamily = "scalar_chain"\n'
                    '[[exercise]]\nid = "chain"\nfamily = "scalar_chain"\n', encoding="utf-8")
    assert main(["build", str(spec), "--out", str(tmp_path / "o")]) == 2
    spec.write_text('title = "t"\nseed = 3\n[[exercise]]\nid = "chain"\nfamily = "scalar_chain"\n', encoding="utf-8")
    first = build(load_spec(spec), tmp_path / "o", formats=["json"]).variants[0].instances[0]
    spec.write_text('title = "t"\nseed = 3\n[[exercise]]\nfamily = "cnn_params"\n'
                    '[[exercise]]\nid = "chain"\nfamily = "scalar_chain"\n', encoding="utf-8")
    second = build(load_spec(spec), tmp_path / "o", formats=["json"]).variants[0].instances[1]
    assert first.stream_seed == second.stream_seed and first.given == second.given


# -- pinned, bounded, declared -------------------------------------------------------------------

def test_a_grid_of_one_value_ends_in_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "worksheetgen", "preview", "scalar_chain", "--set", "weight_grid=[0,0,1]"],
        capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "weight_grid" in result.stderr


def test_a_partly_pinned_network_draws_the_rest(tmp_path: Path) -> None:
    # Every network value fixed (one that kills every ReLU, as seed 004 Ex2 does on purpose),
    # targets and the learning rate left to draw: the rules about the fixed values are the
    # instructor's choice; the build must not fail with "no draw met the constraint".
    spec = tmp_path / "p.toml"
    spec.write_text(
        'title = "t"\n[[exercise]]\nfamily = "backprop"\n'
        'params = { layers = [2, 2, 1], bias = "vector", activation = "relu", output_activation = "identity", '
        'weights = [[[-1, -1], [-1, -1]], [[1], [1]]], biases = [[0, 0], [0]], x = [1, 1] }\n',
        encoding="utf-8")
    assert main(["build", str(spec), "--out", str(tmp_path / "o"), "--format", "json"]) == 0


def test_undeclared_template_names_fail_when_the_family_solves() -> None:
    family = get_family("boolean_net")
    real = family.Data

    @dataclass(frozen=True)
    class Thin(Record):  # the real Data without the fields the template reads
        unused: Any = None

    class Fake:
        name = "boolean_net"
        Given = family.Given
        Data = Thin
        template = family.template

    options = parse_params(family.params, {}, validate=family.validate)
    instance = make_instance(family, options, sheet_seed=1)
    with pytest.raises(CheckError, match=r"the template reads d\.\w+, which .*Data does not declare"):
        templatecheck.check_solved(Fake(), instance.given, type(instance.solved)([], Thin()))
    assert isinstance(instance.solved.data, real)


def test_a_family_exception_is_a_check_error_naming_the_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    family = get_family("scalar_chain")

    def broken(self: Any, given: Any) -> Any:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(type(family), "solve", broken)
    options = parse_params(family.params, {}, validate=family.validate)
    with pytest.raises(CheckError, match=r"scalar_chain \(stream seed \d+\): ZeroDivisionError: boom"):
        make_instance(family, options, sheet_seed=1)


# -- packaging -----------------------------------------------------------------------------------

def test_every_package_is_declared_for_the_wheel() -> None:
    import tomllib

    declared = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "worksheetgen").rglob("__init__.py")}
    assert found <= declared, f"packages missing from pyproject.toml: {sorted(found - declared)}"


@pytest.mark.slow
def test_a_wheel_installed_elsewhere_builds_every_example(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(wheels), str(ROOT)], check=True, capture_output=True)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                    str(next(wheels.glob("*.whl")))], check=True, capture_output=True)
    where = subprocess.run([str(python), "-c", "import worksheetgen.resources as r; print(r.template_dir())"],
                           capture_output=True, text=True, cwd=tmp_path, check=True).stdout.strip()
    assert where.startswith(str(venv)), f"templates come from the installed wheel, not {where}"
    for example in sorted(EXAMPLES.glob("*.toml")):
        run = subprocess.run([str(venv / "bin" / "worksheetgen"), "build", str(example), "--out",
                              str(tmp_path / "out"), "--format", "tex,md,json"],
                             capture_output=True, text=True, cwd=tmp_path)
        assert run.returncode == 0, (example.name, run.stderr)
    # The suite's registry walk passes against the installed package too (run from outside the
    # checkout, so `import worksheetgen` finds the wheel, as the check above showed).
    tests = subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not pdf and not slow",
                            str(ROOT / "tests" / "test_every_family.py"), str(ROOT / "tests" / "test_engine.py")],
                           capture_output=True, text=True, cwd=tmp_path)
    assert tests.returncode == 0, tests.stdout[-3000:]
