"""Runs one family over many seeds (R/exams' stresstest_exercise): the authors' first tool."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from worksheetgen.formats import load_formats
from worksheetgen.answerkey import jsonable
from worksheetgen.errors import CheckError, WorksheetError
from worksheetgen.answers import to_float
from worksheetgen.family import Family
from worksheetgen.instance import make_instance


@dataclass
class StressReport:
    family: str
    runs: int
    failures: list[tuple[int, str]] = field(default_factory=list)
    draws: int = 0
    distinct: int = 0
    seconds: float = 0.0
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def rejection_rate(self) -> float:
        return 1 - self.runs / self.draws if self.draws else 0.0

    def lines(self) -> list[str]:
        ok = self.runs - len(self.failures)
        out = [
            f"family {self.family}: {ok}/{self.runs} seeds passed sample → solve → check → render",
            f"rejection rate: {self.rejection_rate:.1%} ({self.draws} draws for {self.runs} instances)",
            f"distinct instances: {self.distinct} of {self.runs}",
            f"cost per instance: {1000 * self.seconds / max(1, self.runs):.1f} ms",
        ]
        if self.ranges:
            out.append("answer ranges:")
            width = max(len(k) for k in self.ranges)
            out.extend(f"  {k:<{width}}  [{lo:.6g}, {hi:.6g}]" for k, (lo, hi) in self.ranges.items())
        for seed, message in self.failures[:20]:
            out.append(f"FAILED seed {seed}: {message}")
        if len(self.failures) > 20:
            out.append(f"... and {len(self.failures) - 20} more failures")
        return out


def stress(family: Family, options: dict[str, Any], runs: int = 1000, first_seed: int = 0) -> StressReport:
    report = StressReport(family.name, runs)
    seen: set[str] = set()
    lows: dict[str, float] = {}
    highs: dict[str, float] = {}
    text_formats = [f() for f in load_formats().values() if f.folder is not None]
    start = time.perf_counter()
    for seed in range(first_seed, first_seed + runs):
        try:
            instance = make_instance(family, options, sheet_seed=seed)
            for fmt in text_formats:
                fmt.render_exercise(instance)
        except (CheckError, WorksheetError, Exception) as exc:  # noqa: BLE001 - reported per seed
            report.failures.append((seed, f"{type(exc).__name__}: {exc}"))
            report.draws += 1
            continue
        report.draws += instance.attempt
        seen.add(repr(jsonable(instance.given)))
        for answer in instance.solved.answers:
            if answer.kind not in ("number", "matrix", "integer"):
                continue
            values = np.asarray(to_float(answer.value) if answer.kind != "integer" else float(answer.value), dtype=float).ravel()
            if values.size == 0:
                continue
            lows[answer.key] = min(lows.get(answer.key, np.inf), float(values.min()))
            highs[answer.key] = max(highs.get(answer.key, -np.inf), float(values.max()))
    report.seconds = time.perf_counter() - start
    report.distinct = len(seen)
    report.ranges = {k: (lows[k], highs[k]) for k in lows}
    return report
