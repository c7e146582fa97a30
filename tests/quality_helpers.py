"""Helpers for the quality tests of the families (issue 10): the gate over many seeds without
TeX, and a draw's quality() flags."""

from __future__ import annotations

from typing import Any

from worksheetgen.instance import Instance
from worksheetgen.params import parse_params
from worksheetgen.qualitygate import GateReport, gate
from worksheetgen.registry import get_family


def gate_report(family: str, seeds: int = 200, **params: Any) -> GateReport:
    """The gate's checks that need no TeX over seeds 0 … seeds-1 at these parameters."""
    fam = get_family(family)
    options = parse_params(fam.params, params, validate=fam.validate)
    return gate(fam, options, seeds, tex=False)


def assert_gate_passes(family: str, seeds: int = 200, **params: Any) -> GateReport:
    report = gate_report(family, seeds, **params)
    assert report.passed, "\n".join(report.lines())
    return report


def flags(inst: Instance) -> dict[str, bool]:
    """The family's quality flags of one instance (True = the draw has that defect)."""
    return inst.family.quality(inst.given, inst.solved)


def raised(inst: Instance) -> set[str]:
    return {name for name, bad in flags(inst).items() if bad}
