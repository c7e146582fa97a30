"""The QTI 2.1 package: every item and the test validate against the IMS QTI 2.1.2 schema, the
manifest lists every file, every family appears, each value has its own float response with
the key's value and tolerance, and the items' own response processing gives the key's answers
full marks and takes exactly an answer's share for a wrong one."""

from __future__ import annotations

import io
import json
import math
import shutil
import subprocess
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from typing import Any

import pytest

from worksheetgen.build import BuildResult, build
from worksheetgen.registry import load_families
from worksheetgen.spec import parse_spec

ROOT = Path(__file__).resolve().parent.parent
XSD = ROOT.parent / "shared" / "validators" / "qti21" / "imsqti_v2p1p2.xsd"
Q = "{http://www.imsglobal.org/xsd/imsqti_v2p1}"
CP = "{http://www.imsglobal.org/xsd/imscp_v1p1}"
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

# Every answer kind: matrices and numbers, integers, choices, multi-selects, Booleans, text.
MIXED = [
    {"family": "activation_table", "params": {"functions": ["relu", "tanh"], "properties": ["nonlinear", "vanishing"]}},
    {"family": "activation_table", "params": {"functions": ["relu", "identity"], "properties": ["vanishing"],
                                              "values": False}},  # no option applies
    # One question of each kind, named (the bank grows; a drawn count need not cover every kind).
    {"family": "concepts", "params": {"questions": ["linear-collapse", "conv-dense-practice",
                                                    "nonlinearity-significance", "vanishing-gradient-causes"]},
     "points": 8},
    {"family": "gradient_check"},
    {"family": "cnn_params", "points": 5},
]


def build_sheet(tmp_path: Path, exercises: list[dict[str, Any]], variants: int = 2, seed: int = 7) -> BuildResult:
    spec = parse_spec({"title": "LMS export", "name": "lms", "seed": seed, "variants": variants, "exercise": exercises})
    return build(spec, tmp_path, formats=["qti21", "json"])


def keys_by_item(result: BuildResult) -> dict[str, dict[str, Any]]:
    """Key entries by item identifier (ex<NN>-<variant id>)."""
    out = {}
    for sv in result.variants:
        entries = json.loads((result.target / sv.variant.folder / "key.json").read_text())["exercises"]
        for n, entry in enumerate(entries, start=1):
            out[f"ex{n:02d}-{sv.variant.id}"] = entry
    return out


def package(result: BuildResult) -> dict[str, bytes]:
    with zipfile.ZipFile(result.target / "quiz-qti21.zip") as z:
        return {name: z.read(name) for name in z.namelist()}


def validate(tmp_path: Path, files: dict[str, bytes]) -> None:
    xmllint = shutil.which("xmllint")
    if xmllint is None or not XSD.is_file():
        pytest.fail(f"xmllint (libxml2-utils) and {XSD} are needed (the CI script installs them)")
    folder = tmp_path / "unzipped"
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    targets = sorted(n for n in files if n.startswith("items/") and n.endswith(".xml")) + ["test.xml"]
    run = subprocess.run([xmllint, "--noout", "--schema", str(XSD), *targets], cwd=folder,
                         capture_output=True, text=True, timeout=300)
    lines = [line for line in run.stderr.splitlines() if "parser warning" not in line]
    assert run.returncode == 0 and sorted(lines) == sorted(f"{t} validates" for t in targets), "\n".join(lines)


def check_manifest(files: dict[str, bytes]) -> None:
    manifest = ET.fromstring(files["imsmanifest.xml"])
    listed = {f.get("href") for f in manifest.iter(f"{CP}file")}
    assert listed == set(files) - {"imsmanifest.xml"}, "the manifest lists every file of the package"
    resources = {r.get("identifier"): r for r in manifest.iter(f"{CP}resource")}
    test = resources["test"]
    assert test.get("type") == "imsqti_test_xmlv2p1"
    assert {d.get("identifierref") for d in test.findall(f"{CP}dependency")} == set(resources) - {"test"}
    for r in resources.values():
        assert r.get("href") in files


# -- a small interpreter of the response processing the items use ---------------------------------


class Item:
    def __init__(self, root: ET.Element) -> None:
        self.root = root
        self.declarations = {d.get("identifier"): d for d in root.findall(f"{Q}responseDeclaration")}

    def correct(self, rid: str) -> Any:
        d = self.declarations[rid]
        values = [v.text for v in d.findall(f"{Q}correctResponse/{Q}value")]
        if d.get("cardinality") == "multiple":
            return set(values)
        return self.typed(d.get("baseType"), values[0]) if values else None

    @staticmethod
    def typed(base: str, text: str) -> Any:
        return float(text) if base == "float" else text

    @property
    def max_score(self) -> float:
        return float(self.root.find(f"{Q}outcomeDeclaration[@identifier='MAXSCORE']/{Q}defaultValue/{Q}value").text)

    def score(self, responses: dict[str, Any]) -> float:
        outcomes: dict[str, Any] = {"SCORE": 0.0}

        def ev(e: ET.Element) -> Any:
            tag = e.tag.removeprefix(Q)
            kids = list(e)
            if tag == "variable":
                i = e.get("identifier")
                return outcomes[i] if i in outcomes else responses.get(i)
            if tag == "correct":
                return self.correct(e.get("identifier"))
            if tag == "baseValue":
                return self.typed(e.get("baseType"), e.text)
            args = [ev(k) for k in kids]
            if tag == "isNull":
                return args[0] is None or args[0] == set()
            if tag == "or":
                return True if True in args else (None if None in args else False)
            if tag == "not":
                return None if args[0] is None else not args[0]
            if tag == "sum":
                return sum(args)
            if None in args:
                return None
            if tag == "match":
                return args[0] == args[1]
            if tag == "member":
                return args[0] in args[1]
            if tag == "equal":
                if e.get("toleranceMode", "exact") == "exact":
                    return args[0] == args[1]
                t = float(e.get("tolerance").split()[0])
                return abs(args[0] - args[1]) <= t + 1e-15
            raise AssertionError(f"operator {tag} not expected")

        for rule in self.root.find(f"{Q}responseProcessing"):
            if rule.tag == f"{Q}responseCondition":
                test, *actions = list(rule.find(f"{Q}responseIf"))
                if ev(test) is True:
                    for action in actions:
                        outcomes[action.get("identifier")] = ev(action[0])
            else:
                outcomes[rule.get("identifier")] = ev(rule[0])
        return outcomes["SCORE"]


def expected_responses(entry: dict[str, Any]) -> list[tuple[str, Any, float, float]]:
    """(kind, the key's response, its margin, its share of the points) in the item's order."""
    answers = entry["answers"]
    share = (entry["points"] if entry["points"] is not None else len(answers)) / len(answers)
    out: list[tuple[str, Any, float, float]] = []
    for a in answers:
        if a["kind"] in ("number", "integer"):
            out.append(("number", a["float"], margin(a, a["float"]), share))
        elif a["kind"] == "matrix":
            cells = [v for row in a["float"] for v in row]
            out.extend(("number", v, margin(a, v), share / len(cells)) for v in cells)
        elif a["kind"] == "choice":
            out.append(("choice", LETTERS[a["correct_index"]], len(a["options"]), share))
        elif a["kind"] == "multi":
            out.append(("multi", {LETTERS[i] for i in a["correct_index"]}, len(a["options"]), share))
        elif a["kind"] == "boolean":
            out.append(("boolean", "true" if a["exact"] else "false", 2, share))
        else:
            out.append(("text", str(a["exact"]), 0, share))
    return out


def margin(answer: dict[str, Any], value: float, rule_absolute: float = 1e-4) -> float:
    tol = answer["tolerance"]
    return {"exact": lambda: 0.0, "absolute": lambda: tol["value"],
            "relative": lambda: max(rule_absolute, tol["value"] * abs(value)),
            "either": lambda: max(tol["absolute"], tol["relative"] * abs(value)),
            # one unit of the last asked decimal / significant digit
            "decimals": lambda: 10.0 ** -tol["digits"],
            "significant": lambda: 10.0 ** (math.floor(math.log10(abs(value))) - tol["digits"] + 1) if value else 0.0,
            }[tol["kind"]]()


def wrong(kind: str, right: Any, extra: Any) -> tuple[Any, float]:
    """A wrong response and the fraction of the answer's share it loses."""
    if kind == "number":
        return right + 10 * extra + 1, 1.0
    if kind == "choice":
        return LETTERS[(LETTERS.index(right) + 1) % extra], 1.0
    if kind == "multi":
        return right ^ {"A"}, 1.0 / extra  # one option classified wrongly
    return ("false" if right == "true" else "true"), 1.0


def check_item(item: Item, entry: dict[str, Any]) -> None:
    expected = expected_responses(entry)
    rids = list(item.declarations)
    assert len(rids) == len(expected), entry["family"]
    responses = {}
    scored = 0.0
    for rid, (kind, right, extra, share) in zip(rids, expected):
        d = item.declarations[rid]
        if kind == "number":
            assert d.get("baseType") == "float" and d.get("cardinality") == "single"
            assert math.isclose(item.correct(rid), right, rel_tol=1e-13, abs_tol=1e-300)
            (equal,) = [e for e in item.root.iter(f"{Q}equal") if e.find(f"{Q}variable").get("identifier") == rid]
            tolerance = 0.0 if equal.get("toleranceMode") == "exact" else float(equal.get("tolerance").split()[0])
            assert equal.get("toleranceMode") in ("exact", "absolute")
            assert math.isclose(tolerance, extra, rel_tol=1e-13, abs_tol=1e-300), (entry["family"], tolerance, extra)
        elif kind == "text":
            assert d.get("baseType") == "string"
            continue
        else:
            assert d.get("baseType") == "identifier"
            assert item.correct(rid) == right
        responses[rid] = right
        scored += share
    assert math.isclose(item.max_score, sum(e[3] for e in expected), rel_tol=1e-12)
    full = item.score(responses)
    assert math.isclose(full, scored, rel_tol=1e-9), (entry["family"], full, scored)
    # No response at all: only the options of a multi-select that must stay unchosen earn points.
    blank = sum(share * (n - len(right)) / n for kind, right, n, share in expected if kind == "multi")
    assert math.isclose(item.score({}), blank, rel_tol=1e-9, abs_tol=1e-12)
    for rid, (kind, right, extra, share) in zip(rids, expected):
        if kind == "text":
            continue
        response, lost = wrong(kind, right, extra)
        assert math.isclose(item.score({**responses, rid: response}), scored - share * lost, rel_tol=1e-9, abs_tol=1e-12), \
            (entry["family"], rid, kind)


def check_package(tmp_path: Path, result: BuildResult) -> dict[str, bytes]:
    files = package(result)
    validate(tmp_path, files)
    check_manifest(files)
    entries = keys_by_item(result)
    items = {n.removeprefix("items/").removesuffix(".xml"): n for n in files if n.startswith("items/") and n.endswith(".xml")}
    assert set(items) == set(entries)
    for identifier, name in items.items():
        root = ET.fromstring(files[name])
        assert root.get("identifier") == identifier
        body = ET.tostring(root.find(f"{Q}itemBody"), encoding="unicode")
        assert "$" not in body, "math as \\(…\\)"
        for img in root.iter(f"{Q}img"):
            assert files[f"items/{img.get('src')}"].startswith(b"<svg")
        assert root.find(f"{Q}modalFeedback") is not None, "the worked solution"
        check_item(Item(root), entries[identifier])
    test = ET.fromstring(files["test.xml"])
    sections = test.findall(f".//{Q}assessmentSection")
    assert len(sections) == len({e["id"] for e in entries.values()})
    for section in sections:
        assert section.find(f"{Q}selection").get("select") == "1"
        assert len(section.findall(f"{Q}assessmentItemRef")) == len(result.variants)
    return files


# -- tests ---------------------------------------------------------------------------------------------


def test_every_answer_kind_scores_as_the_key(tmp_path):
    result = build_sheet(tmp_path, MIXED)
    files = check_package(tmp_path, result)
    kinds = {a["kind"] for e in keys_by_item(result).values() for a in e["answers"]}
    assert kinds >= {"number", "integer", "matrix", "choice", "multi", "boolean", "text"}
    assert any(b"extendedTextInteraction" in data for data in files.values())


def test_the_zip_is_byte_reproducible(tmp_path):
    first = build_sheet(tmp_path / "a", MIXED[:2])
    second = build_sheet(tmp_path / "b", MIXED[:2])
    a, b = ((r.target / "quiz-qti21.zip").read_bytes() for r in (first, second))
    assert a == b
    with zipfile.ZipFile(io.BytesIO(a)) as z:
        names = z.namelist()
        assert names == sorted(names)
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}


@pytest.mark.slow
def test_every_family_in_qti(tmp_path):
    result = build_sheet(tmp_path, [{"family": f} for f in sorted(load_families())], seed=31)
    check_package(tmp_path, result)
    assert sorted({e["family"] for e in keys_by_item(result).values()}) == sorted(load_families())
