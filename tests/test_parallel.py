"""Students solved and rendered on several processes (worksheetgen/parallel.py): the same bytes
whatever --jobs is, solved variants that come back from a worker exactly as they were made
(SymPy expressions not evaluated again), and a worker's error stopping the build as it would
in one process."""

from __future__ import annotations

import hashlib
import os
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import sympy as sp

from conftest import require_tex
from worksheetgen import mathfmt, parallel
from worksheetgen.activations import MP, get
from worksheetgen.build import build, choose_formats, class_documents_read_data, render_variant
from worksheetgen.cli import main
from worksheetgen.errors import WorkerError
from worksheetgen.instance import fingerprint
from worksheetgen.plan import make_plan
from worksheetgen.registry import get_family
from worksheetgen.spec import load_spec

ROOT = Path(__file__).resolve().parent.parent
ROSTER = "id,name\n" + "".join(f"S{i},Student {chr(64 + i)}\n" for i in range(1, 9))
EXAM = """title = "Quiz 12"
seed = 12

[exam]
roster = "roster.csv"

[exam.pools]
short = 2

[[exercise]]
family = "forward_pass"
points = 6
params = { layers = [2, 2, 1], activation = "sigmoid" }

[[exercise]]
family = "scalar_chain"
points = 4
part_points = [1, 1, 2]

[[exercise]]
family = "bce_loss"
pool = "short"
points = 2

[[exercise]]
family = "gradient_check"
pool = "short"
points = 2

[[exercise]]
family = "activation_table"
pool = "short"
points = 2
"""


def tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def write_exam(folder: Path) -> Path:
    (folder / "roster.csv").write_text(ROSTER, encoding="utf-8")
    (folder / "exam.toml").write_text(EXAM, encoding="utf-8")
    return folder / "exam.toml"


def test_jobs_give_the_same_files(tmp_path: Path) -> None:
    spec = write_exam(tmp_path)
    for jobs in ("1", "3"):
        assert main(["build", str(spec), "--out", str(tmp_path / jobs), "--format", "json,tex",
                     "--jobs", jobs]) == 0
    one = tree(tmp_path / "1")
    assert one == tree(tmp_path / "3")
    assert {"exam/S8/key.json", "exam/instructor-key.json", "exam/all-problems.tex"} <= set(one)


def test_workers_send_the_exercises_data_back_only_for_a_class_document_that_renders_them(tmp_path: Path) -> None:
    plan = make_plan(load_spec(write_exam(tmp_path)))
    for names, wanted in ((["json", "tex", "md"], False), (["json", "moodle"], True)):
        run, _, _ = choose_formats(names, False)
        assert class_documents_read_data(plan, run) is wanted
        with ExitStack() as stack:
            made = list(parallel.generate(plan, run, range(len(plan.variants)), 2, stack, data=wanted))
        from_workers = [sv for _, sv, _ in made[1:]]
        assert from_workers and all((q.instance.solved.data is not None) is wanted
                                    for sv in from_workers for q in sv.questions)
        assert all(q.instance.solved.answers for sv in from_workers for q in sv.questions)


def test_numbers_a_worker_printed_come_back_printed(tmp_path: Path) -> None:
    plan = make_plan(load_spec(write_exam(tmp_path)))
    value = sp.Rational(123457, 1000000)  # printed by no other test at 3 decimals
    key = (value, 3, mathfmt.current_mode())
    assert mathfmt.printed_num(value, 3) is None
    data = parallel.dumps(["anything"], parallel.Shared(plan), [(key, "0.123")])
    try:
        assert parallel.loads(data, parallel.Shared(plan)) == ["anything"]
        assert mathfmt.printed_num(value, 3) == (key, "0.123") and mathfmt.num(value, 3) == "0.123"
    finally:
        mathfmt._NUM_TEXTS.pop(key, None)
    # What a worker sends: every number and matrix entry of its answers, as it printed them.
    run, _, _ = choose_formats(["json"], False)
    sv, _ = parallel.make_variant(plan, 1, run)
    printed = dict(parallel.printed_answers(sv))
    for q in sv.questions:
        for a in q.instance.solved.answers:
            if a.kind in ("number", "matrix"):
                asked = a.asked(q.instance.digits)
                for v in (list(a.value) if a.kind == "matrix" else [a.value]):
                    assert printed[(v, asked.digits, asked.mode)] == mathfmt.num(v, asked.digits, asked.mode)


def test_a_workers_error_stops_the_build_as_in_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    spec = write_exam(tmp_path)
    family = type(get_family("scalar_chain"))
    solve = family.solve

    def broken(self: Any, given: Any) -> Any:
        if fingerprint(given) == drawn["S6"]:
            raise ZeroDivisionError("boom")
        return solve(self, given)

    plan = make_plan(load_spec(spec))
    drawn = {v.id: fingerprint(parallel.make_variant(plan, i, [])[0].questions[1].instance.given)
             for i, v in enumerate(plan.variants)}
    assert list(drawn.values()).count(drawn["S6"]) == 1  # S6's numbers are S6's alone
    monkeypatch.setattr(family, "solve", broken)  # the workers are forked: they inherit it
    errors = []
    for jobs in ("1", "3"):
        assert main(["build", str(spec), "--out", str(tmp_path / jobs), "--format", "json", "--jobs", jobs]) == 3
        errors.append(capsys.readouterr().err)
        assert not (tmp_path / jobs / "exam").exists()
    assert errors[0] == errors[1]
    assert "ZeroDivisionError: boom" in errors[0] and "scalar_chain (stream seed" in errors[0]


@pytest.fixture
def workers_die(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An exam spec whose scalar_chain kills any worker process that solves it (as if killed: no
    exception, no result); the main process solves normally."""
    spec = write_exam(tmp_path)
    family = type(get_family("scalar_chain"))
    solve = family.solve
    main_process = os.getpid()

    def dying(self: Any, given: Any) -> Any:
        if os.getpid() != main_process:
            os._exit(9)
        return solve(self, given)

    monkeypatch.setattr(family, "solve", dying)
    return spec


def test_a_worker_that_dies_stops_the_build_instead_of_hanging_it(tmp_path: Path, workers_die: Path) -> None:
    with pytest.raises(WorkerError, match=r"a worker process of the build died \(exit status 9\)"):
        build(load_spec(workers_die), tmp_path / "out", formats=["json"], jobs=2)
    assert not (tmp_path / "out" / "exam").exists()


def test_a_dead_worker_is_one_line_from_the_command_line(tmp_path: Path, workers_die: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["build", str(workers_die), "--out", str(tmp_path / "out"), "--format", "json", "--jobs", "2"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 1
    assert err == ["worksheetgen: a worker process of the build died (exit status 9); nothing written "
                   "(try --jobs 1 if memory is short)"]
    assert not (tmp_path / "out" / "exam").exists()


def test_unevaluated_expressions_and_twins_come_back_as_they_were() -> None:
    x = sp.Symbol("x")
    kept = sp.Mul(sp.Integer(2), sp.Add(sp.Integer(1), sp.Integer(1), evaluate=False), evaluate=False)
    power = sp.Pow(sp.exp(sp.Integer(2)), sp.Integer(3), evaluate=False)
    value = sp.Add(sp.exp(sp.Rational(1, 3)), sp.Rational(1, 7))
    mathfmt.remember_value(value, MP.mpf(2))  # a deliberately wrong "known" value: it must travel
    things = [kept, power, sp.ImmutableMatrix([[sp.Rational(1, 3), x]]), sp.Matrix([[1, sp.Rational(2, 5)]]),
              MP.mpf(1) / 3, get("tanh"), sp.erf(x) + sp.Max(x, 1), value]
    plan = make_plan(load_spec(ROOT / "examples" / "week1.toml"))
    shared = parallel.Shared(plan)
    data = parallel.dumps(things, shared)
    mathfmt._KNOWN.clear()
    back = parallel.loads(data, shared)
    assert [sp.srepr(t) if isinstance(t, sp.Basic) else t for t in back[:2]] == [sp.srepr(kept), sp.srepr(power)]
    assert back[2] == things[2] and back[3] == things[3] and type(back[3]) is type(things[3])
    assert back[4] == things[4] and type(back[4]) is type(things[4])
    assert back[5] is get("tanh")
    assert back[6] == things[6]
    assert mathfmt.known_value(back[7]) == MP.mpf(2)


@pytest.mark.slow
def test_every_familys_solved_variant_renders_the_same_after_the_trip() -> None:
    formats = ["json", "md", "tex", "html", "moodle", "qti21", "canvas"]
    for example in ("course.toml", "course2.toml"):
        plan = make_plan(load_spec(ROOT / "examples" / example))
        run, _, _ = choose_formats(formats, False)
        sv, files = parallel.make_variant(plan, 0, run)
        shared = parallel.Shared(plan)
        back = parallel.loads(parallel.dumps(sv, shared), shared)
        assert back.variant is sv.variant
        for q, b in zip(sv.questions, back.questions):
            assert b.exercise is q.exercise and type(b.instance.family) is type(q.instance.family)
            assert fingerprint(b.instance.given) == fingerprint(q.instance.given)
            assert [sp.srepr(a.value) if isinstance(a.value, sp.Basic) else repr(a.value)
                    for a in b.instance.solved.answers] == \
                [sp.srepr(a.value) if isinstance(a.value, sp.Basic) else repr(a.value)
                 for a in q.instance.solved.answers]
        back.rendered.clear()
        assert render_variant(plan, back, run) == files, example


@pytest.mark.pdf
@pytest.mark.slow
def test_the_example_exam_has_the_same_bytes_on_1_2_and_4_jobs(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    require_tex()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    trees = []
    for jobs in ("1", "2", "4"):
        assert main(["build", str(ROOT / "examples" / "exam.toml"), "--out", str(tmp_path / jobs),
                     "--jobs", jobs]) == 0
        trees.append(tree(tmp_path / jobs))
    assert trees[0] == trees[1] == trees[2]
    assert {"exam/S017/problems.pdf", "exam/all-problems.pdf", "exam/instructor-key.pdf",
            "exam/instructor-key.json"} <= set(trees[0])
