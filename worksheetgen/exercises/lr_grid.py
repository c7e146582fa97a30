"""Is this a good learning-rate search? (seed 002 Q1.3)

A grid of learning rates between 10^a and 10^b; the student says whether it is a good search
and why. The answer follows from counting values per decade. The rule, stated in the solution:
a learning rate acts by its order of magnitude, so a search over D decades with n values should
give every decade about the same share, n / D; we call the grid good when every decade holds
floor(n / D) or ceil(n / D) values (equivalently: the counts differ by at most one). Drawn grids
are either random on a log scale, stratified (one draw per 1/n of the exponent range: good) or
uniform on the linear scale (bad, as in the seed); a draw whose counts contradict the way it was
drawn is rejected.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
import sympy as sp

from worksheetgen.errors import WorksheetError
from worksheetgen.family import Answer, Family, Solved
from worksheetgen.mathfmt import num
from worksheetgen.params import Bool, Int, ListOf, Number, Param


def round_sig(value: float, digits: int = 2) -> sp.Rational:
    """A positive float rounded to ``digits`` significant digits, as an exact rational."""
    return sp.Rational(f"{value:.{digits - 1}e}")


def decade_counts(values: list[sp.Rational], low: int, high: int) -> list[int]:
    """How many values fall in [10^k, 10^(k+1)) for k = low .. high - 1 (10^high in the last)."""
    counts = [0] * (high - low)
    for v in values:
        k = low
        while k < high - 1 and v >= sp.Rational(10) ** (k + 1):
            k += 1
        counts[k - low] += 1
    return counts


def is_good(counts: list[int], n: int) -> bool:
    d = len(counts)
    return all(n // d <= c <= -(-n // d) for c in counts)


def decade_tex(k: int) -> str:
    return f"10^{{{k}}}"


class LrGrid(Family):
    name = "lr_grid"
    title = "Searching for a learning rate"
    summary = ("A grid of learning rates between 10^a and 10^b that is or is not spread evenly "
               "over the decades; is it a good search? (counts per decade)")
    params = (
        Param("low_exponent", Int(-6, 0), None, "a: the search starts at 10^a"),
        Param("high_exponent", Int(-5, 1), None, "b: the search ends at 10^b"),
        Param("count", Int(2, 12), 5, "number of rates in the grid"),
        Param("log_uniform", Bool(), None,
              "true: drawn at random on a log scale (a good grid); false: uniform on the linear "
              "scale (a bad one)"),
        Param("values", ListOf(Number(positive=True), min_length=2, max_length=12), None,
              "the grid itself (then count and log_uniform are not used)"),
    )

    def validate(self, options: dict[str, Any]) -> None:
        low, high = options["low_exponent"], options["high_exponent"]
        if low is not None and high is not None and high <= low:
            raise WorksheetError("the grid must span at least one decade", field="high_exponent",
                                 allowed=f"an integer above low_exponent = {low}")
        values = options["values"]
        if values is not None:
            if len(set(values)) != len(values):
                raise WorksheetError("the grid repeats a value", field="values",
                                     allowed="distinct positive numbers")
            lo = sp.Rational(10) ** low if low is not None else None
            hi = sp.Rational(10) ** high if high is not None else None
            if (lo is not None and min(values) < lo) or (hi is not None and max(values) > hi):
                raise WorksheetError("a value lies outside [10^a, 10^b]", field="values",
                                     allowed="values between 10^low_exponent and 10^high_exponent")
            return
        span = (high - low) if low is not None and high is not None else 2
        if options["count"] < span:
            raise WorksheetError(
                f"{options['count']} values cannot cover {span} decades", field="count",
                allowed=f"at least {span} (one value per decade)")

    def sample(self, rng: np.random.Generator, options: dict[str, Any]) -> dict[str, Any]:
        values = options["values"]
        if values is not None:
            values = sorted(values)
            low = options["low_exponent"]
            high = options["high_exponent"]
            if low is None:
                low = _floor_log10(values[0])
            if high is None:
                high = max(low + 1, _ceil_log10(values[-1]))
            return {"low": low, "high": high, "values": values, "log_uniform": None}
        n = options["count"]
        low, high = options["low_exponent"], options["high_exponent"]
        if low is None and high is None:
            span = int(rng.integers(2, min(3, n) + 1))
            low = int(rng.integers(-4, -span + 1))  # so 10^high <= 1
            high = low + span
        elif low is None:
            span = int(rng.integers(2, min(3, n) + 1))
            low = high - span
        elif high is None:
            span = int(rng.integers(2, min(3, n) + 1))
            high = low + span
        log_uniform = options["log_uniform"]
        if log_uniform is None:
            log_uniform = bool(rng.integers(0, 2))
        if log_uniform:
            edges = np.linspace(low, high, n + 1)
            draws = [10 ** rng.uniform(edges[k], edges[k + 1]) for k in range(n)]
        else:
            draws = list(rng.uniform(10.0 ** low, 10.0 ** high, size=n))
        values = sorted(round_sig(v) for v in draws)
        return {"low": low, "high": high, "values": values, "log_uniform": log_uniform}

    def solve(self, given: dict[str, Any]) -> Solved:
        low, high, values = given["low"], given["high"], given["values"]
        counts = decade_counts(values, low, high)
        n, span = len(values), high - low
        good = is_good(counts, n)
        decades = []
        for i, k in enumerate(range(low, high)):
            inside = [v for v in values if (v >= sp.Rational(10) ** k)
                      and (v < sp.Rational(10) ** (k + 1) or (k == high - 1 and v == sp.Rational(10) ** high))]
            decades.append({"k": k, "count": counts[i], "values": inside,
                            "closed": k == high - 1})
        rows = []
        for d in decades:
            right = "]" if d["closed"] else ")"
            shown = ",\\ ".join(num(v) for v in d["values"]) or "\\text{none}"
            rows.append([f"$[{decade_tex(d['k'])}, {decade_tex(d['k'] + 1)}{right}$", f"${shown}$",
                         str(d["count"])])
        answers = [Answer("good", r"\text{good search?}", good, "boolean")]
        for d in decades:
            right = "]" if d["closed"] else ")"
            answers.append(Answer(f"count_{d['k']}".replace("-", "m"),
                                  rf"\#[{decade_tex(d['k'])}, {decade_tex(d['k'] + 1)}{right}",
                                  sp.Integer(d["count"]), "integer"))
        crowded = max(decades, key=lambda d: d["count"])
        sparse = min(decades, key=lambda d: d["count"])
        data = {"decades": decades, "rows": rows, "crowded": crowded, "sparse": sparse,
                "crowded_top": crowded["k"] == high - 1, "counts_text": ", ".join(str(c) for c in counts), "good": good, "n": n, "span": span,
                "fair_low": n // span, "fair_high": -(-n // span),
                "exact_share": sp.Rational(n, span),
                "lo_value": sp.Rational(10) ** low, "hi_value": sp.Rational(10) ** high}
        return Solved(answers, data)

    def rejection(self, given: dict[str, Any], solved: Solved) -> str | None:
        values = given["values"]
        if len(set(values)) != len(values):
            return "distinct values"
        if not (sp.Rational(10) ** given["low"] <= values[0] and values[-1] <= sp.Rational(10) ** given["high"]):
            return "values inside [10^a, 10^b]"
        if given["log_uniform"] is not None and solved.data["good"] != given["log_uniform"]:
            return "a log-scale grid that covers the decades evenly, a linear one that does not"
        return None

    def check(self, given: dict[str, Any]) -> dict[str, Any]:
        # Count by the position of the leading digit in the decimal expansion (Decimal's
        # adjusted exponent is floor(log10 v) exactly), and call the grid good when the
        # largest and smallest counts differ by at most one.
        low, high = given["low"], given["high"]
        counts = {k: 0 for k in range(low, high)}
        for v in given["values"]:
            exponent = (Decimal(int(v.p)) / Decimal(int(v.q))).adjusted()
            counts[min(exponent, high - 1)] += 1
        out: dict[str, Any] = {f"count_{k}".replace("-", "m"): c for k, c in counts.items()}
        out["good"] = max(counts.values()) - min(counts.values()) <= 1
        return out


def _floor_log10(v: sp.Rational) -> int:
    k = 0
    while sp.Rational(10) ** k > v:
        k -= 1
    while sp.Rational(10) ** (k + 1) <= v:
        k += 1
    return k


def _ceil_log10(v: sp.Rational) -> int:
    k = _floor_log10(v)
    return k if sp.Rational(10) ** k == v else k + 1
