"""Shared by the dense families' draw tests (issue 10, "draws that teach"): the quality gate over
many seeds without TeX (the TeX checks run in tests/test_quality_gate.py), and the flags of one
pinned instance (pinned: the teaching rules do not apply, so a defect can be built on purpose)."""

from __future__ import annotations

from typing import Any

from helpers import instance
from worksheetgen.params import parse_params
from worksheetgen.qualitygate import gate
from worksheetgen.registry import get_family

SEEDS = 200
MAX_DRAWS_PER_INSTANCE = 4  # the rejection rate stays reasonable: at most 3 draws in 4 refused


def assert_gate_passes(name: str, params: dict[str, Any] | None = None, n: int = SEEDS) -> None:
    family = get_family(name)
    options = parse_params(family.params, dict(params or {}), validate=family.validate)
    report = gate(family, options, n=n, tex=False)
    text = "\n".join(report.lines())
    print(text)  # the rejection rate and cost, for the record (pytest -s)
    assert report.passed, text
    assert report.draws <= MAX_DRAWS_PER_INSTANCE * report.instances, text
    # Every family flag is 0 (no stated rate bound for these families).
    assert all(c.count == 0 for c in report.checks if c.name.startswith("flag: ")), text


def flags(name: str, seed: int = 0, **params: Any) -> dict[str, bool]:
    """quality() of the instance with these (pinned) parameters."""
    ex = instance(name, seed=seed, **params)
    return ex.family.quality(ex.given, ex.solved)


def raised(name: str, seed: int = 0, **params: Any) -> set[str]:
    return {k for k, v in flags(name, seed, **params).items() if v}
