"""Every example spec builds, and the two course sheets together use every family:
examples/course.toml the families of the seed sheets, examples/course2.toml the rest of a
deep-learning course."""

from pathlib import Path

import pytest

from worksheetgen.cli import main
from worksheetgen.registry import load_families
from worksheetgen.spec import load_spec

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SHEETS = sorted(p for p in EXAMPLES.glob("*.toml") if not load_spec(p).exam)


def test_course_sheets_use_every_family():
    courses = [EXAMPLES / "course.toml", EXAMPLES / "course2.toml"]
    used = {e.family for p in courses if p.exists() for e in load_spec(p).exercises}
    assert used == set(load_families())


def test_every_family_has_a_pinned_seed_example():
    pinned = {e.family for p in EXAMPLES.glob("pinned_*.toml") for e in load_spec(p).exercises}
    assert pinned == set(load_families())


@pytest.mark.parametrize("spec", SHEETS, ids=lambda p: p.name)
def test_example_builds(spec, tmp_path):
    assert main(["build", str(spec), "--out", str(tmp_path), "--format", "tex,md,json"]) == 0
    assert (tmp_path / load_spec(spec).name / "key.json").exists()


@pytest.mark.slow
def test_the_example_exam_holds_at_class_scale(tmp_path):
    # 500 students on examples/exam.toml: require_distinct (on in the example) must hold.
    import csv

    spec = (EXAMPLES / "exam.toml").read_text(encoding="utf-8")
    assert "require_distinct = true" in spec
    (tmp_path / "exam.toml").write_text(spec, encoding="utf-8")
    with open(tmp_path / "roster.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "name"])
        writer.writerows([f"S{i:03d}", f"Student {i}"] for i in range(1, 501))
    assert main(["build", str(tmp_path / "exam.toml"), "--out", str(tmp_path / "out"), "--format", "json"]) == 0
    report = (tmp_path / "out" / "exam" / "report.md").read_text(encoding="utf-8")
    assert "No two students have identical numbers on any exercise." in report
