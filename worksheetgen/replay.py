"""Rebuild one exercise from an answer key alone.

key.json records, per exercise, the family, the spec's params as written, the stream seed of
the draw that was kept and its attempt number, with the sheet's digits and grading rule. That is
all it takes to draw, solve and cross-check the same instance again, years later; the rebuilt
key entry must equal the recorded one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from worksheetgen import answerkey
from worksheetgen.answerkey import instance_entry
from worksheetgen.answers import Rule
from worksheetgen.errors import WorksheetError
from worksheetgen.instance import Instance, replay_instance
from worksheetgen.params import parse_params
from worksheetgen.registry import get_family


def load_key(path: str | Path) -> dict[str, Any]:
    source = str(path)
    doc = answerkey.read(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("exercises"), list) or "tolerance" not in doc:
        raise WorksheetError("not a key.json written by this version", source=source,
                             allowed="a variant's key.json (key_format 2)")
    return doc


def find_entry(doc: dict[str, Any], which: str, source: str = "") -> dict[str, Any]:
    """The exercise named by its id or its 1-based number on the sheet."""
    for entry in doc["exercises"]:
        if entry.get("id") == which or str(entry.get("number")) == which:
            return entry
    ids = ", ".join(str(e.get("id")) for e in doc["exercises"])
    raise WorksheetError(f"no exercise {which[:40]!r}", source=source or None, field="--exercise",
                         allowed=f"an id or number: {ids}")


def replay(doc: dict[str, Any], entry: dict[str, Any]) -> tuple[Instance, dict[str, Any]]:
    """The instance rebuilt from one key entry, and its freshly computed entry."""
    where = f"exercise {entry.get('id')!r}"
    family = get_family(str(entry.get("family")), where=f"{where}.family")
    options = parse_params(family.params, entry.get("params") or {}, where=f"{where}.params",
                           validate=family.validate)
    rule = Rule(**doc["tolerance"])
    instance = replay_instance(
        family, options, stream_seed=int(entry["stream_seed"]), attempt=int(entry["attempt"]),
        exercise_id=entry["id"], variant=str(doc["variant"]), sheet_seed=int(doc["sheet"]["seed"]),
        digits=int(doc["digits"]), points=entry.get("points"), title=entry.get("title", ""),
        params=entry.get("params") or {},
    )
    fresh = instance_entry(instance, rule, entry.get("number"), entry.get("part_points", ()))
    if "meta" in entry:
        fresh["meta"] = entry["meta"]
    return instance, fresh


def differences(recorded: dict[str, Any], fresh: dict[str, Any]) -> list[str]:
    return [key for key in sorted(set(recorded) | set(fresh)) if recorded.get(key) != fresh.get(key)]
