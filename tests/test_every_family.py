"""Walks the registry: every family, however new, is sampled, solved, checked and rendered in
every format on many seeds, and a sample of its draws compiles to PDF."""

import json

import pytest

from conftest import require_tex
from worksheetgen import answerkey
from worksheetgen.answers import Rule
from worksheetgen.formats import load_formats
from worksheetgen.resources import template_dir
from worksheetgen.build import build
from worksheetgen.family import Family
from worksheetgen.instance import make_instance
from worksheetgen.params import parse_params
from worksheetgen.registry import load_families
from worksheetgen.spec import ExerciseSpec, SheetSpec

FAMILIES = sorted(load_families())
TEXT_FORMATS = [cls() for cls in load_formats().values() if cls.folder is not None]
SEEDS = range(8)


def defaults(family: Family) -> dict:
    return parse_params(family.params, {}, validate=family.validate)


@pytest.mark.parametrize("name", FAMILIES)
def test_family_declares_itself(name):
    family = load_families()[name]()
    assert family.title and family.summary, "list shows a title and a summary"
    for p in family.params:
        assert p.help, f"{name}.{p.name} needs a help text for 'worksheetgen list'"
    assert template_dir().joinpath(family.template).exists()
    assert family.Given is not None and family.Data is not None, "what it draws and shows is declared"


@pytest.mark.parametrize("name", FAMILIES)
def test_every_draw_renders_in_every_format(name):
    family = load_families()[name]()
    options = defaults(family)
    for seed in SEEDS:
        inst = make_instance(family, options, sheet_seed=seed)
        assert inst.solved.answers, "an exercise asks for something"
        for fmt in TEXT_FORMATS:
            problem, solution = fmt.render_exercise(inst)
            assert problem.strip() and solution.strip()
            assert "None" not in problem + solution, "a missing value printed as None"
        entry = answerkey.instance_entry(inst, Rule())
        json.dumps(entry)
        for answer in entry["answers"]:
            assert answer["shown"] != ""
            assert answer["tolerance"]["kind"] in ("decimals", "significant", "relative", "absolute", "exact", "either")
            if answer["kind"] in ("choice", "multi"):
                assert answer["options"] and all(o["text"] for o in answer["options"])
            if answer["kind"] == "boolean":
                assert isinstance(answer["exact"], bool)


@pytest.mark.parametrize("name", FAMILIES)
def test_streams_are_reproducible_and_vary(name):
    family = load_families()[name]()
    options = defaults(family)
    first = [answerkey.jsonable(make_instance(family, options, sheet_seed=s).given) for s in SEEDS]
    again = [answerkey.jsonable(make_instance(family, options, sheet_seed=s).given) for s in SEEDS]
    assert first == again
    assert len({json.dumps(g, sort_keys=True) for g in first}) > 1, "different seeds, different numbers"


@pytest.mark.pdf
def test_a_sheet_of_every_family_compiles(tmp_path):
    require_tex()
    exercises = tuple(
        ExerciseSpec(name, defaults(load_families()[name]()), points=5, where=f"exercise[{i}]", id=name)
        for i, name in enumerate(FAMILIES, start=1)
    )
    for seed in (1, 2):
        spec = SheetSpec(source="<test>", name=f"all{seed}", title="Every family", exercises=exercises,
                         course="Test course", seed=seed)
        result = build(spec, tmp_path, formats=["tex", "pdf", "md", "json"], jobs=2, require_pdf=True)
        pdfs = [p for p in result.files if p.suffix == ".pdf"]
        assert {p.name for p in pdfs} == {"problems.pdf", "solutions.pdf"}
        assert all(p.stat().st_size > 5000 for p in pdfs)
